"""The reduce between the two map phases: which documents are new work, and which lines are boilerplate.

It reads only the small per-batch tables of `tasks.batch.decode` (one row per document read, no
text) and walks them in input order, batch by batch, so the verdicts never depend on batch size,
worker count or the order in which batches finished.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from proseflow.tasks import batch
from proseflow.tasks.clean import stage as clean_stage
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.rejects import REASON_DUPLICATE, reject_row, rejects_table
from proseflow.tasks.store.committed import CommittedIndex

SKIP = "skip"


@dataclass
class Verdicts:
    """The triage of a whole run: per part, the work rows to process and whose bytes are new."""

    process: list[list[int]]  # per part: work rows to clean, score and commit
    new_raw: list[list[int]]  # per part: the subset of `process` whose bytes raw/ lacks
    rejects: pa.Table  # duplicates, decode and read rejects not recorded by an earlier run
    n_skipped: int  # rows and rejects an earlier run already committed


def triage(rows: Sequence[pa.Table], unread: pa.Table, index: CommittedIndex) -> Verdicts:
    """Walk every part's rows in input order; `unread` holds rejects of inputs never read."""
    verdicts = Verdicts([], [], rejects_table([]), 0)
    first_uri: dict[str, str] = {}  # doc_id -> where this run first met it as new work
    rejects: list[dict] = []
    for table in rows:
        process, new_raw = [], []
        for i, row in enumerate(table.to_pylist()):
            verdict = _verdict(row, index, first_uri)
            if verdict == SKIP:
                verdicts.n_skipped += 1
            elif verdict is not None:
                duplicate = {"reason": REASON_DUPLICATE, "detail": f"same bytes as {verdict}"}
                rejects.append(reject_row(**(row | duplicate)))
            else:
                first_uri[row["doc_id"]] = row["source_uri"]
                if row["reason"] == batch.KNOWN:  # left undecoded, so the index must hold it
                    raise RuntimeError(f"{row['source_uri']}: not decoded, yet new work")
                if row["reason"] is not None:  # a decode reject: its row has every field of one
                    rejects.append(reject_row(**row))
                    continue
                process.append(i)
                if row["doc_id"] not in index.raw:
                    new_raw.append(i)
        verdicts.process.append(process)
        verdicts.new_raw.append(new_raw)
    unread_rows = unread.to_pylist()
    fresh = [r for r in unread_rows if not _rejected_before(r, index)]
    verdicts.n_skipped += len(unread_rows) - len(fresh)
    verdicts.rejects = rejects_table(fresh + rejects)
    return verdicts


def _rejected_before(reject: dict, index: CommittedIndex) -> bool:
    """Whether an earlier run recorded this reject of this input already."""
    if reject["doc_id"] is None:
        return (reject["source_uri"], reject["reason"]) in index.unread
    return (reject["doc_id"], reject["source_uri"]) in index.rejected


def _verdict(row: dict, index: CommittedIndex, first_uri: dict[str, str]) -> str | None:
    """None for new work, SKIP when committed before, else the source_uri it repeats."""
    doc_id, uri = row["doc_id"], row["source_uri"]
    committed_uri = index.documents.get(doc_id)
    if committed_uri == uri or (doc_id, uri) in index.rejected:
        return SKIP
    if committed_uri is not None:
        return committed_uri
    return first_uri.get(doc_id)


def boilerplate(
    parts: Sequence[tuple[pa.Table, pa.Table]],
    process: Sequence[Sequence[int]],
    line_keys: Callable[[int, list[int]], pa.Table],
    config: PipelineConfig,
) -> pa.Table:
    """Each collection's repeated lines, counted over the run's new documents only.

    `parts` holds each part's (triage rows, profile): its profile counted every distinct decoded
    document of the part, new or not. Whichever is smaller is read back with `line_keys(part, rows)`
    (a table of collection and line_keys): the documents to take out of the profiles, or the new
    documents themselves to count afresh. Both give the same counts.
    """
    profiled = [batch.profiled_rows(rows) for rows, _ in parts]
    extra = [sorted(set(p) - set(keep)) for p, keep in zip(profiled, process, strict=True)]
    n_docs = Counter()
    for (rows, _), keep in zip(parts, process, strict=True):
        n_docs.update(rows["collection"].take(pa.array(keep, pa.int64())).to_pylist())
    if not n_docs:
        return clean_stage.BOILERPLATE.empty_table()
    if sum(map(len, extra)) <= sum(map(len, process)):
        tables = [profile for _, profile in parts]
        tables += [_counted(line_keys(i, rows), -1) for i, rows in enumerate(extra) if rows]
    else:
        tables = [_counted(line_keys(i, rows), 1) for i, rows in enumerate(process) if rows]
    return clean_stage.boilerplate_lines(tables, dict(n_docs), config)


def _counted(keys: pa.Table, sign: int) -> pa.Table:
    """A LINE_PROFILE of documents' line keys, each document counting `sign`."""
    flat = pa.table(
        {
            "collection": pc.list_parent_indices(keys["line_keys"]),
            "line_hash": pc.list_flatten(keys["line_keys"]),
        }
    )
    flat = flat.set_column(0, "collection", keys["collection"].take(flat["collection"]))
    counts = flat.group_by(["collection", "line_hash"]).aggregate([([], "count_all")])
    n_docs = pc.multiply(counts["count_all"], sign)
    return pa.table(
        {"collection": counts["collection"], "line_hash": counts["line_hash"], "n_docs": n_docs}
    ).cast(clean_stage.LINE_PROFILE)
