"""Tests for tasks/clean/header.py: title lines and bylines in the layouts documents use."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from proseflow.tasks import dates
from proseflow.tasks.clean import header
from proseflow.tasks.clean.document import clean_text


@pytest.mark.parametrize(
    ("document", "title", "author", "date"),
    [
        (
            "## Heading title\n\nThomas Gaist 14 November 2015\n\nBody.",
            "Heading title",
            "Thomas Gaist",
            dt.date(2015, 11, 14),
        ),
        (
            "Short title\n\nBy Jane Doe | June 5, 2019\n\nBody.",
            "Short title",
            "Jane Doe",
            dt.date(2019, 6, 5),
        ),
        (
            "Short title\n\nJane Doe — 3 March 2021\n\nBody.",
            "Short title",
            "Jane Doe",
            dt.date(2021, 3, 3),
        ),
        (
            "Short title\n\nBy Jane Doe and John van Smith\n\nBody.",
            "Short title",
            "Jane Doe and John van Smith",
            None,
        ),
        ("Short title\n\n2021-03-04T10:00:00Z\n\nBody.", "Short title", None, dt.date(2021, 3, 4)),
        (
            "Short title\n\nPublished: 5 June 2019\n\nBody.",
            "Short title",
            None,
            dt.date(2019, 6, 5),
        ),
        (
            "Short title\n\nBy Jane Doe\n\nPublished: Monday, June 5, 2019\n\nBody.",
            "Short title",
            "Jane Doe",
            dt.date(2019, 6, 5),
        ),
        ("By Jane Doe\n\nBody without a title.", None, "Jane Doe", None),
        ("Rivals of the £400 Apple...\n\nBody.", "Rivals of the £400 Apple...", None, None),
        ("A full sentence ends with a period.\n\nBody.", None, None, None),
        ("Line one of a wrapped\nparagraph\n\nBody.", None, None, None),
        ("Only one paragraph", None, None, None),
        ("**Bold** &amp; [linked](x) title\n\nBody.", "Bold & linked title", None, None),
        ("Advertisement\n\nReal title\n\nBody.", None, None, None),
        (
            "Short title\n\nthe body starts lower case 30 February 2020\n\nMore.",
            "Short title",
            None,
            None,
        ),
    ],
)
def test_header_layouts(
    document: str, title: str | None, author: str | None, date: dt.date | None
) -> None:
    result = clean_text(document)
    assert (result.title, result.author, result.published_date) == (title, author, date)
    for part in (title, author):
        if part:
            assert part not in result.text


def test_header_needs_a_real_date_and_capitalised_names() -> None:
    assert header.parse_byline("by jane doe") is None
    assert header.parse_byline("Markets rally 5 March 2021") is None
    assert header.parse_byline("Thomas Gaist 31 February 2015") is None
    assert dates.parse_date_text("June 5th, 2019") == dt.date(2019, 6, 5)


def test_byline_parsing_stays_linear_on_hostile_lines() -> None:
    started = time.perf_counter()
    for line in ("Jane and " * 22 + "Doe 1", "A and B " * 24 + "May", "Jane & " * 28):
        assert header.parse_byline(line[:199].strip()) is None
    assert time.perf_counter() - started < 0.5
