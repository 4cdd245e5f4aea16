"""End-to-end benchmark: proseflow against the naive textstat loop, on scaled copies of a corpus.

    python bench/run.py [--quick] [--corpus DIR] [--scale 4] [--memory-scale 40] [--skip-memory]

Builds SCALE (and MEMORY-SCALE) distinct copies of the corpus under bench/work/ and runs, on the
same machine and with default options: the naive script and its copy on textstat-rs (installed
into a scratch venv); proseflow with Prefect's temporary API; a do-nothing Prefect flow and
`proseflow run seeds/` without a server; then, against a Prefect server started here, proseflow's
first run, its unchanged rerun, a run with --near-duplicates off, --workers 1, seeds/, the
do-nothing flow and the MEMORY-SCALE run. Measures wall time, documents/s, the peak summed RSS of
each command's process tree, seconds per stage and orchestration overhead; adds the stage cost on
one core (bench/stages.py), bench/micro.py, the hostile inputs (bench/hostile.py) and the
near-duplicate quality on labelled BBC pairs (bench/near_duplicate_cases.py), measured directly and
through a run; judges every target; writes bench-<UTC>.json/.md and latest.json/.md to --out.
How commands run and are measured: bench/processes.py; ratios, targets and Markdown: bench/report.py.
"""

from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/: processes.py, report.py
from processes import (  # noqa: E402
    MIB,
    Measured,
    Server,
    ServerError,
    base_env,
    kill_live_children,
    on_signal,
    prefect_server,
    run_measured,
)
from report import (  # noqa: E402
    DESCRIPTIONS,
    EMBEDDED,
    NAIVE,
    NAIVE_RS,
    RUN_TARGETS,
    SEEDS_EMBEDDED,
    SEEDS_SERVER,
    SERVER_FIRST,
    SERVER_LARGE,
    SERVER_NO_NEAR_DUPLICATES,
    SERVER_ONE_WORKER,
    SERVER_RERUN,
    STAGES,
    TRIVIAL_EMBEDDED,
    TRIVIAL_SERVER,
    load_average,
    machine_info,
    render_markdown,
    start_floor,
    verdicts,
    versions,
    with_ratios,
    write_report,
)

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
BIN = Path(sys.executable).parent
DEFAULT_CORPUS = Path("../shared/corpora/bbc")
NAIVE_SCRIPT = REPO.parent / "shared" / "bench" / "naive_textstat.py"
NAIVE_RS_SCRIPT = BENCH / "naive_textstat_rs.py"
TRIVIAL_FLOW = BENCH / "trivial_flow.py"
STAGES_SCRIPT = BENCH / "stages.py"
SEEDS = REPO / "seeds"
# What the naive script reads: case-sensitive, so README.TXT is left out.
SUFFIXES = (".txt", ".md")
# timed in the flow process while no worker has work
SERIAL_STAGES = ("discover", "commit", "report")
RS_PACKAGES = ("textstat-rs", "pandas", "pyarrow")
START_TIMEOUT = 600  # seconds for one do-nothing flow or seeds/ run

# ---------------------------------------------------------------- corpus


def copy_line(copy: int) -> bytes:
    """The line appended to copy number `copy` so that its bytes, hence its doc_id, are unique."""
    return f"\ncopy {copy}\n".encode("ascii")


def corpus_files(source: Path) -> list[Path]:
    """The documents of `source` the naive script would read, sorted."""
    return sorted(p for p in source.rglob("*") if p.suffix in SUFFIXES and p.is_file())


def build_corpus(source: Path, dest: Path, scale: int) -> dict:
    """Write `scale` distinct copies of each document of `source` into its folder under `dest`."""
    files = corpus_files(source)
    stamp = dest.with_name(dest.name + ".json")
    manifest = {"source": str(source.resolve()), "scale": scale, "n_documents": len(files) * scale}
    if stamp.exists() and dest.exists() and json.loads(stamp.read_text()) == manifest:
        return manifest  # already built from the same source at the same scale
    shutil.rmtree(dest, ignore_errors=True)
    for path in files:
        raw = path.read_bytes()
        body = raw if raw.endswith(b"\n") else raw + b"\n"
        folder = dest / path.parent.relative_to(source)
        folder.mkdir(parents=True, exist_ok=True)
        for copy in range(scale):
            (folder / f"{path.stem}-{copy}{path.suffix}").write_bytes(body + copy_line(copy))
    stamp.write_text(json.dumps(manifest))
    return manifest


# ---------------------------------------------------------------- parsing


def parse_summary(stdout: str) -> dict:
    """The JSON summary `proseflow run --json` prints: the first JSON object opening a line."""
    decoder, offset = json.JSONDecoder(), 0
    for line in stdout.splitlines(keepends=True):
        if line.startswith("{"):
            with suppress(json.JSONDecodeError):
                return decoder.raw_decode(stdout[offset:])[0]
        offset += len(line)
    return {}


def parse_loop_output(stdout: str) -> tuple[int | None, float | None]:
    """(documents, seconds) from a naive loop's last line `N documents in S s (R docs/s)`."""
    lines = stdout.strip().splitlines()
    parts = lines[-1].split() if lines else []
    if len(parts) > 3 and parts[1] == "documents" and parts[2] == "in":
        with suppress(ValueError):
            return int(parts[0]), float(parts[3])
    return None, None


def parse_json_line(stdout: str) -> dict:
    """The last line of `stdout` that is a JSON object ({} when there is none)."""
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            with suppress(json.JSONDecodeError):
                return json.loads(line)
    return {}


def runs_row(output: Path, run_id: str | None, env: dict[str, str]) -> dict:
    """The runs row of `run_id` (else the newest) from `proseflow runs --json`."""
    cmd = [str(BIN / "proseflow"), "runs", "--json", "--output", str(output)]
    try:
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return {}
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    matching = [r for r in rows if r.get("run_id") == run_id]
    return (matching or rows or [{}])[-1]


def seconds_between(started: str | None, finished: str | None) -> float | None:
    """finished - started in seconds, from the runs row's timestamps."""
    if not started or not finished:
        return None
    return (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()


def stage_seconds(row: dict, summary: dict) -> dict[str, float]:
    """Seconds per stage: the runs row's, with any stage it records as 0 taken from the summary."""
    recorded = nested(row.get("stage_seconds"))
    printed = summary.get("stage_seconds") or {}
    return {s: float(recorded.get(s) or printed.get(s) or 0.0) for s in STAGES}


def parameters(row: dict) -> dict:
    """The run's configuration from its runs row."""
    return nested(row.get("parameters"))


def nested(value) -> dict:
    """A JSON column of a runs row as `proseflow runs --json` prints it (an object), or {}."""
    if isinstance(value, str):  # outputs of proseflow before 0.2.0 printed JSON text
        with suppress(json.JSONDecodeError):
            value = json.loads(value)
    return value if isinstance(value, dict) else {}


# ---------------------------------------------------------------- overhead


def workers_used(params: dict, n_inputs: int | None) -> int:
    """Processes that ran batches: the configured workers, 1 when the run had a single batch.

    Batches are counted as ceil(inputs / batch_size): the corpora here are far below batch_bytes.
    """
    workers = int(params.get("workers") or 1)
    batch_size = int(params.get("batch_size") or 500)
    batches = math.ceil((n_inputs or 0) / batch_size)
    return max(1, min(workers, batches))


def critical_seconds(stages: dict[str, float], workers: int) -> float:
    """Stage seconds on the critical path if the batch work were spread evenly over the workers.

    Discovery and the commit run in the flow process while no worker has work; every other stage
    second is batch work, divided by the workers. The flow's triage and boilerplate reduce (inside
    `ingest` and `clean`) also run alone in the flow process, and so do the near-duplicate links
    (inside `near_duplicates`, with the workers' signatures): dividing them too shortens the path
    and can only overstate the overhead.
    """
    serial = sum(stages.get(s, 0.0) for s in SERIAL_STAGES)
    parallel = sum(stages.values()) - serial
    return serial + parallel / max(1, workers)


def overhead_share(flow_s: float | None, critical_s: float) -> float | None:
    """Share of the flow time not on the stage functions' critical path."""
    if not flow_s:
        return None
    return (flow_s - critical_s) / flow_s


# ---------------------------------------------------------------- scenario rows


def proseflow_result(
    name: str, measured: Measured, output: Path, env: dict[str, str], corpus: str | None
) -> dict:
    """One scenario's row from a finished `proseflow run --json` and its runs row."""
    summary = parse_summary(measured.stdout)
    row = runs_row(output, summary.get("run_id"), env) if measured.returncode == 0 else {}
    stages = stage_seconds(row, summary)
    flow_s = seconds_between(row.get("started_at"), row.get("finished_at"))
    inputs = summary.get("n_inputs")
    workers = workers_used(parameters(row), inputs)
    critical = critical_seconds(stages, workers)
    share = overhead_share(flow_s, critical)
    result = {
        "scenario": name,
        "description": DESCRIPTIONS[name],
        "corpus": corpus,
        "returncode": measured.returncode,
        "documents": summary.get("n_documents"),
        "inputs": inputs,
        "skipped": summary.get("n_skipped"),
        "rejects": summary.get("n_rejects"),
        "wall_s": round(measured.wall_s, 3),
        "flow_s": None if flow_s is None else round(flow_s, 3),
        "peak_mib": round(measured.peak_mib, 1),
        "peak_processes": measured.peak_parts,
        "workers": workers,
        "stage_seconds": stages,
        "stage_sum_s": round(sum(stages.values()), 3),
        "critical_s": round(critical, 3),
        "overhead_flow_share": None if share is None else round(share, 4),
        "overhead_wall_share": round((measured.wall_s - critical) / measured.wall_s, 4),
    }
    return with_error(result, measured)


def loop_result(name: str, measured: Measured, n_documents: int, corpus: str) -> dict:
    """A naive loop's row; the loop time it prints stands in for the flow time."""
    documents, inner = parse_loop_output(measured.stdout)
    result = {
        "scenario": name,
        "description": DESCRIPTIONS[name],
        "corpus": corpus,
        "returncode": measured.returncode,
        "documents": documents if documents is not None else n_documents,
        "inputs": n_documents,
        "wall_s": round(measured.wall_s, 3),
        "flow_s": inner,
        "peak_mib": round(measured.peak_mib, 1),
    }
    return with_error(result, measured)


def trivial_result(name: str, measured: Measured) -> dict:
    """The do-nothing flow's row: wall time, and the import and flow-call seconds it prints."""
    printed = parse_json_line(measured.stdout)
    result = {
        "scenario": name,
        "description": DESCRIPTIONS[name],
        "corpus": None,
        "returncode": measured.returncode,
        "wall_s": round(measured.wall_s, 3),
        "flow_s": printed.get("flow_s"),
        "import_s": printed.get("import_s"),
        "peak_mib": round(measured.peak_mib, 1),
    }
    return with_error(result, measured)


def with_error(result: dict, measured: Measured) -> dict:
    """`result` with the command's error tail when it failed or was killed."""
    if measured.timed_out:
        result["error"] = f"killed after {measured.wall_s:.0f} s (timeout)"
    elif measured.returncode != 0:
        result["error"] = (measured.stderr or measured.stdout).strip()[-2000:]
    return result


def median_row(rows: list[dict]) -> dict:
    """The run with the median wall time (the lower one of an even count), all walls beside it."""
    ordered = sorted(rows, key=lambda r: (r.get("returncode") != 0, r["wall_s"]))
    ok = [r for r in ordered if r.get("returncode") == 0]
    pick = ok[(len(ok) - 1) // 2] if ok else ordered[0]
    return dict(pick, repeats_wall_s=[r["wall_s"] for r in rows])


def failed_row(name: str, error: str) -> dict:
    """The row of a scenario that could not run at all."""
    return {"scenario": name, "description": DESCRIPTIONS[name], "corpus": None,
            "returncode": None, "error": error}  # fmt: skip


def timeout_for(n_docs: int) -> float:
    """Seconds a command on `n_docs` documents may take before it is killed."""
    return 600 + 0.05 * n_docs  # generous: a shared machine can be several times slower


def proseflow_cmd(source: Path, output: Path, *extra: str) -> list[str]:
    """`proseflow run SOURCE --output OUTPUT --json [extra]`."""
    return [str(BIN / "proseflow"), "run", str(source), "--output", str(output), "--json", *extra]


def fresh(path: Path) -> Path:
    """`path`, emptied."""
    shutil.rmtree(path, ignore_errors=True)
    return path


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- profile


# Leaves where a thread blocks in C (sleep, lock, queue, select): waiting, not work.
IDLE_FILES = ("threading.py", "selectors.py", "queue.py", "socket.py", "ssl.py")
IDLE_LEAVES = {("thread.py", "_worker"), ("flow_engine.py", "heartbeat_loop")}


def idle(frame) -> bool:
    """Whether a thread whose innermost Python frame is `frame` is blocked rather than working."""
    path, name = frame.f_code.co_filename, frame.f_code.co_name
    return path.endswith(IDLE_FILES) or (os.path.basename(path), name) in IDLE_LEAVES


def sample_threads(
    stop_event: threading.Event, own: Counter, total: Counter, interval: float = 0.005
) -> None:
    """Add, every `interval`, the elapsed seconds to each busy thread's leaf (own) and stack."""
    me, last = threading.get_ident(), time.perf_counter()
    while not stop_event.wait(interval):
        # Weighted by the real gap: under GIL contention samples come later than `interval`.
        now = time.perf_counter()
        elapsed, last = now - last, now
        for tid, frame in sys._current_frames().items():
            if tid == me or idle(frame):
                continue
            own[_where(frame)] += elapsed
            seen = set()
            while frame is not None:
                seen.add(_where(frame))
                frame = frame.f_back
            for name in seen:
                total[name] += elapsed


def _where(frame) -> str:
    code = frame.f_code
    path = code.co_filename
    short = (
        path.split("site-packages/")[-1]
        if "site-packages/" in path
        else os.path.relpath(path, REPO)
    )
    return f"{code.co_name} ({short}:{code.co_firstlineno})"


def profile_text(own: Counter, total: Counter, interval: float, top: int = 10) -> str:
    """Top functions by own time and by cumulative time, as text."""
    lines = [f"own s    function (sampled every {interval * 1000:.0f} ms over all busy threads)"]
    lines += [f"{seconds:7.2f}  {name}" for name, seconds in own.most_common(top)]
    lines += ["", "cumul s  function"]
    lines += [f"{seconds:7.2f}  {name}" for name, seconds in total.most_common(top + 10)]
    return "\n".join(lines)


def profile_child(out: Path, argv: list[str]) -> int:
    """Run `proseflow ARGV` here while sampling every thread; write the profile to `out`."""
    from proseflow.flows.cli import main as proseflow

    own, total, stop_event = Counter(), Counter(), threading.Event()
    sampler = threading.Thread(target=sample_threads, args=(stop_event, own, total), daemon=True)
    sampler.start()
    try:
        code = proseflow(argv)
    finally:
        stop_event.set()
        sampler.join()
    out.write_text(profile_text(own, total, 0.005))
    return code


def profile_run(source: Path, output: Path, env: dict[str, str], out: Path, timeout: float) -> str:
    """Profile one proseflow run's flow process (all threads) in a child; return the text."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--profile-child", str(out), "--",
           "run", str(source), "--output", str(output)]  # fmt: skip
    out.unlink(missing_ok=True)
    measured = run_measured(cmd, env, timeout)
    if not out.exists():
        return f"profile failed: {(measured.stderr or 'timeout').strip()[-500:]}"
    return out.read_text()


def profile_first_and_rerun(
    source: Path, work: Path, env: dict[str, str], out: Path, timeout: float
) -> str:
    """Profiles of a first run into a fresh output and of its unchanged rerun, written to `out`."""
    output = fresh(work / "out-profile")
    first = profile_run(source, output, env, out, timeout)
    rerun = profile_run(source, output, env, out, timeout)
    fresh(output)
    text = f"first run (fresh output)\n{first}\n\nunchanged rerun\n{rerun}"
    out.write_text(text)
    return text


# ---------------------------------------------------------------- textstat-rs


def textstat_rs_python(venv: Path) -> tuple[Path | None, str]:
    """A scratch venv's python with textstat-rs, pandas and pyarrow, and textstat-rs's version.

    The venv is made and filled on first use, then reused. Without it: (None, why not).
    """
    python = venv / "bin" / "python"
    version = installed_version(python, "textstat_rs", "textstat-rs")
    if version:
        return python, version
    quiet = ["--quiet", "--disable-pip-version-check"]
    for step in (
        [sys.executable, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", *quiet, *RS_PACKAGES],
    ):
        log(f"scratch venv for textstat-rs: {' '.join(step[1:4])} ...")
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"{' '.join(step[1:4])} failed: {exc}"
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines() or ["?"]
            return None, f"{' '.join(step[1:4])} failed: {lines[-1][:300]}"
    version = installed_version(python, "textstat_rs", "textstat-rs")
    return (python, version) if version else (None, "textstat-rs installed but not importable")


def installed_version(python: Path, module: str, distribution: str) -> str | None:
    """The version of `distribution` if `python` can import `module`, pandas and pyarrow."""
    code = (
        f"import {module}, pandas, pyarrow; from importlib.metadata import version; "
        f"print(version({distribution!r}))"
    )
    try:
        done = subprocess.run(
            [str(python), "-c", code], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


# ---------------------------------------------------------------- scenarios


@dataclass
class Plan:
    """What the scenarios run on."""

    args: argparse.Namespace
    work: Path
    corpus: Path
    n_docs: int
    label: str  # e.g. "x4"


def run_loops(plan: Plan) -> list[dict]:
    """The naive script, then its copy on textstat-rs (installed into a scratch venv)."""
    work, corpus, n = plan.work, plan.corpus, plan.n_docs
    log(f"naive script on {n} documents")
    env = base_env(work / "prefect-naive", None)
    env["NLTK_DATA"] = str(work / "nltk_data")
    cmd = [sys.executable, str(NAIVE_SCRIPT), str(corpus), str(work / "naive.parquet")]
    rows = [loop_result(NAIVE, run_measured(cmd, env, timeout_for(10 * n)), n, plan.label)]
    if plan.args.skip_textstat_rs:
        return rows
    python, version = textstat_rs_python(work / "textstat-rs-venv")
    if python is None:
        log(f"textstat-rs row skipped: {version}")
        return [*rows, failed_row(NAIVE_RS, f"textstat-rs not installed: {version}")]
    log(f"naive loop on textstat-rs {version}")
    cmd = [str(python), str(NAIVE_RS_SCRIPT), str(corpus), str(work / "naive-rs.parquet")]
    row = loop_result(NAIVE_RS, run_measured(cmd, env, timeout_for(10 * n)), n, plan.label)
    return [*rows, dict(row, textstat_rs_version=version)]


def run_no_server(plan: Plan) -> list[dict]:
    """proseflow with Prefect's temporary API, then the do-nothing flow and seeds/, interleaved."""
    work, repeats = plan.work, plan.args.start_repeats
    home = fresh(work / "prefect-embedded")
    home.mkdir(parents=True)
    env = base_env(home, None)
    log("do-nothing flow on an empty PREFECT_HOME (creates Prefect's database; not a row)")
    first_start = run_measured([sys.executable, str(TRIVIAL_FLOW)], env, START_TIMEOUT)
    log(f"  {first_start.wall_s:.1f} s; proseflow, no server, {plan.n_docs} documents")
    out = fresh(work / "out-embedded")
    measured = run_measured(proseflow_cmd(plan.corpus, out), env, timeout_for(plan.n_docs))
    rows = [proseflow_result(EMBEDDED, measured, out, env, plan.label)]
    trivial, seeds = [], []
    for i in range(repeats):
        log(f"do-nothing flow and run seeds/, no server ({i + 1}/{repeats})")
        trivial.append(run_trivial(TRIVIAL_EMBEDDED, env))
        seeds.append(run_seeds(SEEDS_EMBEDDED, work, env))
    rows += [median_row(trivial), median_row(seeds)]
    rows[-2]["first_start_wall_s"] = round(first_start.wall_s, 3)
    return rows


def run_with_server(plan: Plan, server: Server, report: dict) -> list[dict]:
    """Every scenario against the server."""
    args, work = plan.args, plan.work
    env = base_env(Path(report["server_home"]), server.url)
    timeout = timeout_for(plan.n_docs)
    out = fresh(work / "out-server")
    # A server's first flow run after its start costs the server more CPU (on the same cores) than
    # later ones; an operator's server runs for days. One untimed do-nothing run takes that cost.
    log("warming the server: the do-nothing flow once, untimed")
    report["server_warmup_s"] = run_trivial(TRIVIAL_SERVER, env)["wall_s"]
    rows = []
    for name in (SERVER_FIRST, SERVER_RERUN):
        log(f"proseflow, {DESCRIPTIONS[name]}")
        measured = run_measured(proseflow_cmd(plan.corpus, out), env, timeout)
        rows.append(proseflow_result(name, measured, out, env, plan.label))
    rows += near_duplicate_pairs(plan, env, rows[0])
    log("proseflow --workers 1")
    out = fresh(work / "out-workers1")
    measured = run_measured(proseflow_cmd(plan.corpus, out, "--workers", "1"), env, timeout)
    rows.append(proseflow_result(SERVER_ONE_WORKER, measured, out, env, plan.label))
    fresh(out)
    seeds, trivial = [], []
    for i in range(args.start_repeats):
        log(f"run seeds/ and the do-nothing flow against the server ({i + 1}/{args.start_repeats})")
        seeds.append(run_seeds(SEEDS_SERVER, work, env))
        trivial.append(run_trivial(TRIVIAL_SERVER, env))
    rows += [median_row(seeds), median_row(trivial)]
    if not args.skip_memory:
        rows.append(run_large(plan, env))
    return rows


def near_duplicate_pairs(plan: Plan, env: dict[str, str], first: dict) -> list[dict]:
    """Fresh runs with near-duplicates off and on, alternating, --cost-pairs times.

    Alternating spreads whatever else the machine does over both sides. The off row is the
    median off run; the on side's walls (the first run's included) go into `first`.
    """
    off_rows, on_walls = [], [first["wall_s"]]
    timeout = timeout_for(plan.n_docs)
    for i in range(plan.args.cost_pairs):
        for links in ("off", "on"):
            if links == "on" and i == 0:
                continue  # the first run is the first pair's on side
            log(f"proseflow --near-duplicates {links} ({i + 1}/{plan.args.cost_pairs})")
            out = fresh(plan.work / f"out-near-duplicates-{links}")
            cmd = proseflow_cmd(plan.corpus, out, "--near-duplicates", links)
            measured = run_measured(cmd, env, timeout)
            if links == "off":
                off_rows.append(
                    proseflow_result(SERVER_NO_NEAR_DUPLICATES, measured, out, env, plan.label)
                )
            elif measured.returncode == 0:
                on_walls.append(round(measured.wall_s, 3))
            fresh(out)
    first["near_duplicates_on_wall_s"] = on_walls
    return [median_row(off_rows)] if off_rows else []


def run_trivial(name: str, env: dict[str, str]) -> dict:
    """The do-nothing flow once, in a fresh process."""
    cmd = [sys.executable, str(TRIVIAL_FLOW)]
    return trivial_result(name, run_measured(cmd, env, START_TIMEOUT))


def run_seeds(name: str, work: Path, env: dict[str, str]) -> dict:
    """`proseflow run seeds/` once, into a fresh output."""
    out = fresh(work / "out-seeds")
    measured = run_measured(proseflow_cmd(SEEDS, out), env, START_TIMEOUT)
    return proseflow_result(name, measured, out, env, "seeds")


def run_large(plan: Plan, env: dict[str, str]) -> dict:
    """proseflow at --memory-scale against the server (its output is deleted afterwards)."""
    args, work = plan.args, plan.work
    big = work / f"corpus-x{args.memory_scale}"
    manifest = build_corpus(corpus_source(args), big, args.memory_scale)
    n = manifest["n_documents"]
    log(f"proseflow at x{args.memory_scale} ({n} documents) against the server")
    out = fresh(work / "out-large")
    measured = run_measured(proseflow_cmd(big, out), env, timeout_for(n))
    row = proseflow_result(SERVER_LARGE, measured, out, env, f"x{args.memory_scale}")
    fresh(out)  # hundreds of MB nobody reads
    return row


def run_scenarios(plan: Plan, report: dict) -> list[dict]:
    """Run every scenario in order; return their rows (server facts and profile go to `report`)."""
    rows = run_loops(plan) + run_no_server(plan)
    home = fresh(plan.work / "prefect-server")
    home.mkdir(parents=True)
    report["server_home"] = str(home)
    log("starting a Prefect server")
    try:
        with prefect_server(home) as server:
            report["server_startup_s"] = round(server.startup_s, 2)
            log(f"server up on {server.url} in {server.startup_s:.1f} s")
            rows += run_with_server(plan, server, report)
            report["server_peak_mib"] = round(server.sampler.peak / MIB, 1)
            rows = with_ratios(rows)
            maybe_profile(plan, server, rows, report)
    except ServerError as exc:  # no server: its rows say so, the rest of the report stands
        log(str(exc))
        names = (SERVER_FIRST, SERVER_RERUN, SERVER_NO_NEAR_DUPLICATES, SERVER_ONE_WORKER,
                 SEEDS_SERVER, TRIVIAL_SERVER)  # fmt: skip
        rows = with_ratios(rows + [failed_row(n, str(exc)) for n in names])
    return rows


def maybe_profile(plan: Plan, server: Server, rows: list[dict], report: dict) -> None:
    """Profile the flow process of a first run and its rerun when a run target is missed."""
    if plan.args.skip_profile:
        return
    missed = [v for v in verdicts(rows, None) if v["met"] is False and v["target"] in RUN_TARGETS]
    if not missed:
        return
    log("a run target was missed: profiling the flow process of a run and its rerun")
    stamp = report["timestamp"].replace(":", "").replace("-", "")
    plan.args.out.mkdir(parents=True, exist_ok=True)
    env = base_env(Path(report["server_home"]), server.url)
    path = plan.args.out / f"profile-{stamp}.txt"
    timeout = timeout_for(plan.n_docs)
    report["profile"] = profile_first_and_rerun(plan.corpus, plan.work, env, path, timeout)


def run_stage_cost(args: argparse.Namespace) -> dict:
    """bench/stages.py in its own processes (each pinned to one CPU)."""
    log(f"stage cost on one core: {args.stage_docs} documents, {args.stage_repeats} repeats")
    cmd = [sys.executable, str(STAGES_SCRIPT), "--corpus", str(corpus_source(args)),
           "--docs", str(args.stage_docs), "--repeats", str(args.stage_repeats)]  # fmt: skip
    measured = run_measured(cmd, dict(os.environ), 300 + 120 * args.stage_repeats)
    if measured.returncode != 0:
        return {"error": (measured.stderr or "timeout").strip()[-1000:] or "failed"}
    return parse_summary(measured.stdout) or {"error": "no JSON from bench/stages.py"}


def run_micro(args: argparse.Namespace) -> dict:
    """bench/micro.py on the source corpus (a failure there is reported, not raised)."""
    sys.path.insert(0, str(BENCH))
    log(f"micro-benchmarks on {args.micro_docs} bodies")
    try:
        import micro

        return micro.run(corpus_source(args), args.micro_docs)
    except Exception as exc:  # another module's breakage must not lose the run's numbers
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}


def run_hostile(args: argparse.Namespace, work: Path) -> dict:
    """bench/hostile.py's section: proseflow on hostile inputs, smaller under --quick."""
    import hostile  # imported here: hostile.py imports this module

    size = hostile.QUICK if args.quick else hostile.FULL
    log(f"hostile inputs: {size.mb:g} MB documents, {size.records:,} records")
    return hostile.run(work, size)


def run_near_duplicates(args: argparse.Namespace, work: Path) -> dict:
    """bench/near_duplicate_cases.py's section: labelled pairs measured directly and through a run.

    The run uses the no-server rows' PREFECT_HOME, whose database exists by then.
    """
    import near_duplicate_cases  # imported here: near_duplicate_cases.py imports this module

    pairs = args.near_duplicate_pairs
    log(f"near-duplicate cases: {pairs} pairs per kind, directly and through a run")
    env = base_env(work / "prefect-embedded", None)
    try:
        return near_duplicate_cases.section(
            corpus_source(args), work / "near-duplicates", env, per_kind=pairs
        )
    except Exception as exc:  # a broken measurement must not lose the run's numbers
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}


def corpus_source(args: argparse.Namespace) -> Path:
    """The --corpus folder, relative paths taken from the repository root."""
    return args.corpus if args.corpus.is_absolute() else (REPO / args.corpus).resolve()


# ---------------------------------------------------------------- main

# The full run's settings, and --quick's, for the options left unset.
FULL = {"scale": 4, "memory_scale": 40, "start_repeats": 3, "stage_docs": 500, "stage_repeats": 3,
        "micro_docs": 500, "near_duplicate_pairs": 150, "cost_pairs": 3}  # fmt: skip
QUICK = {"scale": 1, "memory_scale": 2, "start_repeats": 1, "stage_docs": 100, "stage_repeats": 1,
         "micro_docs": 100, "near_duplicate_pairs": 40, "cost_pairs": 1}  # fmt: skip


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    import hostile  # imported here: hostile.py imports this module

    small = hostile.QUICK
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="check the bench itself: " + ", ".join(
                            f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items())
                        + f", no profile, hostile inputs of {small.mb:g} MB and"
                        f" {small.records:,} records")  # fmt: skip
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="source corpus folder")
    parser.add_argument("--scale", type=int, help="copies of the corpus for the main runs (4)")
    parser.add_argument("--memory-scale", type=int, help="copies for the large run (40)")
    parser.add_argument("--skip-memory", action="store_true", help="skip the --memory-scale run")
    parser.add_argument("--start-repeats", type=int,
                        help="runs of the do-nothing flow and of seeds/, median kept (3)")  # fmt: skip
    parser.add_argument("--stage-docs", type=int, help="documents bench/stages.py times (500)")
    parser.add_argument(
        "--stage-repeats", type=int, help="bench/stages.py processes, best kept (3)"
    )
    parser.add_argument("--cost-pairs", type=int,
                        help="fresh runs with near-duplicates off and on, alternating (3)")  # fmt: skip
    parser.add_argument("--micro-docs", type=int, help="BBC bodies bench/micro.py times (500)")
    parser.add_argument("--skip-micro", action="store_true", help="skip bench/micro.py")
    parser.add_argument("--skip-textstat-rs", action="store_true", help="skip the textstat-rs row")
    parser.add_argument("--skip-profile", action="store_true", help="never profile, even on a miss")
    parser.add_argument("--skip-hostile", action="store_true", help="skip bench/hostile.py")
    parser.add_argument("--near-duplicate-pairs", type=int,
                        help="labelled near-duplicate pairs per kind (150)")  # fmt: skip
    parser.add_argument("--skip-near-duplicates", action="store_true",
                        help="skip the near-duplicate quality (bench/near_duplicate_cases.py)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=BENCH / "results", help="where reports go")
    parser.add_argument(
        "--work", type=Path, default=BENCH / "work", help="scratch folder (git-ignored)"
    )
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.skip_profile = args.skip_profile or args.quick
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--profile-child"]:
        return profile_child(Path(argv[1]), argv[3:])
    args = parse_args(argv)
    source = corpus_source(args)
    if not corpus_files(source):
        print(
            f"bench/run.py: no *.txt/*.md documents under {source}; pass --corpus DIR",
            file=sys.stderr,
        )
        return 2
    atexit.register(kill_live_children)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / f"corpus-x{args.scale}"
    manifest = build_corpus(source, corpus, args.scale)
    report = {
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(),
        "versions": versions(),
        "corpus": str(args.corpus),
        "scale": args.scale,
        "memory_scale": None if args.skip_memory else args.memory_scale,
        "memory_n_documents": None
        if args.skip_memory
        else len(corpus_files(source)) * args.memory_scale,
        "n_documents": manifest["n_documents"],
    }
    plan = Plan(args, work, corpus, manifest["n_documents"], f"x{args.scale}")
    rows = run_scenarios(plan, report)
    report["scenarios"] = rows
    report["floor"] = start_floor({r["scenario"]: r for r in rows})
    report["stage_cost"] = run_stage_cost(args)
    report["micro"] = None if args.skip_micro else run_micro(args)
    report["hostile"] = None if args.skip_hostile else run_hostile(args, work)
    report["near_duplicates"] = (
        None if args.skip_near_duplicates else run_near_duplicates(args, work)
    )
    report["verdicts"] = verdicts(
        rows, report["stage_cost"], report["hostile"], report["near_duplicates"]
    )
    report["machine"]["load_average_end"] = load_average()
    paths = write_report(report, args.out)
    print(render_markdown(report))
    log(
        "wrote "
        + ", ".join(str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p) for p in paths)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
