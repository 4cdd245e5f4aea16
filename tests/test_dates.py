"""Tests for tasks/dates.py: written dates, found in linear time."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from proseflow.tasks import dates

# The date regex with its optional weekday and time, as DATE_ONLY was before it read the day alone.
OLD_DATE_ONLY = re.compile(dates._WEEKDAY + dates._DAY + dates._TIME, re.I)
DATE_WORDS = [
    "mon",
    "monday",
    "tue",
    "Wed.",
    "june",
    "May",
    "of",
    "5",
    "14th",
    "2019",
    "1999-12-31",
]


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.sampled_from([*DATE_WORDS, " ", ", ", "at", "10:00", "pm", "x", "."]), max_size=14)
)
def test_a_date_on_its_own_is_the_day_the_weekday_regex_found(words):
    text = "".join(words)
    old = OLD_DATE_ONLY.search(text)
    assert dates.parse_date_text(text) == (dates.date_of(old) if old else None)


def test_a_record_date_is_iso_like_or_written():
    assert dates.parse_date(dt.datetime(2019, 6, 5, 10, 30)) == dt.date(2019, 6, 5)
    assert dates.parse_date(dt.date(2019, 6, 5)) == dt.date(2019, 6, 5)
    assert dates.parse_date(" 2019-06-05T10:00:00Z") == dt.date(2019, 6, 5)
    assert dates.parse_date("Wednesday, June 5th, 2019") == dt.date(2019, 6, 5)
    assert dates.parse_date("2019-02-30") is None and dates.parse_date(20190605) is None
