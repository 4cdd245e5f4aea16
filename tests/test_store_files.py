"""Writing files: Parquet files with the dataset's schema and run metadata, lean staged parts."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from proseflow.tasks.errors import OutputError
from proseflow.tasks.schema import SCHEMA_VERSION
from proseflow.tasks.store.commit import Staging
from proseflow.tasks.store.files import conform, replacing, write_atomically, write_parquet
from proseflow.tasks.store.output import Output
from tests.store_runs import FP, doc_ids, rejects_table, rows


def test_write_parquet_keeps_schema_and_run_metadata(tmp_path):
    path = write_parquet(tmp_path / "a.parquet", rejects_table(["x"]), "rejects", "r1", "fp")
    schema = pq.read_schema(path)
    assert schema.metadata[b"proseflow.run_id"] == b"r1"
    assert schema.metadata[b"proseflow.pipeline_fingerprint"] == b"fp"
    assert schema.metadata[b"proseflow.schema_version"] == SCHEMA_VERSION.encode()
    assert schema.field("reason").metadata[b"description"].startswith(b"Stable reason code")
    assert not list(tmp_path.glob(".*.tmp"))


def test_conform_names_missing_columns():
    with pytest.raises(OutputError, match="lacks columns"):
        conform(pa.table({"source_uri": ["x"]}), "rejects")


def test_staged_parts_carry_no_statistics(tmp_path):
    output = Output.open(tmp_path / "out")
    staging = Staging(output, "r1", FP)
    staging.stage("documents", rows("documents", doc_ids(1), "r1"), "b0")
    part = next((staging.root / "parts" / "documents").glob("*/*.parquet"))
    assert pq.ParquetFile(part).metadata.row_group(0).column(0).statistics is None


def test_write_atomically_writes_text_and_bytes_whole_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "deep" / "a.txt"
    write_atomically(path, "ünïcode")
    assert path.read_bytes() == "ünïcode".encode()
    write_atomically(path, b"\x00bytes")
    assert path.read_bytes() == b"\x00bytes"
    assert [p.name for p in path.parent.iterdir()] == ["a.txt"]


def test_a_failed_atomic_write_keeps_the_old_file_and_removes_its_temp_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), replacing(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
