"""The chain for one batch, defined once: a run, `reprocess` and `reprocess --verify` all call it.

    decode   raw rows -> the batch's work table, its triage rows and its repeated-line profile
    (reduce) tasks.triage decides which rows are new work and which lines are boilerplate
    process  work rows -> documents (clean -> readability -> statistics), rejects, term counts,
             near-duplicate signatures

Every function here is plain: tables in, tables out, no files and no run state. The Prefect tasks in
`flows/prefect_tasks.py` add only the reads and writes of staging around them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Set
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from proseflow.tasks import near_duplicates, readability, stats
from proseflow.tasks.clean import stage as clean_stage
from proseflow.tasks.clean.repeated import doc_line_keys
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.ingest import stage as ingest_stage
from proseflow.tasks.rejects import REASON_ERROR, error_detail, reject_row, rejects_table

# One row per document read: what the triage needs to know about it, and no text.
TRIAGE_ROWS = pa.schema(
    [
        pa.field("doc_id", pa.string()),
        pa.field("source_uri", pa.string()),
        pa.field("collection", pa.string()),
        pa.field("n_bytes", pa.int64()),
        pa.field("reason", pa.string()),  # the decode reject's reason, KNOWN, or null: decoded
        pa.field("detail", pa.string()),
    ]
)
LINE_KEYS = pa.field("line_keys", pa.list_(pa.int64()))
REJECT_COLUMNS = ["source_uri", "collection", "doc_id", "reason", "detail", "n_bytes"]
# The reason of a row left undecoded because an earlier run committed its bytes as a document: the
# triage can only skip such a row or name it a duplicate, and neither needs its text.
KNOWN = "known"


@dataclass
class Decoded:
    """What the map phase makes of one batch of raw rows."""

    work: pa.Table  # raw columns, decoded columns (null where rejected), line_keys
    rows: pa.Table  # TRIAGE_ROWS, aligned with `work`
    profile: pa.Table  # clean_stage.LINE_PROFILE over the batch's distinct decoded documents


def decode(raw: pa.Table, config: PipelineConfig, known: Set[str] = frozenset()) -> Decoded:
    """Decode a raw batch, keeping one work row per raw row, and profile its repeated lines.

    Rows whose doc_id is in KNOWN (documents committed by an earlier run with this fingerprint)
    are not decoded: their work row has no text and their triage row the reason KNOWN.
    """
    skipped = [doc_id in known for doc_id in raw["doc_id"].to_pylist()]
    fresh = raw.filter(pc.invert(pa.array(skipped, pa.bool_()))) if any(skipped) else raw
    decoded, rejects = ingest_stage.decode_batch(fresh, config)
    fresh_positions = iter(_decoded_positions(fresh, rejects))
    positions = [None if skip else next(fresh_positions) for skip in skipped]
    work = raw.select(list(ingest_stage.RAW_COLUMNS))
    extra = [f for f in ingest_stage.INGESTED if f.name not in work.column_names]
    index = pa.array(positions, pa.int64())
    for f in extra:
        work = work.append_column(f, decoded.column(f.name).take(index))
    keys = [
        sorted(doc_line_keys(text)) if text is not None else None
        for text in work.column("decoded").to_pylist()
    ]
    work = work.append_column(LINE_KEYS, pa.array(keys, LINE_KEYS.type))
    rows = _triage_rows(raw, rejects, positions, skipped)
    return Decoded(work, rows, _profile(work, rows))


def _decoded_positions(raw: pa.Table, rejects: pa.Table) -> list[int | None]:
    """For each raw row, its row in decode_batch's output, or None when it was rejected.

    decode_batch keeps raw order in both outputs, and equal bytes decode alike, so one walk over
    the rejects in step with the raw rows pairs them exactly.
    """
    ids = zip(raw["doc_id"].to_pylist(), raw["source_uri"].to_pylist(), strict=True)
    rejected = list(
        zip(rejects["doc_id"].to_pylist(), rejects["source_uri"].to_pylist(), strict=True)
    )
    positions: list[int | None] = []
    r = kept = 0
    for ident in ids:
        if r < len(rejected) and rejected[r] == ident:
            positions.append(None)
            r += 1
        else:
            positions.append(kept)
            kept += 1
    return positions


def _triage_rows(
    raw: pa.Table, rejects: pa.Table, positions: list[int | None], skipped: list[bool]
) -> pa.Table:
    """TRIAGE_ROWS for a raw batch: identity, size and, for rows not decoded, reason and detail."""
    reasons: list[str | None] = [None] * raw.num_rows
    details: list[str | None] = [None] * raw.num_rows
    failed = iter(zip(rejects["reason"].to_pylist(), rejects["detail"].to_pylist(), strict=True))
    for i, position in enumerate(positions):
        if skipped[i]:
            reasons[i] = KNOWN
        elif position is None:
            reasons[i], details[i] = next(failed)
    return pa.table(
        {
            "doc_id": raw["doc_id"],
            "source_uri": raw["source_uri"],
            "collection": raw["collection"],
            "n_bytes": raw["n_bytes"],
            "reason": pa.array(reasons, pa.string()),
            "detail": pa.array(details, pa.string()),
        },
        schema=TRIAGE_ROWS,
    )


def profiled_rows(rows: pa.Table) -> list[int]:
    """The rows a part's profile counts: each decoded document's first row in the part."""
    seen: set[str] = set()
    out = []
    columns = (rows[name].to_pylist() for name in ("doc_id", "reason"))
    for i, (doc_id, reason) in enumerate(zip(*columns, strict=True)):
        if reason is None and doc_id not in seen:
            seen.add(doc_id)
            out.append(i)
    return out


def _profile(work: pa.Table, rows: pa.Table) -> pa.Table:
    """Per collection and line key, how many distinct decoded documents of the part hold it."""
    counts: Counter[tuple[str, int]] = Counter()
    collections, keys = work["collection"].to_pylist(), work["line_keys"].to_pylist()
    for i in profiled_rows(rows):
        counts.update((collections[i], key) for key in keys[i])
    return pa.Table.from_pylist(
        [{"collection": c, "line_hash": h, "n_docs": n} for (c, h), n in counts.items()],
        schema=clean_stage.LINE_PROFILE,
    )


@dataclass
class Processed:
    """What the process phase makes of one batch's work rows."""

    documents: pa.Table  # cleaned, scored, with statistics; no run columns yet
    rejects: pa.Table | None
    terms: pa.Table | None
    signatures: pa.Table | None = None  # doc_id, collection, signature; None when switched off
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def clean_ops(self) -> Counter:
        ops = self.documents.column("clean_ops").to_pylist() if self.documents.num_rows else []
        return Counter(op for doc_ops in ops for op in doc_ops or ())


def process(work: pa.Table, boilerplate: pa.Table, config: PipelineConfig) -> Processed:
    """Clean, score and describe the decoded rows of a batch; a failing document becomes a reject."""
    ingested = work.select(ingest_stage.INGESTED.names).cast(ingest_stage.INGESTED)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    (table, rejects), errors = isolate_failures(
        clean_stage.clean_batch, ingested, boilerplate, config
    )
    rejects = concat_rejects(rejects, errors)
    seconds["clean"] = _lap(started)
    started = time.perf_counter()
    table, errors = isolate_failures(readability.readability_batch, table, config)
    rejects = concat_rejects(rejects, errors)
    seconds["readability"] = _lap(started)
    started = time.perf_counter()
    (table, terms), errors = isolate_failures(stats.statistics_batch, table, config)
    rejects = concat_rejects(rejects, errors)
    seconds["statistics"] = _lap(started)
    signatures = None
    if config.near_duplicates == "on":
        started = time.perf_counter()
        (table, signatures), errors = isolate_failures(sign, table, config)
        rejects = concat_rejects(rejects, errors)
        seconds["near_duplicates"] = _lap(started)
    return Processed(table, rejects, terms, signatures, seconds)


def sign(documents: pa.Table, config: PipelineConfig) -> tuple[pa.Table, pa.Table]:
    """The documents unchanged, and the MinHash signature of each one's text (doc_id order kept)."""
    signatures = near_duplicates.signatures(documents["text"], config.shingle_size)
    return documents, pa.table(
        {
            "doc_id": documents["doc_id"],
            "collection": documents["collection"],
            "signature": signatures,
        }
    )


def _lap(started: float) -> float:
    return time.perf_counter() - started


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
            details.append(f"{stage.__name__}: {error_detail(exc)}")
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
    """The reject rows of the documents a stage failed on, one detail each."""
    failed = table.take(pa.array(rows, pa.int64())).select(["source_uri", "collection", "doc_id"])
    return rejects_table(
        [
            reject_row(
                row["source_uri"], row["collection"], REASON_ERROR, detail, doc_id=row["doc_id"]
            )
            for row, detail in zip(failed.to_pylist(), details, strict=True)
        ]
    )


def concat_rejects(*tables: pa.Table | None) -> pa.Table | None:
    """The reject rows of several tables in one table (None when there are none)."""
    present = [t.select(REJECT_COLUMNS) for t in tables if t is not None and t.num_rows]
    return pa.concat_tables(present, promote_options="permissive") if present else None
