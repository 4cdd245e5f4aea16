"""Rejects: the reason codes, the one builder of reject rows, and the one-line detail of an error.

An input or a document that cannot be processed becomes a row of `schema.REJECTS`: where it came
from, a stable reason code (the REASON_* constants) and a human-readable detail. A stage that finds
such an input deep inside its helpers raises `Reject`; the loop over the batch turns it into a row.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from proseflow.tasks import schema
from proseflow.tasks.ingest.uris import safe_text

REASON_EMPTY = "empty"
REASON_BINARY = "binary"
REASON_UNDECODABLE = "undecodable"
REASON_TOO_LARGE = "too_large"
REASON_UNREADABLE = "unreadable"
REASON_NOT_A_FILE = "not_a_file"
REASON_DUPLICATE = "duplicate"
REASON_ERROR = "error"

RUN_FIELD_NAMES = frozenset(f.name for f in schema.RUN_FIELDS)
MAX_DETAIL = 500  # characters of an unexpected error's message kept in a detail


class Reject(Exception):
    """An input or document that becomes a reject row: carries its reason code and detail."""

    def __init__(
        self,
        reason: str,
        detail: str,
        n_bytes: int | None = None,
        doc_id: str | None = None,
        partial: bytes = b"",
    ):
        super().__init__(detail)
        self.reason, self.detail, self.n_bytes, self.doc_id = reason, detail, n_bytes, doc_id
        self.partial = partial  # bytes read intact before the damage, when there are any


def reject_row(
    source_uri: str,
    collection: str | None,
    reason: str,
    detail: str,
    n_bytes: int | None = None,
    doc_id: str | None = None,
) -> dict[str, Any]:
    """One reject row (run fields are added by rejects_table); text UTF-8 cannot hold is escaped."""
    return {
        "source_uri": safe_text(source_uri),
        "collection": None if collection is None else safe_text(collection),
        "doc_id": doc_id,
        "reason": reason,
        "detail": safe_text(detail),
        "n_bytes": n_bytes,
    }


def rejects_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Reject rows as a table of schema.REJECTS; run fields stay '' until the flow fills them."""
    columns = {
        f.name: [""] * len(rows) if f.name in RUN_FIELD_NAMES else [row.get(f.name) for row in rows]
        for f in schema.REJECTS
    }  # built by column: a merged copy of each row would double the memory of a record bomb
    return pa.Table.from_pydict(columns, schema=schema.REJECTS)


def error_detail(exc: BaseException) -> str:
    """One line naming an unexpected exception: its type and the first line of its message."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:MAX_DETAIL]


def os_detail(exc: BaseException) -> str:
    """An OS error named by its strerror, without errno or path: the reject row names the path."""
    return f"{type(exc).__name__}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
