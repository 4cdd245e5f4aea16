"""The article header a document starts with: a title line, then a byline or dateline (author
and date) in its first paragraphs."""

from __future__ import annotations

import datetime as dt
import re

from proseflow.tasks.clean.markup import strip_inline, unescape
from proseflow.tasks.clean.normalize import tidy
from proseflow.tasks.dates import DATE, date_of

MAX_TITLE = 150
MAX_HEADER_LINE = 200

# "and" is never a name word: one parse per byline keeps the regex from backtracking
# exponentially on long capitalised lines.
_WORD = r"(?!and\b)[^\W\d_][\w'’.\-]*"
_NAME = rf"{_WORD}(?:\s+{_WORD}){{0,4}}"
_AUTHORS = rf"{_NAME}(?:\s*(?:,|&|\band\b)\s*{_NAME}){{0,5}}"
_SEP = r"\s*(?:[|—–·•,]|\s-)\s*|\s+"
BYLINES = tuple(
    re.compile(p, re.I)
    for p in (
        rf"(?P<by>by\s+)?(?P<author>{_AUTHORS})(?:{_SEP})(?:published:?\s*|on\s+)?(?P<date>{DATE})",
        rf"(?P<by>by)\s+(?P<author>{_AUTHORS})",
        r"(?:(?:first\s+)?published|posted|updated|last updated|date)(?:\s+on)?\s*:?\s*"
        rf"(?P<date>{DATE})(?:(?:{_SEP})by\s+(?P<author>{_AUTHORS}))?",
        rf"(?P<date>{DATE})(?:(?:{_SEP})(?P<by>by\s+)?(?P<author>{_AUTHORS}))?",
    )
)

NAME_PARTICLES = frozenset(
    {
        "de",
        "van",
        "von",
        "der",
        "den",
        "da",
        "di",
        "du",
        "la",
        "le",
        "del",
        "bin",
        "ibn",
        "al",
        "and",
        "y",
    }
)

MD_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
HAS_LETTER = re.compile(r"[^\W\d_]")


def _is_name(author: str) -> bool:
    """True when every word of an author string is capitalised or a name particle."""
    words = re.findall(r"[^\W\d_][\w'’.\-]*", author)
    return bool(words) and all(w[0].isupper() or w.lower() in NAME_PARTICLES for w in words)


def parse_byline(line: str) -> tuple[str | None, dt.date | None] | None:
    """(author, date) of a byline/dateline, or None when the line is not one."""
    if len(line) > MAX_HEADER_LINE:
        return None
    for pattern in BYLINES:
        match = pattern.fullmatch(line)
        if not match:
            continue
        groups = match.groupdict()
        author = (groups.get("author") or "").strip(" ,") or None
        date = date_of(match) if groups.get("date") else None
        if groups.get("date") and date is None:
            continue
        if author is not None and not _is_name(author):
            continue
        if author is not None and not groups.get("by") and date is not None and " " not in author:
            continue  # a single bare word before a date is too weak to call an author
        return author, date
    return None


def _title_candidate(paragraph: str, boilerplate: re.Pattern[str]) -> str | None:
    """The title a first paragraph stands for: a Markdown heading or a short unfinished line."""
    if "\n" in paragraph or boilerplate.search(paragraph):
        return None
    heading = MD_HEADING.match(paragraph)
    title = tidy(strip_inline(unescape(heading.group(1) if heading else paragraph)))
    if len(title) > MAX_TITLE or not HAS_LETTER.search(title):
        return None
    finished = title.endswith((".", ",", ":", ";")) and not title.endswith("..")
    if not heading and (finished or title.startswith(("-", "*", ">", "|"))):
        return None
    return title


def _same_title(a: str, b: str) -> bool:
    """True when two titles differ only in case and spacing."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def extract_header(
    paragraphs: list[str], meta_title: str | None, boilerplate: re.Pattern[str]
) -> tuple[str | None, str | None, dt.date | None, int]:
    """(title, author, date, paragraphs consumed) from the first paragraphs of a document."""
    title = author = date = None
    used = 0
    if len(paragraphs) > 1 and parse_byline(paragraphs[0]) is None:
        candidate = _title_candidate(paragraphs[0], boilerplate)
        if candidate and (meta_title is None or _same_title(candidate, meta_title)):
            title, used = candidate, 1
    for paragraph in paragraphs[used : used + 2]:
        if used + 1 >= len(paragraphs) or "\n" in paragraph:
            break
        found = parse_byline(paragraph)
        if found is None or (found[0] and author) or (found[1] and date):
            break
        author, date = author or found[0], date or found[1]
        used += 1
    return title, author, date, used
