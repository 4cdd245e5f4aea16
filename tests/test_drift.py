"""Tests for tasks/drift.py: PSI, null shares and reject rates between two runs' documents."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pytest

from proseflow.tasks import drift
from proseflow.tasks.drift import (
    MIN_DOCUMENTS,
    PSI_THRESHOLD,
    REJECT_RATE,
    compare,
    summary,
)
from proseflow.tasks.schema import DRIFT

COLUMNS = ("n_words", "n_sentences", "n_chars", "flesch_reading_ease", "type_token_ratio")


def _documents(collection: str, n: int, seed: int, scale: float = 1.0, nulls: float = 0.0):
    """N documents of a collection with BBC-like values; SCALE shrinks the texts (truncation)."""
    rng = np.random.default_rng(seed)
    words = np.round(rng.lognormal(5.9, 0.45, n) * scale).astype(np.int64)
    sentences = np.maximum(1, np.round(words / rng.normal(20, 3, n))).astype(np.int64)
    return pa.table(
        {
            "collection": [collection] * n,
            "n_words": words,
            "n_sentences": sentences,
            "n_chars": np.round(words * rng.normal(4.9, 0.3, n)).astype(np.int64),
            "flesch_reading_ease": pa.array(rng.normal(58, 10, n), mask=rng.random(n) < nulls),
            "type_token_ratio": rng.beta(8, 8, n),
        }
    )


def _runs(**current) -> tuple[pa.Table, pa.Table]:
    """500 documents of 'business' and 'sport' per run; CURRENT overrides this run's business."""
    previous = pa.concat_tables([_documents("business", 500, 1), _documents("sport", 500, 2)])
    business = _documents("business", 500, 3, **current)
    return previous, pa.concat_tables([business, _documents("sport", 500, 4)])


def _rows(table: pa.Table) -> dict[tuple[str, str], dict]:
    return {(r["collection"], r["column"]): r for r in table.to_pylist()}


def test_truncated_texts_are_flagged_in_their_collection_only():
    rows = _rows(compare(*_runs(scale=0.5), columns=COLUMNS))
    for column in ("n_words", "n_sentences", "n_chars"):
        row = rows["business", column]
        assert row["flagged"], row
        assert row["reason"].startswith("PSI ") and row["psi"] > PSI_THRESHOLD
        assert row["mean_change"] == pytest.approx(-0.5, abs=0.05)
        assert not rows["sport", column]["flagged"]
    assert not rows["business", "flesch_reading_ease"]["flagged"]
    assert rows["*", "n_words"]["flagged"]


def test_new_documents_from_the_same_distribution_are_not_flagged():
    table = compare(*_runs(), columns=COLUMNS)
    assert not any(table["flagged"].to_pylist())
    assert max(table["psi"].to_pylist()) < 0.1
    assert set(table["reason"].to_pylist()) == {None}


def test_small_samples_within_chance_are_not_flagged():
    # 40 new documents against 500: PSI exceeds 0.2 by chance alone in most collections.
    previous = pa.concat_tables([_documents(f"c{i:02}", 500, i) for i in range(40)])
    current = pa.concat_tables([_documents(f"c{i:02}", 40, 100 + i) for i in range(40)])
    rows = compare(previous, current, columns=["n_words"]).to_pylist()
    over = [r for r in rows if r["psi"] > PSI_THRESHOLD]
    assert len(over) > 10
    assert not any(r["flagged"] for r in rows)
    assert all("within sampling noise" in r["reason"] for r in over)


def test_small_samples_still_flag_a_large_shift():
    previous = _documents("a", 500, 1)
    rows = _rows(compare(previous, _documents("a", 40, 2, scale=0.5), columns=["n_words"]))
    assert rows["a", "n_words"]["flagged"]


def test_fewer_than_min_documents_are_not_judged():
    previous = _documents("a", 500, 1)
    few = compare(previous, _documents("a", MIN_DOCUMENTS - 1, 2, scale=0.1), columns=COLUMNS)
    for row in few.to_pylist():
        assert not row["flagged"]
        assert (
            row["reason"]
            == f"not judged: {MIN_DOCUMENTS - 1} documents in this run (fewer than 30)"
        )
        assert row["n_current"] == MIN_DOCUMENTS - 1
    enough = compare(previous, _documents("a", MIN_DOCUMENTS, 2, scale=0.1), columns=COLUMNS)
    assert _rows(enough)["a", "n_words"]["flagged"]


def test_a_collection_on_one_side_only_is_not_judged():
    previous = _documents("old", 100, 1)
    rows = _rows(compare(previous, _documents("new", 100, 2), columns=["n_words"]))
    assert rows["new", "n_words"]["reason"] == "not judged: no documents in the previous run"
    assert rows["old", "n_words"]["reason"] == "not judged: no documents in this run"
    assert rows["new", "n_words"]["n_previous"] == 0
    assert not rows["*", "n_words"]["flagged"]


def test_a_null_share_change_is_flagged_apart_from_psi():
    rows = _rows(compare(*_runs(nulls=0.4), columns=COLUMNS))
    row = rows["business", "flesch_reading_ease"]
    assert row["flagged"]
    assert row["reason"].startswith("null share 0.00 -> 0.4")
    assert row["psi"] < PSI_THRESHOLD  # the values that are there did not move
    assert row["null_share_current"] == pytest.approx(0.4, abs=0.05)
    assert not rows["sport", "flesch_reading_ease"]["flagged"]


def test_all_documents_rows_come_last_and_pool_every_collection():
    table = compare(*_runs(), columns=COLUMNS)
    assert table.schema == DRIFT
    keys = [(r["collection"], r["column"]) for r in table.to_pylist()]
    expected = [(c, col) for c in ("business", "sport", "*") for col in COLUMNS]
    assert keys == expected
    star = _rows(table)["*", "n_words"]
    assert (star["n_previous"], star["n_current"]) == (1000, 1000)


def test_columns_missing_on_either_side_are_skipped():
    previous, current = _runs()
    current = current.drop_columns(["n_chars"])
    columns = {r["column"] for r in compare(previous, current, columns=COLUMNS).to_pylist()}
    assert columns == set(COLUMNS) - {"n_chars"}


def test_reject_rate_rows():
    previous, current = _runs()
    table = compare(
        previous,
        current,
        columns=["n_words"],
        previous_rejects={"business": 5, "sport": 5},
        current_rejects={"business": 100, "sport": 6},
    )
    rows = _rows(table)
    business = rows["business", REJECT_RATE]
    assert business["flagged"] and business["reason"] == "reject rate 0.010 -> 0.167"
    assert (business["n_previous"], business["n_current"]) == (505, 600)
    assert business["mean_current"] == pytest.approx(100 / 600)
    assert not rows["sport", REJECT_RATE]["flagged"]
    assert rows["*", REJECT_RATE]["n_current"] == 1106
    assert [r["column"] for r in table.to_pylist()][-2:] == ["n_words", REJECT_RATE]
    without = compare(previous, current, columns=["n_words"], previous_rejects={"sport": 1})
    assert REJECT_RATE not in without["column"].to_pylist()


@pytest.mark.parametrize("shift", [0.4, 3.0])  # 3.0 leaves the lower bins empty
def test_psi_is_the_textbook_sum_over_previous_deciles(shift):
    rng = np.random.default_rng(7)
    before, after = rng.normal(0, 1, 300), rng.normal(shift, 1.2, 200)
    deciles = np.quantile(before, np.linspace(0.1, 0.9, 9))
    edges = np.unique(np.concatenate([[before.min()], deciles, [before.max()]]))

    def bins(v):  # below the minimum, at it, each (edge, next edge], above the maximum
        return np.where(v < edges[0], 0, np.searchsorted(edges, v, side="left") + 1)

    counts = [np.bincount(bins(v), minlength=len(edges) + 2) for v in (before, after)]
    shares = [np.maximum(c, 0.5) / c.sum() for c in counts]  # an empty bin: half a document
    expected = np.sum((shares[1] - shares[0]) * np.log(shares[1] / shares[0]))
    table = compare(
        pa.table({"collection": ["a"] * 300, "x": before}),
        pa.table({"collection": ["a"] * 200, "x": after}),
        columns=["x"],
    )
    assert _rows(table)["a", "x"]["psi"] == pytest.approx(expected, rel=1e-12)
    assert (0 in counts[1][2:-1]) == (shift > 1)  # between the minimum and the maximum


@pytest.mark.parametrize("current", [[7] * 60, [48] * 60])
def test_a_column_the_previous_run_had_constant_still_drifts_below_and_above(current):
    previous = pa.table({"collection": ["a"] * 60, "n": [24] * 57 + [23] * 3})
    moved = pa.table({"collection": ["a"] * 60, "n": current})
    same = pa.table({"collection": ["a"] * 60, "n": [24] * 58 + [23] * 2})
    assert _rows(compare(previous, moved, columns=["n"]))["a", "n"]["flagged"]
    assert not _rows(compare(previous, same, columns=["n"]))["a", "n"]["flagged"]


def test_a_column_of_few_distinct_values_merges_equal_edges():
    previous = pa.table({"collection": ["a"] * 100, "n": [1] * 90 + [2] * 10})
    same = pa.table({"collection": ["a"] * 100, "n": [1] * 88 + [2] * 12})
    moved = pa.table({"collection": ["a"] * 100, "n": [1] * 40 + [2] * 60})
    assert not _rows(compare(previous, same, columns=["n"]))["a", "n"]["flagged"]
    assert _rows(compare(previous, moved, columns=["n"]))["a", "n"]["flagged"]


def test_summary_lists_flagged_rows_most_drifted_first():
    previous, current = _runs(scale=0.5, nulls=0.4)
    flags = summary(compare(previous, current, columns=COLUMNS))
    assert flags and all(f["flagged"] for f in flags)
    severities = [drift._severity(f) for f in flags]
    assert severities == sorted(severities, reverse=True)
    assert {(f["collection"], f["column"]) for f in flags} >= {
        ("business", "n_words"),
        ("business", "flesch_reading_ease"),
    }
    assert summary(compare(*_runs(), columns=COLUMNS)) == []


def test_ninety_thousand_documents_compare_in_well_under_a_second():
    n = 90_000

    def run(seed: int) -> pa.Table:
        rng = np.random.default_rng(seed)
        values = {name: rng.lognormal(3, 0.5, n) for name in drift.DRIFT_COLUMNS}
        return pa.table({"collection": rng.choice(["a", "b", "c", "d", "e"], n), **values})

    previous, current = run(1), run(2)
    timings = []
    for _ in range(2):
        started = time.process_time()
        table = compare(previous, current)
        timings.append(time.process_time() - started)
    assert table.num_rows == 6 * len(drift.DRIFT_COLUMNS)
    assert min(timings) < 1.0, timings
