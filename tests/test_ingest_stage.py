"""Tests for tasks/ingest/stage.py: discover -> read_inputs -> decode_batch, where every input
becomes a document or a reject."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from proseflow.tasks.ingest import read
from proseflow.tasks.ingest.stage import INGESTED, decode_batch, discover, read_inputs
from proseflow.tasks.rejects import REASON_ERROR
from tests.ingest_inputs import (
    CONFIG,
    bytes_name,
    ingest_all,
    nested,
    reasons,
    within,
    write,
)

BBC = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "bbc"


def test_unexpected_error_on_one_input_is_a_reject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "a.txt", "A.")
    write(tmp_path / "b.txt", "B.")
    real_open = read._open

    def flaky_open(uri: str):
        if uri.endswith("a.txt"):
            raise RuntimeError("disk on fire")
        return real_open(uri)

    monkeypatch.setattr(read, "_open", flaky_open)
    raw, rejects = read_inputs(discover([str(tmp_path)], CONFIG).inputs, CONFIG)
    assert reasons(rejects) == {"a.txt": REASON_ERROR}
    assert "disk on fire" in rejects["detail"][0].as_py()
    assert raw["content"].to_pylist() == [b"B."]


def test_decode_batch_works_from_raw_alone(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "Title\n\nText.")
    raw, _ = read_inputs(discover([str(tmp_path)], CONFIG).inputs, CONFIG)
    (tmp_path / "a.txt").unlink()
    ingested, rejects = decode_batch(raw, CONFIG)
    assert ingested["decoded"].to_pylist() == ["Title\n\nText."] and rejects.num_rows == 0
    assert ingested.schema == INGESTED


def test_three_megabyte_single_line(tmp_path: Path) -> None:
    write(tmp_path / "long.txt", "word " * 600_000)
    ingested, rejects = ingest_all([str(tmp_path)])
    assert rejects.num_rows == 0 and len(ingested["decoded"][0].as_py()) == 3_000_000


def test_every_input_is_a_document_or_a_reject(tmp_path: Path) -> None:
    write(tmp_path / "good.txt", "Fine.")
    write(tmp_path / "empty.txt", "")
    write(tmp_path / "bin.txt", b"\x00\x01\x02\x03" * 100)
    write(tmp_path / "two.jsonl", '{"text": "a"}\n{"text": "b"}\nbroken\n')
    ingested, rejects = ingest_all([str(tmp_path)])
    assert ingested.num_rows + rejects.num_rows == 6
    assert set(rejects["reason"].to_pylist()) == {"empty", "binary", "undecodable"}


def test_hostile_folder_end_to_end(tmp_path: Path) -> None:
    write(tmp_path / "good" / "one.txt", "Good one.")
    write(tmp_path / "good" / "two.md", "# Good two")
    bytes_name(tmp_path, b"name\xff.txt").write_text("Bad name, good text.")
    os.mkfifo(tmp_path / "pipe.txt")
    os.symlink(tmp_path / "missing.txt", tmp_path / "broken.txt")
    os.symlink(tmp_path / "good", tmp_path / "good" / "loop")
    write(tmp_path / "feed.jsonl", '{"text": "Record."}\nnot json\n')
    write(tmp_path / "cut.txt.gz", b"\x1f\x8b" + b"\x00" * 20)
    write(tmp_path / "binary.txt", b"\x00\x01\x02\x03" * 50)
    with nested(tmp_path, "d", 1000, "deep.txt", "Deep."):
        found = within(60, lambda: discover([str(tmp_path)], CONFIG))
        raw, read_rejects = read_inputs(found.inputs, CONFIG)
    ingested, decode_rejects = decode_batch(raw, CONFIG)
    rejects = pa.concat_tables([found.rejects, read_rejects, decode_rejects])
    n_inputs = 10  # 8 files and the 2 records of feed.jsonl
    assert ingested.num_rows + rejects.num_rows == n_inputs
    assert sorted(ingested["decoded"].to_pylist()) == [
        "# Good two",
        "Bad name, good text.",
        "Deep.",
        "Good one.",
        "Record.",
    ]
    assert reasons(rejects) == {
        "pipe.txt": "not_a_file",
        "broken.txt": "unreadable",
        "feed.jsonl#1": "undecodable",
        "cut.txt.gz": "undecodable",
        "binary.txt": "binary",
    }
    bad_name = ingested.filter(pa.compute.equal(ingested["decoded"], "Bad name, good text."))
    assert bad_name["source_uri"][0].as_py().startswith("file://")


def test_bbc_corpus() -> None:
    if not BBC.is_dir():
        pytest.skip("../shared/corpora/bbc is not present")
    ingested, rejects = ingest_all([str(BBC / "*" / "*.txt")])
    assert rejects.num_rows == 0 and ingested.num_rows == 2225
    assert sorted(set(ingested["collection"].to_pylist())) == [
        "business",
        "entertainment",
        "politics",
        "sport",
        "tech",
    ]
    latin = ingested.filter(
        pa.compute.ends_with(ingested["source_uri"], "sport/199.txt")
    ).to_pylist()[0]
    assert latin["encoding"] == "cp1252" and "£" in latin["decoded"]
