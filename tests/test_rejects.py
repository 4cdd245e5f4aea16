"""Tests for tasks/rejects.py: the one builder of reject rows and the one-line error detail."""

from __future__ import annotations

from proseflow.tasks import schema
from proseflow.tasks.rejects import (
    MAX_DETAIL,
    REASON_ERROR,
    error_detail,
    reject_row,
    rejects_table,
)


def test_error_detail_is_one_line_of_bounded_length():
    assert error_detail(ValueError("first line\nsecond line")) == "ValueError: first line"
    assert error_detail(RuntimeError()) == "RuntimeError: "
    assert len(error_detail(OSError("x" * 10_000))) == MAX_DETAIL


def test_reject_row_escapes_text_utf8_cannot_hold():
    row = reject_row("bad\udcff.txt", "caf\udce9", REASON_ERROR, "lone \ud800", 3, "d")
    assert row == {
        "source_uri": "bad\\xff.txt",
        "collection": "caf\\xe9",
        "doc_id": "d",
        "reason": "error",
        "detail": "lone \\ud800",
        "n_bytes": 3,
    }


def test_rejects_table_leaves_the_run_fields_to_the_flow():
    table = rejects_table([reject_row("u", None, REASON_ERROR, "why")])
    assert table.schema == schema.REJECTS
    row = table.to_pylist()[0]
    assert (row["collection"], row["n_bytes"], row["doc_id"]) == (None, None, None)
    assert {row[f.name] for f in schema.RUN_FIELDS} == {""}
