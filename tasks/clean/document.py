"""Cleaning one document: every step in order, the op names of the steps that changed it, and
the header fields found.

`clean_text` is idempotent: cleaning its text again (header=False) returns it unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from proseflow.tasks.clean.boilerplate import compile_boilerplate, remove_boilerplate
from proseflow.tasks.clean.header import extract_header
from proseflow.tasks.clean.markup import strip_markup
from proseflow.tasks.clean.normalize import (
    fix_mojibake,
    nfc,
    normalize_whitespace,
    remove_controls,
    tidy,
)
from proseflow.tasks.clean.paragraphs import join_paragraphs
from proseflow.tasks.clean.repeated import remove_repeated

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

MAX_PASSES = 4  # body steps repeat until nothing changes; this bounds pathological inputs


@dataclass(frozen=True)
class CleanResult:
    """One cleaned document: header fields, body text and the steps that changed it."""

    title: str | None
    author: str | None
    published_date: dt.date | None
    text: str
    ops: tuple[str, ...]
    n_header_chars: int  # characters of the decoded text kept as title/author


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
        text = _apply(text, OP_STRIP_MARKUP, strip_markup, ops)
        text = _apply(text, OP_FIX_MOJIBAKE, fix_mojibake, ops)
        text = _apply(text, OP_REMOVE_CONTROL_CHARS, remove_controls, ops)
        text = _apply(text, OP_NORMALIZE_UNICODE, nfc, ops)
        text = _apply(text, OP_NORMALIZE_WHITESPACE, tidy, ops)
        text = _apply(text, OP_REMOVE_BOILERPLATE, remove_boilerplate, ops, boilerplate)
        if text:
            text = _apply(text, OP_JOIN_PARAGRAPHS, join_paragraphs, ops)
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
    text = _apply(text, OP_REMOVE_REPEATED_LINES, remove_repeated, ops, repeated)
    text = _apply(text, OP_FIX_MOJIBAKE, fix_mojibake, ops)
    text = _apply(text, OP_NORMALIZE_UNICODE, nfc, ops)
    text = _apply(text, OP_REMOVE_CONTROL_CHARS, remove_controls, ops)
    text = _apply(text, OP_NORMALIZE_WHITESPACE, normalize_whitespace, ops)
    title = author = date = None
    n_header = 0
    if header and text:
        paragraphs = text.split("\n\n")
        title, author, date, used = extract_header(paragraphs, meta_title, boilerplate)
        if used:
            ops.add(OP_EXTRACT_HEADER)
            n_header = len(title or "") + len(author or "")
            text = "\n\n".join(paragraphs[used:])
    text = _clean_body(text, boilerplate, ops) if text else text
    return CleanResult(title, author, date, text, tuple(op for op in OPS if op in ops), n_header)
