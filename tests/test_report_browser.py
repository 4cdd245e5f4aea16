"""The run report as a person sees it: a real run's page opened in headless Chromium, offline.

Chromium is Debian's (`apt-get install chromium`), driven by Playwright's Python package without
Playwright's own browsers. The tests skip, saying why, where either is missing or Chromium cannot
start.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from proseflow.tasks.report import CHART_COLUMNS
from tests.conftest import BBC
from tests.helpers import make_corpus

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # No name resolves and every connection goes to a closed proxy: the network is cut.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
]
CATEGORIES = ("business", "sport", "tech")


def chromium_binary() -> str | None:
    """Chromium's executable: $CHROMIUM, /usr/bin/chromium, or one on PATH."""
    candidates = [os.environ.get("CHROMIUM"), "/usr/bin/chromium"]
    candidates += [shutil.which(name) for name in CHROMIUM_NAMES]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def missing() -> str | None:
    """Why the page cannot be opened here, checked before any run is made; None when it can."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[dev]')"
    if chromium_binary() is None:
        return "no chromium binary found (apt-get install chromium, or set $CHROMIUM)"
    return None


MISSING = missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium under Playwright, shared by the module's tests."""
    from playwright import sync_api

    binary = chromium_binary()
    with sync_api.sync_playwright() as playwright:
        try:
            browser_ = playwright.chromium.launch(
                executable_path=binary, headless=True, args=CHROMIUM_ARGS, timeout=60_000
            )
        except sync_api.Error as exc:
            pytest.skip(f"{binary} did not start: {str(exc).splitlines()[0]}")
        yield browser_
        browser_.close()


@pytest.fixture(scope="module")
def report_page(browser, request, tmp_path_factory) -> Path:
    """The report page of one run over three collections (BBC articles where present)."""
    # Asked for here, not as an argument, so that a browser that cannot start skips the module
    # before the tests' shared Prefect API is started for nothing.
    request.getfixturevalue("prefect_harness")
    from proseflow.flows.runtime import run_flow
    from proseflow.tasks.config import PipelineConfig

    source = tmp_path_factory.mktemp("corpus")
    if BBC.is_dir():
        for category in CATEGORIES:
            (source / category).mkdir()
            for path in sorted((BBC / category).glob("*.txt"))[:12]:
                shutil.copy(path, source / category / path.name)
    else:
        make_corpus(source, 40)
    output = tmp_path_factory.mktemp("out")
    summary = run_flow([str(source)], str(output), PipelineConfig(workers=1))
    pages = sorted((output / "reports").glob("run-*.html"))
    assert [page.name for page in pages] == [f"run-{summary['run_id']}.html"]
    return pages[0]


@pytest.fixture(scope="module")
def opened(browser, report_page):
    """The page loaded offline, with every request, failed request and console error it caused."""
    seen = {"requests": [], "failed": [], "errors": []}
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("request", lambda request: seen["requests"].append(request.url))
    page.on("requestfailed", lambda request: seen["failed"].append((request.url, request.failure)))
    page.on(
        "console",
        lambda message: message.type == "error" and seen["errors"].append(message.text),
    )
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.goto(report_page.as_uri(), wait_until="load")
    page.wait_for_load_state("networkidle")  # anything the page might fetch late fails first
    yield page, seen
    context.close()


def test_the_page_loads_nothing_but_itself_and_logs_no_error(opened, report_page):
    page, seen = opened
    assert seen["errors"] == []
    assert seen["failed"] == []
    assert seen["requests"] == [report_page.as_uri()]


def test_the_page_has_its_title_and_heading(opened):
    page, _ = opened
    title = page.title()
    assert title.startswith("proseflow run ")
    heading = page.locator("h1")
    assert heading.count() == 1 and heading.inner_text() == title
    assert heading.is_visible()


def test_every_chart_is_drawn(opened):
    page, _ = opened
    charts = page.eval_on_selector_all(
        "[data-chart]",
        """figures => figures.map(figure => {
            const svgs = figure.querySelectorAll('svg');
            const box = svgs.length ? svgs[0].getBoundingClientRect() : {width: 0, height: 0};
            return {
                name: figure.dataset.chart,
                svgs: svgs.length,
                width: box.width,
                height: box.height,
                paths: figure.querySelectorAll('svg path').length,
                label: svgs.length ? svgs[0].getAttribute('aria-label') : null,
            };
        })""",
    )
    assert {chart["name"] for chart in charts} >= {*CHART_COLUMNS, "stage_seconds"}
    undrawn = [
        chart
        for chart in charts
        if chart["svgs"] != 1
        or chart["width"] <= 0
        or chart["height"] <= 0
        or chart["paths"] == 0
        or not chart["label"]
    ]
    assert undrawn == []


def test_charts_fit_the_window(opened):
    page, _ = opened
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1]
