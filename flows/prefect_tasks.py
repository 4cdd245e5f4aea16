"""The pipeline's Prefect tasks: the plain batch chain of `tasks.batch` plus the staging I/O around it.

Every task works on a batch and runs where the task runner puts it (a thread, a worker process, a
Dask worker). Tables stay where they are made: a task reads its inputs from staging and writes its
outputs to staging under names fixed by the batch key, and returns only a small report. So a task
run that is retried writes the very same files again and returns the same report; the flow folds
each report into the run once. No task touches the run's state. Tables never go through Prefect's
input hashing: every task uses NO_CACHE.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

from proseflow.tasks import batch as chain
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.ingest import stage as ingest_stage
from proseflow.tasks.rejects import rejects_table
from proseflow.tasks.schema import RAW
from proseflow.tasks.store.files import release_memory, stage_part, stamp_run, utc_now
from proseflow.tasks.store.output import Output
from proseflow.tasks.store.space import space_for

WORK_OPTIONS = ipc.IpcWriteOptions(compression="zstd")  # work files hold text: ~3x smaller


class Items:
    """A batch's list (inputs, doc_ids, row numbers), handed to a task as one opaque value.

    Prefect walks every list, tuple and dataclass in a task's parameters, item by item and field
    by field, looking for futures to wait on: in the flow process to submit the task, and again in
    the worker to run it. Over batches of thousands of inputs that walk cost seconds of CPU per
    run. A plain class is a leaf to it, and pickles like the list it holds.
    """

    __slots__ = ("items",)

    def __init__(self, items: list) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Items) and self.items == other.items

    def __repr__(self) -> str:
        return f"Items({len(self.items)})"


@dataclass(frozen=True)
class BatchTarget:
    """Where, and for which run, a worker stages its files (small: travels to workers)."""

    run_id: str
    fingerprint: str
    staging: str  # the run's local staging folder
    started_at: datetime
    known: str | None = None  # the file of doc_ids earlier runs committed (`write_known`)

    def work_file(self, key: str) -> Path:
        return Path(self.staging) / "work" / f"{key}.arrow"


def write_known(path: Path, doc_ids: Iterable[str]) -> str:
    """Stage the doc_ids earlier runs committed, for every read task to skip decoding them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({"doc_id": pa.array(list(doc_ids), pa.string())})  # read back as a set
    with ipc.new_file(path, table.schema) as writer:
        writer.write_table(table)
    return str(path)


@lru_cache(maxsize=1)  # one run's file at a time: a worker reads it once, not once per batch
def known_doc_ids(path: str | None) -> frozenset[str]:
    """The doc_ids of a `write_known` file; none without one, or when it cannot be read.

    The file only saves work: without it a batch decodes every input, as in a first run, and the
    triage skips the committed ones all the same.
    """
    if path is None:
        return frozenset()
    try:
        with pa.memory_map(path) as source:
            return frozenset(ipc.open_file(source).read_all()["doc_id"].to_pylist())
    except (OSError, pa.ArrowInvalid) as exc:
        _task_logger().warning("committed doc_ids not read (%s): decoding every input", exc)
        return frozenset()


def _task_logger():
    """The task run's logger (its lines reach the Prefect API), or this module's outside a run."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


@dataclass
class Part:
    """One decoded part of a batch, parked in staging until the triage has decided on its rows."""

    key: str
    path: str
    rows: pa.Table  # tasks.batch.TRIAGE_ROWS
    profile: pa.Table  # repeated-line counts over the part's distinct documents


@dataclass
class ReadReport:
    """What reading one batch of inputs gives the flow: its parts and the inputs never read."""

    parts: list[Part]
    unread: pa.Table  # rejects without a doc_id (unreadable, too large, ...)
    n_inputs: int  # documents read plus inputs rejected unread
    seconds: float


@dataclass
class BatchReport:
    """What the flow needs back from a processed part: counts, cleaning steps, terms, timings."""

    key: str
    n_documents: int
    n_rejects: int
    clean_ops: Counter
    terms: pa.Table | None
    seconds: dict[str, float] = field(default_factory=dict)
    reasons: Counter = field(default_factory=Counter)  # rejects by reason


def worth_retrying(task, task_run, state) -> bool:
    """Retry a failed task unless its error says retrying cannot help (bad usage, a full disk)."""
    try:
        state.result()
    except Exception as exc:
        return getattr(exc, "retryable", True)
    return True


RETRIED = {"retries": 2, "retry_delay_seconds": [1, 5], "retry_condition_fn": worth_retrying}


@task(name="discover", cache_policy=NO_CACHE, **RETRIED)
def discover(sources: list[str], config: PipelineConfig) -> ingest_stage.Discovery:
    """Find every input under the sources; rejects what cannot even be listed."""
    return ingest_stage.discover(sources, config)


@task(name="read", cache_policy=NO_CACHE, **RETRIED)
def read(refs: Items, config: PipelineConfig, target: BatchTarget, key: str) -> ReadReport:
    """Read, hash and decode one batch of inputs and profile its lines; park it in staging."""

    started = time.perf_counter()
    raw, unread = ingest_stage.read_inputs(refs.items, config)
    parts = park(raw, config, target, key, known_doc_ids(target.known))
    n_inputs = raw.num_rows + unread.num_rows
    return ReadReport(parts, unread, n_inputs, time.perf_counter() - started)


@task(name="read", cache_policy=NO_CACHE, **RETRIED)
def read_stored(
    output: str, doc_ids: Items, config: PipelineConfig, target: BatchTarget, key: str
) -> ReadReport:
    """Read stored raw rows back from raw/ (reprocessing) and decode them like new inputs."""
    started = time.perf_counter()
    raw = stored_raw(Output.open(output, create=False), doc_ids.items)
    parts = park(raw, config, target, key)
    empty = rejects_table([])
    return ReadReport(parts, empty, raw.num_rows, time.perf_counter() - started)


def stored_raw(output: Output, doc_ids: list[str]) -> pa.Table:
    """Raw rows of doc_ids as ingestion produces them, in source_uri order."""
    import pyarrow.dataset as ds  # here: it imports pandas, which batches of new inputs never need

    wanted = ds.field("doc_id").isin(pa.array(doc_ids, pa.string()))
    table = output.read("raw", ingest_stage.RAW_COLUMNS, filter=wanted)
    return table.sort_by([("source_uri", "ascending"), ("doc_id", "ascending")])


def park(
    raw: pa.Table,
    config: PipelineConfig,
    target: BatchTarget,
    key: str,
    known: frozenset[str] = frozenset(),
) -> list[Part]:
    """Decode raw rows in parts of at most batch_size rows and write each part's work file; rows
    of KNOWN doc_ids stay undecoded (`tasks.batch.decode`)."""
    size = config.batch_size
    parts = []
    for n, start in enumerate(range(0, max(raw.num_rows, 1), size)):
        decoded = chain.decode(raw.slice(start, size), config, known)
        part_key = key if raw.num_rows <= size else f"{key}-{n:04d}"
        path = target.work_file(part_key)
        write_work(path, decoded.work)
        parts.append(Part(part_key, str(path), decoded.rows, decoded.profile))
        release_memory()
    return parts


def write_work(path: Path, table: pa.Table) -> None:
    """Write a work file whole or not at all (a retry may find a half-written one)."""
    with space_for(path, table.nbytes):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with ipc.new_file(tmp, table.schema, options=WORK_OPTIONS) as writer:
            writer.write_table(table)
        tmp.replace(path)


def read_work(path: str, rows: list[int] | None = None, columns: list[str] | None = None):
    """Rows (all, or those listed) of a work file."""
    with ipc.open_file(path) as reader:
        table = reader.read_all()
    if columns is not None:
        table = table.select(columns)
    return table if rows is None else table.take(pa.array(rows, pa.int64()))


@task(
    name="process",
    cache_policy=NO_CACHE,
    retries=1,
    retry_delay_seconds=[1],
    retry_condition_fn=worth_retrying,
)
def process(
    part: Part,
    rows: Items,
    new_raw: Items,
    boilerplate: pa.Table,
    config: PipelineConfig,
    target: BatchTarget,
) -> BatchReport:
    """Clean, score and describe a part's new documents and stage them with their new raw bytes."""
    started = time.perf_counter()
    work = read_work(part.path)
    stage_raw(work.take(pa.array(new_raw.items, pa.int64())), target, part.key)
    result = chain.process(work.take(pa.array(rows.items, pa.int64())), boilerplate, config)
    report = stage_documents(result, target, part.key)
    report.seconds["ingest"] = time.perf_counter() - started - sum(result.seconds.values())
    release_memory()
    return report


def stage_raw(raw: pa.Table, target: BatchTarget, key: str) -> None:
    """Stage the raw bytes raw/ lacks, with where and when this run first saw them."""
    n = raw.num_rows
    raw = raw.select(ingest_stage.RAW_COLUMNS).append_column(
        "first_seen_at", pa.array([target.started_at] * n, RAW.field("first_seen_at").type)
    )
    raw = raw.append_column("run_id", pa.array([target.run_id] * n, pa.string()))
    stage_part(target, "raw", raw, key)


def stage_documents(result: chain.Processed, target: BatchTarget, key: str) -> BatchReport:
    """Stamp a processed part with its run and write its documents and rejects into staging."""
    started = time.perf_counter()
    stamped = stamp_run(result.documents, target.run_id, target.fingerprint, utc_now())
    stage_part(target, "documents", stamped, key)
    if result.signatures is not None:
        stage_part(
            target,
            "signatures",
            stamp_run(result.signatures, target.run_id, target.fingerprint),
            key,
        )
    reasons: Counter = Counter()
    if result.rejects is not None and result.rejects.num_rows:
        rejects = stamp_run(result.rejects, target.run_id, target.fingerprint)
        stage_part(target, "rejects", rejects, f"{key}-process")
        reasons.update(rejects["reason"].to_pylist())
    seconds = dict(result.seconds)
    seconds["statistics"] += time.perf_counter() - started
    return BatchReport(
        key, stamped.num_rows, reasons.total(), result.clean_ops, result.terms, seconds, reasons
    )
