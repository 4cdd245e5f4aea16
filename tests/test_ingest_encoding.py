"""Tests for tasks/ingest/encoding.py: BOMs, UTF-8, legacy encodings, binary files."""

from __future__ import annotations

import codecs

import pytest

from proseflow.tasks.rejects import REASON_BINARY, REASON_UNDECODABLE
from tests.ingest_inputs import (
    decode_one,
)

TEXT = "Grüße aus Köln — “quoted” text, 5 €."


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"plain ascii", "utf-8"),
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),
        (TEXT.encode("utf-32"), "utf-32"),
        (TEXT.encode("cp1252"), "cp1252"),
        ("Chelsea paid £2m for the café.".encode("latin-1"), "cp1252"),
    ],
)
def test_encodings(data: bytes, encoding: str) -> None:
    row, reject = decode_one(data)
    assert reject is None
    assert row["encoding"] == encoding
    assert row["decoded"].lstrip("\ufeff") in (
        TEXT,
        "plain ascii",
        "Chelsea paid £2m for the café.",
    )


def test_non_latin_scripts_and_emoji_decode() -> None:
    text = "Привет, мир. 你好，世界。 مرحبا بالعالم 👩‍👩‍👧 🎉"
    row, _ = decode_one(text.encode())
    assert row["decoded"] == text and row["encoding"] == "utf-8"
    cyrillic = "Москва — столица России, крупнейший по численности населения город страны. " * 5
    row, _ = decode_one(cyrillic.encode("cp1251"))
    assert row["decoded"] == cyrillic


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        b"PK\x03\x04" + b"\x00" * 50,
        b"text\x00\x00\x00\x00with many\x00\x00\x00NULs\x00\x00" * 20,
        bytes([1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16]) * 30,
    ],
)
def test_binary_is_rejected(data: bytes) -> None:
    row, reject = decode_one(data)
    assert row is None and reject["reason"] == REASON_BINARY


def test_few_nul_bytes_stay_text_for_cleaning() -> None:
    row, _ = decode_one(
        b"A sentence with one stray NUL\x00 byte in a long enough line of text here."
    )
    assert "\x00" in row["decoded"]


def test_undecodable_after_bom() -> None:
    row, reject = decode_one(codecs.BOM_UTF32_LE + b"\xff\xff\xff\xff")
    assert row is None and reject["reason"] == REASON_UNDECODABLE
