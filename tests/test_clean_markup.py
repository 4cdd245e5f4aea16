"""Tests for tasks/clean/markup.py: Markdown and HTML stripped, and the linear-time scanners
agreeing with the regexes they replace."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from proseflow.tasks.clean import markup
from proseflow.tasks.clean.document import clean_text


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ('See [the report](https://x.org/r "t") and ![img](a.png) now.', "See the report and now."),
        (
            "Some **bold**, *italic*, __strong__, _em_ and ~~gone~~ and `code`.",
            "Some bold, italic, strong, em and gone and code.",
        ),
        ("- one\n* two\n+ three\n• four", "one\ntwo\nthree\nfour"),
        ("```python\nx = 1\n```\n\nAfter.", "x = 1\n\nAfter."),
        ("> quoted words\n> more", "quoted words\nmore"),
        (
            "Text<br>with <b>tags</b> &amp; entities &amp;lt;x&amp;gt; &#8212; ok.",
            "Text\nwith tags & entities — ok.",
        ),
        ("<p>One.</p><p>Two.</p><script>var x;</script>", "One.\n\nTwo."),
        ("snake_case_name and 2*3*4 stay", "snake_case_name and 2*3*4 stay"),
        ("Intro.\n\n---\n\n### Sub heading\n\nEnd.", "Intro.\n\nSub heading\n\nEnd."),
    ],
)
def test_strip_markup(document: str, expected: str) -> None:
    assert clean_text(document, header=False).text == expected


# What markup stripping did before its rewrites for linear time: the references the rewrites must
# agree with exactly, on text short enough for these regexes to stay fast.
OLD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
OLD_LINK = re.compile(r"\[([^\]\n]+)\]\(\s*[^)\s]*(?:\s+\"[^\"\n]*\")?\s*\)")
OLD_REF_LINK = re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]")
OLD_SCRIPT_STYLE = re.compile(r"<(script|style|noscript)\b[^>]*>.*?</\1\s*>", re.S | re.I)
OLD_HEADING = re.compile(r"^#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.M)
OLD_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.S)
OLD_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
OLD_CODE = re.compile(r"`+([^`\n]+?)`+")


def old_strip_markup(text: str) -> str:
    """_strip_markup as it was, with the old regexes."""
    if not markup.MARKUP_CHARS.search(text):
        return text
    text = markup.unescape(text)
    if "<" in text:
        text = markup.HTML_COMMENT.sub("", text)
        text = OLD_SCRIPT_STYLE.sub("", text)
        text = markup.AUTOLINK.sub(r"\1", text)
        text = markup.BR_TAG.sub("\n", text)
        text = markup.BLOCK_TAG.sub("\n\n", text)
        text = markup.TAG.sub("", text)
    if markup.LINE_MARKUP.search(text):
        text = markup.FENCE.sub("", text)
        text = markup.REF_DEF.sub("", text)
        text = OLD_HEADING.sub(r"\1", text)
        text = markup.RULE.sub("", text)
        text = markup.QUOTE_MARK.sub("", text)
        text = markup.BULLET.sub("", text)
    if "](" in text or "][" in text:
        text = OLD_IMAGE.sub("", text)
        text = OLD_LINK.sub(r"\1", text)
        text = OLD_REF_LINK.sub(r"\1", text)
    if "*" in text or "__" in text:
        text = OLD_BOLD.sub(r"\2", text)
    if "*" in text:
        text = markup.ITALIC_STAR.sub(r"\1", text)
    if "_" in text:
        text = markup.ITALIC_UNDER.sub(r"\1", text)
    if "~~" in text:
        text = OLD_STRIKE.sub(r"\1", text)
    return OLD_CODE.sub(r"\1", text) if "`" in text else text


SPACES = (" ", "  ", "\t", "\n", "\n\n", "\u00a0", "\x1c")


def texts(*tokens: str) -> st.SearchStrategy[str]:
    """Short text made of `tokens` and spaces: the old regexes stay fast on it."""
    return st.lists(st.sampled_from((*tokens, *SPACES)), max_size=40).map("".join)


LINKS = texts(
    "[", "]", "(", ")", '"', "!", "](", "][", "![", "[a](", ' "', '")', "a", "x", '"t"', "&#32;",
)  # fmt: skip
EMPHASIS = texts("*", "_", "~", "**", "__", "~~", "`", "``", "a", "A", ".", "*a", "a*")
TAGS = texts(
    "<", ">", "/", "</", "script", "style", "noscript", "SCRIPT", "ſcript", "scrİpt", "scrıpt",
    "<script>", "</script>", "<style>", "</style >", "<noscript x>", "a", "=", '"',
)  # fmt: skip
HEADINGS = texts("#", "##", "a", "A", ".", "&#32;", "&#9;")
MARKUP = texts(
    "[", "]", "(", ")", '"', "*", "_", "~", "`", "<", ">", "/", "!", "#", "-", "&amp;", "&#32;",
    "script", "style", "noscript", "**", "__", "~~", "](", "][", "a", "A", ".",
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.one_of(LINKS, MARKUP))
@example('[a]( "t b")')  # a title and no URL: the old regex found it by backtracking
@example("[a](x[b](y)z")  # a link inside the URL of a target that fails
@example('[a](x[b]( "c)')  # a target that starts where the URL of a failed one ends
@example('[a](x "[b](c) d')  # a link inside a title that is never closed
@example("[[x[a](u)")  # the first '[' of the line takes the link
@example("![a](x\n![b](y)")  # an image that fails reads no further than its line
def test_links_match_the_old_regexes(text: str) -> None:
    assert markup.IMAGE.sub(r"\1", text) == OLD_IMAGE.sub("", text)
    assert markup._strip_links(text) == OLD_LINK.sub(r"\1", text)
    assert markup.REF_LINK.sub(r"\1\2", text) == OLD_REF_LINK.sub(r"\1", text)


@settings(max_examples=500, deadline=None)
@given(st.one_of(EMPHASIS, MARKUP))
@example("***a***")
@example("**a **b** c**")
@example("__a **b__ c**")
@example("~~a ~~b~~\n~~c~~")
@example("a```x`` ``")
def test_emphasis_and_code_match_the_old_regexes(text: str) -> None:
    assert markup._strip_paired(text, markup.BOLD, ("**", "__")) == OLD_BOLD.sub(r"\2", text)
    assert markup._strip_strike(text) == OLD_STRIKE.sub(r"\1", text)
    assert markup.CODE.sub(r"\1", text) == OLD_CODE.sub(r"\1", text)


@settings(max_examples=500, deadline=None)
@given(st.one_of(TAGS, MARKUP))
@example("<scrİpt>x</script>")  # the back-reference compares 'İ' as 'i'...
@example("<scrıpt>x</script>")  # ...but 'ı' and 'ſ' only as themselves
@example("<script <style>a</style>>b</script>")
@example("<style>a</script><script>b</style></script>")
def test_script_elements_match_the_old_regex(text: str) -> None:
    assert markup._strip_scripts(text) == OLD_SCRIPT_STYLE.sub("", text)


def test_tag_key_is_the_back_reference_equality() -> None:
    # Case-insensitively an ASCII letter also matches 'ſ' (s), 'ı' and 'İ' (i), 'K' (Kelvin, k).
    def spellings(name: str) -> list[str]:
        letters = [
            [c for c in (x, x.upper(), "ſ", "ı", "İ", "\u212a") if re.fullmatch(x, c, re.I)]
            for x in name
        ]
        return ["".join(p) for p in itertools.product(*letters)]

    for name in ("script", "style"):
        for a, b in itertools.product(spellings(name), repeat=2):
            closed = OLD_SCRIPT_STYLE.fullmatch(f"<{a}></{b}>") is not None
            assert (markup._tag_key(a) == markup._tag_key(b)) == closed, (a, b)


@settings(max_examples=500, deadline=None)
@given(st.one_of(HEADINGS, MARKUP))
@example("#  ")
@example("# #")
@example("# a ## b #")
@example("# a&#32;&#32;##&#32;")
def test_headings_match_the_old_regex(text: str) -> None:
    assert markup.HEADING.sub(r"\1", text) == OLD_HEADING.sub(r"\1", text)


@settings(max_examples=500, deadline=None)
@given(MARKUP)
def test_strip_markup_matches_the_old_regexes(text: str) -> None:
    assert markup.strip_markup(text) == old_strip_markup(text)
