"""Normalising decoded text: mojibake repaired, Unicode NFC, control characters removed,
whitespace tidied."""

from __future__ import annotations

import re
import unicodedata

import ftfy

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


def fix_mojibake(text: str) -> str:
    """Repair mis-decoded text (ftfy); skipped when no mojibake-like character pair occurs."""
    if text.isascii() or not MOJIBAKE_HINT.search(text):
        return text
    return ftfy.fix_text(text, FTFY_CONFIG)


def nfc(text: str) -> str:
    """Text in Unicode normal form C."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def remove_controls(text: str) -> str:
    """Text without control, NUL and invisible format characters."""
    return CONTROL.sub("", text)


def tidy(text: str) -> str:
    """Single spaces, no spaces around line ends, at most one blank line, stripped."""
    text = "\n".join([" ".join(line.split()) for line in text.split("\n")])
    return (BLANK_RUN.sub("\n\n", text) if "\n\n\n" in text else text).strip()


def normalize_whitespace(text: str) -> str:
    """Text with Unix line endings, single spaces and at most one blank line in a row."""
    return tidy(NEWLINES.sub("\n", text))
