"""Tests for tasks/ingest/records.py: JSON Lines, CSV and Parquet records, and hostile record
files."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.ingest import records
from proseflow.tasks.ingest.stage import discover, read_inputs
from tests.ingest_inputs import (
    CONFIG,
    ingest_all,
    reasons,
    write,
)


def test_truncated_jsonl_gz_keeps_the_records_before_the_cut(tmp_path: Path) -> None:
    lines = [json.dumps({"text": hashlib.sha256(b"%d" % i).hexdigest()}) for i in range(200)]
    packed = gzip.compress("\n".join(lines).encode())
    write(tmp_path / "cut.jsonl.gz", packed[: len(packed) // 2])
    write(tmp_path / "cut.txt.gz", packed[:200])  # a cut document is not a shorter document
    write(tmp_path / "ok.txt", "Fine.")
    ingested, rejects = ingest_all([str(tmp_path)])
    uri = str(tmp_path / "cut.jsonl.gz")
    kept = ingested.filter(pa.compute.starts_with(ingested["source_uri"], uri))
    assert 0 < kept.num_rows < 200
    assert (
        kept["decoded"].to_pylist() == [json.loads(line)["text"] for line in lines][: kept.num_rows]
    )
    assert reasons(rejects) == {"cut.jsonl.gz": "undecodable", "cut.txt.gz": "undecodable"}
    detail = rejects.filter(pa.compute.equal(rejects["source_uri"], uri))["detail"][0].as_py()
    assert "invalid gzip data" in detail and f"records read before it: {kept.num_rows}" in detail
    assert "Fine." in ingested["decoded"].to_pylist()


def test_hostile_jsonl_lines_spoil_only_themselves(tmp_path: Path) -> None:
    lines = [
        '{"id": "a", "text": "First."}',
        "[" * 100_000,  # deeper than the JSON parser goes
        '{"text": "x", "deep": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"id": "b", "text": "lone \\ud800 surrogate"}',  # valid JSON, not valid Unicode
        '{"id": "\\udcff", "text": "An id UTF-8 cannot hold."}',
        '{"id": "c", "text": "Last."}',
    ]
    write(tmp_path / "feed.jsonl", "\n".join(lines))
    ingested, rejects = ingest_all([str(tmp_path)])
    assert ingested["decoded"].to_pylist() == ["First.", "Last."]
    assert reasons(rejects) == {
        "feed.jsonl#1": "undecodable",
        "feed.jsonl#2": "undecodable",
        "feed.jsonl#b": "undecodable",
        "feed.jsonl#\\xff": "undecodable",
    }
    assert "nested too deeply" in rejects["detail"][0].as_py()
    assert "UTF-8" in rejects["detail"][2].as_py()


def test_record_bomb_reads_at_most_max_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records, "MAX_RECORDS", 3)
    write(tmp_path / "bomb.jsonl", "{}\n" * 10)
    write(tmp_path / "ok.jsonl", '{"text": "Fine."}\n')
    raw, rejects = read_inputs(discover([str(tmp_path)], CONFIG).inputs, CONFIG)
    assert raw["source_uri"].to_pylist() == [str(tmp_path / "ok.jsonl#0")]
    assert reasons(rejects) == {
        "bomb.jsonl#0": "empty",
        "bomb.jsonl#1": "empty",
        "bomb.jsonl#2": "empty",
        "bomb.jsonl": "too_large",
    }
    assert "more than 3 records" in rejects["detail"][3].as_py()


def test_parquet_that_unpacks_beyond_max_bytes_is_too_large(tmp_path: Path) -> None:
    pq.write_table(pa.table({"text": ["a" * 100_000]}), tmp_path / "bomb.parquet")
    pq.write_table(pa.table({"text": ["Fine."]}), tmp_path / "ok.parquet")
    config = PipelineConfig(max_bytes=10_000)
    assert (tmp_path / "bomb.parquet").stat().st_size < config.max_bytes
    ingested, rejects = ingest_all([str(tmp_path)], config)
    assert reasons(rejects) == {"bomb.parquet": "too_large"}
    assert "uncompressed size" in rejects["detail"][0].as_py()
    assert ingested["decoded"].to_pylist() == ["Fine."]


def test_jsonl_records(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "id": "a1",
                "text": "First record.",
                "title": "T1",
                "author": "Ann Lee",
                "date": "2020-01-02",
            }
        ),
        "{not json",
        json.dumps({"body": "no text field"}),
        "",
        json.dumps({"text": "Third record, no id.", "published": "June 5, 2019"}),
        json.dumps([1, 2]),
    ]
    write(tmp_path / "feed.jsonl", "\n".join(lines))
    ingested, rejects = ingest_all([str(tmp_path / "feed.jsonl")])
    uri = str(tmp_path / "feed.jsonl")
    assert ingested["source_uri"].to_pylist() == [f"{uri}#a1", f"{uri}#3"]
    assert ingested["collection"].to_pylist() == ["feed", "feed"]
    first = ingested.to_pylist()[0]
    assert (first["decoded"], first["meta_title"], first["meta_author"]) == (
        "First record.",
        "T1",
        "Ann Lee",
    )
    assert first["meta_published_date"] == dt.date(2020, 1, 2)
    assert ingested["meta_published_date"][1].as_py() == dt.date(2019, 6, 5)
    got = dict(
        zip(
            rejects["source_uri"].to_pylist(),
            rejects.select(["reason", "detail"]).to_pylist(),
            strict=True,
        )
    )
    assert got[f"{uri}#1"]["reason"] == "undecodable" and "line 2" in got[f"{uri}#1"]["detail"]
    assert got[f"{uri}#2"]["reason"] == "empty" and "'text'" in got[f"{uri}#2"]["detail"]
    assert got[f"{uri}#4"]["reason"] == "undecodable"


def test_record_content_is_canonical_json(tmp_path: Path) -> None:
    write(tmp_path / "r.jsonl", '{"text": "é", "b": 1, "a": 2}\n')
    raw, _ = read_inputs(discover([str(tmp_path)], CONFIG).inputs, CONFIG)
    assert raw["content"][0].as_py() == '{"a": 2, "b": 1, "text": "é"}'.encode()
    assert raw["format"][0].as_py() == "jsonl"


def test_csv_and_parquet_records_with_configured_fields(tmp_path: Path) -> None:
    write(tmp_path / "sheet.csv", 'key,body,headline\nk1,CSV body one.,H1\nk2,"Quoted, body.",H2\n')
    pq.write_table(
        pa.table({"key": ["p1"], "body": ["Parquet body."], "headline": ["PH"]}),
        tmp_path / "table.parquet",
    )
    config = PipelineConfig(text_field="body", id_field="key", title_field="headline")
    ingested, rejects = ingest_all([str(tmp_path)], config)
    assert rejects.num_rows == 0
    rows = {r["source_uri"].rsplit("/", 1)[-1]: r for r in ingested.to_pylist()}
    assert rows["sheet.csv#k2"]["decoded"] == "Quoted, body."
    assert rows["sheet.csv#k1"]["meta_title"] == "H1"
    assert (rows["table.parquet#p1"]["format"], rows["table.parquet#p1"]["collection"]) == (
        "parquet",
        "table",
    )


def test_csv_long_cells_ragged_rows_and_legacy_encoding(tmp_path: Path) -> None:
    long = "word " * 40_000
    write(tmp_path / "long.csv", f"text,id\n{long},1\nextra,2,3\n".encode())
    write(
        tmp_path / "old.csv",
        "text\nCaf\u00e9 cr\u00e8me \u2014 \u201cquoted\u201d.\n".encode("cp1252"),
    )
    ingested, rejects = ingest_all([str(tmp_path)])
    assert rejects.num_rows == 0
    assert ingested["decoded"].to_pylist() == [long, "extra", "Café crème — “quoted”."]


def test_corrupt_parquet_is_undecodable(tmp_path: Path) -> None:
    write(tmp_path / "broken.parquet", b"PAR1 this is not parquet")
    _, rejects = ingest_all([str(tmp_path)])
    assert reasons(rejects) == {"broken.parquet": "undecodable"}
