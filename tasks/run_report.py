"""A run's report and drift: what it is compared with, the inputs of `tasks.report`, its flags.

A run is compared with the previous completed run over the same sources that committed documents
(an unchanged rerun adds none, so comparing with it would judge nothing). A run without new
documents compares nothing and its report says so. The same function builds the report at a run's
commit (from its staged files) and for `proseflow report` (from the output).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from proseflow.tasks import drift as drift_stage
from proseflow.tasks import links, report
from proseflow.tasks.errors import UsageError
from proseflow.tasks.schema import DOCUMENTS, REJECTS
from proseflow.tasks.store.files import read_files, write_text
from proseflow.tasks.store.layout import REPORTS, report_file
from proseflow.tasks.store.output import Output

# What the report reads of `documents`: the charts, the drift columns, languages, cleaning steps.
DOCUMENT_COLUMNS = list(
    dict.fromkeys(["doc_id", "collection", "language", "clean_ops", *drift_stage.DRIFT_COLUMNS])
)
REJECT_COLUMNS = ["collection", "reason"]


@dataclass
class Report:
    """A run's report page, its drift flags (most drifted first) and its key charts as PNG."""

    html: str
    flags: list[dict]
    compared_with: str | None
    charts: dict[str, bytes] = field(default_factory=dict)


def previous_run(output: Output, run: dict) -> str | None:
    """The latest completed run with documents over RUN's sources that ended before RUN started."""
    runs = output.read("runs", ["run_id", "status", "source", "n_documents", "finished_at"])
    rows = [
        row
        for row in runs.to_pylist()
        if row["status"] == "completed"
        and row["run_id"] != run["run_id"]
        and row["n_documents"] > 0
        and row["finished_at"] <= run["started_at"]
        and json.loads(row["source"]) == json.loads(run["source"])
    ]
    if not rows:
        return None
    return max(rows, key=lambda row: (row["finished_at"], row["run_id"]))["run_id"]


def committed_run(output: Output, run_id: str) -> tuple[pa.Table, pa.Table]:
    """The documents and rejects a committed run wrote."""
    same = ds.field("run_id") == run_id
    return (
        output.read("documents", DOCUMENT_COLUMNS, filter=same),
        output.read("rejects", REJECT_COLUMNS, filter=same),
    )


def staged_run(documents: list[str], rejects: list[str]) -> tuple[pa.Table, pa.Table]:
    """The documents and rejects of a run's final staged files."""
    return (
        read_files(documents, DOCUMENTS, DOCUMENT_COLUMNS),
        read_files(rejects, REJECTS, REJECT_COLUMNS),
    )


def build(
    output: Output,
    run: dict,
    documents: pa.Table,
    rejects: pa.Table,
    near_duplicates: dict | None,
) -> Report:
    """The report of RUN (its runs row) over its DOCUMENTS and REJECTS, drift against the previous
    run over the same sources read from OUTPUT."""
    compared_with = previous_run(output, run)
    drift = None
    if compared_with is not None and documents.num_rows:
        before, before_rejects = committed_run(output, compared_with)
        drift = drift_stage.compare(
            before, documents, drift_stage.DRIFT_COLUMNS, reject_counts(before_rejects),
            reject_counts(rejects),
        )  # fmt: skip
    # the report cannot time itself: its own stage is left out of its page
    stages = {
        k: v for k, v in json.loads(run.get("stage_seconds") or "{}").items() if k != "report"
    }
    html = report.render(run, documents, rejects, stages, drift, near_duplicates, compared_with)
    flags = [] if drift is None else drift_stage.summary(drift)
    return Report(html, flags, compared_with, report.charts_png(documents))


def reject_counts(rejects: pa.Table) -> dict[str, int]:
    """Rejects per collection (a reject without one counts under '')."""
    collections = pc.fill_null(rejects["collection"], "").to_pylist()
    return dict(Counter(collections))


def near_duplicate_counts(output: Output, run_id: str) -> dict | None:
    """Per collection of a committed run's new documents, from the links it wrote, as its summary
    counted them; None when it signed no document."""
    same = ds.field("run_id") == run_id
    signed = output.read("signatures", ["doc_id", "collection"], filter=same)
    if not signed.num_rows:
        return None
    return links.counts(output.read("near_duplicates", None, filter=same), signed)


def rewrite(output: Output, run_id: str | None = None) -> tuple[str, Report]:
    """Write (again) the report page of a committed run (default: the last completed one) into
    OUTPUT's reports/; its path and the report."""
    runs = [row for row in output.read("runs").to_pylist() if row["status"] == "completed"]
    if run_id is not None:
        runs = [row for row in runs if row["run_id"] == run_id]
    if not runs:
        which = f"run {run_id} is not a completed run" if run_id else "no completed run"
        raise UsageError(f"{which} in {output.url}/runs; `proseflow runs` lists them")
    run = max(runs, key=lambda row: (row["finished_at"], row["run_id"]))
    documents, rejects = committed_run(output, run["run_id"])
    near = near_duplicate_counts(output, run["run_id"])
    built = build(output, run, documents, rejects, near)
    path = output.path(REPORTS, report_file(run["run_id"]))
    if output.local:
        write_text(Path(path), built.html)
    else:
        output.fs.pipe_file(path, built.html.encode())  # one PUT: whole or absent
    return path, built
