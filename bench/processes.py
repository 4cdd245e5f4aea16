"""Running benchmarked commands: timed, their process tree's memory sampled, killed at a timeout;
and a Prefect server for the scenarios that need one.

Every child starts in its own session and is remembered until it is reaped, so a timeout, Ctrl-C
or the bench's own exit can end it with all its descendants.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from proseflow.flows.environment import QUIET_ENV

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SAMPLE_SECONDS = 0.05
MIB = 1024 * 1024

# ---------------------------------------------------------------- processes


@dataclass
class Measured:
    """A finished command: exit code (None when killed at its timeout), output, wall time, peak RSS."""

    returncode: int | None
    stdout: str
    stderr: str
    wall_s: float
    peak_mib: float
    timed_out: bool = False
    peak_parts: list[dict] | None = None  # each process's MiB at the peak: see PeakSampler


LIVE: set[subprocess.Popen] = set()  # children to kill if the bench itself stops


def tree(pid: int) -> list:
    """psutil handles of process `pid` and all its descendants (empty once it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_rss(pid: int) -> dict:
    """Resident bytes of process `pid` and each of its descendants, by process ({} once gone)."""
    import psutil

    rss = {}
    for proc in tree(pid):
        with suppress(psutil.Error):  # a child may exit between listing and reading
            rss[proc] = proc.memory_info().rss
    return rss


def role(proc, root_pid: int) -> str:
    """What a process of a benchmarked tree is: main, worker, api or its program's name."""
    import psutil

    if proc.pid == root_pid:
        return "main"
    try:
        cmdline = " ".join(proc.cmdline())
    except psutil.Error:
        return "gone"
    if "multiprocessing" in cmdline:
        return "worker" if "spawn_main" in cmdline else "multiprocessing"
    if "uvicorn" in cmdline or " server start" in cmdline:
        return "api"
    return os.path.basename(cmdline.split(" ", 1)[0]) or "?"


def kill_tree(process: subprocess.Popen, grace: float = 5) -> None:
    """Terminate a child, its process group and every descendant; kill what outlives `grace`."""
    import psutil

    procs = tree(process.pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with suppress(OSError):
            os.killpg(process.pid, sig)  # each child leads its own group (start_new_session)
        for proc in procs:
            with suppress(psutil.Error):
                proc.send_signal(sig)
        _, procs = psutil.wait_procs(procs, timeout=grace)
        if not procs:
            break
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    LIVE.discard(process)


def kill_live_children() -> None:
    """Kill every child still running (at exit, or when the bench is interrupted)."""
    for process in list(LIVE):
        kill_tree(process, grace=2)


def on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds: servers stop, running commands are killed


def spawn(cmd: Sequence[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
    """Start a child in its own session, remembered until it is reaped or killed."""
    process = subprocess.Popen(list(cmd), env=env, start_new_session=True, **kwargs)
    LIVE.add(process)
    return process


class PeakSampler:
    """Samples the summed RSS of a process tree in a thread, keeping the peak and its parts."""

    def __init__(self, pid: int, interval: float = SAMPLE_SECONDS) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self.parts: list[dict] = []  # {"role", "pid", "mib"} of each process at the peak
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            rss = tree_rss(self.pid)
            if sum(rss.values()) > self.peak:
                self.peak = sum(rss.values())
                self.parts = [
                    {"role": role(proc, self.pid), "pid": proc.pid, "mib": round(n / MIB, 1)}
                    for proc, n in rss.items()
                ]
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(cmd: Sequence[str], env: dict[str, str], timeout: float) -> Measured:
    """Run `cmd` from the repository root, timing it and sampling its tree's peak RSS.

    A command still running after `timeout` seconds is killed with all its descendants.
    """
    started = time.perf_counter()
    process = spawn(cmd, env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    timed_out = False
    try:
        with PeakSampler(process.pid) as sampler:
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                kill_tree(process)
                stdout, stderr = process.communicate()
    finally:
        if process.poll() is None:
            kill_tree(process)
        LIVE.discard(process)
    wall = time.perf_counter() - started
    code = None if timed_out else process.returncode
    return Measured(code, stdout, stderr, wall, sampler.peak / MIB, timed_out, sampler.parts)


def base_env(prefect_home: Path, api_url: str | None) -> dict[str, str]:
    """The environment of a benchmarked command: quiet, its own PREFECT_HOME, the chosen API."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(QUIET_ENV, PREFECT_HOME=str(prefect_home))
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


# ---------------------------------------------------------------- prefect server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    """Whether the API at `url` answers /health."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class ServerError(RuntimeError):
    """The Prefect server did not come up."""


@dataclass
class Server:
    """A Prefect server started by the benchmark."""

    url: str
    process: subprocess.Popen
    startup_s: float
    sampler: PeakSampler


@contextmanager
def prefect_server(home: Path, timeout: float = 180) -> Iterator[Server]:
    """Run `prefect server start` on a free loopback port with its own PREFECT_HOME; stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = base_env(home, url)  # the UI calls the API at PREFECT_API_URL
    cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    log_file = (home / "server.log").open("w")
    started = time.perf_counter()
    process = spawn(cmd, env, stdout=log_file, stderr=subprocess.STDOUT, cwd=home)
    try:
        while not healthy(url):
            if process.poll() is not None or time.perf_counter() - started > timeout:
                raise ServerError(
                    f"Prefect server did not come up on {url}; see {home / 'server.log'}"
                )
            time.sleep(0.2)
        startup = time.perf_counter() - started
        with PeakSampler(process.pid, interval=0.5) as sampler:
            yield Server(url, process, startup, sampler)
    finally:
        stop(process)
        log_file.close()


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    """Ask a process to stop with Ctrl-C; kill it and its descendants if they linger."""
    if process.poll() is None:
        descendants = tree(process.pid)
        process.send_signal(signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
        if any(p.is_running() for p in descendants):
            kill_tree(process)
    LIVE.discard(process)
