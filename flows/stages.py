"""The pipeline's Prefect tasks: thin wrappers that time the plain stage functions of `tasks/`.

Every task works on a batch (a pyarrow Table of up to --batch-size documents). Tables never go through
Prefect's input hashing: every task uses NO_CACHE.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.ipc as ipc
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.run import RunState, Stopwatch
from tasks import clean as clean_stage
from tasks import ingest as ingest_stage
from tasks import readability as readability_stage
from tasks import stats as stats_stage
from tasks import store
from tasks.config import PipelineConfig


@dataclass
class IngestedBatch:
    """A decoded batch waiting in staging for the CPU stages."""

    key: str
    path: str
    n_documents: int
    profile: pa.Table
    collections: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class BatchTarget:
    """Where, and for which run, a worker stages a finished batch (small: travels to workers)."""

    run_id: str
    fingerprint: str
    staging: str  # the run's local staging folder


@dataclass
class BatchReport:
    """What the flow needs back from a finished batch: counts, cleaning steps, terms, timings."""

    key: str
    n_documents: int
    n_rejects: int
    clean_ops: Counter
    terms: pa.Table | None
    seconds: dict[str, float]


@dataclass
class StageResult:
    """What a CPU stage hands to the next: the batch, its rejects, and seconds spent in the stage."""

    key: str
    table: pa.Table
    rejects: pa.Table | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    terms: pa.Table | None = None


def isolate_failures(stage, table: pa.Table, *args):
    """Run a batch stage; if it raises, rerun it per document and turn the failing ones into rejects.

    One bad document must not cost the batch or the run: it becomes a reject with reason `error`.
    Returns (what the stage returns, error rejects); a stage may return a table or a tuple of tables.
    """
    try:
        return stage(table, *args), None
    except Exception:  # isolated per document below; every failure becomes a reject row
        pass
    kept, failed, details = [], [], []
    for row in range(table.num_rows):
        try:
            kept.append(stage(table.slice(row, 1), *args))
        except Exception as exc:
            failed.append(row)
            message = str(exc).splitlines()[0][:300] if str(exc) else ""
            details.append(f"{stage.__name__}: {type(exc).__name__}: {message}")
    if not kept:
        kept.append(stage(table.slice(0, 0), *args))
    return _concat_results(kept), _error_rejects(table, failed, details)


def _concat_results(results: list):
    if isinstance(results[0], tuple):
        return tuple(
            pa.concat_tables(parts, promote_options="permissive")
            for parts in zip(*results, strict=True)
        )
    return pa.concat_tables(results, promote_options="permissive")


def _error_rejects(table: pa.Table, rows: list[int], details: list[str]) -> pa.Table:
    failed = table.take(pa.array(rows, pa.int64()))
    return pa.table(
        {
            "source_uri": failed["source_uri"],
            "collection": failed["collection"],
            "doc_id": failed["doc_id"],
            "reason": pa.array([ingest_stage.REASON_ERROR] * len(rows), pa.string()),
            "detail": pa.array(details, pa.string()),
            "n_bytes": pa.nulls(len(rows), pa.int64()),
        }
    )


REJECT_COLUMNS = ["source_uri", "collection", "doc_id", "reason", "detail", "n_bytes"]


def _concat_rejects(*tables: pa.Table | None) -> pa.Table | None:
    present = [t.select(REJECT_COLUMNS) for t in tables if t is not None and t.num_rows]
    return pa.concat_tables(present, promote_options="permissive") if present else None


def _timed(result: StageResult, stage: str, started: float) -> StageResult:
    result.seconds[stage] = result.seconds.get(stage, 0.0) + time.perf_counter() - started
    return result


@task(name="batch", cache_policy=NO_CACHE)
def process_batch(
    batch: IngestedBatch,
    boilerplate: pa.Table,
    config: PipelineConfig,
    target: BatchTarget,
    label: str,
) -> BatchReport:
    """Run one batch through clean -> readability -> statistics where it was scheduled, and stage it.

    The batch's tables never leave the worker: it reads the decoded batch from staging and writes the
    documents and rejects it produces back to staging, returning only a small report.
    """
    result = clean.with_options(name=f"clean {label}")(batch, boilerplate, config)
    result = readability.with_options(name=f"readability {label}")(result, config)
    result = statistics.with_options(name=f"statistics {label}")(result, config)
    return stage_batch(result, target)


def stage_batch(result: StageResult, target: BatchTarget) -> BatchReport:
    """Stamp a finished batch with its run and write its documents and rejects into staging."""
    started = time.perf_counter()
    documents = store.stamp_run(result.table, target.run_id, target.fingerprint, store.utc_now())
    store.stage_part(target, "documents", documents, result.key)
    n_rejects = 0
    if result.rejects is not None and result.rejects.num_rows:
        rejects = store.stamp_run(result.rejects, target.run_id, target.fingerprint)
        store.stage_part(target, "rejects", rejects, f"{result.key}-process")
        n_rejects = rejects.num_rows
    ops = Counter(op for doc_ops in documents["clean_ops"].to_pylist() for op in doc_ops or ())
    seconds = dict(result.seconds)
    seconds["statistics"] = seconds.get("statistics", 0.0) + time.perf_counter() - started
    store.release_memory()
    return BatchReport(result.key, documents.num_rows, n_rejects, ops, result.terms, seconds)


@task(name="discover", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5])
def discover(state: RunState) -> ingest_stage.Discovery:
    """Find every input under the sources; rejects what cannot even be listed."""
    with Stopwatch(state, "discover"):
        discovery = ingest_stage.discover(state.sources, state.config)
    state.n_inputs = len(discovery.inputs) + discovery.rejects.num_rows
    state.n_ignored = discovery.n_ignored
    state.stage_rejects(discovery.rejects, "discover")
    return discovery


@task(name="ingest", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5])
def ingest(state: RunState, refs: list, key: str) -> IngestedBatch:
    """Read, hash and triage one batch of inputs, then decode what is new."""
    with Stopwatch(state, "ingest"):
        raw, rejects = ingest_stage.read_inputs(refs, state.config)
        state.n_inputs += (
            raw.num_rows + rejects.num_rows - len(refs)
        )  # record files hold many records
    return admit(state, raw, rejects, key)


@task(name="ingest", cache_policy=NO_CACHE)
def ingest_raw(state: RunState, raw: pa.Table, key: str) -> IngestedBatch:
    """Triage one batch read back from raw/ (reprocessing), then decode what is new."""
    state.n_inputs += raw.num_rows
    return admit(state, raw, None, key)


def admit(state: RunState, raw: pa.Table, rejects: pa.Table | None, key: str) -> IngestedBatch:
    """Triage, stage new raw bytes and rejects, decode, and park the batch in staging."""
    with Stopwatch(state, "ingest"):
        new, duplicates = state.admit_raw(raw, key)
        decoded, decode_rejects = ingest_stage.decode_batch(new, state.config)
        for table in (rejects, duplicates, decode_rejects):
            if table is not None:
                state.stage_rejects(table, f"{key}-{state.n_rejects}")
        path = state.staging.work / f"{key}.arrow"
        with ipc.new_file(path, decoded.schema) as writer:
            writer.write_table(decoded)
        profile = clean_stage.line_profile(decoded)
        collections = Counter(decoded["collection"].to_pylist())
    return IngestedBatch(key, str(path), decoded.num_rows, profile, collections)


@task(name="profile", cache_policy=NO_CACHE)
def profile(state: RunState, batches: list[IngestedBatch]) -> pa.Table:
    """Find the lines repeated across the documents of each collection (boilerplate)."""
    with Stopwatch(state, "clean"):
        per_collection: Counter = Counter()
        for batch in batches:
            per_collection.update(batch.collections)
        return clean_stage.boilerplate_lines(
            [b.profile for b in batches], dict(per_collection), state.config
        )


@task(name="clean", cache_policy=NO_CACHE)
def clean(batch: IngestedBatch, boilerplate: pa.Table, config: PipelineConfig) -> StageResult:
    """Clean one decoded batch: header fields, markup, boilerplate, broken paragraphs."""
    started = time.perf_counter()
    with ipc.open_file(batch.path) as reader:
        decoded = reader.read_all()
    (cleaned, rejects), errors = isolate_failures(
        clean_stage.clean_batch, decoded, boilerplate, config
    )
    return _timed(
        StageResult(batch.key, cleaned, _concat_rejects(rejects, errors)), "clean", started
    )


@task(name="readability", cache_policy=NO_CACHE)
def readability(result: StageResult, config: PipelineConfig) -> StageResult:
    """Detect each document's language and compute its readability scores and counts."""
    started = time.perf_counter()
    result.table, errors = isolate_failures(
        readability_stage.readability_batch, result.table, config
    )
    result.rejects = _concat_rejects(result.rejects, errors)
    return _timed(result, "readability", started)


@task(name="statistics", cache_policy=NO_CACHE)
def statistics(result: StageResult, config: PipelineConfig) -> StageResult:
    """Compute document statistics and the batch's term counts."""
    started = time.perf_counter()
    result.table, errors = isolate_failures(stats_stage.statistics_batch, result.table, config)
    result.rejects = _concat_rejects(result.rejects, errors)
    result.terms = stats_stage.terms_partial(result.table, config)
    return _timed(result, "statistics", started)
