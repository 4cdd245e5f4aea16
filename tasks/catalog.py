"""The analysts' DuckDB file: views over the Parquet datasets, rebuilt at each commit."""

from __future__ import annotations

import os

import pyarrow as pa

from tasks.schema import DATASETS
from tasks.store import Output

DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.date32(): "DATE",
    pa.binary(): "BLOB",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
    pa.list_(pa.string()): "VARCHAR[]",
}

VIEWS = {
    # name: (dataset, select list, trailing clause)
    "documents_all": ("documents", "*", ""),
    "documents": (
        "documents",
        "*",
        "QUALIFY row_number() OVER (PARTITION BY doc_id ORDER BY processed_at DESC, run_id DESC) = 1",
    ),
    "rejects": ("rejects", "*", ""),
    "runs": ("runs", "*", ""),
    "raw": ("raw", "* EXCLUDE (content)", ""),
    "corpus_stats": ("corpus_stats", "*", ""),
    "terms": ("terms", "*", ""),
}


def _empty_select(schema: pa.Schema, columns: str) -> str:
    casts = ", ".join(f'CAST(NULL AS {DUCKDB_TYPES[f.type]}) AS "{f.name}"' for f in schema)
    return f"SELECT {columns} FROM (SELECT {casts}) WHERE false"


def view_sql(output: Output, name: str) -> str:
    """CREATE VIEW statement for one view, over the dataset's committed files."""
    dataset, columns, clause = VIEWS[name]
    if output.files(dataset):
        glob = output.path(dataset, "**", "*.parquet").replace("'", "''")
        body = f"SELECT {columns} FROM read_parquet('{glob}', union_by_name = true) {clause}"
    else:
        body = _empty_select(DATASETS[dataset], columns)
    return f'CREATE OR REPLACE VIEW "{name}" AS {body}'


def refresh(output: Output) -> str | None:
    """Rebuild proseflow.duckdb next to the datasets; atomic replace, views only.

    Local outputs only: views over object storage would need DuckDB's httpfs extension, which it
    downloads at run time. For those, query the Parquet files with DuckDB directly.
    """
    import duckdb

    if not output.local:
        return None

    target = output.catalog_path
    tmp = target.with_name(f".{target.name}.tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        if leftover.exists():
            leftover.unlink()
    con = duckdb.connect(str(tmp))
    try:
        for name in VIEWS:
            con.execute(view_sql(output, name))
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, target)
    return str(target)
