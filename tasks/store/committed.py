"""What is already committed: the index of earlier runs' rows a run needs to skip work and name
duplicates."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow.dataset as ds

from proseflow.tasks.store.output import Output


@dataclass
class CommittedIndex:
    """What earlier runs committed, as needed to skip work and name duplicates."""

    documents: dict[str, str]  # doc_id -> source_uri, for the current fingerprint
    rejected: set[tuple[str, str]]  # (doc_id, source_uri) rejected under the current fingerprint
    raw: set[str]  # doc_ids whose bytes are in raw/
    unread: set[tuple[str, str]] = field(
        default_factory=set
    )  # (source_uri, reason), bytes never read

    @classmethod
    def load(cls, output: Output, fingerprint: str) -> CommittedIndex:
        same = ds.field("pipeline_fingerprint") == fingerprint
        docs = output.read("documents", ["doc_id", "source_uri"], filter=same)
        rejects = output.read(
            "rejects", ["doc_id", "source_uri", "reason"], filter=same
        ).to_pylist()
        raw = output.read("raw", ["doc_id"])
        return cls(
            documents=dict(
                zip(docs["doc_id"].to_pylist(), docs["source_uri"].to_pylist(), strict=True)
            ),
            rejected={(r["doc_id"], r["source_uri"]) for r in rejects if r["doc_id"] is not None},
            raw=set(raw["doc_id"].to_pylist()),
            unread={(r["source_uri"], r["reason"]) for r in rejects if r["doc_id"] is None},
        )
