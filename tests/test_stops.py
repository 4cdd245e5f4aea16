"""How a run stops: Ctrl-C, SIGTERM and kill -9 record it, end every process it started, and rerun."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import time
import weakref
from dataclasses import dataclass
from multiprocessing.util import Finalize
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel, model_serializer

from proseflow.flows import cli
from proseflow.flows.runtime import (
    STOP_BATCH,
    BatchStopped,
    StoppedBatch,
    Terminated,
    run_flow,
    stop_batch,
    stop_signals,
    stopping,
)
from proseflow.tasks.batch import isolate_failures
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.store.layout import CONTROL_DIR
from tests.conftest import REPO
from tests.helpers import PROSEFLOW, comparable, make_corpus, run_cli

STOP_SECONDS = 20  # a stopped run must be gone within this, on a busy machine too
START_SECONDS = 900  # the temporary API and the workers start slowly on a busy machine


# ---------------------------------------------------------------- signals in this process


class Interrupts(BaseModel):
    """A model whose serializer receives SIGNUM while pydantic runs it."""

    signum: int

    @model_serializer(mode="wrap")
    def signalled(self, handler):
        os.kill(os.getpid(), self.signum)
        time.sleep(0.2)  # the signal arrives in here
        return handler(self)


@pytest.mark.parametrize(
    ("signum", "raised"), [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Terminated)]
)
def test_a_stop_signal_inside_pydantic_is_raised_after_it(signum, raised):
    # Raised inside, pydantic would turn it into a PydanticSerializationError.
    with stop_signals(), pytest.raises(KeyboardInterrupt) as caught:
        dumped = Interrupts(signum=signum).model_dump()
        assert dumped == {"signum": signum}
        time.sleep(5)  # the signal is delivered again, and raised, in here
    assert type(caught.value) is raised


class Collected:
    """An object whose finalizer receives SIGNUM while the garbage collector runs it."""

    def __init__(self, signum: int):
        self.signum = signum

    def __del__(self):
        os.kill(os.getpid(), self.signum)
        time.sleep(0.2)  # the signal arrives in here


def signalled_in_weakref_finalizer(signum: int) -> None:
    weakref.finalize(Interrupts(signum=0), lambda: (os.kill(os.getpid(), signum), time.sleep(0.2)))


def signalled_in_multiprocessing_finalizer(signum: int) -> None:
    holder = Interrupts(signum=0)
    Finalize(holder, lambda: (os.kill(os.getpid(), signum), time.sleep(0.2)))
    del holder


@pytest.mark.parametrize(
    "finalizer", [Collected, signalled_in_weakref_finalizer, signalled_in_multiprocessing_finalizer]
)
@pytest.mark.parametrize(
    ("signum", "raised"), [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Terminated)]
)
def test_a_stop_signal_inside_a_finalizer_is_raised_after_it(finalizer, signum, raised):
    # Raised inside, it would be printed as "Exception ignored" and lost: the run would go on.
    with stop_signals(), pytest.raises(KeyboardInterrupt) as caught:
        finalizer(signum)  # collected at once: the finalizer runs here
        time.sleep(5)  # the signal is delivered again, and raised, in here
    assert type(caught.value) is raised


def test_a_worker_stops_its_batch_in_batch_code_but_never_inside_a_finalizer():
    raised_in_finalizer = []

    class Finalized:
        def __del__(self):
            try:
                stop_batch(STOP_BATCH, sys._getframe())
            except BatchStopped:
                raised_in_finalizer.append(True)

    def stage(table):
        Finalized()  # collected at once, inside the batch's code
        stop_batch(STOP_BATCH, sys._getframe())

    try:
        with pytest.raises(BatchStopped):
            isolate_failures(stage, pa.table({"a": [1]}))
    finally:
        stopping.clear()
    assert raised_in_finalizer == []


def test_stop_signals_restores_the_handlers_and_leaves_ignored_ones():
    before = signal.getsignal(signal.SIGTERM)
    saved = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with stop_signals():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not before
    finally:
        signal.signal(signal.SIGINT, saved)
    assert signal.getsignal(signal.SIGTERM) is before


STUCK_AFTER_A_STOP = """
import os, signal, sys, threading, time
from proseflow.flows.runtime import StopSignals, stop_signals

StopSignals.STOP_DEADLINE = 0.5

def last_words(stop):
    print("stopped:", type(stop).__name__, file=sys.stderr)
    return 130

with stop_signals(last_words):
    try:
        os.kill(os.getpid(), signal.SIGNUM)
        time.sleep(30)
    except KeyboardInterrupt:
        if sys.argv[1] == "stuck":
            threading.Event().wait()  # a library that never returns from its clean-up
print("left the block", file=sys.stderr)
if sys.argv[1] == "stuck-at-exit":
    # the interpreter's exit joins this thread, which never ends
    threading.Thread(target=threading.Event().wait).start()
"""


@pytest.mark.parametrize(
    ("signum", "how", "code", "err"),
    [
        ("SIGINT", "stuck", 130, "stopped: KeyboardInterrupt\n"),
        ("SIGTERM", "stuck", 130, "stopped: Terminated\n"),
        ("SIGINT", "stuck-at-exit", 130, "left the block\nstopped: KeyboardInterrupt\n"),
        ("SIGINT", "clean", 0, "left the block\n"),
    ],
)
def test_a_stop_ends_the_process_at_its_deadline_even_when_clean_up_hangs(signum, how, code, err):
    script = STUCK_AFTER_A_STOP.replace("SIGNUM", signum)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script, how], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stderr) == (code, err)
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (KeyboardInterrupt(), 130, "proseflow: interrupted; "),
        (Terminated(), 143, "proseflow: terminated (SIGTERM); "),
    ],
)
def test_an_interrupt_is_one_line_and_the_shell_exit_code(exc, code, line, capsys):
    assert cli.interrupted(exc) == code
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1


def test_a_stopped_batch_leaves_its_worker_as_an_exception():
    # An interrupt inside the worker (no `except Exception` swallows it), an Exception outside:
    # concurrent.futures lets only Exceptions through the callbacks of its management thread.
    outside = pickle.loads(pickle.dumps(BatchStopped("the flow process stopped the run")))
    assert type(outside) is StoppedBatch and str(outside) == "the flow process stopped the run"


def test_exit_codes_are_listed_in_the_help():
    text = cli.build_parser().format_help()
    assert "130 interrupted (Ctrl-C)" in text and "143 terminated (SIGTERM)" in text


# ---------------------------------------------------------------- processes of a run


@dataclass(frozen=True)
class Proc:
    pid: int
    started: int  # clock ticks after boot: tells a pid apart from a later reuse of it
    cmdline: str


def read_proc(pid: int) -> tuple[int, int, str, int, str] | None:
    """(ppid, pgid, state, start time, cmdline) of a process; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[2]), fields[0], int(fields[19]), cmdline


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def descendants(root: int) -> list[Proc]:
    """ROOT and every process below it, wherever their sessions are."""
    table = {pid: info for pid in all_pids() if (info := read_proc(pid))}
    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, info in table.items() if info[0] == parent]
        frontier += [pid for pid in children if pid not in found]
        found.update(children)
    return [Proc(pid, table[pid][3], table[pid][4]) for pid in found if pid in table]


def alive(proc: Proc) -> bool:
    """Whether PROC still runs (a zombie waiting for PID 1 to reap it has ended)."""
    info = read_proc(proc.pid)
    return info is not None and info[3] == proc.started and info[2] != "Z"


def leftovers(started: list[Proc], pgid: int, marker: str) -> list[str]:
    """Processes of the run still running: started ones, its group, anything naming MARKER."""
    left = [p.cmdline for p in started if alive(p)]
    for pid in all_pids():
        info = read_proc(pid)
        if info and info[2] != "Z" and (info[1] == pgid or marker in info[4]):
            left.append(info[4])
    return left


def wait_for_no_leftovers(started: list[Proc], pgid: int, marker: str, seconds: float = 10):
    deadline = time.monotonic() + seconds
    while (left := leftovers(started, pgid, marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


# ---------------------------------------------------------------- runs stopped mid-way


def start_run(source: Path, output: Path, logs: Path) -> subprocess.Popen:
    """`proseflow run` in a session of its own, as a terminal starts it (Ctrl-C not ignored)."""
    env = dict(os.environ)  # quiet: tests/conftest.py applied flows.environment
    env.pop("PREFECT_API_URL", None)
    env.pop("PROSEFLOW_TRACEBACKS", None)
    env["PYTHONFAULTHANDLER"] = "1"  # SIGABRT prints every thread's stack: see stuck_stacks
    command = [*PROSEFLOW, "run", str(source), "--output", str(output)]
    return subprocess.Popen(
        [*command, "--batch-size", "10", "--workers", "2"],
        cwd=REPO,
        env=env,
        stdout=(logs / "stdout").open("w"),
        stderr=(logs / "stderr").open("w"),
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def staged_parts(output: Path) -> list[Path]:
    return list((output / CONTROL_DIR / "staging").glob("*/parts/documents/*/*.parquet"))


def wait_for_processing(proc: subprocess.Popen, output: Path) -> None:
    """Wait until the run's workers have staged processed documents."""
    deadline = time.monotonic() + START_SECONDS
    while not staged_parts(output):
        assert proc.poll() is None, f"the run ended (exit {proc.returncode}) before processing"
        assert time.monotonic() < deadline, f"no batch processed within {START_SECONDS} s"
        time.sleep(0.02)


def stuck_stacks(proc: subprocess.Popen, logs: Path) -> str:
    """The stacks of every thread of a run that does not stop, and the end of its stderr."""
    os.kill(proc.pid, signal.SIGABRT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
    return (logs / "stderr").read_text()[-20000:]


@pytest.fixture
def corpus(tmp_path) -> Path:
    source = tmp_path / "in"
    make_corpus(source, 400)
    return source


@pytest.mark.slow
@pytest.mark.parametrize(
    ("how", "code", "line"),
    [
        ("ctrl-c", 130, "proseflow: interrupted; nothing of this run was committed"),
        ("sigterm", 143, "proseflow: terminated (SIGTERM); nothing of this run was committed"),
    ],
)
def test_a_stopped_run_is_recorded_leaves_no_process_and_rerun_completes(
    how, code, line, corpus, tmp_path
):
    output = tmp_path / "out"
    proc = start_run(corpus, output, tmp_path)
    try:
        wait_for_processing(proc, output)
        started = descendants(proc.pid)
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends its foreground group
        else:
            os.kill(proc.pid, signal.SIGTERM)  # what a service manager sends the main process
        signalled = time.monotonic()
        try:
            proc.wait(timeout=STOP_SECONDS + 60)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"still running {STOP_SECONDS + 60} s after {how}:\n{stuck_stacks(proc, tmp_path)}"
            )
        seconds = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    print(f"{how}: exit {proc.returncode} {seconds:.1f} s after the signal")
    err = (tmp_path / "stderr").read_text()
    assert proc.returncode == code, err[-3000:]
    assert seconds < STOP_SECONDS, f"stopped after {seconds:.1f} s"
    assert "Traceback" not in err and "Crash detected" not in err, err[-3000:]
    assert [row for row in err.splitlines() if row.startswith("proseflow:")] == [line]
    assert err.splitlines()[-1] == line

    commands = [p.cmdline for p in started]
    assert any("uvicorn" in c and "prefect.server" in c for c in commands), commands
    # The workers: forked from the run (its own command line) or, where it cannot fork, spawned.
    root = next(p.cmdline for p in started if p.pid == proc.pid)
    workers = [
        p
        for p in started
        if p.pid != proc.pid and (p.cmdline == root or "multiprocessing.spawn" in p.cmdline)
    ]
    assert len(workers) == 2, commands
    assert wait_for_no_leftovers(started, proc.pid, str(tmp_path)) == []

    runs = pq.read_table(output / "runs").to_pylist()
    assert [r["status"] for r in runs] == ["failed"]
    assert "interrupt" in runs[0]["error"]
    assert not list(output.glob("documents/**/*.parquet"))

    rerun = run_cli("run", str(corpus), "--output", str(output), "--workers", "1")
    assert rerun.returncode == 0, rerun.stderr
    assert not list((output / CONTROL_DIR / "staging").iterdir())
    runs = pq.read_table(output / "runs").to_pylist()
    assert sorted(r["status"] for r in runs) == ["completed", "failed"]


@pytest.mark.slow
def test_kill_9_mid_run_leaves_nothing_visible_and_rerun_completes(
    tmp_path, corpus, prefect_harness
):
    killed = tmp_path / "killed"
    proc = start_run(corpus, killed, tmp_path)
    try:
        wait_for_processing(proc, killed)
        started = descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)  # the flow process only: its children end with it
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert any("uvicorn" in p.cmdline for p in started)
    # The API server gets SIGTERM from the kernel and shuts down cleanly: slowly on a busy machine.
    assert wait_for_no_leftovers(started, proc.pid, str(tmp_path), seconds=60) == []
    assert staged_parts(killed), "the run ended before it could be killed"
    assert not list(killed.glob("documents/**/*.parquet"))
    assert not list(killed.glob("raw/**/*.parquet"))

    rerun = run_cli("run", str(corpus), "--output", str(killed), "--batch-size", "150")
    assert rerun.returncode == 0, rerun.stderr
    assert not list((killed / CONTROL_DIR / "staging").iterdir())
    runs = pq.read_table(killed / "runs").to_pylist()
    assert sorted(r["status"] for r in runs) == ["completed", "failed"]

    clean = tmp_path / "clean"
    run_flow([str(corpus)], str(clean), PipelineConfig())  # uninterrupted, default batch size
    for dataset in ("documents", "rejects", "raw"):
        if (clean / dataset).exists():
            assert comparable(killed, dataset) == comparable(clean, dataset), dataset
