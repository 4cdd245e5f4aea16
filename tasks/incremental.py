"""Decide, per input whose bytes were read, whether it is new work, already done, or a duplicate."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from tasks.ingest import REASON_DUPLICATE
from tasks.store import CommittedIndex


@dataclass
class Triage:
    """State carried across the batches of one run, in input order."""

    index: CommittedIndex
    seen: dict[str, str] = field(default_factory=dict)  # doc_id -> first source_uri in this run

    def split(self, raw: pa.Table) -> tuple[pa.Table, pa.Table, int]:
        """Return (new inputs, duplicate rejects, number skipped) for one raw batch in input order."""
        keep, duplicates, skipped = [], [], 0
        ids = raw["doc_id"].to_pylist()
        uris = raw["source_uri"].to_pylist()
        for row, (doc_id, uri) in enumerate(zip(ids, uris, strict=True)):
            verdict = self._verdict(doc_id, uri)
            if verdict is None:
                keep.append(row)
                self.seen[doc_id] = uri
            elif verdict == "skip":
                skipped += 1
            else:
                duplicates.append((row, verdict))
        return raw.take(pa.array(keep, pa.int64())), _duplicate_rejects(raw, duplicates), skipped

    def known_rejects(self, rejects: pa.Table) -> tuple[pa.Table, int]:
        """Drop rejects an earlier run already recorded for the same input; return (new, skipped)."""
        if rejects.num_rows == 0:
            return rejects, 0
        keep = [
            row
            for row, (doc_id, uri, reason) in enumerate(
                zip(
                    *(rejects[c].to_pylist() for c in ("doc_id", "source_uri", "reason")),
                    strict=True,
                )
            )
            if not self._rejected_before(doc_id, uri, reason)
        ]
        return rejects.take(pa.array(keep, pa.int64())), rejects.num_rows - len(keep)

    def _rejected_before(self, doc_id: str | None, uri: str, reason: str) -> bool:
        if doc_id is None:
            return (uri, reason) in self.index.unread
        return (doc_id, uri) in self.index.rejected

    def _verdict(self, doc_id: str, uri: str) -> str | None:
        """None for new work, 'skip' when committed before, else the source_uri it duplicates."""
        committed_uri = self.index.documents.get(doc_id)
        if committed_uri == uri or (doc_id, uri) in self.index.rejected:
            return "skip"
        if committed_uri is not None:
            return committed_uri
        return self.seen.get(doc_id)


def _duplicate_rejects(raw: pa.Table, duplicates: list[tuple[int, str]]) -> pa.Table:
    rows = raw.take(pa.array([row for row, _ in duplicates], pa.int64()))
    details = [f"same bytes as {first}" for _, first in duplicates]
    return pa.table(
        {
            "source_uri": rows["source_uri"],
            "collection": rows["collection"],
            "doc_id": rows["doc_id"],
            "reason": pa.array([REASON_DUPLICATE] * len(details), pa.string()),
            "detail": pa.array(details, pa.string()),
            "n_bytes": rows["n_bytes"],
        }
    )


def new_raw_rows(raw: pa.Table, index: CommittedIndex) -> pa.Table:
    """The rows of a raw batch whose bytes raw/ does not hold yet."""
    if not index.raw:
        return raw
    stored = pa.array(sorted(index.raw), pa.string())
    return raw.filter(pc.invert(pc.is_in(raw["doc_id"], value_set=stored)))
