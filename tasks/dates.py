"""Dates: the date written in a byline or dateline, and the date of a record's date field.

Written dates are read in the forms '14 November 2015', 'June 5th, 2019' and ISO '2019-06-05',
with an optional weekday before and time after; `DATE` is that pattern, for the bylines of
`tasks.clean.header` to build on.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

MONTHS = {
    name: i
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        1,
    )
    for name in names
}

_MONTH = "(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
_DAY = (
    r"(?:(?P<iso>\d{4}-\d{2}-\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    rf"|(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m1>{_MONTH}),?\s+(?P<y1>\d{{4}})"
    rf"|(?P<m2>{_MONTH})\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y2>\d{{4}}))"
)
_TIME = r"(?:,?\s+(?:at\s+)?\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s+[a-z]{2,5})?)?"
DATE = _WEEKDAY + _DAY + _TIME

# A date on its own is found by its day alone: the weekday and time around it are optional and
# captured by no group, so the search finds the same day, and it no longer reads to the end of a
# long run of letters from every weekday name inside it (quadratic).
DATE_ONLY = re.compile(_DAY, re.I)

DATE_PREFIX = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def parse_date(value: Any) -> dt.date | None:
    """A date from a record's value (date, datetime, 'YYYY-MM-DD...' or a written date), else None."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        return None
    match = DATE_PREFIX.match(value.strip())
    if not match:
        return parse_date_text(value.strip())
    try:
        return dt.date(*map(int, match.groups()))
    except ValueError:
        return None


def parse_date_text(value: str) -> dt.date | None:
    """The date written in a string ('14 November 2015', 'June 5, 2019', '2019-06-05'), or None."""
    match = DATE_ONLY.search(value)
    return date_of(match) if match else None


def date_of(match: re.Match[str]) -> dt.date | None:
    """A date from the named groups of a DATE match; None when it is not a real date."""
    groups = match.groupdict()
    try:
        if groups.get("iso"):
            return dt.date.fromisoformat(groups["iso"])
        day, month, year = (groups["d1"], groups["m1"], groups["y1"])
        if day is None:
            day, month, year = (groups["d2"], groups["m2"], groups["y2"])
        return dt.date(int(year), MONTHS[month.lower().rstrip(".")], int(day))
    except (ValueError, KeyError, TypeError):
        return None
