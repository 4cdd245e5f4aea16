"""The lock: one run (or `proseflow catalog`) at a time per output, held as an flock that the kernel
drops when its holder dies."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from proseflow.tasks.errors import OutputLockedError
from proseflow.tasks.store.files import utc_now
from proseflow.tasks.store.output import Output


@dataclass
class RunLock:
    """An exclusive flock on the output, held for a run's whole life; the kernel drops it on death."""

    path: Path
    handle: object = None

    def acquire(self, run_id: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for the run's life
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "an unknown run"
            handle.close()
            raise OutputLockedError(
                f"the output is in use by {holder}; wait for that run to finish "
                "(a killed run releases the lock by itself)"
            ) from None
        handle.seek(0)
        handle.truncate()
        started = utc_now().isoformat(timespec="seconds")
        handle.write(
            f"run {run_id} (pid {os.getpid()} on {socket.gethostname()}, started {started})"
        )
        handle.flush()
        self.handle = handle

    def release(self) -> None:
        if self.handle is not None:
            self.handle.truncate(0)
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


@contextlib.contextmanager
def locked(output: Output, run_id: str) -> Iterator[RunLock]:
    """Hold the output's lock for the duration of the block."""
    lock = RunLock(output.control / "lock")
    lock.acquire(run_id)
    try:
        yield lock
    finally:
        lock.release()
