"""Tests for tasks/segment.py: the English golden rules, news-text cases and laws."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.golden_rules import GOLDEN_RULES
from proseflow.tasks.segment import (
    count_sentences,
    paragraph_spans,
    sentence_spans,
    split_sentences,
)


def test_golden_rules_score_at_least_46_of_48():
    failures = [
        i for i, (text, want) in enumerate(GOLDEN_RULES, 1) if split_sentences(text) != want
    ]
    assert len(GOLDEN_RULES) == 48
    # Every rule passes today; the contract is >= 46 so a deliberate trade-off stays possible.
    assert len(GOLDEN_RULES) - len(failures) >= 46, f"failing rules: {failures}"
    assert failures == []


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # Money, decimals, percentages and thousands separators never end a sentence.
        (
            "Profits rose 3.5% to $1.2bn. Sales hit 1,000.50 units.",
            ["Profits rose 3.5% to $1.2bn.", "Sales hit 1,000.50 units."],
        ),
        # Initials and titles.
        (
            "J. K. Rowling met Dr. Who and Gen. Smith. They talked.",
            ["J. K. Rowling met Dr. Who and Gen. Smith.", "They talked."],
        ),
        # Months before a day number, "No." before a number, e.g./i.e. before a capital.
        (
            "On Jan. 5 the No. 10 team won, e.g. Leeds and i.e. Hull. It rained.",
            ["On Jan. 5 the No. 10 team won, e.g. Leeds and i.e. Hull.", "It rained."],
        ),
        # Company suffixes end a sentence only before a usual sentence opener.
        ("He joined Acme Inc. The rest followed.", ["He joined Acme Inc.", "The rest followed."]),
        ("He joined Acme Inc. Europe last year.", ["He joined Acme Inc. Europe last year."]),
        # A terminator inside closing quotes belongs to the quoted sentence.
        (
            '"We won. It was great." The coach smiled.',
            ['"We won.', 'It was great."', "The coach smiled."],
        ),
        ("“Why?” he asked.", ["“Why?” he asked."]),
        # A paragraph break always ends a sentence, punctuated or not.
        ("A headline\n\nThe body starts here", ["A headline", "The body starts here"]),
        # Dashed list lines are items of their own.
        ("Pledges:\n- More nurses\n- Lower tax", ["Pledges:", "- More nurses", "- Lower tax"]),
        # Parentheses: a full stop followed by a capitalised parenthesis ends the sentence.
        (
            "He left. (He was tired.) Then he slept.",
            ["He left.", "(He was tired.)", "Then he slept."],
        ),
        # Unspaced ellipsis before a capital ends a sentence; before lower case it does not.
        ("Wait... Then go. Well... maybe", ["Wait...", "Then go.", "Well... maybe"]),
        # CJK full stops need no following space.
        ("外は雨。中は晴れ！", ["外は雨。", "中は晴れ！"]),
        ("", []),
        ("   \n\n  ", []),
    ],
)
def test_split_sentences_news_cases(text, want):
    assert split_sentences(text) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # A spaced ellipsis before a non-space keeps its last " ." out: ". . ." never ends one.
        ("So . . . .And then it rained. Next one.", ["So . . . .And then it rained.", "Next one."]),
        ("He paused . . . . Then he left.", ["He paused . . . .", "Then he left."]),
        # Runs of terminators glued to a word end nothing.
        ("Wow!!!x And more. Next!", ["Wow!!!x And more.", "Next!"]),
        ("Wait....x Then. Go.", ["Wait....x Then.", "Go."]),
        # Dashed list lines after any line break, bullets after any whitespace.
        ("Items:\r\n- one\r\n- two", ["Items:", "- one", "- two"]),
        ("Items: \t\n\r - one\n- two", ["Items:", "- one", "- two"]),
        ("Intro \t• first • second", ["Intro", "• first", "• second"]),
        # A numbered list takes its labels in order; other numbers stay inside the items.
        ("1. one 2. two 12. x 3. three", ["1. one", "2. two 12. x", "3. three"]),
        # A list label opening the sentence, behind brackets or quotes, ends nothing.
        ("(b. The first item c. The second item", ["(b. The first item c. The second item"]),
        # A time ends a sentence of four words or more only.
        (
            "At 5 a.m. The bus left. It was 7 p.m. The end.",
            ["At 5 a.m. The bus left.", "It was 7 p.m.", "The end."],
        ),
        # Tokens run from the last space or line break: a tab does not start one.
        ("Tom\tb. Then he left.", ["Tom\tb.", "Then he left."]),
        ("a.b.c.d.e.f. The end.", ["a.b.c.d.e.f.", "The end."]),
    ],
)
def test_split_sentences_edge_cases(text, want):
    assert split_sentences(text) == want


def test_language_abbreviations_apply_only_to_their_language():
    text = "Es kamen ca. Hundert Leute. Dann ging er."
    assert split_sentences(text, "de") == ["Es kamen ca. Hundert Leute.", "Dann ging er."]
    assert split_sentences(text, "en") == ["Es kamen ca.", "Hundert Leute.", "Dann ging er."]


def test_ordinal_periods_in_german():
    text = "Er kam am 3. Oktober an. Es regnete."
    assert split_sentences(text, "de") == ["Er kam am 3. Oktober an.", "Es regnete."]
    assert len(split_sentences(text, "en")) == 3


def test_count_sentences_is_the_number_of_sentences():
    text = "One. Two? Three!\n\nFour"
    assert count_sentences(text) == 4 == len(split_sentences(text))


def test_spans_point_at_the_sentences():
    text = "  Hi there.  Bye.\n\nNext  "
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == ["Hi there.", "Bye.", "Next"]
    assert [text[a:b].strip() for a, b in paragraph_spans(text)] == ["Hi there.  Bye.", "Next"]


_PIECES = list("aZ1 .!?\"'“”()[]\n-•…,。") + ["Mr.", "U.S.", "e.g.", "\n\n", "I. ", " 2. "]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)


@given(_TEXT)
def test_segmentation_keeps_every_visible_character_in_order(text):
    sentences = split_sentences(text)
    assert "".join("".join(s.split()) for s in sentences) == "".join(text.split())
    assert all(s and s == s.strip() for s in sentences)


@given(_TEXT)
def test_spans_are_ordered_and_disjoint(text):
    spans = sentence_spans(text)
    assert all(a < b <= c for (a, b), (c, _) in zip(spans, spans[1:], strict=False))


def _bbc_bodies(bbc, n: int) -> list[str]:
    """Bodies (title line dropped) of n BBC articles spread over the categories."""
    files = sorted(bbc.glob("*/*.txt"))[:: max(1, 2225 // n)][:n]
    raw = [f.read_bytes() for f in files]
    texts = [b.decode("utf-8", errors="replace") for b in raw]
    return [t.split("\n", 1)[1].strip() for t in texts]


def test_bbc_sentences_look_like_sentences(bbc):
    bodies = _bbc_bodies(bbc, 100)
    sentences = [s for body in bodies for s in split_sentences(body)]
    assert len(sentences) > 1000
    # No sentence ends on a title abbreviation or starts in lower case.
    assert not [s for s in sentences if s.endswith((" Mr.", " Dr.", " Mrs."))]
    starts_lower = [s for s in sentences if s[0].islower()]
    assert len(starts_lower) <= len(sentences) // 200, starts_lower[:5]
