"""Cleaning: repair and normalise decoded text, split off the article header, strip markup and
boilerplate, join paragraphs broken mid-sentence.

`clean_text` works on one document; `clean_batch` loops over a batch once and fills every column.
Repeated-line boilerplate is learned per collection from `line_profile` counts over the whole run.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import html
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ftfy
import pyarrow as pa
import pyarrow.compute as pc

from tasks import schema
from tasks.boilerplate import DEFAULT_PATTERNS
from tasks.config import PipelineConfig
from tasks.errors import UsageError
from tasks.ingest import REASON_EMPTY, REASON_ERROR, rejects_table

OP_REMOVE_REPEATED_LINES = "remove_repeated_lines"
OP_FIX_MOJIBAKE = "fix_mojibake"
OP_NORMALIZE_UNICODE = "normalize_unicode"
OP_REMOVE_CONTROL_CHARS = "remove_control_chars"
OP_NORMALIZE_WHITESPACE = "normalize_whitespace"
OP_EXTRACT_HEADER = "extract_header"
OP_STRIP_MARKUP = "strip_markup"
OP_REMOVE_BOILERPLATE = "remove_boilerplate"
OP_JOIN_PARAGRAPHS = "join_paragraphs"
# Pipeline order. Repeated lines go first because line_profile hashes the decoded lines as they are.
OPS = (
    OP_REMOVE_REPEATED_LINES,
    OP_FIX_MOJIBAKE,
    OP_NORMALIZE_UNICODE,
    OP_REMOVE_CONTROL_CHARS,
    OP_NORMALIZE_WHITESPACE,
    OP_EXTRACT_HEADER,
    OP_STRIP_MARKUP,
    OP_REMOVE_BOILERPLATE,
    OP_JOIN_PARAGRAPHS,
)

MAX_REPEATED_LINE = 200  # longer lines are content, never repeated-line boilerplate
MAX_BOILERPLATE_LINE = 300  # pattern boilerplate is short; long lines are never tested
MAX_TITLE = 150
MAX_HEADER_LINE = 200
MAX_PASSES = 4  # body steps repeat until nothing changes; this bounds pathological inputs

CLEANED = pa.schema(
    [
        schema.DOCUMENTS.field(name)
        for name in (
            "doc_id",
            "source_uri",
            "collection",
            "format",
            "encoding",
            "title",
            "author",
            "published_date",
            "text",
            "clean_ops",
            "n_chars_removed",
        )
    ]
)
LINE_PROFILE = pa.schema(
    [
        pa.field("collection", pa.string(), nullable=False),
        pa.field("line_hash", pa.int64(), nullable=False),
        pa.field("n_docs", pa.int64(), nullable=False),
    ]
)
BOILERPLATE = pa.schema(
    [
        pa.field("collection", pa.string(), nullable=False),
        pa.field("line_hash", pa.int64(), nullable=False),
    ]
)

# ftfy restricted to mojibake repair: quotes, widths, ligatures and normalisation are left alone.
FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    remove_control_chars=False,
    normalization=None,
    explain=False,
)

NEWLINES = re.compile(r"\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# C0/C1 controls, NUL, DEL and invisible format characters. ZWJ/ZWNJ stay: emoji sequences and
# Persian/Indic spelling need them.
CONTROL = re.compile(
    r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\u00ad\u180e\u200b\u2060-\u2064\ufeff\ufffe]"
)
BLANK_RUN = re.compile(r"\n{3,}")

# ---- markup
FENCE = re.compile(r"^[ \t]*(?:```|~~~).*$", re.M)
HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
SCRIPT_STYLE = re.compile(r"<(script|style|noscript)\b[^>]*>.*?</\1\s*>", re.S | re.I)
SCRIPT_OPEN = re.compile(r"<(script|style|noscript)\b", re.I)
SCRIPT_CLOSE = re.compile(r"</(script|style|noscript)\s*>", re.I)
BR_TAG = re.compile(r"<br\s*/?>", re.I)
BLOCK_TAG = re.compile(
    r"</?(?:p|div|h[1-6]|li|ul|ol|blockquote|section|article|header|footer|tr|table|pre)\b[^<>]*>",
    re.I,
)
TAG = re.compile(r"</?[a-zA-Z][\w:-]*(?:\s[^<>]*)?/?>")
AUTOLINK = re.compile(r"<((?:https?|mailto|ftp):[^<>\s]+)>")
# An image, or else (group 1, kept) what an image that does not close reads: up to the first ']'
# or line end, and past an unclosed '](' to the first ')' or line end. Every other '![' in that
# stretch stops at the same places and fails too, so skipping it keeps the search linear.
IMAGE = re.compile(r"!\[[^\]\n]*+\]\([^)\n]*+\)|(!\[[^\]\n]*+(?:\]\([^)\n]*+)?)")
# A link's '[text', and its target as `\]\(\s*[^)\s]*(?:\s+"[^"\n]*")?\s*\)` matches it, without
# backtracking: spaces, URL and an optional title after a space or else, as that regex finds by
# backtracking, spaces and a title with no URL. LINK_URL finds the URL of a target that fails.
LINK_TEXT = re.compile(r"\[([^\]\n]*+)")
LINK_TARGET = re.compile(r'\]\((?:\s*+[^)\s]*+(?:\s++"[^"\n]*+")?+|\s++"[^"\n]*+")\s*+\)')
LINK_URL = re.compile(r"\]\(\s*+([^)\s]*+)")
# A reference link, or else (group 2, kept) the '[text' of one that fails: every '[' inside it
# stops at the same ']' or line end and fails too, so skipping it keeps the search linear.
REF_LINK = re.compile(r"\[([^\]\n]++)\]\[[^\]\n]*+\]|(\[[^\]\n]*+)")
REF_DEF = re.compile(r"^[ \t]*\[[^\]\n]+\]:[ \t]+\S+.*$", re.M)
# A heading's text, up to the first place followed by nothing but closing '#'s and spaces. That
# place is never inside a run of spaces (the run's start would do), so only places after a
# non-space are tried: each run of spaces is read once, not once from each of its spaces.
HEADING = re.compile(r"^#{1,6}[ \t]++((?:.*?[^ \t\n])??)(?:[ \t]++#++)?+[ \t]*+$", re.M)
RULE = re.compile(r"^[ \t]*(?:[-=_*][ \t]*){3,}$", re.M)
QUOTE_MARK = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.M)
BULLET = re.compile(r"^[ \t]*[-*+•·▪‣◦][ \t]+", re.M)
BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.S)
ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?![\w*])")
ITALIC_UNDER = re.compile(r"(?<![\w_])_(?=[^\s_])([^_\n]*?[^\s_])_(?![\w_])")
STRIKE = re.compile(r"(~~)(?=\S)(.+?)(?<=\S)\1")
# Code starts only at the first backtick of a run: when the run's first backtick opens no code, no
# other one does (its code would start at the same place), and retrying each would be quadratic.
CODE = re.compile(r"(?<!`)`++([^`\n]++)`++")
MARKUP_CHARS = re.compile(r"[<>*_\[\]#`~&\-=+•·▪‣◦]")
LINE_MARKUP = re.compile(r"^[ \t]*(?:[-=_*#>+•·▪‣◦\[]|```|~~~)", re.M)

# ---- header
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
_DATE = _WEEKDAY + _DAY + _TIME
# "and" is never a name word: one parse per byline keeps the regex from backtracking
# exponentially on long capitalised lines.
_WORD = r"(?!and\b)[^\W\d_][\w'’.\-]*"
_NAME = rf"{_WORD}(?:\s+{_WORD}){{0,4}}"
_AUTHORS = rf"{_NAME}(?:\s*(?:,|&|\band\b)\s*{_NAME}){{0,5}}"
_SEP = r"\s*(?:[|—–·•,]|\s-)\s*|\s+"
BYLINES = tuple(
    re.compile(p, re.I)
    for p in (
        rf"(?P<by>by\s+)?(?P<author>{_AUTHORS})(?:{_SEP})(?:published:?\s*|on\s+)?(?P<date>{_DATE})",
        rf"(?P<by>by)\s+(?P<author>{_AUTHORS})",
        r"(?:(?:first\s+)?published|posted|updated|last updated|date)(?:\s+on)?\s*:?\s*"
        rf"(?P<date>{_DATE})(?:(?:{_SEP})by\s+(?P<author>{_AUTHORS}))?",
        rf"(?P<date>{_DATE})(?:(?:{_SEP})(?P<by>by\s+)?(?P<author>{_AUTHORS}))?",
    )
)
# A date on its own is found by its day alone: the weekday and time around it are optional and
# captured by no group, so the search finds the same day, and it no longer reads to the end of a
# long run of letters from every weekday name inside it (quadratic).
DATE_ONLY = re.compile(_DAY, re.I)
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

# ---- paragraphs
TERMINAL = re.compile(r"[.!?…:;][\"'”’»)\]]*$")
QUOTE_COMMA = re.compile(r",[\"'”’»]$")
SPEECH_VERB = re.compile(
    r"^(?:[A-Z][\w'’.\-]*\s+){1,4}(?:said|says|told|added|asked|declared|explained|wrote|"
    r"continued|noted|insisted|replied|argued|warned|stated|claimed|admitted|concluded)\b"
)


@dataclass(frozen=True)
class CleanResult:
    """One cleaned document: header fields, body text and the steps that changed it."""

    title: str | None
    author: str | None
    published_date: dt.date | None
    text: str
    ops: tuple[str, ...]
    n_header_chars: int  # characters of the decoded text kept as title/author


# --------------------------------------------------------------------------------------------
# repeated lines


def line_key(line: str) -> int | None:
    """Stable signed 64-bit blake2b of a normalised line; None for blank or long lines."""
    norm = " ".join(CONTROL.sub("", line).split()).casefold()
    if not norm or len(norm) > MAX_REPEATED_LINE:
        return None
    digest = hashlib.blake2b(norm.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def doc_line_keys(text: str) -> set[int]:
    """The distinct line keys of one decoded document."""
    keys = {line_key(line) for line in NEWLINES.sub("\n", text).split("\n")}
    keys.discard(None)
    return keys  # type: ignore[return-value]


def line_profile(ingested: pa.Table) -> pa.Table:
    """Per collection and line hash, how many documents of the batch contain the line."""
    counts: Counter[tuple[str, int]] = Counter()
    texts = ingested.column("decoded").to_pylist()
    for collection, text in zip(ingested.column("collection").to_pylist(), texts, strict=True):
        counts.update((collection, key) for key in doc_line_keys(text or ""))
    return pa.Table.from_pylist(
        [{"collection": c, "line_hash": h, "n_docs": n} for (c, h), n in counts.items()],
        schema=LINE_PROFILE,
    )


def boilerplate_lines(
    profiles: Sequence[pa.Table], n_docs_per_collection: dict[str, int], config: PipelineConfig
) -> pa.Table:
    """Lines found in >= repeated_line_min_docs and >= repeated_line_min_share of a collection."""
    if not profiles:
        return BOILERPLATE.empty_table()
    merged = pa.concat_tables([p.select(LINE_PROFILE.names).cast(LINE_PROFILE) for p in profiles])
    totals = merged.group_by(["collection", "line_hash"]).aggregate([("n_docs", "sum")])
    frequent = totals.filter(pc.greater_equal(totals["n_docs_sum"], config.repeated_line_min_docs))
    columns = (frequent[k].to_pylist() for k in ("collection", "line_hash", "n_docs_sum"))
    rows = [
        {"collection": c, "line_hash": h}
        for c, h, n in zip(*columns, strict=True)
        if n >= config.repeated_line_min_share * n_docs_per_collection.get(c, 0)
    ]
    rows.sort(key=lambda r: (r["collection"], r["line_hash"]))
    return pa.Table.from_pylist(rows, schema=BOILERPLATE)


def _remove_repeated(text: str, repeated: frozenset[int]) -> str:
    """Drop the lines whose key is in the repeated set."""
    if not repeated:
        return text
    return "\n".join(line for line in text.split("\n") if line_key(line) not in repeated)


# --------------------------------------------------------------------------------------------
# normalisation


def _mojibake_hint() -> re.Pattern[str]:
    """Character pairs that UTF-8 read as latin-1/cp1252/cp1251 produces, plus C1, ESC, surrogates.

    ftfy costs ~0.3 ms per non-ASCII document even when there is nothing to fix; only text with
    one of these pairs can be repaired by it.
    """
    pairs = []
    for codec in ("latin-1", "cp1252", "cp1251"):
        lead = bytes(range(0xC2, 0xF5)).decode(codec, errors="ignore")
        cont = bytes(range(0x80, 0xC0)).decode(codec, errors="ignore")
        pairs.append(f"[{re.escape(lead)}][{re.escape(cont)}]")
    return re.compile("|".join(pairs) + r"|[\x1b\x80-\x9f\ud800-\udfff\ufffd]")


MOJIBAKE_HINT = _mojibake_hint()


def _fix_mojibake(text: str) -> str:
    """Repair mis-decoded text (ftfy); skipped when no mojibake-like character pair occurs."""
    if text.isascii() or not MOJIBAKE_HINT.search(text):
        return text
    return ftfy.fix_text(text, FTFY_CONFIG)


def _nfc(text: str) -> str:
    """Text in Unicode normal form C."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def _remove_controls(text: str) -> str:
    """Text without control, NUL and invisible format characters."""
    return CONTROL.sub("", text)


def _tidy(text: str) -> str:
    """Single spaces, no spaces around line ends, at most one blank line, stripped."""
    text = "\n".join([" ".join(line.split()) for line in text.split("\n")])
    return (BLANK_RUN.sub("\n\n", text) if "\n\n\n" in text else text).strip()


def _normalize_whitespace(text: str) -> str:
    """Text with Unix line endings, single spaces and at most one blank line in a row."""
    return _tidy(NEWLINES.sub("\n", text))


# --------------------------------------------------------------------------------------------
# header


def parse_date_text(value: str) -> dt.date | None:
    """The date written in a string ('14 November 2015', 'June 5, 2019', '2019-06-05'), or None."""
    match = DATE_ONLY.search(value)
    return _date_of(match) if match else None


def _date_of(match: re.Match[str]) -> dt.date | None:
    """A date from the named groups of a _DATE match; None when it is not a real date."""
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
        date = _date_of(match) if groups.get("date") else None
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
    title = _tidy(_strip_inline(_unescape(heading.group(1) if heading else paragraph)))
    if len(title) > MAX_TITLE or not HAS_LETTER.search(title):
        return None
    finished = title.endswith((".", ",", ":", ";")) and not title.endswith("..")
    if not heading and (finished or title.startswith(("-", "*", ">", "|"))):
        return None
    return title


def _same_title(a: str, b: str) -> bool:
    """True when two titles differ only in case and spacing."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _extract_header(
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


# --------------------------------------------------------------------------------------------
# body


def _unescape(text: str) -> str:
    """Decode HTML entities until none is left (double-escaped text included)."""
    for _ in range(3):
        if "&" not in text:
            break
        new = html.unescape(text)
        if new == text:
            break
        text = new
    return text


def _strip_links(text: str) -> str:
    """`[text](url "title")` -> text, in time linear in the text.

    The result is that of one regex (OLD_LINK in tests/test_clean.py), which tries every '[' and
    reads from it to the end of its target or line: quadratic on many '[' or '](' in a row. Here
    a '[' that fails lets the search go on after the ']' (or line end) it stopped at, since every
    '[' before that stops there too and fails the same way. And a target that starts inside the
    URL of the last target that failed is not read: it has the same URL end, spaces and title, and
    fails too. Each character is then read a few times at most.
    """
    parts, kept, pos = [], 0, 0
    dead = range(0)  # the URL of the last target that failed
    while (start := text.find("[", pos)) >= 0:
        label = LINK_TEXT.match(text, start)
        pos = label.end()
        target = None
        if label[1] and pos + 2 not in dead:
            target = LINK_TARGET.match(text, pos)
            if target is None and (url := LINK_URL.match(text, pos)):
                dead = range(*url.span(1))
        if target:
            parts += (text[kept:start], label[1])
            kept = pos = target.end()
    return "".join(parts) + text[kept:] if parts else text


def _last_closing(text: str, mark: str) -> int:
    """Start of the last `mark` that follows a non-space, -1 when none: the furthest a match of
    BOLD or STRIKE can end. One backward pass."""
    found = text.rfind(mark)
    while found > 0 and text[found - 1].isspace():
        found = text.rfind(mark, 0, found + len(mark) - 1)
    return found if found > 0 else -1


def _strip_paired(text: str, pattern: re.Pattern[str], marks: tuple[str, ...]) -> str:
    """Replace each match of BOLD or STRIKE by its group 2, what the marks wrap, in linear time.

    The pattern reads from an opening mark to the first closing one (the same mark after a
    non-space), and to the end of the text when there is none, for every opening mark: quadratic
    on many marks that close nothing. Here an opening mark with no closing mark of its kind after
    it is passed over at once, and any other one is matched by the pattern, which then stops at
    the first closing mark and consumes what it read.
    """
    last = {mark: _last_closing(text, mark) for mark in marks}
    opening = re.compile("|".join(map(re.escape, marks)))
    parts, kept, pos = [], 0, 0
    while found := opening.search(text, pos):
        start, pos = found.start(), found.start() + 1
        if last[found[0]] > start + 2 and (match := pattern.match(text, start)):
            parts += (text[kept:start], match[2])
            kept = pos = match.end()
    return "".join(parts) + text[kept:] if parts else text


def _strip_strike(text: str) -> str:
    """Strike-through marks removed, line by line: a match of STRIKE never spans lines."""
    return "\n".join(
        _strip_paired(line, STRIKE, ("~~",)) if "~~" in line else line for line in text.split("\n")
    )


def _strip_inline(text: str) -> str:
    """Remove inline Markdown (links keep their text, emphasis loses its markers)."""
    # Each pattern runs only when its marker character occurs: most documents have none.
    if "](" in text or "][" in text:
        text = IMAGE.sub(r"\1", text)
        text = _strip_links(text)
        text = REF_LINK.sub(r"\1\2", text)
    if "*" in text or "__" in text:
        text = _strip_paired(text, BOLD, ("**", "__"))
    if "*" in text:
        text = ITALIC_STAR.sub(r"\1", text)
    if "_" in text:
        text = ITALIC_UNDER.sub(r"\1", text)
    if "~~" in text:
        text = _strip_strike(text)
    return CODE.sub(r"\1", text) if "`" in text else text


def _tag_key(name: str) -> str:
    """An ASCII tag name as an element pattern's case-insensitive back-reference compares it:
    letter by letter in simple lower case ('İ' is 'i'; str.lower makes it two)."""
    return name.replace("İ", "i").lower()


def strip_elements(
    text: str,
    element: re.Pattern[str],
    opening: re.Pattern[str],
    closing: re.Pattern[str],
    repl: str = "",
    *,
    attributes: bool = True,
) -> str:
    r"""element.sub(repl, text) in linear time, `repl` taken literally, for an element pattern such
    as SCRIPT_STYLE: `<(names)\b`, then the rest of the opening tag `[^>]*>` when `attributes` is
    set, then the content and closing tag `.*?</\1\s*>` (re.S | re.I). `opening` is the pattern's
    `<(names)\b` and `closing` is `</(names)\s*>` (re.I), the same names in group 1.

    The pattern reads to the end of the text from every opening tag that is never closed. Here the
    last closing tag of each name is found first, in one pass, and an opening tag with none at or
    after the start of its content (past its '>', or with no `attributes` right after its name) is
    passed over at once; any other one is matched by the pattern, which then stops at the first
    closing tag and consumes what it read. Each '>' is searched for once.
    """
    last = {_tag_key(m[1]): m.start() for m in closing.finditer(text)}
    parts, kept, pos, gt = [], 0, 0, -1
    while found := opening.search(text, pos):
        start, pos, content = found.start(), found.start() + 1, found.end()
        if attributes:
            if gt < found.end():
                gt = text.find(">", found.end())
                if gt < 0:
                    break  # no '>' is left to end this opening tag or any later one
            content = gt + 1
        key = _tag_key(found[1])
        if last.get(key, -1) >= content and (match := element.match(text, start)):
            parts += (text[kept:start], repl)
            kept = pos = match.end()
    return "".join(parts) + text[kept:] if parts else text


def _strip_scripts(text: str) -> str:
    """Remove script, style and noscript elements: SCRIPT_STYLE.sub("", text) in linear time."""
    return strip_elements(text, SCRIPT_STYLE, SCRIPT_OPEN, SCRIPT_CLOSE)


def _strip_markup(text: str) -> str:
    """Remove Markdown and stray HTML markup, keeping the words they wrap."""
    if not MARKUP_CHARS.search(text):
        return text
    text = _unescape(text)
    if "<" in text:
        text = HTML_COMMENT.sub("", text)
        text = _strip_scripts(text)
        text = AUTOLINK.sub(r"\1", text)
        text = BR_TAG.sub("\n", text)
        text = BLOCK_TAG.sub("\n\n", text)
        text = TAG.sub("", text)
    if LINE_MARKUP.search(text):
        text = FENCE.sub("", text)
        text = REF_DEF.sub("", text)
        text = HEADING.sub(r"\1", text)
        text = RULE.sub("", text)
        text = QUOTE_MARK.sub("", text)
        text = BULLET.sub("", text)
    return _strip_inline(text)  # the caller tidies whitespace next


def _remove_boilerplate(text: str, pattern: re.Pattern[str] | None) -> str:
    """Drop the short lines matching a boilerplate pattern."""
    if pattern is None:
        return text
    lines = text.split("\n")
    kept = [line for line in lines if len(line) > MAX_BOILERPLATE_LINE or not pattern.search(line)]
    return text if len(kept) == len(lines) else _tidy("\n".join(kept))


def _continues(previous: str, paragraph: str) -> bool:
    """True when a paragraph continues the sentence the previous one left unfinished."""
    if TERMINAL.search(previous):
        return False
    if paragraph[:1].islower():
        return True
    return bool(QUOTE_COMMA.search(previous) and SPEECH_VERB.match(paragraph))


def _join_paragraphs(text: str) -> str:
    """Join paragraphs that were broken in the middle of a sentence.

    Whether a paragraph continues depends only on the end of the one before it, so each is tested
    against that paragraph alone and the text is joined once: linear in the text. (Growing the
    joined paragraph and testing it whole was quadratic on many short unfinished paragraphs.)
    """
    paragraphs = text.split("\n\n")
    parts = [paragraphs[0]]
    for previous, paragraph in itertools.pairwise(paragraphs):
        parts += (" " if _continues(previous, paragraph) else "\n\n", paragraph)
    return "".join(parts)


NEVER = re.compile(r"(?!)")  # an empty pattern list: nothing is boilerplate


@functools.lru_cache(maxsize=16)
def compile_boilerplate(patterns: tuple[str, ...] | None) -> re.Pattern[str]:
    """One case-insensitive regex matching any boilerplate pattern (None = built-in list)."""
    patterns = DEFAULT_PATTERNS if patterns is None else patterns
    if not patterns:
        return NEVER
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise UsageError(f"boilerplate pattern {p!r} is not a valid regex: {exc}") from exc
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I)


def _apply(text: str, op: str, fn: Any, ops: set[str], *args: Any) -> str:
    """Run one step and note its op name when it changed the text."""
    new = fn(text, *args)
    if new != text:
        ops.add(op)
    return new


def _clean_body(text: str, boilerplate: re.Pattern[str] | None, ops: set[str]) -> str:
    """Run the body steps until the text stops changing, so that cleaning is idempotent."""
    for _ in range(MAX_PASSES):
        before = text
        text = _apply(text, OP_STRIP_MARKUP, _strip_markup, ops)
        text = _apply(text, OP_FIX_MOJIBAKE, _fix_mojibake, ops)
        text = _apply(text, OP_REMOVE_CONTROL_CHARS, _remove_controls, ops)
        text = _apply(text, OP_NORMALIZE_UNICODE, _nfc, ops)
        text = _apply(text, OP_NORMALIZE_WHITESPACE, _tidy, ops)
        text = _apply(text, OP_REMOVE_BOILERPLATE, _remove_boilerplate, ops, boilerplate)
        if text:
            text = _apply(text, OP_JOIN_PARAGRAPHS, _join_paragraphs, ops)
        if text == before:
            break
    return text


def clean_text(
    text: str,
    *,
    boilerplate: re.Pattern[str] | None = None,
    repeated: frozenset[int] = frozenset(),
    meta_title: str | None = None,
    header: bool = True,
) -> CleanResult:
    """Clean one decoded document: repaired, normalised body plus the header fields found.

    `boilerplate` defaults to the built-in patterns; `repeated` holds the line keys learned for the
    document's collection. With a `meta_title`, a first line is taken as the title only if it
    repeats it. Cleaning the returned text again (header=False) returns it unchanged.
    """
    if boilerplate is None:
        boilerplate = compile_boilerplate(None)
    ops: set[str] = set()
    text = _apply(text, OP_REMOVE_REPEATED_LINES, _remove_repeated, ops, repeated)
    text = _apply(text, OP_FIX_MOJIBAKE, _fix_mojibake, ops)
    text = _apply(text, OP_NORMALIZE_UNICODE, _nfc, ops)
    text = _apply(text, OP_REMOVE_CONTROL_CHARS, _remove_controls, ops)
    text = _apply(text, OP_NORMALIZE_WHITESPACE, _normalize_whitespace, ops)
    title = author = date = None
    n_header = 0
    if header and text:
        paragraphs = text.split("\n\n")
        title, author, date, used = _extract_header(paragraphs, meta_title, boilerplate)
        if used:
            ops.add(OP_EXTRACT_HEADER)
            n_header = len(title or "") + len(author or "")
            text = "\n\n".join(paragraphs[used:])
    text = _clean_body(text, boilerplate, ops) if text else text
    return CleanResult(title, author, date, text, tuple(op for op in OPS if op in ops), n_header)


# --------------------------------------------------------------------------------------------
# batch


def _repeated_by_collection(boilerplate: pa.Table) -> dict[str, frozenset[int]]:
    """The repeated-line keys of each collection."""
    groups: dict[str, set[int]] = {}
    if boilerplate.num_rows:
        cols = zip(
            boilerplate["collection"].to_pylist(), boilerplate["line_hash"].to_pylist(), strict=True
        )
        for collection, key in cols:
            groups.setdefault(collection, set()).add(key)
    return {c: frozenset(keys) for c, keys in groups.items()}


def _columns(table: pa.Table, names: Iterable[str]) -> dict[str, list[Any]]:
    """Columns of a table as Python lists, for the one per-document loop."""
    return {name: table.column(name).to_pylist() for name in names}


def clean_batch(
    ingested: pa.Table, boilerplate: pa.Table, config: PipelineConfig
) -> tuple[pa.Table, pa.Table]:
    """The cleaned batch and the rejects (documents left without text, unexpected failures).

    n_chars_removed = len(decoded) - len(text) - len(title and author taken from the decoded
    text), floored at 0; title/author from HTML or record metadata do not count as kept.
    """
    pattern = compile_boilerplate(config.boilerplate_patterns)
    repeated = _repeated_by_collection(boilerplate)
    cols = _columns(ingested, ingested.schema.names)
    rows, rejects = [], []
    for i in range(ingested.num_rows):
        decoded = cols["decoded"][i] or ""
        ident = {
            k: cols[k][i] for k in ("doc_id", "source_uri", "collection", "format", "encoding")
        }
        try:
            result = clean_text(
                decoded,
                boilerplate=pattern,
                repeated=repeated.get(ident["collection"], frozenset()),
                meta_title=cols["meta_title"][i],
            )
        except Exception as exc:  # never lose a document to an unexpected failure
            detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            rejects.append(_reject(ident, REASON_ERROR, detail))
            continue
        if not result.text:
            detail = f"no text left after cleaning ({len(decoded)} characters decoded)"
            rejects.append(_reject(ident, REASON_EMPTY, detail))
            continue
        rows.append(_cleaned_row(ident, cols, i, result, decoded))
    return pa.Table.from_pylist(rows, schema=CLEANED), rejects_table(rejects)


def _cleaned_row(
    ident: dict[str, Any], cols: dict[str, list[Any]], i: int, result: CleanResult, decoded: str
) -> dict[str, Any]:
    """One row of `cleaned`: metadata fields win over the header found in the text."""
    return {
        **ident,
        "title": cols["meta_title"][i] or result.title,
        "author": cols["meta_author"][i] or result.author,
        "published_date": cols["meta_published_date"][i] or result.published_date,
        "text": result.text,
        "clean_ops": list(result.ops),
        "n_chars_removed": max(0, len(decoded) - len(result.text) - result.n_header_chars),
    }


def _reject(ident: dict[str, Any], reason: str, detail: str) -> dict[str, Any]:
    """A reject row for a document cleaning could not keep."""
    return {
        "source_uri": ident["source_uri"],
        "collection": ident["collection"],
        "doc_id": ident["doc_id"],
        "reason": reason,
        "detail": detail,
        "n_bytes": None,
    }
