"""The layout of an output folder: the names that the store's modules share.

Layout under the output folder::

    documents/run-<run_id>/part-00000.parquet   rejects/run-<run_id>/...   raw/run-<run_id>/...
    corpus_stats/run-<run_id>/...   terms/run-<run_id>/...   runs/run-<run_id>.parquet
    signatures/run-<run_id>/...     near_duplicates/run-<run_id>/...   reports/run-<run_id>.html
    proseflow.duckdb                 (views only; rebuilt by `proseflow catalog`)
    _proseflow/commits/<run_id>.json (the journal of a commit in progress: what it publishes)
    _proseflow/lock                  (flock held by the running run; names it)
    _proseflow/staging/<run_id>/     (everything a run writes before its commit)

Of a remote output, only the datasets and `_proseflow/commits/` are in the output; the lock and the
staging area are in a local state folder (see `tasks.store.output.Output`).
"""

from __future__ import annotations

COMMITTED_DATASETS = (
    "raw",
    "rejects",
    "documents",
    "signatures",
    "near_duplicates",
    "corpus_stats",
    "terms",
)
REPORTS = "reports"  # <output>/reports/run-<run_id>.html: one self-contained page per run
CONTROL_DIR = "_proseflow"
COMMITS = "commits"  # <output>/_proseflow/commits/<run_id>.json: journals of unfinished commits


def runs_file(run_id: str) -> str:
    return f"run-{run_id}.parquet"


def report_file(run_id: str) -> str:
    return f"run-{run_id}.html"
