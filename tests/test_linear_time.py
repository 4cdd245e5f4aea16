"""Every stage takes time linear in the document length, on hostile repetitive text too.

Each check times one stage on a text of n characters and on the same shape at 4n characters: the
larger text may take at most 8x the CPU time, plus a small absolute slack. n doubles from 1 kB
until the n-character text takes long enough to time reliably, so the 4n text takes a few tenths of
a second on any machine (and never exceeds the default 10 MB document limit). Times are the least
CPU time of several runs, since other work on a busy machine only ever adds to them; a quadratic
stage takes 16x as long and fails by a wide margin.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from typing import NamedTuple

import pyarrow as pa
import pytest

from proseflow.tasks import readability, segment, stats
from proseflow.tasks.clean import stage as clean
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.ingest import stage as ingest

pytestmark = pytest.mark.slow

Stage = Callable[[str], object]
Shape = Callable[[int], str]

CONFIG = PipelineConfig()
GROWTH = 4  # the large text is GROWTH times the small one...
MAX_RATIO = 8.0  # ...and may take at most MAX_RATIO times as long (quadratic: 16x), plus SLACK
SLACK = 0.05  # seconds: absorbs scheduler and cache noise that does not scale with the text
FLOOR = 0.01  # seconds: a faster small text is counted as this, so tiny timings cannot fail
TARGET = 0.03  # seconds the small text should take for its timing to be trusted
START = 1024  # characters of the first small text tried
# The segmenter's checks start larger: a quadratic term made of C-level scans or copies per
# candidate only outgrows the linear work from about 100 kB on.
SEGMENTER_START = 2**17
# HTML decoding's checks start at 16 kB: a quadratic regex there scans in C and takes TARGET from
# about 4 kB, where SLACK lifts the limit to about 10x and a noisy run could let it pass.
DECODE_START = 2**14
REPEATS = 3  # runs of the small text; its least time is the reference
LARGE_RUNS = 5  # the large text runs until within the limit, at most this many times
MAX_CHARS = CONFIG.max_bytes


def _repeat(unit: str, head: str = "", tail: str = "") -> Shape:
    """A shape of about n characters: `unit` repeated between `head` and `tail`."""
    return lambda n: head + unit * max(1, n // len(unit)) + tail


def _numbered_list(n: int) -> str:
    """One paragraph of about n characters that is a numbered list: 1. x 2. x 3. x ..."""
    return " ".join(f"{i}. x" for i in range(1, max(2, n // 6)))


def _brackets_then_initials(n: int) -> str:
    """A long run of opening brackets, then "b. A" again and again: one unended sentence."""
    return "(" * (n // 2) + " b. A" * (n // 10)


# Shapes for every stage: repetitive text without the variety that keeps backtracking short.
COMMON: dict[str, Shape] = {
    "initials": _repeat("A b. "),
    "letter-periods": _repeat("a."),
    "one-huge-word": _repeat("x", tail=". A"),
    "ellipses": _repeat("... "),
    "blank-lines": _repeat("\n", head="A", tail="b"),
    "short-paragraphs": _repeat("A.\n\n"),
    "no-punctuation": _repeat("word "),
    "open-brackets": _repeat("(", tail=" b. A"),
    "quotes": _repeat("\"“«'", tail=" b. A"),
    "urls-and-emails": _repeat("See http://example.com/a.b?c=d or mail jo.doe@example.org. "),
}
# Shapes aimed at the segmenter's own rules.
SEGMENTER: dict[str, Shape] = {
    "periods-then-letter": _repeat(".", tail="x"),
    "exclamations-then-letter": _repeat("!?", tail="x"),
    "spaces-after-newline": _repeat(" ", head="a\n", tail="b"),
    "brackets-then-initials": _brackets_then_initials,
    "numbered-list": _numbered_list,
    "times-of-day": _repeat("x a.m. The "),
    "dotted-token": _repeat("a.", tail="a. The"),
    "titles": _repeat("Mr. "),
    "tabbed-initials": _repeat("A\tb.\t"),
    "spaced-ellipses": _repeat(". ", tail="x"),
}
# Shapes aimed at the cleaning stage's own rules: paragraphs it joins, and markup it strips that
# opens and never closes, for every pattern that reads on from an opening mark.
CLEAN: dict[str, Shape] = {
    "unfinished-paragraphs": _repeat("a\n\n", head="A"),
    "speech-paragraphs": _repeat('Kerry said "yes,"\n\n', head='"Yes,"\n\n'),
    "unclosed-link-brackets": _repeat("[", tail="x]("),
    "unclosed-link-urls": _repeat("[a](xxx"),
    "unclosed-link-titles": _repeat('[a](x "'),
    "link-urls-then-a-title": _repeat("[a](x", tail=' "t'),
    "link-brackets-then-a-title": _repeat("[", tail='a](x "t'),
    "unclosed-image-brackets": _repeat("![", tail="x]("),
    "unclosed-image-urls": _repeat("![a]("),
    "unclosed-reference-brackets": _repeat("[", tail="x]["),
    "unclosed-reference-labels": _repeat("[a][b"),
    "unclosed-script-tags": _repeat("<script>"),
    "unended-script-tags": _repeat("<script"),
    "script-tags-ended-far-away": _repeat("<script ", tail=">"),
    "style-tags-closed-as-script": _repeat("<style></script>"),
    "unclosed-bold": _repeat("**a "),
    "unclosed-underscore-bold": _repeat("__a "),
    "unclosed-strike": _repeat("~~a "),
    "backtick-run": _repeat("`", head="a", tail="x"),
    "heading-with-escaped-spaces": _repeat("&#32;", head="# a", tail="b"),
}
# A page as sites serve them, and its article's paragraphs.
PAGE_HEAD = (
    "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>News | Site</title>"
    "<style>p { margin: 0 }</style><script>var x = 1;</script></head><body>"
    "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav><!-- main -->"
    "<article><h1>A headline</h1>"
)
PARAGRAPH = (
    "<p>The first paragraph says what happened, to whom and when.</p>"
    "<p>The next one adds a quote &amp; some context.<br>And a line.</p>\n"
)
PAGE_TAIL = "</article><footer>&copy; 2019 Site</footer></body></html>\n"
# Shapes aimed at HTML decoding: markup that opens and never closes, for every pattern of the
# fallback that reads on from an opening mark, and pages as they come.
DECODE_HTML: dict[str, Shape] = {
    "unclosed-script-tags": _repeat("<script>"),
    "unclosed-comments": _repeat("<!--"),
    "unclosed-comments-in-tags": _repeat("<!-- >"),
    "unended-tags": _repeat("<"),
    "unclosed-titles": _repeat("<title>"),
    "unended-titles": _repeat("<title"),
    "unended-block-tags": _repeat("<p"),
    "pages": _repeat(PAGE_HEAD + PARAGRAPH + PAGE_TAIL),
    "long-article": _repeat(PARAGRAPH, head=PAGE_HEAD, tail=PAGE_TAIL),
}


def _segment(text: str) -> object:
    """Sentence spans with the English abbreviations."""
    return segment.sentence_spans(text, "en")


def _ingested(text: str) -> pa.Table:
    """A one-row `ingested` batch holding `text`."""
    row = {
        "doc_id": "d0",
        "source_uri": "u0",
        "collection": "c",
        "format": "txt",
        "encoding": "utf-8",
        "decoded": text,
    }
    return pa.Table.from_pylist([row], schema=ingest.INGESTED)


def _clean(text: str) -> object:
    """The cleaning stage on one document: line profile, repeated lines, then clean_batch."""
    table = _ingested(text)
    lines = clean.boilerplate_lines([clean.line_profile(table)], {"c": 1}, CONFIG)
    return clean.clean_batch(table, lines, CONFIG)


def _decode_html(text: str) -> object:
    """The decoding stage on one HTML document: decode_batch on a one-row raw batch."""
    content = text.encode()
    row = {
        "doc_id": "d0",
        "content": content,
        "n_bytes": len(content),
        "format": "html",
        "source_uri": "u0",
        "collection": "c",
    }
    return ingest.decode_batch(pa.Table.from_pylist([row], schema=ingest.RAW_BATCH), CONFIG)


def _readability(text: str) -> object:
    """textstat-equal scores of an English document."""
    return readability.score_text(text, "en")


def _published(text: str) -> object:
    """Published-formula scores, on the segmenter's sentences."""
    return readability.score_text(text, "en", readability.PUBLISHED)


def _statistics(text: str) -> object:
    """The statistics stage's work on one document: its statistics and its terms."""
    return stats.document_statistics(text, "en"), stats.document_terms(text, "en")


def _record_date(text: str) -> object:
    """The date of a record's date field, as ingest reads it."""
    return ingest.parse_date(text)


# Shapes aimed at date parsing: weekday names inside long runs of letters.
DATES: dict[str, Shape] = {
    "weekday-letters": _repeat("mon"),
    "weekday-names": _repeat("monday"),
    "weekdays-and-spaces": _repeat("tue "),
    "day-and-spaces": _repeat("1 "),
}


STAGES: dict[str, Stage] = {
    "segment": _segment,
    "split": segment.split_sentences,
    "clean": _clean,
    "decode-html": _decode_html,
    "readability": _readability,
    "published": _published,
    "statistics": _statistics,
    "record-date": _record_date,
}


class Check(NamedTuple):
    """One timing check: a stage, a shape and the least small size."""

    stage: str
    shape: Shape
    start: int = START


def _params(stage: str, names: list[str], shapes: dict[str, Shape], start: int = START) -> list:
    """One test per named shape of `stage`."""
    return [pytest.param(Check(stage, shapes[name], start), id=f"{stage}-{name}") for name in names]


def _cases() -> list:
    """One check per stage and shape."""
    everyday = [
        "initials",
        "letter-periods",
        "one-huge-word",
        "ellipses",
        "open-brackets",
        "quotes",
    ]
    shapes = {**COMMON, **SEGMENTER}
    cases = _params("segment", list(shapes), shapes, SEGMENTER_START)
    cases += _params("split", ["initials"], COMMON, SEGMENTER_START)
    cases += _params("clean", [*everyday, "blank-lines", "urls-and-emails"], COMMON)
    cases += _params("clean", list(CLEAN), CLEAN)
    cases += _params("decode-html", list(DECODE_HTML), DECODE_HTML, DECODE_START)
    cases += _params("readability", [*everyday, "no-punctuation"], COMMON)
    cases += _params("published", ["initials", "short-paragraphs"], COMMON)
    cases += _params("statistics", [*everyday, "short-paragraphs"], COMMON)
    cases += _params("record-date", list(DATES), DATES)
    return cases


@pytest.fixture(scope="module", autouse=True)
def _frozen_heap():
    """Objects that exist before the checks are left out of garbage collection while they run.

    A full collection would otherwise walk every object of the test session, at a cost that has
    nothing to do with the text being timed.
    """
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def _cpu_time(stage: Stage, text: str) -> float:
    """CPU seconds of one call; garbage left by earlier calls is collected first, untimed."""
    gc.collect()
    start = time.process_time()
    stage(text)
    return time.process_time() - start


def _calibrated_size(stage: Stage, shape: Shape, start: int) -> int:
    """The size, doubling from `start`, at which one call takes TARGET seconds (capped)."""
    stage(shape(START))  # loads the stage's resources outside the timings
    n = start
    while GROWTH * n * 2 <= MAX_CHARS and _cpu_time(stage, shape(n)) < TARGET:
        n *= 2
    return n


def _limit(t_small: float) -> float:
    """The most CPU time the large text may take, given the small text's."""
    return MAX_RATIO * max(t_small, FLOOR) + SLACK


def _least_times(stage: Stage, small: str, large: str) -> tuple[float, float]:
    """Least CPU times of the small and the large text, the large one rerun while over the limit."""
    t_small = min(_cpu_time(stage, small) for _ in range(REPEATS))
    t_large = math.inf
    for _ in range(LARGE_RUNS):
        t_large = min(t_large, _cpu_time(stage, large))
        if t_large <= _limit(t_small):
            break
        # Another small run with each rerun: its least time only falls, so the limit only tightens.
        t_small = min(t_small, _cpu_time(stage, small))
    return t_small, t_large


@pytest.mark.parametrize("check", _cases())
def test_four_times_the_text_takes_at_most_eight_times_as_long(check):
    stage = STAGES[check.stage]
    n = _calibrated_size(stage, check.shape, check.start)
    small, large = check.shape(n), check.shape(GROWTH * n)
    t_small, t_large = _least_times(stage, small, large)
    assert t_large <= _limit(t_small), (
        f"{len(large)} characters took {t_large:.3f} s, {t_large / t_small:.1f}x the "
        f"{t_small:.3f} s of {len(small)} characters (limit {_limit(t_small):.3f} s)"
    )
