"""Inputs for the tests of tasks/ingest/: files written by hand, names that are not UTF-8, deep
folders, FIFOs met with a timeout, and the stage run end to end."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pytest

from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.ingest.stage import RAW_BATCH, decode_batch, discover, read_inputs

CONFIG = PipelineConfig()


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def ingest_all(sources: list[str], config: PipelineConfig = CONFIG) -> tuple[pa.Table, pa.Table]:
    """Discover, read and decode; returns (ingested, every reject)."""
    found = discover(sources, config)
    raw, read_rejects = read_inputs(found.inputs, config)
    ingested, decode_rejects = decode_batch(raw, config)
    return ingested, pa.concat_tables([found.rejects, read_rejects, decode_rejects])


def reasons(rejects: pa.Table) -> dict[str, str]:
    """Reject reason by file name (or name#record)."""
    return {
        uri.rsplit("/", 1)[-1]: r
        for uri, r in zip(
            rejects["source_uri"].to_pylist(), rejects["reason"].to_pylist(), strict=True
        )
    }


def within(seconds: float, call: Callable[[], object]) -> object:
    """The result of call, failing the test instead of hanging when it blocks (on a FIFO)."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed to the test's thread below
            outcome.append((False, exc))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert outcome, f"still running after {seconds} s: blocked on a FIFO?"
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def bytes_name(folder: Path, name: bytes) -> Path:
    """A path in folder whose file name is raw bytes; skips where the file system refuses them."""
    path = Path(os.fsdecode(os.fsencode(folder) + b"/" + name))
    try:
        path.touch()
    except OSError as exc:
        pytest.skip(f"this file system refuses non-UTF-8 names: {exc}")
    return path


@contextmanager
def nested(top: Path, name: str, depth: int, leaf: str, text: str) -> Iterator[None]:
    """depth folders inside each other with leaf at the bottom, made and removed by relative steps.

    Relative steps reach below PATH_MAX, and removing them here spares pytest's recursive cleanup.
    """
    home = os.getcwd()
    os.chdir(top)
    made = 0
    try:
        for _ in range(depth):
            os.mkdir(name)
            os.chdir(name)
            made += 1
        Path(leaf).write_text(text)
        os.chdir(home)
        yield
    finally:
        os.chdir(top)
        for _ in range(made):
            os.chdir(name)
        Path(leaf).unlink(missing_ok=True)
        for _ in range(made):
            os.chdir("..")
            os.rmdir(name)
        os.chdir(home)


def decode_one(data: bytes, fmt: str = "txt") -> tuple[dict | None, dict | None]:
    """(ingested row, reject row) of one raw document built by hand."""
    raw = pa.Table.from_pylist(
        [
            {
                "doc_id": "x",
                "content": data,
                "n_bytes": len(data),
                "format": fmt,
                "source_uri": "mem",
                "collection": "",
            }
        ],
        schema=RAW_BATCH,
    )
    ingested, rejects = decode_batch(raw, CONFIG)
    return (ingested.to_pylist() or [None])[0], (rejects.to_pylist() or [None])[0]
