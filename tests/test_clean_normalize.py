"""Tests for tasks/clean/normalize.py: controls, newlines, mojibake and NFC; what is kept."""

from __future__ import annotations

from proseflow.tasks.clean.document import clean_text


def test_control_zero_width_nul_and_crlf() -> None:
    result = clean_text(
        "Body\x00 with\u200b NUL\x07.\r\nNext\u00a0line.\r\n\r\n\r\n\r\nNew para.", header=False
    )
    assert result.text == "Body with NUL.\nNext line.\n\nNew para."
    assert result.ops == ("remove_control_chars", "normalize_whitespace")


def test_mojibake_and_nfc() -> None:
    result = clean_text("The cafÃ© served crÃ¨me brÃ»lÃ©e.", header=False)
    assert result.text == "The café served crème brûlée."
    assert result.ops == ("fix_mojibake",)
    decomposed = clean_text("Cafe\u0301 au lait.", header=False)
    assert decomposed.text == "Café au lait." and decomposed.ops == ("normalize_unicode",)


def test_curly_quotes_scripts_and_emoji_are_kept() -> None:
    text = "“Quoted” — Привет. 你好。 مرحبا 👩‍👩‍👧 ﬁne."
    result = clean_text(text, header=False)
    assert result.text == text and result.ops == ()
