"""Tests for tasks/clean/document.py: clean_text on whole documents, and its laws."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from proseflow.tasks.clean.document import clean_text


def test_three_megabyte_single_line_is_cleaned() -> None:
    document = "word " * 600_000
    result = clean_text(document)
    assert result.text == document.strip() and result.title is None


ALPHABET = st.sampled_from(
    list("abcXYZ .,;:!?\"'“”-*_#>[]()<>/&é\u0301\u200b\x00\t\r\n") + ["\n\n", "By ", "&amp;"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ALPHABET, max_size=60).map("".join))
def test_clean_text_is_idempotent(document: str) -> None:
    once = clean_text(document)
    again = clean_text(once.text, header=False)
    assert again.text == once.text
    assert again.ops == ()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_clean_text_is_idempotent_on_any_unicode(document: str) -> None:
    once = clean_text(document)
    assert clean_text(once.text, header=False).text == once.text
    assert once.text == once.text.strip() and "\n\n\n" not in once.text
