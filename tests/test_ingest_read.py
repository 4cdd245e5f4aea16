"""Tests for tasks/ingest/read.py: reading bytes, bounded by max_bytes, FIFOs never waited on,
gzip checked."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pyarrow as pa
import pytest

from proseflow.tasks import schema
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.ingest import read
from proseflow.tasks.ingest.sources import InputRef
from proseflow.tasks.ingest.stage import discover, read_inputs
from proseflow.tasks.rejects import REASON_NOT_A_FILE, REASON_TOO_LARGE, Reject
from tests.ingest_inputs import (
    CONFIG,
    ingest_all,
    reasons,
    within,
    write,
)


def test_reading_a_fifo_listed_as_a_file_does_not_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")  # e.g. swapped in after discovery
    write(tmp_path / "ok.txt", "fine")
    refs = [InputRef(str(tmp_path / n), "", "txt", None) for n in ("ok.txt", "pipe.txt")]
    raw, rejects = within(30, lambda: read_inputs(refs, CONFIG))
    assert reasons(rejects) == {"pipe.txt": REASON_NOT_A_FILE}
    assert raw["content"].to_pylist() == [b"fine"]


def test_read_rejects_empty_too_large_and_unreadable(tmp_path: Path) -> None:
    write(tmp_path / "empty.txt", b"")
    write(tmp_path / "big.txt", b"x" * 101)
    write(tmp_path / "ok.txt", b"x" * 100)
    (tmp_path / "dir.txt").mkdir()
    write(tmp_path / "gone.txt", b"soon gone")
    config = PipelineConfig(max_bytes=100)
    refs = discover([str(tmp_path)], config).inputs  # dir.txt is walked as a folder here
    refs.append(InputRef(str(tmp_path / "dir.txt"), "", "txt", None))
    (tmp_path / "gone.txt").unlink()
    raw, rejects = read_inputs(refs, config)
    got = reasons(rejects)
    assert got == {
        "empty.txt": "empty",
        "big.txt": "too_large",
        "dir.txt": "unreadable",
        "gone.txt": "unreadable",
    }
    detail = rejects.filter(pa.compute.equal(rejects["reason"], "too_large"))["detail"][0].as_py()
    assert "101" in detail and "100" in detail
    assert raw["n_bytes"].to_pylist() == [100]
    assert raw.schema.field("content").type == pa.binary()
    assert rejects.schema == schema.REJECTS


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads whatever the permissions say")
def test_permission_denied_on_a_file_or_folder_is_unreadable(tmp_path: Path) -> None:
    locked = write(tmp_path / "locked.txt", "secret")
    closed = write(tmp_path / "closed" / "inside.txt", "secret").parent
    write(tmp_path / "ok.txt", "open")
    locked.chmod(0)
    closed.chmod(0)
    try:
        ingested, rejects = ingest_all([str(tmp_path)])
    finally:
        locked.chmod(0o644)
        closed.chmod(0o755)
    assert reasons(rejects) == {"locked.txt": "unreadable", "closed": "unreadable"}
    assert ingested["decoded"].to_pylist() == ["open"]


def test_read_stops_at_max_bytes_plus_one(tmp_path: Path) -> None:
    write(tmp_path / "huge.txt", b"y" * 5000)
    ref = InputRef(str(tmp_path / "huge.txt"), "", "txt", None)
    with pytest.raises(Reject) as info:
        read.read_bytes(ref, 10)
    assert info.value.reason == REASON_TOO_LARGE


def test_gzip_is_decompressed_bounded_and_checked(tmp_path: Path) -> None:
    write(tmp_path / "ok.txt.gz", gzip.compress(b"Gzip title\n\nGzipped body."))
    write(tmp_path / "bomb.txt.gz", gzip.compress(b"\n" * 200_000))  # ~200 bytes compressed
    write(tmp_path / "bad.txt.gz", b"\x1f\x8bnot really gzip")
    config = PipelineConfig(max_bytes=1000)
    raw, rejects = read_inputs(discover([str(tmp_path)], config).inputs, config)
    assert reasons(rejects) == {"bomb.txt.gz": "too_large", "bad.txt.gz": "undecodable"}
    bomb = rejects.filter(pa.compute.equal(rejects["reason"], "too_large"))["detail"][0].as_py()
    assert "decompressed" in bomb and "1000" in bomb
    assert raw["content"].to_pylist() == [b"Gzip title\n\nGzipped body."]
    assert raw["doc_id"][0].as_py() == read.sha(b"Gzip title\n\nGzipped body.")
