"""Tests for tasks/ingest/extract.py: an HTML page's main text and metadata, and the linear-time
fallback that strips its tags."""

from __future__ import annotations

import datetime as dt
import html
import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from proseflow.tasks.ingest import extract
from tests.ingest_inputs import (
    decode_one,
)


def test_html_main_text_and_metadata() -> None:
    page = (
        "<html><head><title>Site | Big news</title><meta name='author' content='Jane Doe'>"
        "<meta property='article:published_time' content='2019-06-05T10:00:00Z'></head><body>"
        "<nav><a href='/'>Home</a></nav><article><h1>Big news</h1>"
        "<p>The first paragraph of the article explains what happened in some detail today.</p>"
        "<p>The second paragraph adds quotes &amp; context so that the extractor keeps it.</p>"
        "</article><footer>Copyright 2019</footer></body></html>"
    )
    row, reject = decode_one(page.encode(), "html")
    assert reject is None
    assert row["meta_author"] == "Jane Doe"
    assert row["meta_published_date"] == dt.date(2019, 6, 5)
    assert "Big news" in row["meta_title"]
    assert (
        "first paragraph of the article explains what happened in some detail today.\n\n"
        in row["decoded"]
    )
    assert "&amp;" not in row["decoded"] and "Home" not in row["decoded"]


def test_html_without_main_text_falls_back_to_tag_stripping() -> None:
    page = (
        b"<html><head><title>Tiny &amp; page</title><script>x()</script></head>"
        b"<body><p>Tiny.</p></body></html>"
    )
    row, reject = decode_one(page, "html")
    assert reject is None
    assert row["meta_title"] == "Tiny & page"
    assert "Tiny." in row["decoded"]
    assert "x()" not in row["decoded"] and "<p>" not in row["decoded"]


# What the HTML fallback did before its rewrites for linear time: the references the rewrites must
# agree with exactly, on text short enough for these regexes to stay fast.
OLD_SCRIPT_STYLE = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.S | re.I)
OLD_BLOCK_TAG = re.compile(
    r"</?(p|div|br|li|h[1-6]|tr|article|section|blockquote|pre)\b[^>]*>", re.I
)
OLD_ANY_TAG = re.compile(r"<!--.*?-->|<[^>]+>", re.S)
OLD_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.S | re.I)


def old_strip_tags(markup: str) -> str:
    """_strip_tags as it was, with the old regexes."""
    text = OLD_SCRIPT_STYLE.sub(" ", markup)
    text = OLD_BLOCK_TAG.sub("\n\n", text)
    return html.unescape(OLD_ANY_TAG.sub(" ", text))


def old_html_title(markup: str) -> str | None:
    """_html_title as it was, with the old regex."""
    match = OLD_TITLE_TAG.search(markup)
    return html.unescape(" ".join(match.group(1).split())) or None if match else None


# What opens and closes the fallback's patterns.
MARKS = (
    "<", ">", "!--", "-->", "/", "script", "style", "noscript", "template", "title", "p", "br",
    "div", "\n", " ", "a", "A",
)  # fmt: skip


def texts(*tokens: str) -> st.SearchStrategy[str]:
    """Short text made of `tokens`: the old regexes stay fast on it."""
    return st.lists(st.sampled_from(tokens), max_size=40).map("".join)


MARKUP = texts(
    *MARKS, "<!--", "</", "<p>", "</p>", "<br/>", "pre", "h1", "\t", "-", "!", "=", '"', "&amp;",
    "<script>", "</script>", "<title>", "</title>", "<!---->",
)  # fmt: skip
# Elements and titles more often closed. A case-insensitive name also matches 'ſ' for 's', and
# 'ı' or 'İ' for 'i'.
SCRIPTS = texts(
    "<", ">", "/", " ", "\n", "a", "s", "script", "<script", "<style", "<noscript", "<template",
    "</script>", "</style >", "</noscript\n>", "</template>", "<SCRIPT", "</Style>", "<ſcript",
    "<scrİpt", "<scrıpt", "</scrİpt>", "<noſcript",
)  # fmt: skip
TITLES = texts(
    "<", ">", "/", " ", "\n", "a", "&amp;", "title", "<title", "<TITLE", "<tİtle", "<tıtle",
    "</title>", "</TITLE>", "</tİtle>",
)  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(st.one_of(SCRIPTS, MARKUP))
@example("<script</script>")  # the content starts right after the name, '>' or not
@example("<scripts></scripts>a</script>")  # a longer name opens nothing
@example("<style>a</script><script>b</style></script>")
@example("<scrİpt>x</script>")  # the back-reference compares 'İ' as 'i'...
@example("<scrıpt>x</script> <ſcript>y</script>")  # ...but 'ı' and 'ſ' only as themselves
@example("<template><p>x</p></TEMPLATE >")
def test_script_elements_match_the_old_regex(markup: str) -> None:
    assert extract._strip_scripts(markup) == OLD_SCRIPT_STYLE.sub(" ", markup)


@settings(max_examples=1000, deadline=None)
@given(MARKUP)
@example("<p<p<p>")  # the first name reads to the '>'
@example("<pre>a<p")  # nothing past the last '>'
@example("<br/><h1 x=1><p")
@example("<p\n>")
def test_block_tags_match_the_old_regex(markup: str) -> None:
    assert extract._break_blocks(markup) == OLD_BLOCK_TAG.sub("\n\n", markup)


@settings(max_examples=1000, deadline=None)
@given(MARKUP)
@example("<!-->-->")  # a comment closes at the first '-->' after its '<!--'...
@example("<!--->")  # ...not one that overlaps it, so this is a tag
@example("<!-- a > b")  # an unclosed comment is read as a tag
@example("<><<>>")
@example("a<b\nc>d<e")
def test_comments_and_tags_match_the_old_regex(markup: str) -> None:
    assert extract._replace_tags(markup) == OLD_ANY_TAG.sub(" ", markup)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(TITLES, MARKUP))
@example("<title>a<title>b</title>")
@example("<title x>a</title><title>b")
@example("<title<title>a</TİTLE>")
@example("<title a</title>")  # no '>' after the first '<title' but the closing tag's
def test_title_matches_the_old_regex(markup: str) -> None:
    assert extract._html_title(markup) == old_html_title(markup)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(MARKUP, SCRIPTS, TITLES))
@example("<p>a &amp;amp; b</p><script>c</script><!-- d -->e<br>")
def test_strip_tags_matches_the_old_regexes(markup: str) -> None:
    assert extract._strip_tags(markup) == old_strip_tags(markup)
