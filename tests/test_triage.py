"""The reduce: verdicts in input order, and repeated lines counted over new documents only."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proseflow.tasks import batch, triage
from proseflow.tasks.clean.repeated import doc_line_keys
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.ingest.stage import RAW_BATCH, decode_document
from proseflow.tasks.rejects import rejects_table
from proseflow.tasks.store.committed import CommittedIndex

NOTHING = CommittedIndex({}, set(), set())


def rows(*specs: tuple) -> pa.Table:
    """Triage rows from (doc_id, source_uri[, reason]) tuples."""
    return pa.Table.from_pylist(
        [
            {
                "doc_id": s[0],
                "source_uri": s[1],
                "collection": "c",
                "n_bytes": 10,
                "reason": s[2] if len(s) > 2 else None,
                "detail": "why" if len(s) > 2 else None,
            }
            for s in specs
        ],
        schema=batch.TRIAGE_ROWS,
    )


def no_unread() -> pa.Table:
    return rejects_table([])


def test_first_occurrence_is_work_and_later_ones_are_duplicates_across_parts():
    verdicts = triage.triage(
        [rows(("a", "1"), ("b", "2"), ("a", "3")), rows(("b", "4"), ("c", "5"))],
        no_unread(),
        NOTHING,
    )
    assert verdicts.process == [[0, 1], [1]]
    assert verdicts.new_raw == [[0, 1], [1]]
    dupes = verdicts.rejects.to_pylist()
    assert [(r["source_uri"], r["reason"], r["detail"]) for r in dupes] == [
        ("3", "duplicate", "same bytes as 1"),
        ("4", "duplicate", "same bytes as 2"),
    ]
    assert verdicts.n_skipped == 0


def test_committed_work_is_skipped_and_a_copy_elsewhere_names_the_committed_one():
    index = CommittedIndex({"a": "1"}, {("r", "9")}, {"a", "b"})
    verdicts = triage.triage(
        [rows(("a", "1"), ("a", "2"), ("r", "9", "binary"), ("b", "3"))], no_unread(), index
    )
    assert verdicts.process == [[3]] and verdicts.new_raw == [[]]  # b's bytes are stored
    assert verdicts.n_skipped == 2
    assert [r["detail"] for r in verdicts.rejects.to_pylist()] == ["same bytes as 1"]


def test_decode_rejects_and_unread_inputs_become_rejects_once():
    unread = rejects_table(
        [
            {"source_uri": "u1", "collection": "c", "doc_id": None, "reason": "too_large"},
            {"source_uri": "u2", "collection": "c", "doc_id": "e", "reason": "empty"},
            {"source_uri": "u3", "collection": "c", "doc_id": None, "reason": "unreadable"},
        ]
    )
    index = CommittedIndex({}, {("e", "u2")}, set(), {("u3", "unreadable")})
    verdicts = triage.triage([rows(("x", "1", "binary"), ("x", "2", "binary"))], unread, index)
    got = sorted((r["source_uri"], r["reason"]) for r in verdicts.rejects.to_pylist())
    assert got == [("1", "binary"), ("2", "duplicate"), ("u1", "too_large")]
    assert verdicts.n_skipped == 2 and verdicts.process == [[]]


CONFIG = PipelineConfig(repeated_line_min_docs=2, repeated_line_min_share=0.5)


def decoded_parts(
    texts_per_part: list[list[tuple[str, str]]], known: frozenset[str] = frozenset()
) -> list[batch.Decoded]:
    """Decoded parts from (source_uri, text) pairs; equal texts share a doc_id."""
    parts = []
    for texts in texts_per_part:
        raw = pa.Table.from_pylist(
            [
                {
                    "doc_id": ingest_sha(text),
                    "content": text.encode(),
                    "n_bytes": len(text),
                    "format": "txt",
                    "source_uri": uri,
                    "collection": "news",
                }
                for uri, text in texts
            ],
            schema=RAW_BATCH,
        )
        parts.append(batch.decode(raw, PipelineConfig(), known))
    return parts


def ingest_sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def boilerplate_of(parts: list[batch.Decoded], index=NOTHING) -> set[int]:
    verdicts = triage.triage([p.rows for p in parts], no_unread(), index)

    def line_keys(part: int, rows_: list[int]) -> pa.Table:
        table = parts[part].work.select(["collection", "line_keys"])
        return table.take(pa.array(rows_, pa.int64()))

    table = triage.boilerplate(
        [(p.rows, p.profile) for p in parts], verdicts.process, line_keys, CONFIG
    )
    return set(table["line_hash"].to_pylist())


def reference_boilerplate(texts: list[tuple[str, str]], skip: set[str]) -> set[int]:
    """Repeated lines over each distinct new document, counted directly."""
    seen, keys, n = set(), [], 0
    for _, text in texts:
        if text in seen or ingest_sha(text) in skip:
            continue
        seen.add(text)
        decoded = decode_document(text.encode(), "txt", PipelineConfig())["decoded"]
        keys.append(doc_line_keys(decoded))
        n += 1
    counts: dict[int, int] = {}
    for doc in keys:
        for k in doc:
            counts[k] = counts.get(k, 0) + 1
    return {
        k
        for k, c in counts.items()
        if c >= CONFIG.repeated_line_min_docs and c >= CONFIG.repeated_line_min_share * n
    }


LINES = ["Share this", "Follow us", "Story one.", "Story two.", "A third line.", "Home"]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(LINES), min_size=1, max_size=4).map("\n".join),
        min_size=1,
        max_size=12,
    ),
    st.integers(1, 5),
    st.sets(st.integers(0, 11), max_size=6),
)
def test_boilerplate_counts_each_new_document_once_whatever_the_parts(texts, size, skipped):
    named = [(f"{i:03d}", t) for i, t in enumerate(texts)]
    parts = decoded_parts([named[i : i + size] for i in range(0, len(named), size)])
    skip = {ingest_sha(t) for i, t in named if i in skipped}
    index = CommittedIndex({sha: "elsewhere" for sha in skip}, set(), set(skip))
    assert boilerplate_of(parts, index) == reference_boilerplate(named, skip)
    # The committed documents left undecoded: the same lines.
    undecoded = decoded_parts([named[i : i + size] for i in range(0, len(named), size)], skip)
    assert boilerplate_of(undecoded, index) == reference_boilerplate(named, skip)


def test_boilerplate_is_empty_when_nothing_is_new():
    parts = decoded_parts([[("1", "Share this\nStory one.")], [("2", "Share this\nStory two.")]])
    index = CommittedIndex({p.rows["doc_id"][0].as_py(): "x" for p in parts}, set(), set())
    assert boilerplate_of(parts, index) == set()


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_decode_keeps_one_work_row_per_raw_row_in_order(size):
    texts = [("1", "Good text."), ("2", ""), ("3", "More good text."), ("4", "")]
    for part in decoded_parts([texts[i : i + size] for i in range(0, 4, size)]):
        work, rows_ = part.work, part.rows
        assert work["source_uri"].to_pylist() == rows_["source_uri"].to_pylist()
        for decoded, reason in zip(
            work["decoded"].to_pylist(), rows_["reason"].to_pylist(), strict=True
        ):
            assert (decoded is None) == (reason is not None)


def test_known_documents_are_left_undecoded_and_the_others_decode_alike():
    texts = [
        ("1", "Known text."),
        ("2", "New text.\nShare this"),
        ("3", "\0\0\0abc"),
        ("4", "Known text."),
    ]
    known = frozenset({ingest_sha("Known text.")})
    (plain,) = decoded_parts([texts])
    (part,) = decoded_parts([texts], known)
    assert part.rows["reason"].to_pylist() == [batch.KNOWN, None, "binary", batch.KNOWN]
    assert part.work["decoded"].to_pylist()[::3] == [None, None]
    assert part.work["line_keys"].to_pylist()[::3] == [None, None]
    assert part.work.slice(1, 2).equals(plain.work.slice(1, 2))
    assert part.rows.slice(1, 2).equals(plain.rows.slice(1, 2))
    assert batch.profiled_rows(part.rows) == [1]
    # Skipped where committed, a duplicate where it is a copy: nothing else needs its text.
    index = CommittedIndex({ingest_sha("Known text."): "1"}, set(), set())
    verdicts = triage.triage([part.rows], no_unread(), index)
    assert verdicts.process == [[1]] and verdicts.n_skipped == 1
    assert [(r["source_uri"], r["detail"]) for r in verdicts.rejects.to_pylist()] == [
        ("3", plain.rows["detail"][2].as_py()),
        ("4", "same bytes as 1"),
    ]


def test_an_undecoded_row_that_is_not_committed_stops_the_triage():
    with pytest.raises(RuntimeError, match="not decoded"):
        triage.triage([rows(("a", "1", batch.KNOWN))], no_unread(), NOTHING)
