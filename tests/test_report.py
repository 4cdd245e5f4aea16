"""Tests for tasks/report.py: the self-contained HTML page of a run and its PNG charts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from proseflow.tasks import schema
from proseflow.tasks.drift import compare
from proseflow.tasks.report import CHART_COLUMNS, PNG_COLUMNS, charts_png, render

REPO = Path(__file__).resolve().parent.parent
STAGES = {"discover": 0.5, "ingest": 10.25, "clean": 6.0, "readability": 30.0, "commit": 1.5}
HOSTILE = '</td><script>alert("x")</script><!-- --> $\\frac{1}{0}$ & <b>'
CHART_NAMES = {*CHART_COLUMNS, "stage_seconds"}
CHART = re.compile(r'<figure class="chart" data-chart="([^"]*)">(.*?)</figure>', re.S)


def _documents(collections: dict[str, int], seed: int = 1, scale: float = 1.0) -> pa.Table:
    """Documents with the columns the page uses, N per collection, BBC-like values."""
    rng = np.random.default_rng(seed)
    names = [c for c, n in collections.items() for _ in range(n)]
    n = len(names)
    words = np.round(rng.lognormal(5.9, 0.45, n) * scale).astype(np.int64)
    ops = [["normalize_unicode"] if i % 3 else ["strip_markup", "dehyphenate"] for i in range(n)]
    columns = {
        "collection": pa.array(names, pa.string()),
        "language": pa.array(["en" if i % 10 else "es" for i in range(n)], pa.string()),
        "clean_ops": pa.array(ops, pa.list_(pa.string())),
        "n_words": words,
        "n_sentences": np.maximum(1, words // 20),
        "type_token_ratio": rng.beta(8, 8, n),
    }
    for name in ("flesch_reading_ease", "flesch_kincaid_grade", "gunning_fog"):
        columns[name] = rng.normal(50, 10, n)
    return pa.table(columns)


def _rejects(rows: list[tuple[str, str]]) -> pa.Table:
    collections, reasons = zip(*rows, strict=True) if rows else ((), ())
    return pa.table(
        {"collection": pa.array(collections, pa.string()), "reason": pa.array(reasons, pa.string())}
    )


RUN = {
    "run_id": "run-2",
    "flow_run_name": "brave-otter",
    "status": "completed",
    "started_at": datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
    "finished_at": datetime(2026, 11, 30, 9, 1, 5, tzinfo=UTC),
    "source": json.dumps(["/data/bbc"]),
    "parameters": json.dumps({"language": None}),
    "n_inputs": 103,
    "n_documents": 100,
    "n_rejects": 3,
    "n_skipped": 0,
    "clean_ops": json.dumps({"normalize_unicode": 66}),
    "versions": json.dumps({"python": "3.11.7"}),
}


def _page(documents=None, rejects=None, drift=None, near_duplicates=None, compared_with=None):
    documents = _documents({"business": 60, "sport": 40}) if documents is None else documents
    rejects = (
        _rejects([("business", "empty"), ("sport", "binary"), ("sport", "empty")])
        if rejects is None
        else rejects
    )
    return render(RUN, documents, rejects, STAGES, drift, near_duplicates, compared_with)


def _charts(page: str) -> dict[str, str]:
    return dict(CHART.findall(page))


def _visible(page: str) -> str:
    """The page without its charts: the text and tables a reader sees first."""
    return CHART.sub("", page)


def _full_page() -> str:
    """A page with every section: two collections, rejects, near-duplicates and stage timings."""
    near_duplicates = {"business": {"documents": 60, "in_clusters": 4, "near_duplicates": 2}}
    return _page(near_duplicates=near_duplicates)


def _text_page(documents: pa.Table, drift=None, compared_with=None) -> str:
    """A page without charts (nor their cost): the documents without the charted columns."""
    without = documents.drop_columns([c for c in CHART_COLUMNS if c in documents.column_names])
    return render(RUN, without, _rejects([]), {}, drift, None, compared_with)


@pytest.fixture(scope="module")
def page() -> str:
    return _full_page()


def test_the_page_loads_nothing_from_anywhere(page):
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for forbidden in ("http://", "https://", "<script", "@import", "url(http", "<link", "<iframe"):
        assert forbidden not in page.lower(), forbidden
    assert not re.search(r"\s(src|href)\s*=", page.replace('xlink:href="#', ""))
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page


def test_every_chart_is_an_inline_svg_with_a_title_and_label(page):
    charts = _charts(page)
    assert set(charts) == CHART_NAMES
    for name, chart in charts.items():
        assert chart.count("<svg") == 1, name
        assert re.search(r'<svg role="img" aria-label="[^"]+"[^>]*><title>[^<]+</title>', chart), (
            name
        )
        assert "<figcaption>" in chart
        assert len(re.findall(r"<path d=", chart)) > 5, name


def test_chart_ids_are_unique_across_the_page(page):
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    for reference in re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', page):
        assert next(r for r in reference if r) in ids


def test_the_page_shows_counts_of_each_kind(page):
    visible = _visible(page)
    assert (
        "<td>business</td><td>60</td><td>1</td><td>4</td><td>2</td><td>en 54, es 6</td>" in visible
    )
    assert "<td><em>* (all)</em></td><td>100</td><td>3</td><td>4</td><td>2</td>" in visible
    assert "<th>collection</th><th>binary</th><th>empty</th>" in visible  # rejects by reason
    assert "<td>sport</td><td>1</td><td>1</td>" in visible
    assert "<td>normalize_unicode</td><td>40</td><td>26</td><td>66</td>" in visible  # cleaning
    assert (
        "<td>readability</td><td>30.00</td>" in visible
        and "<td>total</td><td>48.25</td>" in visible
    )
    assert "Charted: " + ", ".join(CHART_COLUMNS) in visible


def test_hostile_collection_names_and_reasons_are_escaped():
    documents = _documents({HOSTILE: 40, "plain": 40})
    rejects = _rejects([(HOSTILE, HOSTILE)])
    previous = _documents({HOSTILE: 40, "plain": 40}, seed=2, scale=0.3)
    drift = compare(previous, documents, previous_rejects={}, current_rejects={HOSTILE: 1})
    page = _page(documents, rejects, drift, {HOSTILE: {"in_clusters": 1}}, compared_with=HOSTILE)
    assert HOSTILE not in page
    assert "<script" not in page and "& <b>" not in page
    visible = _visible(page)
    assert "&lt;/td&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in visible
    assert "&amp; &lt;b&gt;" in visible
    for chart in _charts(page).values():  # the SVG text is escaped by matplotlib
        assert "<script" not in chart and "<!-- -->" not in chart


def test_the_same_inputs_give_the_same_bytes_in_another_process(page, tmp_path):
    script = (
        "import sys; sys.path[:0] = sys.argv[1:];"
        "import test_report; sys.stdout.write(test_report._full_page())"
    )
    other = subprocess.run(
        [sys.executable, "-c", script, str(REPO), str(REPO / "tests")],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert other == page


def test_drift_flags_come_first_with_what_was_compared():
    previous = _documents({"business": 60, "sport": 40}, seed=2)
    current = _documents({"business": 60, "sport": 40}, seed=3)
    truncated = pa.concat_tables(
        [_documents({"business": 60}, seed=3, scale=0.4), _documents({"sport": 40}, seed=4)]
    )
    flagged = _text_page(truncated, compare(previous, truncated), "run-1")
    top = flagged[: flagged.index('id="collections"')]
    assert "Compared with run run-1" in top
    assert re.search(r'<ul class="flags"><li><b>business</b> · n_words: PSI', top)
    assert "no drift flagged" not in top
    assert '<tr class="flagged"><td>business</td><td>n_words</td>' in flagged
    calm = _text_page(current, compare(previous, current), "run-1")
    assert "no drift flagged" in calm[: calm.index('id="collections"')]
    assert '<tr class="flagged">' not in calm


def test_nothing_compared_says_why(page):
    reason = "Nothing compared: there is no previous completed run over the same sources."
    assert reason in _visible(page)
    nothing_new = _text_page(_documents({"a": 5}), compared_with="run-1")
    assert (
        "Nothing compared: this run has no new documents to compare with run run-1." in nothing_new
    )
    assert "Drift table" not in nothing_new


def test_an_empty_run_renders_a_page_saying_so():
    page = render(
        {**RUN, "n_documents": 0, "clean_ops": "{}"},
        schema.DOCUMENTS.empty_table(),
        schema.REJECTS.empty_table(),
        STAGES,
        None,
        None,
        None,
    )
    visible = _visible(page)
    assert "This run committed no documents." in visible
    assert "No documents in this run: nothing to chart." in visible
    assert "No rejects." in visible
    assert set(_charts(page)) == {"stage_seconds"}
    assert "<td><em>* (all)</em></td><td>0</td><td>0</td>" in visible


def test_a_column_without_values_is_said_not_drawn():
    documents = pa.table({"collection": ["a"] * 30, "n_words": pa.nulls(30, pa.int64())})
    page = render(RUN, documents, _rejects([]), {}, None, None, None)
    assert _charts(page) == {}
    assert "Words per document: no values." in page


def test_charts_png_gives_small_pngs_of_the_key_columns():
    charts = charts_png(_documents({"business": 60, "sport": 40}))
    assert set(charts) == set(PNG_COLUMNS)
    for png in charts.values():
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and 2_000 < len(png) < 60_000
    assert charts_png(schema.DOCUMENTS.empty_table()) == {}
