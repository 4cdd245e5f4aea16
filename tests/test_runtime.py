"""How a run executes: task runners, stop requests and signals, tags, the Prefect API, deployments.

Full runs stopped by signals are in test_stops.py; the server commands in test_operations.py.
"""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from types import SimpleNamespace

import pytest
from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings
from prefect.task_runners import ThreadPoolTaskRunner

from proseflow.flows import runtime, workers
from proseflow.flows.runtime import BatchStopped, StopSignals, Terminated
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.errors import ProseflowError, UsageError

# ---------------------------------------------------------------- task runners


def test_one_local_worker_runs_tasks_in_a_thread_of_this_process():
    runner = runtime.task_runner(PipelineConfig(runner="local", workers=1))
    assert isinstance(runner, ThreadPoolTaskRunner) and runner._max_workers == 1


@pytest.mark.parametrize(("runner", "workers"), [("process", 1), ("process", 3), ("local", 3)])
def test_processes_run_in_the_pool_that_stops_its_batches(runner, workers):
    pool = runtime.task_runner(PipelineConfig(runner=runner, workers=workers))
    assert isinstance(pool, runtime.ProcessPool) and pool._max_workers == workers
    assert pool._initializer is runtime.quiet_worker


def test_a_local_dask_cluster_has_no_dashboard_and_one_thread_per_process():
    cluster = runtime.task_runner(PipelineConfig(runner="dask", workers=2)).cluster_kwargs
    assert cluster["dashboard_address"] is None and cluster["processes"] is True


def test_a_pool_that_never_started_stops_no_batches(monkeypatch):
    asked: list = []
    monkeypatch.setattr(runtime, "stop_batches", lambda *args: asked.append(args))
    runtime.task_runner(PipelineConfig(runner="process", workers=2)).cancel_all()
    assert asked == []


def test_stop_batches_asks_every_worker_each_round_until_told_to_end(monkeypatch):
    ended = SimpleNamespace(pid=10, is_alive=lambda: False)
    workers = [
        ended,
        SimpleNamespace(pid=11, is_alive=lambda: True),
        SimpleNamespace(pid=12, is_alive=lambda: True),
    ]
    sent: list = []

    def kill(pid, signum):
        sent.append((pid, signum))
        if pid == 11:
            raise ProcessLookupError(pid)  # ended meanwhile: the others are still asked

    answers = iter([False, False, True])  # two rounds, then the pool has shut down
    monkeypatch.setattr(runtime.os, "kill", kill)
    until = SimpleNamespace(wait=lambda every: next(answers))
    runtime.stop_batches(workers, until, grace=60, every=0)
    assert sent == [(11, runtime.STOP_BATCH), (12, runtime.STOP_BATCH)] * 2


def test_stop_batches_kills_the_workers_still_busy_after_the_grace(monkeypatch):
    workers = [SimpleNamespace(pid=11, is_alive=lambda: True)]
    sent: list = []
    clock = iter([0.0, 1.0, 6.0])  # the deadline is taken at 0; rounds at 1 s and at 6 s
    monkeypatch.setattr(runtime.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(runtime.os, "kill", lambda pid, signum: sent.append((pid, signum)))
    answers = iter([False, False, True])
    runtime.stop_batches(workers, SimpleNamespace(wait=lambda every: next(answers)), grace=5)
    assert sent == [(11, runtime.STOP_BATCH), (11, signal.SIGKILL)]


# ---------------------------------------------------------------- where a stop request lands


def frame(module: str, code: str = "run", back=None) -> SimpleNamespace:
    """A stand-in for a stack frame: its module, its function name and its caller."""
    return SimpleNamespace(
        f_globals={"__name__": module}, f_code=SimpleNamespace(co_name=code), f_back=back
    )


@pytest.mark.parametrize(
    ("stack", "running"),
    [
        (frame("proseflow.tasks.clean.stage"), True),
        (frame("pyarrow.lib", back=frame("proseflow.flows.prefect_tasks")), True),
        (frame("prefect.task_runners", runtime.TASK_IN_WORKER), True),
        (frame("prefect.task_runners", "submit"), False),
        (frame("tasksmith.queue", back=frame("__main__")), False),
        (SimpleNamespace(f_globals={}, f_code=SimpleNamespace(co_name="?"), f_back=None), False),
        (None, False),
    ],
)
def test_in_task_finds_proseflow_code_or_the_worker_entry_on_the_stack(stack, running):
    assert runtime.in_task(stack) is running


@pytest.fixture
def stopping():
    """The worker's stop flag, cleared again for the tests after."""
    yield runtime.stopping
    runtime.stopping.clear()


def test_a_stop_request_ends_the_batch_running_here(stopping):
    with pytest.raises(BatchStopped):
        runtime.stop_batch(runtime.STOP_BATCH, frame("proseflow.tasks.readability"))
    assert stopping.is_set()


@pytest.mark.parametrize(
    "stack",
    [
        frame("pydantic_core.core", back=frame("proseflow.tasks.schema")),
        frame("concurrent.futures.process"),
    ],
)
def test_a_stop_request_waits_outside_a_task_and_inside_pydantic(stack, stopping):
    runtime.stop_batch(runtime.STOP_BATCH, stack)
    assert stopping.is_set()  # the console falls silent all the same


# ---------------------------------------------------------------- Ctrl-C and SIGTERM


class Timers:
    """Records the timers StopSignals starts instead of running them."""

    def __init__(self):
        self.started: list = []

    def __call__(self, seconds, function, args):
        return SimpleNamespace(start=lambda: self.started.append((seconds, function, args)))


class ThreadingWith:
    """The threading module as flows.runtime sees it, with TIMER in place of its Timer."""

    def __init__(self, timer):
        self.Timer = timer

    def __getattr__(self, name: str):
        return getattr(threading, name)


@pytest.fixture
def timers(monkeypatch) -> Timers:
    timers = Timers()
    monkeypatch.setattr(runtime, "threading", ThreadingWith(timers))
    return timers


@pytest.mark.parametrize(
    ("signum", "raised"), [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Terminated)]
)
def test_a_signal_outside_pydantic_is_raised_at_once(signum, raised, timers):
    stops = StopSignals()
    with pytest.raises(KeyboardInterrupt) as caught:
        stops.handle(signum, frame("proseflow.flows.flow"))
    assert type(caught.value) is raised and stops.raised
    assert timers.started == []


def test_a_signal_inside_pydantic_is_delivered_again_later(timers):
    stops = StopSignals()
    stops.handle(signal.SIGTERM, frame("pydantic.main", back=frame("proseflow.flows.flow")))
    assert not stops.raised
    assert timers.started == [(StopSignals.RETRY_SECONDS, stops.deliver_again, (signal.SIGTERM,))]


def test_a_second_signal_stops_at_once_even_inside_pydantic(timers):
    stops = StopSignals()
    with pytest.raises(KeyboardInterrupt):
        stops.handle(signal.SIGINT, frame("proseflow.flows.flow"))
    with pytest.raises(KeyboardInterrupt):
        stops.handle(signal.SIGINT, frame("pydantic_core.core"))
    assert timers.started == []


def test_a_signal_is_delivered_again_only_while_none_was_raised(monkeypatch):
    sent: list = []
    monkeypatch.setattr(
        runtime.signal, "pthread_kill", lambda ident, signum: sent.append((ident, signum))
    )
    stops = StopSignals()
    stops.deliver_again(signal.SIGINT)
    stops.raised = True
    stops.deliver_again(signal.SIGINT)
    assert sent == [(threading.main_thread().ident, signal.SIGINT)]


def test_stop_signals_leave_a_sigterm_handler_someone_installed():
    def own(signum, frame):
        pass

    saved = signal.signal(signal.SIGTERM, own)
    try:
        with runtime.stop_signals() as stops:
            assert signal.getsignal(signal.SIGTERM) is own
            assert signal.getsignal(signal.SIGINT) == stops.handle
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, saved)


def test_the_engine_keeps_this_process_sigterm_handler_during_a_run():
    from prefect.utilities import engine

    def own(signum, frame):
        pass

    prefects = engine._prefect_sigterm_handler
    saved = signal.signal(signal.SIGTERM, own)
    try:
        with runtime.keep_sigterm_handler():
            assert engine._prefect_sigterm_handler is own
        assert engine._prefect_sigterm_handler is prefects
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with runtime.keep_sigterm_handler():
            assert engine._prefect_sigterm_handler is prefects
    finally:
        signal.signal(signal.SIGTERM, saved)


# ---------------------------------------------------------------- tags and deployments


@pytest.mark.parametrize(
    ("version", "tag"),
    [
        ("0.2.0", "proseflow-v0-2-0"),
        ("10.20.30.dev4", "proseflow-v10-20-30-dev4"),
        ("1", "proseflow-v1"),
    ],
)
def test_version_tag_has_no_dot(version, tag):
    assert runtime.version_tag(version) == tag


def test_run_tags_name_every_source_and_the_run_a_reprocess_reads():
    assert runtime.run_tags(("news/", "blogs/", "forum/"))[0] == "news+2"
    assert runtime.run_tags(["news/"], "0123456789abcdef")[0] == "reprocess-01234567"


def test_deployment_parameters_are_plain_json_values():
    config = PipelineConfig(boilerplate_patterns=("^Share",), workers=2)
    params = runtime.deployment_parameters(("in/a", "in/é"), "out", config)
    assert params == {"sources": ["in/a", "in/é"], "output": "out", "config": config.to_dict()}
    assert params["config"]["boilerplate_patterns"] == ["^Share"]


@pytest.mark.parametrize(("interval", "said"), [(0.5, "every 0.5 s"), (3600.0, "every 3600 s")])
def test_deployment_description_states_an_interval_as_written(interval, said):
    text = runtime.deployment_description(
        ["in"], "out", PipelineConfig(), runtime.schedule_text(interval=interval)
    )
    assert f"- schedule: {said}\n" in text


def test_deployment_description_lists_only_the_changed_options():
    config = PipelineConfig(top_terms=5, boilerplate_patterns=("^Share",))
    text = runtime.deployment_description(
        ["in/Été"], "out", config, runtime.schedule_text(cron="0 6 * * *")
    )
    assert "- sources: `in/Été`" in text
    assert text.endswith("- options: `boilerplate_patterns=['^Share']`, `top_terms=5`")


# ---------------------------------------------------------------- the Prefect API


@pytest.mark.parametrize("url", ["", "   ", "\n"])
def test_serve_refuses_a_blank_api_url(url):
    with pytest.raises(UsageError, match="proseflow server"):
        runtime.require_api_server(url)


def test_serve_reads_the_api_url_from_the_settings():
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        assert runtime.require_api_server() == "http://127.0.0.1:4200/api"
    with temporary_settings(updates={PREFECT_API_URL: None}), pytest.raises(UsageError):
        runtime.require_api_server()


def test_a_configured_api_is_used_as_it_is(monkeypatch):
    monkeypatch.setattr(runtime, "TemporaryApi", None)  # starting one would fail the test
    configured = temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:4200/api"})
    with configured, runtime.prefect_api() as url:
        assert url == "http://127.0.0.1:4200/api"


@pytest.mark.parametrize("previous", [None, "http://127.0.0.1:1/api"])
def test_the_api_url_reaches_the_environment_for_the_block_only(previous, monkeypatch):
    if previous is None:
        monkeypatch.delenv("PREFECT_API_URL", raising=False)
    else:
        monkeypatch.setenv("PREFECT_API_URL", previous)
    with runtime.api_url_everywhere("http://127.0.0.1:5555/api"):
        assert os.environ["PREFECT_API_URL"] == "http://127.0.0.1:5555/api"
        assert get_current_settings().api.url == "http://127.0.0.1:5555/api"
    assert os.environ.get("PREFECT_API_URL") == previous


def test_free_port_can_be_bound_on_loopback():
    import socket

    port = runtime.free_port()
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
    assert 0 < port < 65536


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_wait_healthy_is_true_once_the_api_answers():
    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/api"
        running = SimpleNamespace(poll=lambda: None)
        assert runtime.wait_healthy(running, url, time.monotonic() + 60)
    finally:
        server.shutdown()
        server.server_close()


def test_wait_healthy_is_false_for_an_ended_server_or_a_passed_deadline():
    url = f"http://127.0.0.1:{runtime.free_port()}/api"
    assert not runtime.wait_healthy(SimpleNamespace(poll=lambda: 3), url, time.monotonic() + 60)
    assert not runtime.wait_healthy(SimpleNamespace(poll=lambda: None), url, time.monotonic() - 1)


def start_error(code: int | None, log: bytes, timeout: float) -> ProseflowError:
    """The error of a temporary API whose process ended with CODE (None: still running)."""
    api = runtime.TemporaryApi()
    api.process = SimpleNamespace(poll=lambda: code)
    with tempfile.TemporaryFile() as api.log:
        api.log.write(log)
        return api.start_error(timeout)


def test_an_api_that_exited_is_named_with_its_code_and_last_log_line():
    error = start_error(3, b"starting\n[Errno 98] address already in use\n", 90)
    assert isinstance(error, ProseflowError)
    message = str(error)
    assert "exited with code 3 within 90 s ([Errno 98] address already in use)" in message
    assert "proseflow server" in message and "\n" not in message


def test_an_api_that_never_answered_says_so_and_cuts_its_log_line():
    message = str(start_error(None, b"x" * 1000 + b"\n\n", 120))
    assert "did not answer within 120 s (" + "x" * 300 + ")" in message


def test_an_api_without_output_says_so():
    message = str(start_error(1, b"", 5))
    assert "(no output)" in message


def test_a_temporary_api_url_is_its_loopback_port():
    api = runtime.TemporaryApi()
    api.port = 4321
    assert api.url == "http://127.0.0.1:4321/api"
    api.stop()  # never started: nothing to stop


def child(code: str) -> subprocess.Popen:
    """A Python child that prints `ready` once CODE ran, then waits."""
    return subprocess.Popen(
        [sys.executable, "-c", f"{code}\nimport time\nprint('ready', flush=True)\ntime.sleep(120)"],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_stop_ends_the_server_with_sigterm():
    api = runtime.TemporaryApi()
    api.process = child("")
    assert api.process.stdout.readline() == "ready\n"
    api.stop()
    api.process.stdout.close()
    assert api.process.returncode == -signal.SIGTERM


def test_stop_kills_a_server_that_ignores_sigterm():
    api = runtime.TemporaryApi()
    api.process = child("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)")
    assert api.process.stdout.readline() == "ready\n"
    api.stop(timeout=0.5)
    api.process.stdout.close()
    assert api.process.returncode == -signal.SIGKILL


# ---------------------------------------------------------------- settings serialized once


def test_settings_are_serialized_once_and_as_prefect_serializes_them(monkeypatch):
    from prefect.context import SettingsContext

    current = SettingsContext.get()
    want = current.serialize()
    calls = []
    original = SettingsContext.serialize

    def counted(self, include_secrets=True):
        calls.append(include_secrets)
        return original(self, include_secrets)

    monkeypatch.setattr(SettingsContext, "serialize", counted)
    once = runtime.SettingsSerializedOnce.model_construct(
        profile=current.profile, settings=current.settings
    )
    first, second = once.serialize(), once.serialize()
    assert first == second == want
    assert first is not second  # each caller gets its own dict to hand on
    assert calls == [True]
    once.serialize(include_secrets=False)
    assert calls == [True, False]


def test_the_pool_serializes_the_settings_in_force_when_it_submits():
    pool = runtime.ProcessPool(max_workers=2)
    with pool._settings_once() as entered:
        assert isinstance(entered, runtime.SettingsSerializedOnce)
        assert entered.settings is get_current_settings()
        with pool._settings_once() as nested:  # already the serialized-once context
            assert nested is None
    with pool._settings_once() as again:
        assert again is entered  # the same settings: the same serialization
    with (
        temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}),
        pool._settings_once() as changed,
    ):
        assert changed is not entered
        assert changed.settings.api.url == "http://127.0.0.1:9/api"


# ---------------------------------------------------------------- workers started early


def files(folder, n: int):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"{i:03d}.txt").write_text("text")
    return str(folder)


def test_many_batches_counts_the_files_of_local_folders(tmp_path):
    config = PipelineConfig(batch_size=5)
    assert not workers.many_batches([files(tmp_path / "a", 5)], config)
    assert workers.many_batches([files(tmp_path / "a", 5), files(tmp_path / "b" / "c", 1)], config)
    assert workers.many_batches([str(tmp_path)], config)  # subfolders count


def test_many_batches_walks_a_tree_deeper_than_the_recursion_limit(tmp_path):
    folder = tmp_path
    for _ in range(sys.getrecursionlimit() + 10):
        folder = folder / "d"
        folder.mkdir()
    files(folder, 2)
    try:
        assert workers.many_batches([str(tmp_path)], PipelineConfig(batch_size=1))
        assert not workers.many_batches([str(tmp_path)], PipelineConfig(batch_size=2))
    finally:
        remove_tree(tmp_path / "d")


def remove_tree(top) -> None:
    """shutil.rmtree without recursion, which Python 3.11's recurses into once a level."""
    folders, stack = [], [str(top)]
    while stack:
        folders.append(stack.pop())
        with os.scandir(folders[-1]) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    os.unlink(entry.path)
    for folder in reversed(folders):
        os.rmdir(folder)


def test_many_batches_skips_a_folder_it_cannot_list(tmp_path, monkeypatch):
    files(tmp_path / "a", 3)
    real = os.scandir

    def refuse(path):
        if str(path).endswith("a"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(runtime.os, "scandir", refuse)
    assert not workers.many_batches([str(tmp_path)], PipelineConfig(batch_size=1))


def test_many_batches_counts_no_file_glob_or_url(tmp_path):
    config = PipelineConfig(batch_size=1)
    files(tmp_path, 3)
    sources = [str(tmp_path / "000.txt"), str(tmp_path / "*.txt"), "s3://bucket/news/"]
    assert not workers.many_batches(sources, config)


def test_workers_started_early_are_those_the_flow_run_takes_over():
    pool = runtime.ProcessPool(max_workers=2, initializer=runtime.quiet_worker)
    pool.start_early()
    early = pool._early.executor
    twin = pool.duplicate()  # what Prefect's flow engine enters
    assert pool._early is None
    with twin:
        assert twin._executor is early
        pids = {twin._executor.submit(os.getpid).result(timeout=120) for _ in range(8)}
        assert pids <= {p.pid for p in early._processes.values()}
        assert twin._message_forwarding_thread.is_alive()
    assert twin._executor is None


def test_workers_started_early_that_no_run_took_over_end_when_discarded():
    pool = runtime.ProcessPool(max_workers=2, initializer=runtime.quiet_worker)
    pool.start_early()
    workers = list(pool._early.executor._processes.values())
    assert len(workers) == 2
    pool.discard_early()
    deadline = time.monotonic() + 10
    while any(w.is_alive() for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(w.is_alive() for w in workers)
    assert pool._early is None
    pool.discard_early()  # twice is harmless


def test_a_pool_not_started_early_builds_its_workers_as_prefect_does():
    with runtime.ProcessPool(max_workers=1) as pool:
        assert pool._executor.submit(os.getpid).result(timeout=120) != os.getpid()


def test_a_configured_api_is_started_at_once():
    calls = []
    configured = temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:4200/api"})
    with configured, runtime.prefect_api(lambda: calls.append("started")):
        assert calls == ["started"]


def test_a_temporary_api_says_started_once_before_waiting_whatever_the_retries(monkeypatch):
    events = []
    taken = iter([True, False])  # the first port was taken meanwhile: uvicorn exits with 3

    def spawn(port, log):
        events.append("spawned")
        return SimpleNamespace(poll=lambda: 3)

    def wait(process, url, deadline):
        events.append("waited")
        return not next(taken)

    monkeypatch.setattr(runtime, "spawn_api", spawn)
    monkeypatch.setattr(runtime, "wait_healthy", wait)
    api = runtime.TemporaryApi()
    api.start(30, lambda: events.append("started"))
    api.log.close()
    assert events == ["spawned", "started", "waited", "spawned", "waited"]


def test_preload_runs_its_loads_in_order_in_a_background_thread():
    done: list = []
    finished = threading.Event()
    runtime.preload(
        lambda: done.append(threading.current_thread().name),
        lambda: (done.append("second"), finished.set()),
    )
    assert finished.wait(30)
    assert done == ["proseflow-preload", "second"]
