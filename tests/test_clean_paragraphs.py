"""Tests for tasks/clean/paragraphs.py: paragraphs broken mid-sentence joined, others kept."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from proseflow.tasks.clean.document import clean_text
from proseflow.tasks.clean.paragraphs import _continues, join_paragraphs


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("It was a threat in a\n\ngeneration. Next.", "It was a threat in a generation. Next."),
        (
            '"We are just getting started,"\n\nKerry said, smiling.',
            '"We are just getting started," Kerry said, smiling.',
        ),
        ('"We are done,"\n\nand then she left.', '"We are done," and then she left.'),
        ("A full sentence.\n\nlower case start.", "A full sentence.\n\nlower case start."),
        ("A list:\n\nsecond item", "A list:\n\nsecond item"),
        ('"Yes," he said.\n\n"No."', '"Yes," he said.\n\n"No."'),
        ('"Okay,"\n\nThe next paragraph.', '"Okay,"\n\nThe next paragraph.'),
        ("one\n\ntwo\n\nthree.", "one two three."),
    ],
)
def test_join_paragraphs(document: str, expected: str) -> None:
    assert clean_text(document, header=False).text == expected


# The paragraph joiner before its rewrite for linear time: the reference it must agree with.
def old_join_paragraphs(text: str) -> str:
    """The paragraph joiner that grew the joined paragraph and tested it whole."""
    paragraphs = text.split("\n\n")
    joined = [paragraphs[0]]
    for paragraph in paragraphs[1:]:
        if _continues(joined[-1], paragraph):
            joined[-1] = f"{joined[-1]} {paragraph}"
        else:
            joined.append(paragraph)
    return "\n\n".join(joined)


SPACES = (" ", "  ", "\t", "\n", "\n\n", "\u00a0", "\x1c")


def texts(*tokens: str) -> st.SearchStrategy[str]:
    """Short text made of `tokens` and spaces: the old regexes stay fast on it."""
    return st.lists(st.sampled_from((*tokens, *SPACES)), max_size=40).map("".join)


PARAGRAPHS = texts(
    "a", "A", "B.", ".", ",", "!", "?", "…", ":", ";", '"', "'", "”", "’", "»", ")", "]", "(",
    ",\"", "said", "Kerry said", "He", "x",
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(PARAGRAPHS)
@example('"Yes,"\n\nKerry said so\n\nand left.\n\n')
@example("a\n\n\n\nb")
def test_join_paragraphs_matches_the_old_joiner(text: str) -> None:
    assert join_paragraphs(text) == old_join_paragraphs(text)
