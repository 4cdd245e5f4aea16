"""What a run tells its operators: logs, Prefect artifacts and an event, all from one summary dict."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import sys

import pyarrow as pa
from prefect import get_run_logger
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.events import emit_event

from proseflow.flows.console import plural
from proseflow.flows.state import RunState
from proseflow.tasks.run_report import Report
from proseflow.tasks.schema import STAGES
from proseflow.tasks.stats import collection_summary
from proseflow.tasks.store.layout import REPORTS, report_file

EVENT = "proseflow.dataset.committed"
DRIFT_EVENT = "proseflow.drift.detected"
# What a drift flag tells an operator (tasks.drift's rows).
DRIFT_FIELDS = ("collection", "column", "psi", "mean_previous", "mean_current", "reason")
BAR_WIDTH = 30
terminal_bar = False  # set by `proseflow run` when a person watches an interactive terminal


def artifact_key(kind: str, output: str) -> str:
    """`proseflow-<kind>-<output folder name>-<hash>`: one artifact history per output.

    Prefect keys take lower-case letters, digits and dashes; the hash of the whole output URL keeps
    two outputs of the same folder name apart.
    """
    name = re.sub(r"[^a-z0-9]+", "-", output.rstrip("/").rsplit("/", 1)[-1].lower()).strip("-")
    digest = hashlib.sha256(output.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    name = name[:40].strip("-")  # a cut that ends on a dash would give a double dash
    return "-".join(part for part in ("proseflow", kind, name, digest) if part)


def bar_wanted(stream=sys.stderr) -> bool:
    """A progress bar only for a person at a terminal: never in CI, files, pipes or logs."""
    return stream.isatty() and not os.environ.get("CI")


def bar_line(done: int, total: int) -> str:
    """`[#####.....]  512/2000 inputs` for DONE of TOTAL."""
    filled = BAR_WIDTH * done // total if total else BAR_WIDTH
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done:>{len(str(total))}}/{total} inputs"


def summary(state: RunState, corpus: pa.Table) -> dict:
    """Counts, timings, mean scores and per-collection means of a committed run."""
    return {
        "run_id": state.run_id,
        "flow_run_name": state.flow_run_name,
        "output": state.output.url,
        "pipeline_fingerprint": state.fingerprint,
        "n_inputs": state.n_inputs,
        "n_documents": state.n_documents,
        "n_rejects": state.n_rejects,
        "n_skipped": state.n_skipped,
        "n_ignored": state.n_ignored,
        "clean_ops": dict(sorted(state.clean_ops.items())),
        "rejects_by_reason": dict(sorted(state.reject_reasons.items())),
        "stage_seconds": {k: round(state.stage_seconds[k], 3) for k in STAGES},
        # collection first for reading; '*' (all documents) is the last row
        "collections": [{"collection": r["collection"], **r} for r in collection_summary(corpus)],
        # per collection of the run's documents; null when switched off or nothing was new
        "near_duplicates": state.near_duplicates,
        "report": report_path(state),
        # against the previous run over the same sources: its run_id and the flagged columns
        "drift": None
        if state.report is None
        else {
            "compared_with": state.report.compared_with,
            "flags": drift_flags(state.report),
        },
        "recovered": state.recovered,
    }


def report_path(state: RunState) -> str | None:
    """Where the run's report page is once committed; None when it was not written."""
    if state.report is None:
        return None
    return state.output.path(REPORTS, report_file(state.run_id))


def markdown(summary_: dict) -> str:
    """The run's summary as markdown."""
    lines = [
        f"# proseflow run `{summary_['flow_run_name']}`",
        "",
        "| inputs | documents | rejects | skipped | ignored files |",
        "|---:|---:|---:|---:|---:|",
        f"| {summary_['n_inputs']} | {summary_['n_documents']} | {summary_['n_rejects']} "
        f"| {summary_['n_skipped']} | {summary_['n_ignored']} |",
        "",
        f"Output: `{summary_['output']}`  ",
        f"Fingerprint: `{summary_['pipeline_fingerprint']}`",
        "",
        "## Mean scores",
        "",
    ]
    lines += _markdown_table(shown_collections(summary_["collections"]))
    if summary_.get("near_duplicates") is not None:
        lines += ["", "## Near-duplicates among the new documents", ""]
        lines += _markdown_table(
            shown_collections(
                [{"collection": c, **n} for c, n in summary_["near_duplicates"].items()]
            )
        )
    lines += ["", "## Rejects by reason", ""]
    lines += _markdown_table(
        [{"reason": k, "inputs": v} for k, v in summary_["rejects_by_reason"].items()]
    )
    lines += ["", "## Cleaning steps (documents changed)", ""]
    lines += _markdown_table(
        [{"step": k, "documents": v} for k, v in summary_["clean_ops"].items()]
    )
    lines += ["", "## Seconds per stage", ""]
    lines += _markdown_table(
        [{"stage": k, "seconds": v} for k, v in summary_["stage_seconds"].items()]
    )
    return "\n".join(lines)


def shown_collections(rows: list[dict]) -> list[dict]:
    """Collections as the UI shows them: '*' (which markdown renders as a bullet) reads (all)."""
    names = {"*": "(all)", "": "(top folder)"}
    return [{**row, "collection": names.get(row["collection"], row["collection"])} for row in rows]


def _markdown_table(rows: list[dict]) -> list[str]:
    if not rows:
        return ["(none)"]
    header = list(rows[0])
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(r.get(h, "")) for h in header) + " |" for r in rows]
    return out


def publish(summary_: dict, report: Report | None = None) -> None:
    """Log the summary and publish the run's artifacts, its committed event and, when its report
    flags drift, a drift event."""
    logger = get_run_logger()
    logger.info(
        "committed %s, %s, %d skipped of %s into %s",
        plural(summary_["n_documents"], "document"),
        plural(summary_["n_rejects"], "reject"),
        summary_["n_skipped"],
        plural(summary_["n_inputs"], "input"),
        summary_["output"],
    )
    output = summary_["output"]
    create_markdown_artifact(
        markdown(summary_),
        key=artifact_key("summary", output),
        description=f"What this run did, into `{output}`",
    )
    if summary_["collections"]:
        create_table_artifact(
            shown_collections(summary_["collections"]),
            key=artifact_key("collections", output),
            description=f"Mean scores per collection, in `{output}`",
        )
    link = output if "://" in output else f"file://{output}"
    create_link_artifact(
        link,
        link_text=output,
        key=artifact_key("output", output),
        description=f"The output folder, to copy: `{output}` "
        f"(e.g. `proseflow sql -o {output} 'FROM runs'`, or pandas.read_parquet on "
        f"`{output}/documents`)",
    )
    emit_event(
        event=EVENT,
        resource={"prefect.resource.id": f"proseflow.output.{summary_['output']}"},
        payload={
            k: summary_[k] for k in ("run_id", "n_documents", "n_rejects", "n_skipped", "n_inputs")
        },
    )
    if report is not None:
        publish_report(summary_, report)


def publish_report(summary_: dict, report: Report) -> None:
    """The report's artifact (drift flags, key charts, where the page is) and the drift event."""
    output = summary_["output"]
    create_markdown_artifact(
        report_markdown(summary_, report),
        key=artifact_key("report", output),
        description=f"Drift and distributions of this run, into `{output}`",
    )
    if summary_.get("report"):
        page = summary_["report"]
        create_link_artifact(
            page if "://" in page else f"file://{page}",
            link_text=page,
            key=artifact_key("report-page", output),
            description=f"This run's report page: open it in a browser, no network needed (`{page}`)",
        )
    if report.flags:
        get_run_logger().warning(
            "drift against run %s: %s", report.compared_with, drift_line(report.flags)
        )
        emit_event(
            event=DRIFT_EVENT,
            resource={"prefect.resource.id": f"proseflow.output.{output}"},
            payload={
                "run_id": summary_["run_id"],
                "compared_with": report.compared_with,
                "flags": drift_flags(report),
            },
        )


def drift_flags(report: Report) -> list[dict]:
    """The report's drift flags with what an operator reads of each (DRIFT_FIELDS)."""
    return [{k: flag[k] for k in DRIFT_FIELDS} for flag in report.flags]


def report_markdown(summary_: dict, report: Report) -> str:
    """Drift flags first, then the key charts as pictures, then the path of the full page."""
    lines = [f"# Report of run `{summary_['flow_run_name']}`", ""]
    if report.compared_with is None:
        lines.append("Drift: nothing compared (no earlier run over the same sources).")
    elif not report.flags:
        lines.append(f"Drift against run `{report.compared_with}`: none flagged.")
    else:
        lines += [f"**Drift against run `{report.compared_with}`:**", ""]
        lines += _markdown_table(shown_collections(drift_flags(report)))
    lines.append("")
    for name, png in report.charts.items():
        picture = base64.b64encode(png).decode("ascii")
        lines += [f"![{name}](data:image/png;base64,{picture})", ""]
    if summary_.get("report"):
        lines.append(f"Full report: `{summary_['report']}`")
    return "\n".join(lines)


def drift_line(flags: list[dict]) -> str:
    """`business n_words (psi 1.52), ...` for a log line."""
    shown = [
        f"{flag['collection'] or '(top folder)'} {flag['column']}"
        + (f" (psi {flag['psi']:.2f})" if flag.get("psi") is not None else "")
        for flag in flags[:10]
    ]
    return ", ".join(shown) + (f" and {len(flags) - 10} more" if len(flags) > 10 else "")


def batch_done(state: RunState, report) -> None:
    """One log line per processed batch (flows.prefect_tasks.BatchReport), and the progress artifact."""
    seconds = sum(report.seconds.values())
    get_run_logger().info(
        "batch %s: %s, %s in %.1f s",
        report.key,
        plural(report.n_documents, "document"),
        plural(report.n_rejects, "reject"),
        seconds,
    )
    progress(state)


def warn(message: str) -> None:
    """A warning in the flow run's log (and on the console)."""
    get_run_logger().warning(message)


def progress(state: RunState) -> None:
    """Create, then update, the run's progress artifact (percent of inputs accounted for)."""
    done = state.n_documents + state.n_rejects + state.n_skipped
    percent = 100.0 * done / state.n_inputs if state.n_inputs else 100.0
    if terminal_bar:
        end = "\n" if done >= state.n_inputs else ""
        print(
            f"\rproseflow: {bar_line(done, state.n_inputs)}", end=end, file=sys.stderr, flush=True
        )
    if state.progress_id is None:
        state.progress_id = create_progress_artifact(
            progress=percent,
            key=artifact_key("progress", state.output.url),
            description=f"Inputs accounted for, into `{state.output.url}`",
        )
    else:
        update_progress_artifact(artifact_id=state.progress_id, progress=percent)
