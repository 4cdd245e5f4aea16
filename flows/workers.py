"""Worker processes started before the flow run, forked from this process when it is safe.

A spawned worker spends some 4 s of CPU importing Prefect, pyarrow and the stages, loading
Prefect's collections and its word lists and language model, and a run of two workers on two
cores waited that long for its first batch. Forked from the flow process once it has imported all
that, a worker only loads its word lists: it shares the rest with the flow process. Workers are
forked only while the flow process runs no other thread, on Linux; otherwise they are spawned, as
Prefect's ProcessPoolTaskRunner spawns them.

The pool is the one Prefect's ProcessPoolTaskRunner builds (its worker initializer, its message
queue); `runtime.ProcessPool` takes it over when the flow run starts.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import NamedTuple

from proseflow.tasks.config import PipelineConfig


class EarlyWorkers(NamedTuple):
    """Worker processes started before their flow run: the pool and its message queue."""

    executor: ProcessPoolExecutor
    messages: object  # a multiprocessing Queue


def start(n_workers: int) -> EarlyWorkers:
    """Start N_WORKERS worker processes now; each warms up as soon as it runs."""
    if can_fork():
        _prepare_fork()
    # Asked again: the preparation must not have started a thread.
    context = multiprocessing.get_context("fork" if can_fork() else "spawn")
    messages = context.Queue()
    executor = ProcessPoolExecutor(
        max_workers=n_workers, mp_context=context, initializer=initialize, initargs=(messages,)
    )
    for _ in range(n_workers):
        executor.submit(warm)
    return EarlyWorkers(executor, messages)


def can_fork() -> bool:
    """Whether workers can be forked from this process: Linux, and no thread but this one.

    A lock that another thread holds at the fork stays locked forever in the child. The native
    threads of pyarrow's allocator and of OpenBLAS reset themselves at a fork.
    """
    return sys.platform.startswith("linux") and threading.active_count() == 1


def _prepare_fork() -> None:
    """Import and load, once, what every forked worker would otherwise import and load itself."""
    from prefect.plugins import load_prefect_collections

    import proseflow.flows.prefect_tasks  # noqa: F401  (the batch tasks, Prefect's task engine)

    load_prefect_collections()


def discard(early: EarlyWorkers | None) -> None:
    """End workers started early that no flow run took over (the run never started)."""
    if early is None:
        return
    for worker in list(getattr(early.executor, "_processes", {}).values()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGKILL)
    early.executor.shutdown(wait=False, cancel_futures=True)
    with contextlib.suppress(OSError, ValueError):
        early.messages.close()


def initialize(messages) -> None:
    """A worker's initializer: Prefect's (event and log forwarding), then `runtime.quiet_worker`.

    Ctrl-C and SIGTERM are left to the flow process from the first instant: in a spawned worker
    the imports below take seconds, and an interrupt during them would end it with a traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    from prefect.task_runners import _initialize_process_pool_worker

    from proseflow.flows.runtime import quiet_worker

    _initialize_process_pool_worker(messages, quiet_worker)


def warm() -> None:
    """A worker's first call: import what its batches run and load what they read."""
    import proseflow.flows.prefect_tasks  # noqa: F401  (the batch tasks, Prefect's task engine)

    load_lexicons()


def load_lexicons() -> None:
    """Load CMUdict, the English word lists and the language model: a second or so on first use."""
    from proseflow.tasks import languages, readability

    languages.detect_languages(["proseflow loads its language model."] * languages.MIN_BATCH)
    readability.score_text("proseflow loads its word lists.", "en")


def many_batches(sources: Sequence[str], config: PipelineConfig) -> bool:
    """Whether SOURCES surely make more than one batch: local folders holding more files than
    batch_size (counted until there are that many). Globs, URLs and record files are not counted,
    nor folders that cannot be listed: discovery reports those."""
    seen = 0
    folders = [s for s in sources if "://" not in s and os.path.isdir(s)]
    while folders:  # a stack, not os.walk: a tree of any depth is walked without recursion
        try:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
                    else:
                        seen += 1
        except OSError:
            continue
        if seen > config.batch_size:
            return True
    return False
