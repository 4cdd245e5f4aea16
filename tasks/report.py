"""The run report: one self-contained HTML page, and a few PNG charts for a Prefect artifact.

The page needs no script and loads nothing: CSS and SVG charts are inline, and matplotlib draws the
charts with text left as SVG text (no font is embedded or fetched; browsers use DejaVu Sans or
their sans-serif). The same inputs give the same bytes: each chart's SVG ids are salted with the
chart's name and prefixed by it, and no date is written but the run's own.

Six columns of `documents` are charted, per collection and for '*' (all documents):
CHART_COLUMNS, three readability scores, two sizes and the vocabulary's diversity. Each chart is one
figure: a histogram of all documents above one box per collection (box: quartiles; whiskers: 5th
and 95th percentiles; line: median). `corpus_stats/` holds the quantiles of every numeric column.

Charts are matplotlib's rather than Altair's through vl-convert: about 3 times faster per chart at
9,000 documents and 7 times at 90,000 (Vega-Lite takes every value inside its JSON spec), with no
JavaScript engine to start, and a 10 MB wheel where vl-convert's is 34 MB. matplotlib is imported
inside the functions that draw, so a run that renders no report never loads it.
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from proseflow.tasks.drift import (
    MIN_DOCUMENTS,
    NULL_SHARE_CHANGE,
    PSI_THRESHOLD,
    REJECT_RATE,
    REJECT_RATE_CHANGE,
)
from proseflow.tasks.drift import summary as drift_summary
from proseflow.tasks.stats import ALL_COLLECTIONS

CHART_COLUMNS = (
    "flesch_reading_ease",
    "flesch_kincaid_grade",
    "gunning_fog",
    "n_words",
    "n_sentences",
    "type_token_ratio",
)
PNG_COLUMNS = ("flesch_reading_ease", "n_words")
TITLES = {
    "flesch_reading_ease": "Flesch reading ease (higher: easier)",
    "flesch_kincaid_grade": "Flesch-Kincaid grade level",
    "gunning_fog": "Gunning fog index",
    "n_words": "Words per document",
    "n_sentences": "Sentences per document",
    "type_token_ratio": "Type-token ratio (distinct words / words)",
    "stage_seconds": "Seconds per stage",
}
WIDTH, LEFT = 7.5, 2.1  # inches: the figure, and the margin for collection labels
MAX_BOXES = 20  # collections drawn as boxes: the largest ones, '*' always
BINS = 40
LABEL_CHARS = 28  # a longer collection name is cut in chart labels (tables show it whole)
TOP_LANGUAGES = 5
COLOR, ALL_COLOR = "#4c72b0", "#8c8c8c"
RC = {
    "svg.fonttype": "none",
    "text.parse_math": False,  # a '$' in a collection name is text, not TeX
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
# Ids and references to them, inside tags only: text between tags is left as drawn.
_TAG = re.compile(r"<[^>]+>")
_ID_REFERENCE = re.compile(r'(\sid="|url\(#|href="#)')
SVG_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}  # no date: same bytes
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem auto;max-width:62rem;
padding:0 1rem;color:#1a1a1a}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:13px}th,td{padding:.2rem .6rem;text-align:right;
border-bottom:1px solid #eee}th:first-child,td:first-child{text-align:left}thead th{border-bottom:2px solid #ccc}
tr.flagged td{background:#fff1f0}.note{color:#555}.flags li{margin:.2rem 0}.flags{color:#a8071a}
.ok{color:#237804}figure.chart{margin:1rem 0}figure.chart svg{max-width:100%;height:auto}
figcaption{font-weight:600}dl{display:grid;grid-template-columns:max-content auto;
gap:.1rem 1rem}dt{color:#555}dd{margin:0}pre{background:#f6f6f6;padding:.5rem;overflow:auto}
"""


def render(
    run: dict,
    documents: pa.Table,
    rejects: pa.Table,
    stage_seconds: dict[str, float],
    drift: pa.Table | None,
    near_duplicates: dict | None,
    compared_with: str | None,
) -> str:
    """A complete, self-contained HTML page (one file, inline SVG charts, inline CSS, no script
    needed, no external URL anywhere) reporting a run."""
    collections = _collections(documents, rejects)
    title = f"proseflow run {run.get('flow_run_name') or run.get('run_id') or ''}".strip()
    body = [
        f"<h1>{_e(title)}</h1>",
        _run_facts(run),
        _drift_flags(drift, compared_with),
        _overview(documents, rejects, near_duplicates, collections),
        _distributions(documents, collections),
        _rejects_table(rejects, collections),
        _cleaning_table(documents, run, collections),
        _stages(stage_seconds),
        _drift_table(drift),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )


def import_charts() -> None:
    """Import the matplotlib modules the charts draw with: about a second in a fresh process.

    The flow process calls this in a thread while its batches run elsewhere or while it waits on
    the Prefect API, so that writing the report does not wait on it. Python's import lock makes
    the report, if it comes first, wait for these imports rather than run them twice.
    """
    import matplotlib.backends.backend_agg  # noqa: F401  (the PNG charts of the artifacts)
    import matplotlib.backends.backend_svg  # noqa: F401  (the report's charts)
    import matplotlib.figure  # noqa: F401
    import matplotlib.ticker  # noqa: F401


def charts_png(documents: pa.Table) -> dict[str, bytes]:
    """A few key charts (flesch_reading_ease and n_words per collection) as small PNGs, for a
    Prefect markdown artifact (embedded as data: URIs by the caller)."""
    groups = _value_groups(documents, _collections(documents, None))
    charts = {}
    for column in PNG_COLUMNS:
        figure = (
            _metric_figure(column, groups(column)) if column in documents.column_names else None
        )
        if figure is not None:
            charts[column] = _png(figure)
    return charts


# The page's sections.


def _run_facts(run: dict) -> str:
    """The run's identity, status, times and counts; its parameters and versions folded."""
    facts = [
        ("run_id", run.get("run_id")),
        ("status", run.get("status")),
        ("started", _when(run.get("started_at"))),
        ("finished", _when(run.get("finished_at"))),
        ("source", ", ".join(map(str, _json(run.get("source"), [])))),
        ("inputs", _count(run.get("n_inputs"))),
        ("documents", _count(run.get("n_documents"))),
        ("rejects", _count(run.get("n_rejects"))),
        ("skipped (already committed)", _count(run.get("n_skipped"))),
    ]
    if run.get("error"):
        facts.append(("error", run["error"]))
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts if v not in (None, ""))
    folded = "".join(
        f"<details><summary>{_e(key)}</summary><pre>{_e(_pretty(run[key]))}</pre></details>"
        for key in ("parameters", "versions")
        if run.get(key)
    )
    return f"<dl>{items}</dl>{folded}"


def _drift_flags(drift: pa.Table | None, compared_with: str | None) -> str:
    """What was compared, and the flagged changes most drifted first (or that none was)."""
    head = '<h2 id="drift">Drift</h2>'
    if drift is None:
        why = (
            f"this run has no new documents to compare with run {compared_with}"
            if compared_with
            else "there is no previous completed run over the same sources"
        )
        return f'{head}<p class="note">Nothing compared: {_e(why)}.</p>'
    against = f"Compared with run {compared_with}" if compared_with else "Compared"
    flags = drift_summary(drift)
    judged = sum(1 for r in drift.to_pylist() if not (r["reason"] or "").startswith("not judged"))
    counts = f"{len(drift)} rows, {judged} judged"
    if not flags:
        return f'{head}<p>{_e(against)} ({counts}): <span class="ok">no drift flagged</span>.</p>'
    items = "".join(f"<li>{_flag_text(flag)}</li>" for flag in flags)
    return (
        f"{head}<p>{_e(against)} ({counts}): {len(flags)} flagged, most drifted first.</p>"
        f'<ul class="flags">{items}</ul>'
    )


def _flag_text(row: dict) -> str:
    """'collection · column: reason (mean a → b, +x%)', escaped."""
    text = f"<b>{_name(row['collection'])}</b> · {_e(row['column'])}: {_e(row['reason'])}"
    means = (row["mean_previous"], row["mean_current"])
    if row["column"] != REJECT_RATE and None not in means:
        change = "" if row["mean_change"] is None else f", {row['mean_change']:+.0%}"
        text += f" (mean {_num(means[0])} → {_num(means[1])}{change})"
    return text


def _overview(
    documents: pa.Table, rejects: pa.Table, near_duplicates: dict | None, collections: list[str]
) -> str:
    """Per collection and '*': documents, rejects, near-duplicates and languages."""
    head = '<h2 id="collections">Collections</h2>'
    if not documents.num_rows:
        head += '<p class="note">This run committed no documents.</p>'
    n_docs, n_rejects = _counts(documents, "collection"), _counts(rejects, "collection")
    languages = _languages(documents)
    columns = ["collection", "documents", "rejects", "languages"]
    if near_duplicates is not None:
        columns[3:3] = ["in near-duplicate clusters", "near-duplicates"]
        near_duplicates = {**near_duplicates, ALL_COLLECTIONS: _summed(near_duplicates)}
    rows = []
    for collection in [*collections, ALL_COLLECTIONS]:
        row = [_name(collection), _count(n_docs.get(collection, 0))]
        row.append(_count(n_rejects.get(collection, 0)))
        if near_duplicates is not None:
            entry = near_duplicates.get(collection, {})
            row += [_count(entry.get("in_clusters", 0)), _count(entry.get("near_duplicates", 0))]
        row.append(_e(languages.get(collection, "")))
        rows.append(row)
    return head + _table(columns, rows)


def _distributions(documents: pa.Table, collections: list[str]) -> str:
    """One chart per charted column, and a table of medians."""
    head = '<h2 id="distributions">Distributions</h2>'
    present = [c for c in CHART_COLUMNS if c in documents.column_names]
    if not documents.num_rows or not present:
        return head + '<p class="note">No documents in this run: nothing to chart.</p>'
    by_column = dict(zip(present, map(_value_groups(documents, collections), present), strict=True))
    note = (
        f'<p class="note">Charted: {", ".join(present)}. Histogram: all documents, the range cut '
        "at the 0.5th and 99.5th percentiles (values beyond are counted in the end bins). "
        "Boxes: quartiles and median, whiskers at the 5th and 95th percentiles"
    )
    if len(collections) > MAX_BOXES:
        note += f"; the {MAX_BOXES} largest of {len(collections)} collections"
    parts = [head, note + ".</p>"]
    for column, groups in by_column.items():
        parts.append(_chart(column, _metric_figure(column, groups), _chart_label(column, groups)))
    return "\n".join(parts) + _medians(by_column)


def _medians(by_column: dict[str, list[tuple[str, np.ndarray]]]) -> str:
    """Per collection and '*': the median of each charted column."""
    medians: dict[str, list[str]] = {}
    for groups in by_column.values():
        for name, values in groups:
            medians.setdefault(name, []).append(_num(np.median(values)) if len(values) else "")
    ordered = sorted(medians, key=lambda c: (c == ALL_COLLECTIONS, c))
    rows = [[_name(c), *medians[c]] for c in ordered]
    return "<h3>Medians</h3>" + _table(["collection", *by_column], rows)


def _rejects_table(rejects: pa.Table, collections: list[str]) -> str:
    """Rejects per collection and reason."""
    head = '<h2 id="rejects">Rejects by reason</h2>'
    if not rejects.num_rows:
        return head + '<p class="note">No rejects.</p>'
    return head + _crosstab(rejects, "reason", collections, rows_are_collections=True)


def _cleaning_table(documents: pa.Table, run: dict, collections: list[str]) -> str:
    """Documents changed by each cleaning step, per collection (or the run's totals)."""
    head = '<h2 id="cleaning">Cleaning steps</h2><p class="note">Documents each step changed.</p>'
    if "clean_ops" in documents.column_names and documents.num_rows:
        ops = documents.select(["collection", "clean_ops"])
        parents = pc.list_parent_indices(ops["clean_ops"])
        flat = pa.table(
            {
                "collection": pc.take(_collection_column(ops), parents),
                "op": pc.list_flatten(ops["clean_ops"]),
            }
        )
        if flat.num_rows:
            return head + _crosstab(flat, "op", collections, rows_are_collections=False)
    totals = _json(run.get("clean_ops"), {})
    if not totals:
        return head + '<p class="note">No cleaning step changed a document.</p>'
    rows = [[_e(op), _count(n)] for op, n in sorted(totals.items())]
    return head + _table(["step", _label(ALL_COLLECTIONS)], rows)


def _stages(stage_seconds: dict[str, float]) -> str:
    """Seconds per stage: a bar chart and the numbers."""
    head = '<h2 id="stages">Seconds per stage</h2>'
    if not stage_seconds:
        return head + '<p class="note">No stage timings.</p>'
    label = f"Bar chart of seconds spent in each of {len(stage_seconds)} stages"
    chart = _chart("stage_seconds", _stage_figure(stage_seconds), label)
    rows = [[_e(stage), f"{seconds:,.2f}"] for stage, seconds in stage_seconds.items()]
    rows.append(["total", f"{sum(stage_seconds.values()):,.2f}"])
    return head + chart + _table(["stage", "seconds"], rows)


def _drift_table(drift: pa.Table | None) -> str:
    """Every drift row, flagged ones highlighted, folded unless something is flagged."""
    if drift is None or not drift.num_rows:
        return ""
    rows = drift.to_pylist()
    opened = " open" if any(r["flagged"] for r in rows) else ""
    columns = ["collection", "column", "n prev", "n now", "PSI", "mean prev", "mean now"]
    columns += ["change", "nulls prev", "nulls now", "flagged", "reason"]
    cells = [
        [
            _name(r["collection"]),
            _e(r["column"]),
            _count(r["n_previous"]),
            _count(r["n_current"]),
            _num(r["psi"], 3),
            _num(r["mean_previous"]),
            _num(r["mean_current"]),
            "" if r["mean_change"] is None else f"{r['mean_change']:+.1%}",
            _num(r["null_share_previous"], 2),
            _num(r["null_share_current"], 2),
            "yes" if r["flagged"] else "",
            _e(r["reason"] or ""),
        ]
        for r in rows
    ]
    classes = ["flagged" if r["flagged"] else "" for r in rows]
    rule = (
        f"Flagged when PSI &gt; {PSI_THRESHOLD}, a null share moves by more than "
        f"{NULL_SHARE_CHANGE}, or a reject rate by more than {REJECT_RATE_CHANGE}, and the change "
        f"is beyond sampling noise; not judged below {MIN_DOCUMENTS} documents on either side."
    )
    return (
        f'<h2 id="drift-table">Drift table</h2><p class="note">{rule}</p>'
        f"<details{opened}><summary>{len(rows)} rows</summary>"
        + _table(columns, cells, classes)
        + "</details>"
    )


# Counting.


def _collections(documents: pa.Table, rejects: pa.Table | None) -> list[str]:
    """The collections of the documents and rejects, sorted ('*' excluded)."""
    names: set[str] = set()
    for table in (documents, rejects):
        if table is not None and "collection" in table.column_names and table.num_rows:
            names.update(pc.unique(_collection_column(table)).to_pylist())
    return sorted(names - {ALL_COLLECTIONS})


def _collection_column(table: pa.Table) -> pa.ChunkedArray:
    return pc.fill_null(table["collection"], "")


def _counts(table: pa.Table, column: str) -> dict[str, int]:
    """Rows per value of COLUMN, and '*' for all rows."""
    counts = {ALL_COLLECTIONS: table.num_rows}
    if table.num_rows and column in table.column_names:
        values = pc.value_counts(pc.fill_null(table[column], ""))
        counts.update(zip(values.field(0).to_pylist(), values.field(1).to_pylist(), strict=True))
    return counts


def _pair_counts(table: pa.Table, column: str) -> dict[tuple[str, str], int]:
    """Rows per (collection, COLUMN value), and per ('*', value)."""
    pairs = pa.table({"c": _collection_column(table), "v": pc.fill_null(table[column], "")})
    counted = pairs.group_by(["c", "v"]).aggregate([([], "count_all")]).to_pylist()
    result: dict[tuple[str, str], int] = {}
    for row in counted:
        result[row["c"], row["v"]] = row["count_all"]
        result[ALL_COLLECTIONS, row["v"]] = result.get((ALL_COLLECTIONS, row["v"]), 0)
        result[ALL_COLLECTIONS, row["v"]] += row["count_all"]
    return result


def _crosstab(
    table: pa.Table, column: str, collections: list[str], rows_are_collections: bool
) -> str:
    """A table of rows per collection (and '*') and value of COLUMN."""
    counts = _pair_counts(table, column)
    values = sorted({v for _, v in counts})
    everywhere = [*collections, ALL_COLLECTIONS]
    if rows_are_collections:
        rows = [[_name(c)] + [_count(counts.get((c, v), 0)) for v in values] for c in everywhere]
        return _table(["collection", *values], rows)
    rows = [[_e(v)] + [_count(counts.get((c, v), 0)) for c in everywhere] for v in values]
    return _table([column, *map(_label, everywhere)], rows)


def _languages(documents: pa.Table) -> dict[str, str]:
    """Per collection and '*': 'en 480, es 20' for its most frequent languages."""
    if "language" not in documents.column_names or not documents.num_rows:
        return {}
    by_collection: dict[str, list[tuple[int, str]]] = {}
    for (collection, language), n in _pair_counts(documents, "language").items():
        by_collection.setdefault(collection, []).append((-n, language or "?"))
    result = {}
    for collection, pairs in by_collection.items():
        top = sorted(pairs)
        text = ", ".join(f"{language} {-n:,}" for n, language in top[:TOP_LANGUAGES])
        more = len(top) - TOP_LANGUAGES
        result[collection] = text + (f" and {more} more" if more > 0 else "")
    return result


def _summed(near_duplicates: dict) -> dict[str, int]:
    """The '*' entry of near-duplicate counts: the sum over collections."""
    total: dict[str, int] = {}
    for collection, entry in near_duplicates.items():
        if collection != ALL_COLLECTIONS:
            for key, n in entry.items():
                total[key] = total.get(key, 0) + n
    return near_duplicates.get(ALL_COLLECTIONS, total)


def _value_groups(documents: pa.Table, collections: list[str]):
    """A function: column -> [('*', values), (collection, values), ...], finite values only."""
    names = pa.array(collections, pa.string())
    codes = (
        pc.index_in(_collection_column(documents), value_set=names).to_numpy(zero_copy_only=False)
        if "collection" in documents.column_names
        else np.zeros(documents.num_rows)
    )
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(collections) + 1))

    def groups(column: str) -> list[tuple[str, np.ndarray]]:
        values = pc.cast(documents[column], pa.float64()).to_numpy(zero_copy_only=False)
        grouped = values[order]
        parts = [(c, grouped[bounds[i] : bounds[i + 1]]) for i, c in enumerate(collections)]
        return [(name, v[np.isfinite(v)]) for name, v in [(ALL_COLLECTIONS, values), *parts]]

    return groups


# Charts.


def _metric_figure(column: str, groups: list[tuple[str, np.ndarray]]):
    """A histogram of all documents' values above one box per collection; None without values."""
    everything = groups[0][1]
    if not len(everything):
        return None
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    boxes = _largest([(name, values) for name, values in groups[1:] if len(values)])
    boxes.insert(0, groups[0])
    low, high = np.percentile(everything, [0.5, 99.5])
    if low == high:
        low, high = low - 0.5, high + 0.5
    with _rc(column):
        height = 1.9 + 0.2 * len(boxes)
        figure = Figure(figsize=(WIDTH, height))
        histogram, box = figure.subplots(
            2, 1, sharex=True, height_ratios=[1.6, 0.3 + 0.2 * len(boxes)]
        )
        _margins(figure, height, hspace=0.35)
        counts, edges = np.histogram(np.clip(everything, low, high), bins=BINS, range=(low, high))
        histogram.stairs(counts, edges, fill=True, color=COLOR, alpha=0.85)
        title = f"{TITLES[column]}: all documents ({len(everything):,} values)"
        histogram.set_title(title, loc="left")
        histogram.set_ylabel("documents")
        histogram.yaxis.set_major_locator(MaxNLocator(3))
        histogram.tick_params(axis="x", bottom=False)
        box.xaxis.set_major_locator(MaxNLocator(6))
        _boxes(box, boxes)
        box.set_xlim(low, high)
        box.set_xlabel(column)
    return figure


def _largest(groups: list[tuple[str, np.ndarray]]) -> list[tuple[str, np.ndarray]]:
    """The MAX_BOXES groups with the most values, in name order."""
    largest = sorted(groups, key=lambda group: -len(group[1]))[:MAX_BOXES]
    return sorted(largest, key=lambda group: group[0])


def _boxes(axes, boxes: list[tuple[str, np.ndarray]]) -> None:
    """One horizontal box per group, the first ('*') on top."""
    stats = []
    for name, values in boxes:
        p5, q1, median, q3, p95 = np.percentile(values, [5, 25, 50, 75, 95])
        label = _short(name) + f" ({len(values):,})"
        stats.append(
            {"label": label, "whislo": p5, "q1": q1, "med": median, "q3": q3, "whishi": p95}
        )
    drawn = axes.bxp(
        stats,
        orientation="horizontal",
        showfliers=False,
        widths=0.6,
        patch_artist=True,
        medianprops={"color": "black"},
    )
    for i, patch in enumerate(drawn["boxes"]):
        patch.set_facecolor(ALL_COLOR if i == 0 else COLOR)
        patch.set_alpha(0.6)
    axes.invert_yaxis()


def _stage_figure(stage_seconds: dict[str, float]):
    """Horizontal bars of seconds per stage, in the stages' order."""
    from matplotlib.figure import Figure

    stages = list(stage_seconds)
    with _rc("stage_seconds"):
        height = 0.6 + 0.22 * len(stages)
        figure = Figure(figsize=(WIDTH, height))
        axes = figure.subplots()
        _margins(figure, height)
        axes.barh(range(len(stages)), list(stage_seconds.values()), color=COLOR)
        axes.set_yticks(range(len(stages)), [_short(s) for s in stages])
        axes.invert_yaxis()
        axes.set_xlabel("seconds")
    return figure


def _margins(figure, height: float, hspace: float = 0.0) -> None:
    """Fixed margins in inches (a layout engine would measure every label: slow)."""
    figure.subplots_adjust(
        left=LEFT / WIDTH,
        right=1 - 0.15 / WIDTH,
        top=1 - 0.25 / height,
        bottom=0.45 / height,
        hspace=hspace,
    )


def _rc(name: str):
    """matplotlib settings of one chart: its SVG ids salted with its name."""
    import matplotlib

    return matplotlib.rc_context({**RC, "svg.hashsalt": f"proseflow-{name}"})


def _chart(name: str, figure, label: str) -> str:
    """A figure as an inline SVG in a <figure class="chart">, titled and labelled."""
    title = TITLES.get(name, name)
    if figure is None:
        return f'<p class="note">{_e(title)}: no values.</p>'
    with _rc(name):
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata=SVG_METADATA)
    svg = _inline_svg(buffer.getvalue(), name)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{_e(label)}" ', 1).replace(
        ">", f"><title>{_e(title)}</title>", 1
    )
    return (
        f'<figure class="chart" data-chart="{_e(name)}">'
        f"<figcaption>{_e(title)}</figcaption>{svg}</figure>"
    )


def _inline_svg(document: str, prefix: str) -> str:
    """matplotlib's SVG document as an element for HTML: no XML header, DOCTYPE or namespace
    URLs (the HTML parser knows SVG), every id prefixed so that charts cannot share one."""
    svg = document[document.index("<svg") :]
    svg = re.sub(r' xmlns(:xlink)?="[^"]*"', "", svg, count=2)
    return _TAG.sub(lambda tag: _ID_REFERENCE.sub(rf"\1{prefix}-", tag.group(0)), svg).strip()


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72, metadata={"Software": None})
    return buffer.getvalue()


def _chart_label(column: str, groups: list[tuple[str, np.ndarray]]) -> str:
    boxes = min(MAX_BOXES, sum(1 for _, values in groups[1:] if len(values)))
    return (
        f"{column}: histogram of {len(groups[0][1]):,} documents and box plots for "
        f"{boxes} collections and all documents"
    )


# Text.


def _table(columns: Sequence[str], rows: Iterable[Sequence[str]], classes=None) -> str:
    """An HTML table; COLUMNS are escaped here, cells must be escaped already."""
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        css = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _label(collection: str) -> str:
    """A collection as plain text: '* (all)' for '*', '(top level)' for ''."""
    if collection == ALL_COLLECTIONS:
        return "* (all)"
    return collection or "(top level)"


def _name(collection: str) -> str:
    """A collection for HTML: escaped, the special ones in italics."""
    if collection in (ALL_COLLECTIONS, ""):
        return f"<em>{_e(_label(collection))}</em>"
    return _e(collection)


def _short(collection: str) -> str:
    """A collection for a chart label: cut at LABEL_CHARS."""
    label = _label(collection)
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _count(n) -> str:
    return "" if n is None else f"{int(n):,}"


def _num(value, digits: int | None = None) -> str:
    """A number for a table: DIGITS decimals, or 3 significant digits and thousands separators."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if digits is not None:
        return f"{value:,.{digits}f}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _when(value) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return None if value is None else str(value)


def _json(text, default):
    """The value of a JSON text (an object or list already decoded passes through)."""
    if not isinstance(text, str):
        return default if text is None else text
    try:
        return json.loads(text)
    except ValueError:
        return default


def _pretty(text) -> str:
    value = _json(text, text)
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
