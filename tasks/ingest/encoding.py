"""Bytes to text: a BOM, else UTF-8, else a legacy-encoding guess; binary files are refused."""

from __future__ import annotations

import codecs
import re

import charset_normalizer

from proseflow.tasks.rejects import REASON_BINARY, REASON_UNDECODABLE, Reject

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

BINARY_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"BZh",
    b"\x7fELF",
    b"7z\xbc\xaf",
    b"Rar!",
    b"RIFF",
    b"\x00\x00\x01\x00",
    b"OggS",
    b"ID3",
    b"PAR1",
    b"\xd0\xcf\x11\xe0",
)

# Bytes that never appear in text: C0 controls except tab, newlines, form feed and escape.
CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
SAMPLE = 8192
CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
HIGH_BYTE = re.compile(rb"[\x80-\xff]")
ENCODING_NAMES = {"iso8859-1": "latin-1", "utf-8": "utf-8"}


def binary_reason(data: bytes) -> str | None:
    """Why bytes are not text (a detail for the reject), or None when they may be text."""
    head = data[:SAMPLE]
    for magic in BINARY_MAGIC:
        if head.startswith(magic):
            return f"starts with the signature {magic!r} of a binary file"
    n_control = len(head) - len(head.translate(None, CONTROL_BYTES))
    if n_control > max(2, len(head) // 100):
        return f"{n_control} control/NUL bytes in the first {len(head)} bytes"
    return None


def decode_bytes(data: bytes) -> tuple[str, str]:
    """(text, encoding) of bytes: BOM, else UTF-8, else a legacy-encoding guess; raises Reject."""
    for bom, name in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(name), name
            except UnicodeDecodeError as exc:
                raise Reject(REASON_UNDECODABLE, f"invalid {name} after its BOM: {exc}") from exc
    reason = binary_reason(data)
    if reason:
        raise Reject(REASON_BINARY, reason)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if _looks_western(data):
        return data.decode("cp1252"), "cp1252"
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise Reject(REASON_UNDECODABLE, "not UTF-8 and no known encoding decodes it")
    name = codecs.lookup(best.encoding).name
    return str(best), ENCODING_NAMES.get(name, name)


def _looks_western(data: bytes) -> bool:
    """True for mostly-ASCII bytes whose few high bytes stand alone: Western text in cp1252.

    Detectors misjudge such texts (a single pound sign reads as cp932); multi-byte and
    non-Latin single-byte encodings have runs of high bytes in nearly every word.
    """
    if CP1252_UNDEFINED.search(data):
        return False
    highs = HIGH_BYTE.findall(data)
    if len(highs) > max(8, len(data) // 50):
        return False
    runs = re.findall(rb"[\x80-\xff]{2,}", data)
    return len(runs) * 4 <= len(highs) + 1
