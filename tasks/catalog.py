"""The analysts' DuckDB file: views over the Parquet datasets, rebuilt at each commit.

Every view but `runs` keeps the rows of runs whose runs row says `completed`, read when the view
is queried: the files a commit moves into place before its runs row, or those of a commit that was
killed half-way, never show. Paths are resolved where the catalog file is opened from, so the
output folder can be moved or copied whole (see `folder_sql`).
"""

from __future__ import annotations

import pyarrow as pa

from proseflow.tasks.schema import DATASETS
from proseflow.tasks.store.commit import recover
from proseflow.tasks.store.files import replacing
from proseflow.tasks.store.output import Output

DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.date32(): "DATE",
    pa.binary(): "BLOB",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
    pa.list_(pa.string()): "VARCHAR[]",
    pa.bool_(): "BOOLEAN",
    pa.list_(pa.uint32()): "UINTEGER[]",
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
    # the links as the last completed run that linked left them: each such run links everything
    "near_duplicates": (
        "near_duplicates",
        "*",
        "AND run_id = (SELECT run_id FROM {runs} WHERE status = 'completed' AND run_id IN "
        "(SELECT run_id FROM {scan}) ORDER BY finished_at DESC, run_id DESC LIMIT 1)",
    ),
}

# Views over the views above.
DERIVED_VIEWS = {
    # one row per cluster (its representative) and every document without near-duplicates
    "documents_unique": "SELECT * FROM documents WHERE doc_id NOT IN "
    "(SELECT doc_id FROM near_duplicates WHERE doc_id <> representative_id)",
}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def folder_sql(output: Output) -> str:
    """SQL for the output folder as seen when a view is read: the folder of the catalog file.

    DuckDB keeps a database's temporary files in `<database file>.tmp` unless told otherwise, so
    that setting names the folder the catalog was opened from, wherever the output has moved. When
    it does not end in our file's name (the catalog ATTACHed to another database, a temp_directory
    set by the user), the absolute path the catalog was built for is used.
    """
    temp = "current_setting('temp_directory')"
    own = _quote(f"/{output.catalog_path.name}.tmp")
    return f"(CASE WHEN suffix({temp}, {own}) THEN parse_dirpath({temp}) ELSE {_quote(output.root)} END)"


def scan_sql(output: Output, dataset: str) -> str:
    """read_parquet over every file of a dataset, under the folder of `folder_sql`."""
    return f"read_parquet({folder_sql(output)} || '/{dataset}/**/*.parquet', union_by_name = true)"


def completed_sql(output: Output) -> str:
    """WHERE clause keeping rows of runs with a `completed` runs row."""
    runs = scan_sql(output, "runs")
    return f"WHERE run_id IN (SELECT run_id FROM {runs} WHERE status = 'completed')"


def _empty_select(schema: pa.Schema, columns: str) -> str:
    casts = ", ".join(f'CAST(NULL AS {DUCKDB_TYPES[f.type]}) AS "{f.name}"' for f in schema)
    return f"SELECT {columns} FROM (SELECT {casts}) WHERE false"


def view_sql(output: Output, name: str) -> str:
    """CREATE VIEW statement for one view, over the dataset's files, rows of completed runs only."""
    dataset, columns, clause = VIEWS[name]
    if output.files(dataset):
        where = "" if dataset == "runs" else completed_sql(output)
        scan = scan_sql(output, dataset)
        clause = clause.format(runs=scan_sql(output, "runs"), scan=scan)
        body = f"SELECT {columns} FROM {scan} {where} {clause}".rstrip()
    else:  # read_parquet fails on a pattern that matches no file
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
    for leftover in target.parent.glob(f".{target.name}.*tmp*"):  # a killed refresh's file and WAL
        if leftover.is_file():
            leftover.unlink()
    with replacing(target) as tmp:
        con = duckdb.connect(str(tmp))
        try:
            for name in VIEWS:
                con.execute(view_sql(output, name))
            for name, body in DERIVED_VIEWS.items():
                con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {body}')
            con.execute("CHECKPOINT")
        finally:
            con.close()
    return str(target)


def rebuild(output: Output) -> str | None:
    """Finish or undo the commits killed runs left (`recover`), then refresh the views.

    Call while holding the output's lock, as `proseflow catalog` does.
    """
    recover(output)
    return refresh(output)
