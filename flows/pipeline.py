"""The proseflow flow: ingest -> clean -> readability -> statistics -> commit, batch by batch."""

from __future__ import annotations

import traceback
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import PurePosixPath

import pyarrow as pa
import pyarrow.dataset as ds
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.utilities.annotations import (
    quote,
)  # run state and input lists: not for Prefect to walk

from flows import reporting
from flows.run import RunState, Stopwatch
from flows.stages import (
    BatchReport,
    BatchTarget,
    IngestedBatch,
    discover,
    ingest,
    ingest_raw,
    process_batch,
    profile,
)
from tasks import catalog, store
from tasks import stats as stats_stage
from tasks.config import PipelineConfig
from tasks.errors import UsageError
from tasks.schema import DOCUMENTS, NUMERIC_COLUMNS

RAW_INPUT_COLUMNS = ["doc_id", "content", "n_bytes", "format", "source_uri", "collection"]

FROM_RAW_ALL = "*"


def source_label(sources: list[str], from_raw: str | None = None) -> str:
    """A short name for what a run reads: the first source's last path part (+N for more)."""
    if from_raw is not None:
        return "reprocess-all" if from_raw == FROM_RAW_ALL else f"reprocess-{from_raw[:8]}"
    first = PurePosixPath(str(sources[0]).rstrip("/")).name or str(sources[0])
    return first + (f"+{len(sources) - 1}" if len(sources) > 1 else "")


def run_name() -> str:
    """Flow run name: source and UTC start time, e.g. `seeds-20261125T084000`."""
    params = flow_run.parameters
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{source_label(params.get('sources') or ['?'], params.get('from_raw'))}-{stamp}"


@flow(name="proseflow", flow_run_name=run_name, persist_result=False, validate_parameters=False)
def pipeline(
    sources: list[str],
    output: str = "outputs",
    config: PipelineConfig | dict | None = None,
    from_raw: str | None = None,
) -> dict:
    """Turn the documents under SOURCES (or, with from_raw, stored raw bytes) into committed datasets."""
    config = as_config(config)
    state = RunState.open(str(flow_run.id), flow_run.name, sources, output, config)
    try:
        batches = ingest_all(state, from_raw)
        boilerplate = profile(quote(state), quote(batches))
        for report in process(state, batches, boilerplate):
            record(state, report)
        summary = commit(quote(state))
    except BaseException as exc:
        stop_tasks()
        state.fail(_one_line(exc))
        raise
    finally:
        state.close()
    reporting.publish(summary)
    return summary


def as_config(config: PipelineConfig | dict | None) -> PipelineConfig:
    """Deployments pass the configuration as JSON; runs started from Python pass the object."""
    if isinstance(config, PipelineConfig):
        return config
    return PipelineConfig.from_dict(config or {})


def ingest_all(state: RunState, from_raw: str | None) -> list[IngestedBatch]:
    """Ingest every batch in input order (triage needs that order); park them in staging."""
    if from_raw is not None:
        raw_batches = read_raw(state, from_raw)
        return [ingest_raw(quote(state), raw, f"b{i:05d}") for i, raw in enumerate(raw_batches)]
    refs = discover(quote(state)).inputs
    size = state.config.batch_size
    chunks = [refs[i : i + size] for i in range(0, len(refs), size)]
    return [
        ingest.with_options(name=f"ingest [{i + 1}/{len(chunks)}]")(
            quote(state), quote(chunk), f"b{i:05d}"
        )
        for i, chunk in enumerate(chunks)
    ]


def read_raw(state: RunState, from_raw: str) -> Iterator[pa.Table]:
    """Batches of stored raw rows: all of them, or those of one run's documents and rejects."""
    wanted = None if from_raw == FROM_RAW_ALL else run_doc_ids(state.output, from_raw)
    table = raw_inputs(state.output, wanted)
    size = state.config.batch_size
    return (table.slice(i, size) for i in range(0, table.num_rows, size))


def raw_inputs(output: store.Output, doc_ids: set[str] | None) -> pa.Table:
    """Raw rows as ingestion produces them (all, or those of doc_ids), in source_uri order."""
    filter_ = None
    if doc_ids is not None:
        filter_ = ds.field("doc_id").isin(pa.array(sorted(doc_ids), pa.string()))
    return output.read("raw", RAW_INPUT_COLUMNS, filter=filter_).sort_by("source_uri")


def run_doc_ids(output: store.Output, run_id: str) -> set[str]:
    """doc_ids a run committed as documents or rejected after decoding."""
    runs = output.read("runs", ["run_id"])["run_id"].to_pylist()
    if run_id not in runs:
        raise UsageError(f"run {run_id} is not in {output.url}/runs; `proseflow runs` lists them")
    same = ds.field("run_id") == run_id
    docs = output.read("documents", ["doc_id"], filter=same)["doc_id"].to_pylist()
    rejects = output.read("rejects", ["doc_id"], filter=same & ds.field("doc_id").is_valid())
    return set(docs) | set(rejects["doc_id"].to_pylist())


def process(
    state: RunState, batches: list[IngestedBatch], boilerplate: pa.Table
) -> Iterator[BatchReport]:
    """Submit one batch task per batch (clean -> readability -> statistics), a bounded number at a time."""
    config = state.config
    target = BatchTarget(state.run_id, state.fingerprint, state.staging.staging)
    window = max(2, 2 * config.workers)
    in_flight: deque = deque()
    for i, batch in enumerate(batches):
        label = f"[{i + 1}/{len(batches)}]"
        task_ = process_batch.with_options(name=f"batch {label}")
        in_flight.append(task_.submit(batch, boilerplate, config, target, label))
        if len(in_flight) >= window:
            yield in_flight.popleft().result()
    while in_flight:
        yield in_flight.popleft().result()


def record(state: RunState, report: BatchReport) -> None:
    """Fold a finished batch into the run and update its progress."""
    state.record_batch(report)
    reporting.progress(state)


@task(name="commit", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5])
def commit(state: RunState) -> dict:
    """Write the run's final files, summaries and runs row, and make them visible in one commit.

    The runs row's `commit` seconds cover everything but the renames and the catalog, which follow it.
    """
    with Stopwatch(state, "commit"):
        staging = state.staging
        staging.finalize("documents", ["doc_id"])
        staging.finalize("rejects", ["source_uri", "reason"])
        staging.finalize("raw", ["doc_id"])
        corpus = stats_stage.corpus_stats(
            staged_documents(state), state.run_id, state.fingerprint, NUMERIC_COLUMNS
        )
        staging.stage_final("corpus_stats", corpus)
        terms = [state.terms] if state.terms is not None else []
        staging.stage_final(
            "terms",
            stats_stage.top_terms(terms, state.run_id, state.fingerprint, state.config.top_terms),
        )
    staging.commit(state.runs_row("completed"))
    catalog.refresh(state.output)
    return reporting.summary(state, corpus)


def staged_documents(state: RunState) -> pa.Table | ds.Dataset:
    """The run's final documents (ordered by doc_id) as a dataset over the staged files."""
    files = state.staging.final_files("documents")
    if not files:
        return DOCUMENTS.empty_table()
    return ds.dataset(files, schema=DOCUMENTS, format="parquet")


def stop_tasks() -> None:
    """Cancel queued batch tasks and wait for running ones, so none writes after staging is gone."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    cancel = getattr(context.task_runner, "cancel_all", None) if context else None
    if cancel is not None:
        cancel()


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return last.splitlines()[0][:500]
