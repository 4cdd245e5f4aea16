"""The text of an HTML page: trafilatura's main text and metadata, else the page with its tags
stripped, in time linear in the page."""

from __future__ import annotations

import html
import json
import re

from proseflow.tasks.clean.markup import strip_elements

# Tried once, at the start, and read to the first "\n---" only: linear.
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n?", re.S)
# The fallback's regexes read on from opening marks that may never be closed: applied with sub or
# search they are quadratic on many such marks. _strip_tags and _html_title apply them in linear
# time, with the same results.
SCRIPT_STYLE = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.S | re.I)
SCRIPT_OPEN = re.compile(r"<(script|style|noscript|template)\b", re.I)
SCRIPT_CLOSE = re.compile(r"</(script|style|noscript|template)\s*>", re.I)
BLOCK_TAG = re.compile(r"</?(p|div|br|li|h[1-6]|tr|article|section|blockquote|pre)\b[^>]*>", re.I)
COMMENT = re.compile(r"<!--.*?-->", re.S)
TAG = re.compile(r"<[^>]+>")
TITLE_OPEN = re.compile(r"<title", re.I)
TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.S | re.I)


def html_text(markup: str) -> tuple[str, str | None, str | None, str | None]:
    """(main text, title, author, date) of an HTML page via trafilatura, paragraphs kept."""
    import trafilatura  # heavy import: only paid by runs that meet HTML

    out = trafilatura.extract(
        markup,
        output_format="markdown",
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_recall=True,
    )
    if not out:
        return _strip_tags(markup), _html_title(markup), None, None
    meta, body = _front_matter(out)
    return body, meta.get("title"), meta.get("author"), meta.get("date")


def _front_matter(out: str) -> tuple[dict[str, str], str]:
    """Split trafilatura's markdown output into its metadata header and body."""
    match = FRONT_MATTER.match(out)
    if not match:
        return {}, out
    meta = {}
    for line in match.group(1).splitlines():
        key, _, value = line.partition(": ")
        value = value.strip()
        if value.startswith('"') and value.endswith('"'):
            try:
                value = json.loads(value)
            except ValueError:
                value = value[1:-1]
        meta[key.strip()] = value or None
    return meta, out[match.end() :]


def _strip_tags(markup: str) -> str:
    """Fallback text of an HTML page trafilatura found no main text in, in time linear in it.

    Script, style, noscript and template elements become a space, block tags a blank line, any
    other tag or comment a space; entities are decoded.
    """
    return html.unescape(_replace_tags(_break_blocks(_strip_scripts(markup))))


def _strip_scripts(markup: str) -> str:
    """Script, style, noscript and template elements replaced by a space, in linear time: what
    SCRIPT_STYLE does with .sub(" ", markup)."""
    return strip_elements(markup, SCRIPT_STYLE, SCRIPT_OPEN, SCRIPT_CLOSE, " ", attributes=False)


def _break_blocks(text: str) -> str:
    r"""Each block tag replaced by a blank line: BLOCK_TAG.sub("\n\n", text) in linear time.

    A block tag ends at the first '>' after its name. From each block tag name with no '>' after it
    ('<p<p<p...') BLOCK_TAG reads to the end of the text and fails: quadratic. So it runs only on
    the text up to the last '>', where the first '>' after a name ends a match that consumes all
    it read; the rest holds no match and is kept as it is.
    """
    end = text.rfind(">") + 1
    return BLOCK_TAG.sub("\n\n", text[:end]) + text[end:]


def _replace_tags(text: str) -> str:
    """Each comment and tag replaced by a space, in linear time: what the regex `<!--.*?-->|<[^>]+>`
    (re.S) does with .sub(" ", text).

    That regex tries at every '<' a comment, read to the first '-->', and else a tag, read to the
    first '>': it reads to the end of the text from every '<!--' with no '-->' after it and from
    every '<' with no '>' after it. Here the last '-->' and the last '>' are found first: the search
    for '<' stops at the last '>', and a comment is read only when a '-->' follows its '<!--'. Each
    comment or tag read then ends in a match that consumes what it read, but for a tag that fails
    at its second character ('<>').
    """
    last_close, last_gt = text.rfind("-->"), text.rfind(">")
    parts, kept, pos = [], 0, 0
    while 0 <= (start := text.find("<", pos)) < last_gt:
        pos = start + 1
        if last_close >= start + 4 and text.startswith("<!--", start):
            found = COMMENT.match(text, start)
        else:
            found = TAG.match(text, start)
        if found:
            parts += (text[kept:start], " ")
            kept = pos = found.end()
    return "".join(parts) + text[kept:] if parts else text


def _html_title(markup: str) -> str | None:
    """The <title> of a page, entities decoded: TITLE_TAG.search in linear time.

    TITLE_TAG reads from a '<title' to the first '>' after it, then to the first '</title>' after
    that. When either is missing for the first '<title', it is missing for every later one, from
    each of which a search would read to the end of the text again. So only the first is tried.
    """
    opening = TITLE_OPEN.search(markup)
    match = TITLE_TAG.match(markup, opening.start()) if opening else None
    return html.unescape(" ".join(match.group(1).split())) or None if match else None
