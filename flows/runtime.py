"""How a flow run executes: its task runner, its tags, its Prefect API, how it stops, its deployment."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from prefect.context import SettingsContext
from prefect.task_runners import (
    ProcessPoolTaskRunner,
    TaskRunner,
    ThreadPoolTaskRunner,
)
from pydantic import PrivateAttr

from proseflow.flows import workers
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.errors import ProseflowError, UsageError

TAG_PREFIX = "proseflow-"
# Prefect waits 20 s for its temporary API; on a busy machine it takes longer than that to start.
API_STARTUP_SECONDS = 90
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# pydantic's compiled core turns any exception a Python callback raises into its own error.
CALLBACK_WRAPPERS = ("pydantic", "pydantic_core")
# Finalizers the garbage collector runs: an exception raised in one is printed as "Exception ignored"
# and lost, and the resource it releases stays half released.
FINALIZERS = {("multiprocessing.util", "__call__"), ("weakref", "__call__")}
# A worker's batch runs the code of this package; an exception raised there ends the batch.
STAGE_MODULES = ("proseflow",)
# The function of Prefect's process pool that runs a task in a worker (Prefect 3.9).
TASK_IN_WORKER = "_run_task_in_subprocess"
# The flow process's request to stop a batch: ignored by default, so harmless to a worker that
# has not yet installed its handler.
STOP_BATCH = signal.SIGURG


def task_runner(config: PipelineConfig):
    """Threads in this process by default; processes or a Dask cluster when asked for."""
    if config.runner == "dask":
        return dask_runner(config)
    if config.runner == "process" or config.workers > 1:
        return ProcessPool(max_workers=config.workers, initializer=quiet_worker)
    return ThreadPoolTaskRunner(max_workers=1)


def dask_runner(config: PipelineConfig):
    """A DaskTaskRunner on --dask-address, or on a local cluster of --workers 1-thread processes."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:  # pragma: no cover - prefect-dask is a dependency
        raise UsageError("--runner dask needs prefect-dask; pip install prefect-dask") from exc
    if config.dask_address:
        return DaskTaskRunner(address=config.dask_address)
    # No dashboard: port 8787 may be taken, and a local run has no one to look at it.
    cluster = {
        "n_workers": config.workers,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": None,
    }
    return DaskTaskRunner(cluster_kwargs=cluster)


class ProcessPool(ProcessPoolTaskRunner):
    """Prefect's process pool, whose cancel_all stops the batches in flight instead of awaiting them.

    Prefect's waits for every batch already handed to a worker (the running ones and two more),
    which on a busy machine kept a stopped run alive for minutes. This one asks the workers to
    stop their batches until they have none left, then waits as Prefect's does, so no batch
    writes afterwards. A worker still busy STOP_GRACE seconds after the first request is killed:
    its batch only wrote to the run's staging, which the stopped run discards.

    Its workers can also start before the flow run (`start_early`), so that they import and load
    their word lists while the flow process starts its run instead of after it.
    """

    STOP_GRACE = 5.0
    _settings: SettingsSerializedOnce | None = None
    _early: workers.EarlyWorkers | None = None

    def start_early(self) -> None:
        """Start the worker processes now; the flow run that enters this runner takes them over."""
        if self._early is None:
            self._early = workers.start(self._max_workers)

    def discard_early(self) -> None:
        """End workers started early that no flow run took over (the run never started)."""
        early, self._early = self._early, None
        workers.discard(early)

    def duplicate(self) -> ProcessPool:
        """Prefect's duplicate, which the flow run enters, holding the workers started early."""
        twin = super().duplicate()
        twin._early, self._early = self._early, None
        return twin

    def __enter__(self) -> ProcessPool:
        early, self._early = self._early, None
        if early is None:
            return super().__enter__()
        TaskRunner.__enter__(self)
        self._executor, self._subprocess_message_queue = early
        self._message_forwarding_thread = threading.Thread(
            target=self._forward_subprocess_messages,
            name="ProcessPoolTaskRunnerMessageForwarder",
            daemon=True,
        )
        self._message_forwarding_thread.start()
        self._resolver_executor = ThreadPoolExecutor(max_workers=self._max_workers)
        return self

    def submit(self, task, parameters, wait_for=None, dependencies=None):
        """Prefect's submit, with the run's settings serialized once for all its tasks."""
        with self._settings_once():
            return super().submit(task, parameters, wait_for, dependencies)

    def _settings_once(self) -> contextlib.AbstractContextManager:
        current = SettingsContext.get()
        if current is None or isinstance(current, SettingsSerializedOnce):
            return contextlib.nullcontext()
        if self._settings is None or self._settings.settings is not current.settings:
            self._settings = SettingsSerializedOnce.model_construct(
                profile=current.profile, settings=current.settings
            )
        return self._settings

    def release(self) -> None:
        """End the worker processes, their batches all done; this runner takes no more tasks.

        Called when the map phases are over: from there on the flow process works alone, and two
        idle workers would hold some 800 MB through the commit, the run's peak of memory.
        """
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self._stop_message_forwarding()

    def cancel_all(self) -> None:
        if self._executor is None:
            return super().cancel_all()
        workers = list(getattr(self._executor, "_processes", {}).values())
        cancelled = threading.Event()
        ask = threading.Thread(
            target=stop_batches,
            args=(workers, cancelled, self.STOP_GRACE),
            name="proseflow-stop",
        )
        ask.start()
        try:
            super().cancel_all()
        finally:
            cancelled.set()
            ask.join()


class SettingsSerializedOnce(SettingsContext):
    """A settings context that serializes its settings once, however many tasks it sends.

    Prefect's process pool serializes the current settings context into every task it hands to a
    worker: about 53 ms of the flow process's CPU a task (62 ms for the whole context), taken from
    the workers on a machine whose cores they fill (some 19 s at 89,000 documents). A run's
    settings do not change while it submits, so the first serialization serves them all; settings
    entered later are another context.
    """

    _serialized: dict = PrivateAttr(default_factory=dict)

    def serialize(self, include_secrets: bool = True) -> dict:
        if include_secrets not in self._serialized:
            self._serialized[include_secrets] = super().serialize(include_secrets)
        return dict(self._serialized[include_secrets])


def preload(*loads: Callable[[], None]) -> None:
    """Run LOADS (imports, word lists) one after another in a background thread of this process.

    Starting a flow run mostly waits on the Prefect API, and a run whose batches run in workers
    waits on them: loading meanwhile takes that time off the run. Start it only after any worker
    is forked (`workers.can_fork`).
    """

    def load_all() -> None:
        for load in loads:
            load()

    threading.Thread(target=load_all, name="proseflow-preload", daemon=True).start()


def stop_batches(workers: list, until: threading.Event, grace: float, every: float = 0.1) -> None:
    """Ask WORKERS (processes), every EVERY seconds until UNTIL is set, to stop their batches;
    kill those still running after GRACE seconds."""
    deadline = time.monotonic() + grace
    while not until.wait(every):
        late = time.monotonic() > deadline
        for worker in workers:
            if worker.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGKILL if late else STOP_BATCH)


class BatchStopped(KeyboardInterrupt):
    """Raised in a worker's batch when the flow process stops its run.

    An interrupt, so that no per-document `except Exception` turns it into a reject row. It leaves
    the worker as StoppedBatch, an Exception: Prefect's pool hands a task's outcome over in the
    executor's management thread, which an interrupt would end, leaving every batch unwatched.
    """

    def __reduce__(self):
        return StoppedBatch, self.args


class StoppedBatch(Exception):
    """A batch that the flow process stopped, as the flow process sees it."""


# Set in a worker once the flow process asked it to stop: its console falls silent, as the flow
# process reports the stop in one line.
stopping = threading.Event()


def quiet_worker() -> None:
    """Leave Ctrl-C and SIGTERM to the flow process, stop batches when asked, end with the flow.

    A worker whose flow process was killed ends within a second instead of waiting forever for
    its next batch. Like the flow process, it prints log lines without tracebacks.
    """
    from multiprocessing.util import Finalize

    from proseflow.flows.console import hide_tracebacks, silence_when

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(STOP_BATCH, stop_batch)
    hide_tracebacks()
    silence_when(stopping.is_set)
    # The last exit step, once its queues are flushed: the interpreter's teardown (collecting
    # the word lists and models) takes seconds on a busy machine, and the flow process waits.
    Finalize(None, os._exit, args=(0,), exitpriority=-100)
    watch = threading.Thread(
        target=exit_when_orphaned, args=(os.getppid(),), name="proseflow-orphan", daemon=True
    )
    watch.start()


def stop_batch(signum: int, frame) -> None:
    """Stop the task this worker runs, where it can stop; elsewhere wait for the next request.

    Anywhere in a task, not only in its batch's code: the tasks queued to this worker would
    otherwise each spend a second or two setting up with Prefect before stopping.
    """
    stopping.set()
    if in_task(frame) and not swallowed_here(frame):
        raise BatchStopped("the flow process stopped the run")


def in_task(frame) -> bool:
    """Whether FRAME runs a task: a batch's code, or Prefect's own around it."""
    while frame is not None:
        if frame.f_globals.get("__name__", "").partition(".")[0] in STAGE_MODULES:
            return True
        if frame.f_code.co_name == TASK_IN_WORKER and frame.f_globals.get("__name__") == (
            "prefect.task_runners"
        ):
            return True
        frame = frame.f_back
    return False


def exit_when_orphaned(parent: int, every: float = 1.0) -> None:
    """End this process as soon as PARENT is no longer its parent process."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that a run records itself on the way out."""

    exit_code = 143  # 128 + SIGTERM, what a shell reports for a process SIGTERM ended


@contextlib.contextmanager
def stop_signals(
    last_words: Callable[[KeyboardInterrupt], int] | None = None,
) -> Iterator[StopSignals]:
    """Ctrl-C and SIGTERM raise StopSignals' exceptions in the block.

    A signal that whoever started proseflow ignores (or handles itself) stays so. With LAST_WORDS
    (which reports the stop unless already reported, and returns the exit code), a process still
    alive STOP_DEADLINE seconds after the signal exits anyway: see StopSignals. Pass it only where
    the stop ends the process, as the command line's does.
    """
    stops = StopSignals(last_words)
    saved = {}
    for sig, default in (
        (signal.SIGINT, signal.default_int_handler),
        (signal.SIGTERM, signal.SIG_DFL),
    ):
        if signal.getsignal(sig) is default:
            saved[sig] = signal.signal(sig, stops.handle)
    try:
        yield stops
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


class StopSignals:
    """Raises KeyboardInterrupt for Ctrl-C and Terminated for SIGTERM, where nothing swallows them.

    Where an exception would be swallowed (see `swallowed_here`: pydantic's callbacks turn it into
    a serialization error, finalizers drop it), the handler lets that code finish and has the
    signal delivered again. A second signal, once the
    first one was raised, stops at once; the next run records the run and clears what it left.

    A stop must end the process however the libraries it runs in wind down: the interrupt may land
    in third-party code that then waits forever (a lock it never released, a thread it joins, at
    the interpreter's exit too). So a deadline starts with the first interrupt and stays armed until
    the process exits: a process still alive when it passes reports the stop with LAST_WORDS and
    exits with its code. Its workers and its temporary API end with it.
    """

    RETRY_SECONDS = 0.02
    STOP_DEADLINE = 15.0

    def __init__(self, last_words: Callable[[KeyboardInterrupt], int] | None = None) -> None:
        self.raised = False
        self.last_words = last_words
        self.deadline: threading.Timer | None = None

    def handle(self, signum: int, frame) -> None:
        if not self.raised and swallowed_here(frame):
            threading.Timer(self.RETRY_SECONDS, self.deliver_again, (signum,)).start()
            return
        self.raised = True
        stop = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        if self.last_words is not None and self.deadline is None:
            self.deadline = threading.Timer(self.STOP_DEADLINE, self.exit_now, (stop,))
            self.deadline.daemon = True
            self.deadline.start()
        raise stop

    def deliver_again(self, signum: int) -> None:
        if not self.raised:
            signal.pthread_kill(threading.main_thread().ident, signum)

    def exit_now(self, stop: KeyboardInterrupt) -> None:
        """The deadline passed: report the stop and end the process, whatever its threads do.

        With PROSEFLOW_TRACEBACKS set, every thread's stack goes to stderr first: where it hung.
        """
        if os.environ.get("PROSEFLOW_TRACEBACKS"):
            import faulthandler

            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        code = self.last_words(stop)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def swallowed_here(frame) -> bool:
    """Whether an exception raised at FRAME would not reach the code that called into it.

    Inside pydantic's callbacks it becomes a serialization error; inside a finalizer (a `__del__`,
    a weakref or multiprocessing Finalize callback that the garbage collector runs anywhere) it is
    printed with its traceback and dropped. A stop raised there would be lost.
    """
    if in_modules(frame, CALLBACK_WRAPPERS):
        return True
    while frame is not None:
        name = frame.f_code.co_name
        if name == "__del__" or (frame.f_globals.get("__name__"), name) in FINALIZERS:
            return True
        frame = frame.f_back
    return False


def in_modules(frame, packages: tuple[str, ...]) -> bool:
    """Whether FRAME or a frame that called it runs code of one of PACKAGES."""
    while frame is not None:
        if frame.f_globals.get("__name__", "").partition(".")[0] in packages:
            return True
        frame = frame.f_back
    return False


def run_tags(sources: Sequence[str], from_raw: str | None = None) -> list[str]:
    """The tags of a run: what it reads and which proseflow ran it."""
    from proseflow.flows.flow import source_label
    from proseflow.tasks.provenance import pipeline_version

    return [source_label(list(sources), from_raw), version_tag(pipeline_version())]


def version_tag(version: str) -> str:
    """`proseflow-v0-2-0`: the event feed cuts a tag at its first dot, so the tag has none."""
    return f"{TAG_PREFIX}v{version.replace('.', '-')}"


def run_flow(
    sources: list[str],
    output: str,
    config: PipelineConfig,
    from_raw: str | None = None,
    runner: TaskRunner | None = None,
) -> dict:
    """Run the pipeline flow with RUNNER (by default the configured task runner) and the run's
    tags, and return its summary."""
    from prefect import tags

    from proseflow.flows.flow import pipeline

    flow = pipeline.with_options(task_runner=runner or task_runner(config))
    with tags(*run_tags(sources, from_raw)):
        return flow(sources=sources, output=output, config=config, from_raw=from_raw)


@contextlib.contextmanager
def prefect_api(started: Callable[[], None] = lambda: None) -> Iterator[str]:
    """The configured Prefect API or, without one, a temporary API of this process for the block.

    Prefect's own temporary API shares the terminal's process group, so Ctrl-C stopped it before
    the flow could record the interrupted run; a killed run left it running; and every worker
    process started one more. This one runs in its own session, ends with this process, serves the
    workers too, and stops only after the run's last logs and events have reached it.

    STARTED is called once the API's process is started (at once with a configured API), before
    waiting for it to answer: the seconds the temporary API takes to come up are free for others.
    """
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        started()
        yield settings.api.url or ""
        return
    api = TemporaryApi()
    # No one watches the heartbeats of a run whose API ends with it; the engine waits for them.
    no_heartbeats = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    try:
        api.start(
            max(API_STARTUP_SECONDS, settings.server.ephemeral.startup_timeout_seconds), started
        )
        with api_url_everywhere(api.url), temporary_settings(updates=no_heartbeats):
            yield api.url
    finally:
        flush_to_api()
        api.stop()


@contextlib.contextmanager
def api_url_everywhere(url: str) -> Iterator[None]:
    """PREFECT_API_URL=URL for every thread and context of this process, and for its children.

    Prefect's background threads read the process-wide settings, not the caller's context: with
    the URL in the caller's context alone, they would start yet another temporary API.
    """
    import prefect.context
    from prefect.settings import PREFECT_API_URL, temporary_settings

    previous, settings = os.environ.get("PREFECT_API_URL"), prefect.context.GLOBAL_SETTINGS_CONTEXT
    os.environ["PREFECT_API_URL"] = url
    prefect.context.refresh_global_settings_context()
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous
        prefect.context.GLOBAL_SETTINGS_CONTEXT = settings  # rebuilding it takes a second


class TemporaryApi:
    """Prefect's API server (uvicorn, in-process database) as a child this process owns."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, timeout: float, started: Callable[[], None] = lambda: None) -> None:
        """Start the server and wait until it answers; a ProseflowError when it does not.

        STARTED is called once, after the server's process started, before the wait.
        """
        import tempfile

        # Its tracebacks stay off the terminal; stop() closes it.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115
        deadline = time.monotonic() + timeout
        while True:
            self.port = free_port()
            self.process = spawn_api(self.port, self.log)
            started()
            started = lambda: None  # noqa: E731  (once, whatever the retries)
            if wait_healthy(self.process, self.url, deadline):
                return
            # 3: uvicorn could not bind, someone took the port meanwhile
            if self.process.poll() != 3 or time.monotonic() > deadline:
                raise self.start_error(timeout)

    def start_error(self, timeout: float):
        code = self.process.poll() if self.process else None
        ended = "did not answer" if code is None else f"exited with code {code}"
        self.log.seek(0)
        last = (self.log.read().decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        return ProseflowError(
            f"the temporary Prefect API {ended} within {timeout:.0f} s ({last[:300]}); start a "
            "server with `proseflow server` and export PREFECT_API_URL=http://127.0.0.1:4200/api"
        )

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server with SIGTERM (a clean database shutdown); kill it if it lingers."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None:
            self.log.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def spawn_api(port: int, log) -> subprocess.Popen:
    """Prefect's temporary API command, in a session of its own and tied to this process."""
    import prefect
    from prefect.settings import get_current_settings

    command = [
        *(sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent)),
        *("--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1"),
        *("--port", str(port), "--log-level", "error", "--lifespan", "on"),
    ]
    env = {
        **os.environ,
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
        **get_current_settings().to_environment_variables(exclude_unset=True),
    }
    # Its own session keeps the terminal's Ctrl-C away from it: the flow process still has an
    # API to record the interrupted run in, and stops the server itself afterwards.
    return subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
        preexec_fn=ended_with_this_process(),
    )


def ended_with_this_process() -> Callable[[], None] | None:
    """A preexec_fn that has Linux send the child SIGTERM when this process dies, even by SIGKILL.

    The kernel watches the thread that starts the child: start it from the main thread.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return preexec


def wait_healthy(process: subprocess.Popen, url: str, deadline: float) -> bool:
    """Poll URL/health until it answers 200 (True), the process ends or the deadline passes."""
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with opener.open(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    return False


def flush_to_api(timeout: float = 3.0) -> None:
    """Send Prefect's queued run logs and events to the API before it stops."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            service.drain_all(timeout=timeout)


@contextlib.contextmanager
def keep_sigterm_handler() -> Iterator[None]:
    """Have Prefect's flow engine keep this process's SIGTERM handler while a run is in the block.

    The engine swaps in its own during a run, for runners that cancel deployment runs (which a
    command-line run has none of). Its handler raises TerminationSignal wherever the main thread
    is, inside pydantic too, which turns it into a serialization error: the flow would not see
    an interruption, and the run would not be recorded as one.
    """
    from prefect.utilities import engine

    handler = signal.getsignal(signal.SIGTERM)
    if not callable(handler) or not hasattr(engine, "_prefect_sigterm_handler"):
        yield
        return
    prefects = engine._prefect_sigterm_handler
    engine._prefect_sigterm_handler = handler
    try:
        yield
    finally:
        engine._prefect_sigterm_handler = prefects


def deployment_parameters(sources: Sequence[str], output: str, config: PipelineConfig) -> dict:
    """The flow parameters of a deployment, as JSON values (deployments store no Python objects)."""
    return {"sources": list(sources), "output": output, "config": config.to_dict()}


def schedule_text(cron: str | None = None, interval: float | None = None) -> str:
    """A deployment's schedule as its description states it: a cron line or an interval."""
    return f"cron `{cron}` (UTC)" if cron else f"every {interval:g} s"


def deployment_description(
    sources: Sequence[str], output: str, config: PipelineConfig, schedule: str
) -> str:
    """What a deployment does, as the UI shows it: sources, output, SCHEDULE and options."""
    defaults = PipelineConfig().to_dict()
    changed = {k: v for k, v in config.to_dict().items() if v != defaults[k]}
    options = ", ".join(f"`{k}={v}`" for k, v in changed.items()) or "the defaults"
    return "\n".join(
        [
            "proseflow: text documents to Parquet datasets of cleaned text, readability and statistics.",
            "",
            f"- sources: {', '.join(f'`{s}`' for s in sources)}",
            f"- output: `{output}`",
            f"- schedule: {schedule}",
            f"- options: {options}",
        ]
    )


def require_api_server(url: str | None = None) -> str:
    """The API URL of a running server (environment or profile); a usage error without one."""
    if url is None:
        from prefect.settings import get_current_settings

        url = get_current_settings().api.url or ""
    # Without it every command would start the embedded API, which cannot schedule anything.
    if not url.strip():
        raise UsageError(
            "serve needs a running Prefect server: start one with `proseflow server`, then "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    return url


def serve_flow(
    sources: list[str],
    output: str,
    config: PipelineConfig,
    name: str,
    cron: str | None = None,
    interval: float | None = None,
) -> None:
    """Serve the pipeline as deployment NAME on a cron or interval schedule until interrupted."""
    from proseflow.flows.flow import pipeline

    require_api_server()
    flow = pipeline.with_options(task_runner=task_runner(config))
    flow.serve(
        name=name,
        cron=cron,
        interval=interval,
        parameters=deployment_parameters(sources, output, config),
        description=deployment_description(sources, output, config, schedule_text(cron, interval)),
        tags=run_tags(sources),
        pause_on_shutdown=True,
        # Runs of one deployment share an output and its lock: one at a time, the next waits.
        limit=1,
    )
