"""Drift between two runs: how this run's documents differ from the previous run's, per collection.

`compare` judges each numeric column of `documents` in each collection (and '*', all documents) by
three numbers, and the reject rate of each collection by a fourth:

- PSI, the Population Stability Index of the non-null values: bins at the previous run's deciles
  (equal edges merged, outer bins open), sum over bins of (current - previous) * ln(current /
  previous) shares. Flagged above PSI_THRESHOLD = 0.2, the threshold credit scoring and model
  monitoring use for a "significant shift" (below 0.1: none; 0.1 to 0.2: moderate).
- The null share, compared apart because PSI ignores nulls: flagged when it moves by more than
  NULL_SHARE_CHANGE = 0.1 (a tenth of the documents gained or lost a value: a scorer, language
  detector or segmenter changed its mind, not the texts).
- The mean and its relative change: shown to say which way a distribution moved, never judged.
- The reject rate, rejects / (rejects + documents), i.e. the mean of "was rejected" over the
  inputs: flagged when it moves by more than REJECT_RATE_CHANGE = 0.05 (5 points). At MIN_DOCUMENTS
  inputs a single reject moves it by 0.033, so one stray file cannot flag; at a few hundred inputs
  5 points are tens of inputs failing the same way.

Why PSI and not Kolmogorov-Smirnov or the Wasserstein distance: PSI is scale-free (bins are
quantiles, so word counts and ratios share one threshold, where a Wasserstein distance is in the
column's units), it has a standard alerting threshold (KS and Wasserstein have none that carries
over between columns), and it is cheap: one sort per side and column of at most MAX_VALUES values
(an even sample of larger collections, whose chance part of PSI is then about 0.002), then counts.
KS is a test: on 90,000 documents its p-value flags shifts far too small to matter, while PSI
measures the size of the shift.

A threshold says a change matters; it does not say the change is real. Runs that add a few dozen
documents compare small samples, whose PSI is large by chance alone (about (bins - 1) * (1 /
n_previous + 1 / n_current): 0.26 on average for 40 documents against 500, flagging 2 columns in 3
at 0.2). So a row is flagged only when its change is over the threshold and also over the change
that chance exceeds about once in 2,000 rows: for PSI the 0.9995 quantile of its chi-square
approximation (Wilson-Hilferty) with bins - 1 degrees of freedom, times (1 / n_previous + 1 /
n_current); for a share, 3.29 standard errors of the difference of two proportions. An empty bin
counts as half a document: a fixed epsilon such as 1e-4 makes one chance-empty bin of a small
sample weigh 0.69 on its own. With fewer than MIN_DOCUMENTS documents on either side a row is not
judged at all, and its `reason` says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from proseflow.tasks.schema import DRIFT, NUMERIC_COLUMNS
from proseflow.tasks.stats import ALL_COLLECTIONS

PSI_THRESHOLD = 0.2
NULL_SHARE_CHANGE = 0.1
REJECT_RATE_CHANGE = 0.05
MIN_DOCUMENTS = 30
DRIFT_COLUMNS: tuple[str, ...] = tuple(NUMERIC_COLUMNS)
REJECT_RATE = "(reject rate)"
# Standard normal quantile of the noise bounds: two-sided 0.001, one-sided 0.0005.
NOISE_Z = 3.29
EMPTY_BIN = 0.5  # documents an empty bin counts as
# Rows per side and collection that PSI looks at (an even spread of them): past this the part of PSI
# that is chance, about 9 * 2 / MAX_VALUES = 0.002, is far below the threshold, and cost stays flat.
MAX_VALUES = 10_000
DECILES = np.linspace(0.1, 0.9, 9)


def compare(
    previous: pa.Table,
    current: pa.Table,
    columns: Sequence[str] = DRIFT_COLUMNS,
    previous_rejects: dict[str, int] | None = None,
    current_rejects: dict[str, int] | None = None,
) -> pa.Table:
    """DRIFT rows: per collection ('*' last), one per column present on both sides, then
    one reject-rate row when both sides' reject counts are given."""
    names = [c for c in columns if c in previous.column_names and c in current.column_names]
    before, after = _sides(previous, names), _sides(current, names)
    with_rejects = previous_rejects is not None and current_rejects is not None
    rejected = set(previous_rejects or {}) | set(current_rejects or {}) if with_rejects else set()
    rows: list[dict] = []
    none = _Side.of(
        0, np.zeros(len(names), np.int64), np.zeros(len(names)), np.empty((0, len(names)))
    )
    for collection in _ordered(set(before) | set(after) | rejected):
        rows += _column_rows(
            collection, names, before.get(collection, none), after.get(collection, none)
        )
        if with_rejects:
            rows.append(_reject_row(collection, before, after, previous_rejects, current_rejects))
    return pa.Table.from_pylist(rows, schema=DRIFT)


def summary(drift: pa.Table) -> list[dict]:
    """The flagged rows as dicts, most drifted first (by how many times over its threshold)."""
    flagged = [row for row in drift.to_pylist() if row["flagged"]]
    return sorted(flagged, key=lambda row: (-_severity(row), *_collection_key(row["collection"])))


def _severity(row: dict) -> float:
    """How many times over its threshold the row's largest change is."""
    if row["column"] == REJECT_RATE:
        return abs(row["mean_current"] - row["mean_previous"]) / REJECT_RATE_CHANGE
    null_change = abs(row["null_share_current"] - row["null_share_previous"])
    return max((row["psi"] or 0.0) / PSI_THRESHOLD, null_change / NULL_SHARE_CHANGE)


def _collection_key(collection: str) -> tuple[bool, str]:
    return collection == ALL_COLLECTIONS, collection


def _ordered(collections: set[str]) -> list[str]:
    """The collections sorted, then '*' when there are several (with one, '*' would repeat it,
    as in corpus_stats)."""
    named = sorted(collections - {ALL_COLLECTIONS}, key=_collection_key)
    return named + [ALL_COLLECTIONS] if len(named) != 1 else named


@dataclass(frozen=True)
class _Side:
    """One side's documents of one collection, summarised column by column."""

    n: int  # documents
    counts: np.ndarray  # non-null values per column
    means: np.ndarray  # mean of the non-null values per column, NaN without any
    ordered: np.ndarray  # an even sample of at most MAX_VALUES rows, each column sorted, NaN last
    sampled: np.ndarray  # non-null values per column of the sample

    @classmethod
    def of(cls, n: int, counts: np.ndarray, sums: np.ndarray, sample: np.ndarray) -> _Side:
        """A side from its documents' non-null counts and sums and its sample rows."""
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / counts, np.nan)
        ordered = np.sort(sample, axis=0)
        return cls(n, counts, means, ordered, np.count_nonzero(~np.isnan(ordered), axis=0))


def _sides(table: pa.Table, names: list[str]) -> dict[str, _Side]:
    """Per collection and for '*': the summary of its documents' NAMES columns."""
    columns = [pc.cast(table[name], pa.float64()) for name in names]
    codes, collections = _codes(table)
    members = [np.flatnonzero(codes == i) for i in range(len(collections))]
    members.append(np.arange(table.num_rows))  # '*'
    samples = [_even_sample(rows) for rows in members]
    matrix = _matrix(columns, np.concatenate(samples))
    bounds = np.cumsum([0] + [len(rows) for rows in samples])
    totals = _totals(table, names, columns, collections)
    return {
        name: _Side.of(len(rows), *totals[name], matrix[bounds[i] : bounds[i + 1]])
        for i, (name, rows) in enumerate(zip([*collections, ALL_COLLECTIONS], members, strict=True))
    }


def _even_sample(rows: np.ndarray) -> np.ndarray:
    """At most MAX_VALUES of ROWS, evenly spaced."""
    return rows[:: max(1, math.ceil(len(rows) / MAX_VALUES))]


def _codes(table: pa.Table) -> tuple[np.ndarray, list[str]]:
    """Each row's collection as an index into the list of collections (none without rows)."""
    if not table.num_rows or "collection" not in table.column_names:
        return np.zeros(table.num_rows, np.intp), []
    encoded = pc.dictionary_encode(_collections(table).combine_chunks())
    return encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary.to_pylist()


def _collections(table: pa.Table) -> pa.ChunkedArray:
    return pc.fill_null(table["collection"], "")


def _matrix(columns: list[pa.ChunkedArray], rows: np.ndarray) -> np.ndarray:
    """The ROWS of the float COLUMNS as a matrix, NaN where a value is null or not finite."""
    matrix = np.empty((len(rows), len(columns)), order="F")
    for j, column in enumerate(columns):
        matrix[:, j] = column.to_numpy(zero_copy_only=False)[rows]
    matrix[np.isinf(matrix)] = np.nan
    return matrix


def _totals(
    table: pa.Table, names: list[str], columns: list[pa.ChunkedArray], collections: list[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per collection and for '*': non-null values and their sum, per column."""
    every = [(c.length() - c.null_count, pc.sum(c).as_py()) for c in columns]
    totals = {ALL_COLLECTIONS: _arrays(every)}
    if collections:
        values = pa.table([_collections(table), *columns], names=["collection", *names])
        grouped = values.group_by("collection", use_threads=False)
        result = grouped.aggregate([(c, f) for c in names for f in ("count", "sum")])
        for row in result.to_pylist():
            totals[row["collection"]] = _arrays(
                [(row[f"{c}_count"], row[f"{c}_sum"]) for c in names]
            )
    return totals


def _arrays(pairs: list[tuple[int, float | None]]) -> tuple[np.ndarray, np.ndarray]:
    """(counts, sums) arrays from (count, sum or None) pairs."""
    counts = np.array([count for count, _ in pairs], dtype=np.int64)
    return counts, np.array([total or 0.0 for _, total in pairs], dtype=np.float64)


def _column_rows(collection: str, names: list[str], before: _Side, after: _Side) -> list[dict]:
    """One row per column of one collection."""
    psi, bins = _psi(before, after)
    rows = []
    for j, name in enumerate(names):
        row = {
            "collection": collection,
            "column": name,
            "n_previous": before.n,
            "n_current": after.n,
            "psi": _number(psi[j]),
            "mean_previous": _number(before.means[j]),
            "mean_current": _number(after.means[j]),
            "mean_change": _relative(before.means[j], after.means[j]),
            "null_share_previous": _null_share(before, j),
            "null_share_current": _null_share(after, j),
        }
        sampled = (int(before.sampled[j]), int(after.sampled[j]))
        row["flagged"], row["reason"] = _judge(row, sampled, int(bins[j]))
        rows.append(row)
    return rows


def _null_share(side: _Side, j: int) -> float | None:
    return 1 - int(side.counts[j]) / side.n if side.n else None


def _deciles(ordered: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(9 x columns) deciles of each sorted column's first COUNTS values, linear interpolation."""
    if not len(ordered):
        return np.full((len(DECILES), ordered.shape[1]), np.nan)
    last = np.maximum(counts - 1, 0)
    position = DECILES[:, None] * last
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, last)
    columns = np.arange(ordered.shape[1])
    below, above = ordered[low, columns], ordered[high, columns]
    return below + (position - low) * (above - below)


def _psi(before: _Side, after: _Side) -> tuple[np.ndarray, np.ndarray]:
    """Per column: PSI of AFTER's values in bins at BEFORE's deciles, and the number of bins."""
    edges = _deciles(before.ordered, before.sampled)
    width = len(before.counts)
    psi, bins = np.full(width, np.nan), np.zeros(width, np.intp)
    for j in np.flatnonzero((before.sampled > 0) & (after.sampled > 0)):
        values = before.ordered[: before.sampled[j], j]
        # the previous run's minimum and maximum are edges too: a column it had (nearly) constant
        # still tells values below or above it apart
        column_edges = np.unique(np.concatenate([[values[0]], edges[:, j], [values[-1]]]))
        shares = [
            _bin_shares(side.ordered[: side.sampled[j], j], column_edges)
            for side in (before, after)
        ]
        psi[j] = np.sum((shares[1] - shares[0]) * np.log(shares[1] / shares[0]))
        bins[j] = len(column_edges) + 2
    return psi, bins


def _bin_shares(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of the sorted values in each bin: below e1, [e1, e1], (e1, e2], ..., (ek-1, ek],
    above ek (e1 and ek: the previous run's minimum and maximum)."""
    at = np.concatenate(
        [
            [0],
            np.searchsorted(ordered, edges[:1], side="left"),
            np.searchsorted(ordered, edges, side="right"),
            [len(ordered)],
        ]
    )
    counts = at[1:] - at[:-1]
    return np.maximum(counts, EMPTY_BIN) / len(ordered)


def _judge(row: dict, counts: tuple[int, int], bins: int) -> tuple[bool, str | None]:
    """Whether a column row is flagged, and why (or why it is not judged)."""
    unjudged = _too_few(row["n_previous"], row["n_current"], "documents")
    if unjudged:
        return False, unjudged
    psi_flagged, psi_note = _psi_verdict(row["psi"], counts, bins)
    nulls = (row["null_share_previous"], row["null_share_current"])
    moved = _share_moved(*nulls, row["n_previous"], row["n_current"], NULL_SHARE_CHANGE)
    reasons = [psi_note] if psi_flagged else []
    reasons += [f"null share {nulls[0]:.2f} -> {nulls[1]:.2f}"] if moved else []
    return (True, "; ".join(reasons)) if reasons else (False, psi_note)


def _psi_verdict(psi: float | None, counts: tuple[int, int], bins: int) -> tuple[bool, str | None]:
    """Whether PSI flags, and why; or a note when it is not judged or within noise."""
    if counts == (0, 0):
        return False, "no values on either side"
    unjudged = _too_few(*counts, "values")
    if unjudged:
        return False, "PSI " + unjudged
    if psi <= PSI_THRESHOLD:
        return False, None
    noise = _psi_noise(bins, *counts)
    if psi <= noise:
        return (
            False,
            f"PSI {psi:.2f} within sampling noise ({noise:.2f} at {counts[0]} vs {counts[1]})",
        )
    return True, f"PSI {psi:.2f} > {PSI_THRESHOLD}"


def _too_few(n_previous: int, n_current: int, what: str) -> str | None:
    """'not judged: ...' when either side has fewer than MIN_DOCUMENTS, else None."""
    for n, side in ((n_previous, "the previous run"), (n_current, "this run")):
        if n == 0:
            return f"not judged: no {what} in {side}"
        if n < MIN_DOCUMENTS:
            return f"not judged: {n} {what} in {side} (fewer than {MIN_DOCUMENTS})"
    return None


def _psi_noise(bins: int, n_previous: int, n_current: int) -> float:
    """The PSI that chance alone exceeds about once in 2,000 (chi-square, Wilson-Hilferty)."""
    k = bins - 1
    chi_square = k * (1 - 2 / (9 * k) + NOISE_Z * math.sqrt(2 / (9 * k))) ** 3
    return chi_square * (1 / n_previous + 1 / n_current)


def _share_moved(before: float, after: float, n_before: int, n_after: int, change: float) -> bool:
    """Whether a share moved by more than CHANGE and more than chance would move it."""
    pooled = (before * n_before + after * n_after) / (n_before + n_after)
    noise = NOISE_Z * math.sqrt(pooled * (1 - pooled) * (1 / n_before + 1 / n_after))
    return abs(after - before) > max(change, noise)


def _reject_row(
    collection: str,
    before: dict[str, _Side],
    after: dict[str, _Side],
    previous_rejects: dict[str, int],
    current_rejects: dict[str, int],
) -> dict:
    """The '(reject rate)' row of a collection: rejects / (rejects + documents) on each side."""
    sides = []
    for groups, rejects in ((before, previous_rejects), (after, current_rejects)):
        n_rejects = (
            sum(rejects.values()) if collection == ALL_COLLECTIONS else rejects.get(collection, 0)
        )
        side = groups.get(collection)
        sides.append((n_rejects, n_rejects + (side.n if side else 0)))
    (rejects_before, n_before), (rejects_after, n_after) = sides
    rate_before = rejects_before / n_before if n_before else None
    rate_after = rejects_after / n_after if n_after else None
    flagged, reason = False, _too_few(n_before, n_after, "inputs")
    if reason is None and _share_moved(
        rate_before, rate_after, n_before, n_after, REJECT_RATE_CHANGE
    ):
        flagged, reason = True, f"reject rate {rate_before:.3f} -> {rate_after:.3f}"
    return {
        **dict.fromkeys(DRIFT.names),
        "collection": collection,
        "column": REJECT_RATE,
        "n_previous": n_before,
        "n_current": n_after,
        "mean_previous": rate_before,
        "mean_current": rate_after,
        "mean_change": _relative(rate_before, rate_after),
        "flagged": flagged,
        "reason": reason,
    }


def _number(value: float) -> float | None:
    """A float, None for NaN."""
    return None if value is None or math.isnan(value) else float(value)


def _relative(before: float | None, after: float | None) -> float | None:
    """(after - before) / |before|; None when either is missing or BEFORE is 0."""
    before, after = _number(before), _number(after)
    if before is None or after is None or before == 0:
        return None
    return (after - before) / abs(before)
