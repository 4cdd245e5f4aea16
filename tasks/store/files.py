"""Writing files: the one atomic write (temp file, fsync, rename), the Parquet files of the datasets
and of staged parts, the run columns stamped on rows, and the staging of a batch in buckets."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from proseflow.tasks.errors import OutputError
from proseflow.tasks.schema import DATASETS, SCHEMA_VERSION
from proseflow.tasks.store.space import space_for

ALL_ROWS = "all"  # staging bucket of tables without a complete doc_id column
ROW_GROUP_SIZE = 10_000
WRITE_OPTIONS = {"compression": "zstd", "compression_level": 3, "use_dictionary": True}
# Parts are read back only by finalize, with the dataset's schema: min/max statistics of the text
# columns and the stored schema with its descriptions would make them ~1.6x the final files.
PART_OPTIONS = {"compression": "zstd", "compression_level": 3, "write_statistics": False}


def utc_now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- the atomic write


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temp file beside `path` that replaces it when the block ends well, and is removed if not.

    The temp file is fsynced before the rename, so `path` is the old file or the new one, whole,
    even after a crash. Its name is this write's own: processes that write the same file at once
    (a shared cache) never write into each other's temp file, and the last rename wins.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(path: Path, data: bytes | str) -> None:
    """Write a file whole or not at all (see `replacing`); text is written as UTF-8."""
    with replacing(path) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


# ---------------------------------------------------------------- files of the output and staging


def _file_metadata(schema: pa.Schema, run_id: str, fingerprint: str) -> pa.Schema:
    return schema.with_metadata(
        {
            "proseflow.run_id": run_id,
            "proseflow.pipeline_fingerprint": fingerprint,
            "proseflow.schema_version": SCHEMA_VERSION,
        }
    )


def write_parquet(path: Path, table: pa.Table, dataset: str, run_id: str, fingerprint: str) -> Path:
    """Write one Parquet file atomically (temp file, fsync, rename) with the dataset's schema."""
    schema = _file_metadata(DATASETS[dataset], run_id, fingerprint)
    table = conform(table, dataset).replace_schema_metadata(schema.metadata)
    with space_for(path, table.nbytes), replacing(path) as tmp:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_SIZE, **WRITE_OPTIONS)
    return path


def write_part(path: Path, table: pa.Table, dataset: str) -> Path:
    """Write one staged part atomically: the dataset's columns, lean (see PART_OPTIONS)."""
    table = conform(table, dataset)
    with space_for(path, table.nbytes), replacing(path) as tmp:
        pq.write_table(
            table, tmp, row_group_size=ROW_GROUP_SIZE, store_schema=False, **PART_OPTIONS
        )
    return path


def write_text(path: Path, text: str) -> None:
    """Write a small file atomically (temp file, fsync, rename): whole or absent."""
    with space_for(path, len(text)):
        write_atomically(path, text)


def conform(table: pa.Table, dataset: str) -> pa.Table:
    """Select and cast the dataset's columns in schema order; a missing column is an error."""
    schema = DATASETS[dataset]
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise OutputError(
            f"{dataset} table lacks columns {missing}; the stage that owns them did not run"
        )
    return table.select(schema.names).cast(schema)


def stamp_run(
    table: pa.Table, run_id: str, fingerprint: str, processed_at: datetime | None = None
) -> pa.Table:
    """Set the run columns (run_id, pipeline_fingerprint and, when given, processed_at) on every row."""
    n = table.num_rows
    stamps = {
        "run_id": pa.array([run_id] * n, pa.string()),
        "pipeline_fingerprint": pa.array([fingerprint] * n, pa.string()),
    }
    if processed_at is not None:
        stamps["processed_at"] = pa.array([processed_at] * n, pa.timestamp("us", tz="UTC"))
    for name, column in stamps.items():
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(name, column)
    return table


def stage_part(target, dataset: str, table: pa.Table, key: str) -> None:
    """Write one batch of a dataset into a run's staging folder (target: staging, run_id, fingerprint).

    Tables with a doc_id are split by its first hex digit, so that the commit can order a dataset of
    any size one bucket (1/16 of it) at a time.
    """
    if table.num_rows == 0:
        return
    parts = Path(target.staging) / "parts" / dataset
    for bucket, rows in _buckets(table):
        write_part(parts / bucket / f"{key}.parquet", rows, dataset)


def read_files(files: list[str], schema: pa.Schema, columns: list[str]) -> pa.Table:
    """COLUMNS of local Parquet FILES read with SCHEMA (an empty table when there are none)."""
    if not files:
        return schema.empty_table().select(columns)
    import pyarrow.dataset as ds  # here: it imports pandas, which worker processes never need

    return ds.dataset(files, schema=schema, format="parquet").to_table(columns=columns)


def release_memory() -> None:
    """Hand the memory Arrow has freed back to the system (its allocator keeps it otherwise)."""
    pa.default_memory_pool().release_unused()


def _buckets(table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
    if "doc_id" not in table.column_names or table["doc_id"].null_count:
        yield ALL_ROWS, table
        return
    prefix = pc.utf8_slice_codeunits(table["doc_id"], 0, 1)
    for bucket in sorted(pc.unique(prefix).to_pylist()):
        yield bucket, table.filter(pc.equal(prefix, bucket))
