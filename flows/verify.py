"""`proseflow reprocess --verify`: recompute committed documents from raw/ and compare every value."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from proseflow.flows.flow import run_doc_ids
from proseflow.flows.prefect_tasks import stored_raw
from proseflow.tasks import batch as chain
from proseflow.tasks import triage
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.provenance import pipeline_fingerprint
from proseflow.tasks.rejects import rejects_table
from proseflow.tasks.schema import DERIVED_COLUMNS
from proseflow.tasks.store.committed import CommittedIndex
from proseflow.tasks.store.output import Output

SHOWN_DIFFERENCES = 20
COMPARED = [c for c in DERIVED_COLUMNS if c != "pipeline_fingerprint"]


def recompute(raw: pa.Table, config: PipelineConfig) -> pa.Table:
    """A run's documents recomputed from its raw rows by the batch chain a run uses.

    The rows are one run's new documents (and its decode rejects), in source_uri order: what the
    run's triage let through, so the repeated lines are counted over the same documents.
    """
    decoded = chain.decode(raw, config)
    verdicts = triage.triage([decoded.rows], rejects_table([]), empty_index())
    work = decoded.work

    def line_keys(_: int, rows: list[int]) -> pa.Table:
        return work.select(["collection", "line_keys"]).take(pa.array(rows, pa.int64()))

    boilerplate = triage.boilerplate(
        [(decoded.rows, decoded.profile)], verdicts.process, line_keys, config
    )
    keep = pa.array(verdicts.process[0], pa.int64())
    return chain.process(work.take(keep), boilerplate, config).documents


def empty_index() -> CommittedIndex:
    """Nothing committed: every row is new work."""
    return CommittedIndex({}, set(), set())


def verify(output: Output, config: PipelineConfig, run_id: str | None = None) -> dict:
    """Compare stored documents of one run (or every run) with their recomputation."""
    fingerprint = pipeline_fingerprint(config)
    runs = [run_id] if run_id else _runs_with_documents(output)
    report = {
        "fingerprint": fingerprint,
        "runs": [],
        "n_compared": 0,
        "n_other_fingerprint": 0,
        "n_missing_raw": 0,
        "differences": [],
        "columns": Counter(),
    }
    for run in runs:
        _verify_run(output, config, run, fingerprint, report)
    report["identical"] = not report["differences"] and not report["n_missing_raw"]
    report["columns"] = dict(report["columns"])
    return report


def _runs_with_documents(output: Output) -> list[str]:
    ids = output.read("documents", ["run_id"])["run_id"]
    return sorted(pc.unique(ids).to_pylist())


def _verify_run(
    output: Output, config: PipelineConfig, run: str, fingerprint: str, report: dict
) -> None:
    stored = output.read("documents", filter=ds.field("run_id") == run)
    same = pc.equal(stored["pipeline_fingerprint"], fingerprint)
    report["n_other_fingerprint"] += (
        stored.num_rows - pc.sum(same).as_py() if stored.num_rows else 0
    )
    stored = stored.filter(same)
    report["runs"].append(run)
    if stored.num_rows == 0:
        return
    raw = _with_stored_sources(stored_raw(output, sorted(run_doc_ids(output, run))), stored)
    recomputed = recompute(raw, config)
    by_id = {doc_id: i for i, doc_id in enumerate(recomputed["doc_id"].to_pylist())}
    fresh = {c: recomputed[c].to_pylist() for c in COMPARED}
    for row in stored.select(COMPARED).to_pylist():
        j = by_id.get(row["doc_id"])
        if j is None:
            report["n_missing_raw"] += 1
            _difference(report, row["doc_id"], "doc_id", row["doc_id"], None)
            continue
        report["n_compared"] += 1
        for column in COMPARED:
            if row[column] != fresh[column][j]:
                _difference(report, row["doc_id"], column, row[column], fresh[column][j])


def _with_stored_sources(raw: pa.Table, stored: pa.Table) -> pa.Table:
    """Use the source_uri and collection the run stored (raw/ keeps where bytes were first seen)."""
    sources = stored.select(["doc_id", "source_uri", "collection"]).rename_columns(
        ["doc_id", "stored_uri", "stored_collection"]
    )
    joined = raw.join(sources, "doc_id", join_type="left outer")
    uri = pc.coalesce(joined["stored_uri"], joined["source_uri"])
    collection = pc.coalesce(joined["stored_collection"], joined["collection"])
    joined = joined.set_column(joined.schema.get_field_index("source_uri"), "source_uri", uri)
    joined = joined.set_column(
        joined.schema.get_field_index("collection"), "collection", collection
    )
    return joined.select(raw.column_names).sort_by("source_uri")


def _difference(report: dict, doc_id: str, column: str, stored, fresh) -> None:
    report["columns"][column] += 1
    if len(report["differences"]) < SHOWN_DIFFERENCES:
        report["differences"].append(
            {"doc_id": doc_id, "column": column, "stored": stored, "recomputed": fresh}
        )
    else:
        report.setdefault("n_more_differences", 0)
        report["n_more_differences"] += 1


def print_report(report: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return
    verdict = "identical" if report["identical"] else "DIFFERENT"
    print(
        f"proseflow: verify {verdict}: {report['n_compared']} documents of {len(report['runs'])} run(s) "
        f"recomputed with fingerprint {report['fingerprint']}"
    )
    if report["n_other_fingerprint"]:
        print(
            f"  {report['n_other_fingerprint']} documents were computed with another fingerprint "
            "(other version or options) and were not compared"
        )
    if report["n_missing_raw"]:
        print(f"  {report['n_missing_raw']} documents have no raw bytes in raw/")
    for column, count in sorted(report["columns"].items()):
        print(f"  column {column}: {count} document(s) differ")
    for diff in report["differences"]:
        print(
            f"  {diff['doc_id'][:16]} {diff['column']}: stored {diff['stored']!r} != "
            f"recomputed {diff['recomputed']!r}"
        )
    if report.get("n_more_differences"):
        print(f"  ... and {report['n_more_differences']} more differences")
