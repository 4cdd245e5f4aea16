"""Markup stripping: Markdown and stray HTML removed, keeping the words they wrap.

Several of these patterns read on from an opening mark that may never be closed: applied with sub
or search they are quadratic on many such marks. The scanners here (`strip_elements`,
`_strip_links`, `_strip_paired`) apply them in linear time, with the same results.
"""

from __future__ import annotations

import html
import re

# What strip_markup looks for first: any markup at all, and any that starts a line.
MARKUP_CHARS = re.compile(r"[<>*_\[\]#`~&\-=+•·▪‣◦]")
LINE_MARKUP = re.compile(r"^[ \t]*(?:[-=_*#>+•·▪‣◦\[]|```|~~~)", re.M)

# HTML, looked for when the text has a '<'.
HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
SCRIPT_STYLE = re.compile(r"<(script|style|noscript)\b[^>]*>.*?</\1\s*>", re.S | re.I)
SCRIPT_OPEN = re.compile(r"<(script|style|noscript)\b", re.I)
SCRIPT_CLOSE = re.compile(r"</(script|style|noscript)\s*>", re.I)
BR_TAG = re.compile(r"<br\s*/?>", re.I)
BLOCK_TAG = re.compile(
    r"</?(?:p|div|h[1-6]|li|ul|ol|blockquote|section|article|header|footer|tr|table|pre)\b[^<>]*>",
    re.I,
)
TAG = re.compile(r"</?[a-zA-Z][\w:-]*(?:\s[^<>]*)?/?>")
AUTOLINK = re.compile(r"<((?:https?|mailto|ftp):[^<>\s]+)>")

# Markdown that starts a line, looked for when LINE_MARKUP finds some.
FENCE = re.compile(r"^[ \t]*(?:```|~~~).*$", re.M)
REF_DEF = re.compile(r"^[ \t]*\[[^\]\n]+\]:[ \t]+\S+.*$", re.M)
# A heading's text, up to the first place followed by nothing but closing '#'s and spaces. That
# place is never inside a run of spaces (the run's start would do), so only places after a
# non-space are tried: each run of spaces is read once, not once from each of its spaces.
HEADING = re.compile(r"^#{1,6}[ \t]++((?:.*?[^ \t\n])??)(?:[ \t]++#++)?+[ \t]*+$", re.M)
RULE = re.compile(r"^[ \t]*(?:[-=_*][ \t]*){3,}$", re.M)
QUOTE_MARK = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.M)
BULLET = re.compile(r"^[ \t]*[-*+•·▪‣◦][ \t]+", re.M)

# Inline Markdown (strip_inline).
# An image, or else (group 1, kept) what an image that does not close reads: up to the first ']'
# or line end, and past an unclosed '](' to the first ')' or line end. Every other '![' in that
# stretch stops at the same places and fails too, so skipping it keeps the search linear.
IMAGE = re.compile(r"!\[[^\]\n]*+\]\([^)\n]*+\)|(!\[[^\]\n]*+(?:\]\([^)\n]*+)?)")
# A link's '[text', and its target as `\]\(\s*[^)\s]*(?:\s+"[^"\n]*")?\s*\)` matches it, without
# backtracking: spaces, URL and an optional title after a space or else, as that regex finds by
# backtracking, spaces and a title with no URL. LINK_URL finds the URL of a target that fails.
LINK_TEXT = re.compile(r"\[([^\]\n]*+)")
LINK_TARGET = re.compile(r'\]\((?:\s*+[^)\s]*+(?:\s++"[^"\n]*+")?+|\s++"[^"\n]*+")\s*+\)')
LINK_URL = re.compile(r"\]\(\s*+([^)\s]*+)")
# A reference link, or else (group 2, kept) the '[text' of one that fails: every '[' inside it
# stops at the same ']' or line end and fails too, so skipping it keeps the search linear.
REF_LINK = re.compile(r"\[([^\]\n]++)\]\[[^\]\n]*+\]|(\[[^\]\n]*+)")
BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.S)
ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?![\w*])")
ITALIC_UNDER = re.compile(r"(?<![\w_])_(?=[^\s_])([^_\n]*?[^\s_])_(?![\w_])")
STRIKE = re.compile(r"(~~)(?=\S)(.+?)(?<=\S)\1")
# Code starts only at the first backtick of a run: when the run's first backtick opens no code, no
# other one does (its code would start at the same place), and retrying each would be quadratic.
CODE = re.compile(r"(?<!`)`++([^`\n]++)`++")


def unescape(text: str) -> str:
    """Decode HTML entities until none is left (double-escaped text included)."""
    for _ in range(3):
        if "&" not in text:
            break
        new = html.unescape(text)
        if new == text:
            break
        text = new
    return text


def _strip_links(text: str) -> str:
    """`[text](url "title")` -> text, in time linear in the text.

    The result is that of one regex (OLD_LINK in tests/test_clean_markup.py), which tries every '[' and
    reads from it to the end of its target or line: quadratic on many '[' or '](' in a row. Here
    a '[' that fails lets the search go on after the ']' (or line end) it stopped at, since every
    '[' before that stops there too and fails the same way. And a target that starts inside the
    URL of the last target that failed is not read: it has the same URL end, spaces and title, and
    fails too. Each character is then read a few times at most.
    """
    parts, kept, pos = [], 0, 0
    dead = range(0)  # the URL of the last target that failed
    while (start := text.find("[", pos)) >= 0:
        label = LINK_TEXT.match(text, start)
        pos = label.end()
        target = None
        if label[1] and pos + 2 not in dead:
            target = LINK_TARGET.match(text, pos)
            if target is None and (url := LINK_URL.match(text, pos)):
                dead = range(*url.span(1))
        if target:
            parts += (text[kept:start], label[1])
            kept = pos = target.end()
    return "".join(parts) + text[kept:] if parts else text


def _last_closing(text: str, mark: str) -> int:
    """Start of the last `mark` that follows a non-space, -1 when none: the furthest a match of
    BOLD or STRIKE can end. One backward pass."""
    found = text.rfind(mark)
    while found > 0 and text[found - 1].isspace():
        found = text.rfind(mark, 0, found + len(mark) - 1)
    return found if found > 0 else -1


def _strip_paired(text: str, pattern: re.Pattern[str], marks: tuple[str, ...]) -> str:
    """Replace each match of BOLD or STRIKE by its group 2, what the marks wrap, in linear time.

    The pattern reads from an opening mark to the first closing one (the same mark after a
    non-space), and to the end of the text when there is none, for every opening mark: quadratic
    on many marks that close nothing. Here an opening mark with no closing mark of its kind after
    it is passed over at once, and any other one is matched by the pattern, which then stops at
    the first closing mark and consumes what it read.
    """
    last = {mark: _last_closing(text, mark) for mark in marks}
    opening = re.compile("|".join(map(re.escape, marks)))
    parts, kept, pos = [], 0, 0
    while found := opening.search(text, pos):
        start, pos = found.start(), found.start() + 1
        if last[found[0]] > start + 2 and (match := pattern.match(text, start)):
            parts += (text[kept:start], match[2])
            kept = pos = match.end()
    return "".join(parts) + text[kept:] if parts else text


def _strip_strike(text: str) -> str:
    """Strike-through marks removed, line by line: a match of STRIKE never spans lines."""
    return "\n".join(
        _strip_paired(line, STRIKE, ("~~",)) if "~~" in line else line for line in text.split("\n")
    )


def strip_inline(text: str) -> str:
    """Remove inline Markdown (links keep their text, emphasis loses its markers)."""
    # Each pattern runs only when its marker character occurs: most documents have none.
    if "](" in text or "][" in text:
        text = IMAGE.sub(r"\1", text)
        text = _strip_links(text)
        text = REF_LINK.sub(r"\1\2", text)
    if "*" in text or "__" in text:
        text = _strip_paired(text, BOLD, ("**", "__"))
    if "*" in text:
        text = ITALIC_STAR.sub(r"\1", text)
    if "_" in text:
        text = ITALIC_UNDER.sub(r"\1", text)
    if "~~" in text:
        text = _strip_strike(text)
    return CODE.sub(r"\1", text) if "`" in text else text


def _tag_key(name: str) -> str:
    """An ASCII tag name as an element pattern's case-insensitive back-reference compares it:
    letter by letter in simple lower case ('İ' is 'i'; str.lower makes it two)."""
    return name.replace("İ", "i").lower()


def strip_elements(
    text: str,
    element: re.Pattern[str],
    opening: re.Pattern[str],
    closing: re.Pattern[str],
    repl: str = "",
    *,
    attributes: bool = True,
) -> str:
    r"""element.sub(repl, text) in linear time, `repl` taken literally, for an element pattern such
    as SCRIPT_STYLE: `<(names)\b`, then the rest of the opening tag `[^>]*>` when `attributes` is
    set, then the content and closing tag `.*?</\1\s*>` (re.S | re.I). `opening` is the pattern's
    `<(names)\b` and `closing` is `</(names)\s*>` (re.I), the same names in group 1.

    The pattern reads to the end of the text from every opening tag that is never closed. Here the
    last closing tag of each name is found first, in one pass, and an opening tag with none at or
    after the start of its content (past its '>', or with no `attributes` right after its name) is
    passed over at once; any other one is matched by the pattern, which then stops at the first
    closing tag and consumes what it read. Each '>' is searched for once.
    """
    last = {_tag_key(m[1]): m.start() for m in closing.finditer(text)}
    parts, kept, pos, gt = [], 0, 0, -1
    while found := opening.search(text, pos):
        start, pos, content = found.start(), found.start() + 1, found.end()
        if attributes:
            if gt < found.end():
                gt = text.find(">", found.end())
                if gt < 0:
                    break  # no '>' is left to end this opening tag or any later one
            content = gt + 1
        key = _tag_key(found[1])
        if last.get(key, -1) >= content and (match := element.match(text, start)):
            parts += (text[kept:start], repl)
            kept = pos = match.end()
    return "".join(parts) + text[kept:] if parts else text


def _strip_scripts(text: str) -> str:
    """Remove script, style and noscript elements: SCRIPT_STYLE.sub("", text) in linear time."""
    return strip_elements(text, SCRIPT_STYLE, SCRIPT_OPEN, SCRIPT_CLOSE)


def strip_markup(text: str) -> str:
    """Remove Markdown and stray HTML markup, keeping the words they wrap."""
    if not MARKUP_CHARS.search(text):
        return text
    text = unescape(text)
    if "<" in text:
        text = HTML_COMMENT.sub("", text)
        text = _strip_scripts(text)
        text = AUTOLINK.sub(r"\1", text)
        text = BR_TAG.sub("\n", text)
        text = BLOCK_TAG.sub("\n\n", text)
        text = TAG.sub("", text)
    if LINE_MARKUP.search(text):
        text = FENCE.sub("", text)
        text = REF_DEF.sub("", text)
        text = HEADING.sub(r"\1", text)
        text = RULE.sub("", text)
        text = QUOTE_MARK.sub("", text)
        text = BULLET.sub("", text)
    return strip_inline(text)  # the caller tidies whitespace next
