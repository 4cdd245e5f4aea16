"""Rule-based sentence segmentation: abbreviation, decimal, quote, ellipsis and list aware.

One regex finds every candidate terminator (``.``, ``!``, ``?``, ellipses, CJK full stops) that is
followed by whitespace; a few rules on the token before it and the word after it decide whether the
sentence really ends there. Paragraph breaks (a blank line) always end a sentence.
"""

from __future__ import annotations

import re

PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")

# A terminator run, the closing quotes/brackets that belong to it, then whitespace or the end.
# The leading lookahead rejects every other character in one step (most of the text). A run
# that fails to match from its first character fails from every later one too: the lookbehinds
# start it only there, so a long run of "." or "!" before a non-space is scanned once, not once
# per character. A spaced ellipsis is its whole run, or the run but its last " ." when only
# that is followed by whitespace; possessive repeats keep no backtracking state per " .".
_CANDIDATE = re.compile(
    r"""
    (?= [.…!?؟。！？] )
    (?: (?P<term> (?<!\.) \.(?:[ ]\.){2,}+     # spaced ellipsis ". . ." or ". . . ."
                | (?<!\.) \.(?:[ ]\.(?=[ ]\.)){2,}+
                | (?<!\.) \.{2,} | …           # unspaced ellipsis
                | (?<![!?؟]) [!?؟][!?؟]*\.?     # ! ? and runs such as ?! or !!
                | (?<!\.) \. )
        (?P<close> ["'”’»)\]]* )
        (?= \s | $ )
      | (?P<cjk> [。！？]+ ["'”’」』)]* ) )  # CJK terminators need no space after them
    """,
    re.VERBOSE,
)
_NEXT = re.compile(r"\s+([\"'“‘«(\[]*)(\S*)")
_LEADING_WORD = re.compile(r"\w+")
_MULTI_DOT = re.compile(r"^(?:[^\W\d_]{1,2}\.)++[^\W\d_]{1,2}$")  # U.S, a.m, e.g, Ph.D, U.S.A
_LIST_MARKER = re.compile(r"\s*(?:[•⁃▪◦‣]\s*)?(\d{1,2}|[a-z])(\.\)|\.|\))\s")
# A whole whitespace run before a bullet sign or before "- ", "* " or "– ": it starts a list item
# before a bullet, and before a dash when it holds a line break (a dashed list line).
_ITEM_GAP = re.compile(r"(?<!\s)\s++(?=[•⁃▪◦‣]|[-*–] )")
# Four words or more: possessive runs never backtrack into a word.
_FOUR_WORDS = re.compile(r"\s*+(?:\S++\s++){3}\S")
_BULLETS = "•⁃▪◦‣"
_OPENERS = "\"'“‘«(["
_LEAD = " \t\n" + _BULLETS + _OPENERS  # what may stand before a list label
_WINDOW = 32  # first look-back width; it grows fourfold, so a look-back costs O(its length)


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of a literal list."""
    return frozenset(text.split())


# Abbreviations that precede a name or number and practically never end a sentence.
NEVER_FINAL = _words(
    "mr mrs ms messrs dr prof st mt ft gen sen rep gov capt col lt sgt cpl maj adm cmdr rev hon "
    "pres supt insp det mme mlle msgr e.g i.e cf viz vs approx"
)
# Abbreviations that end a sentence only when no number follows ("No. 10", "p. 55", "Fig. 3").
BEFORE_NUMBER = _words("no nos nr n° p pp vol vols fig figs ch art para sec op tel")
# Abbreviations that may end a sentence: they do when the next word usually starts one.
MAY_END = _words(
    "co corp inc ltd plc llc bros jr sr etc al esp dept est govt assn univ ave blvd rd "
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri "
    "a.m p.m"
)
LANGUAGE_ABBREVIATIONS: dict[str, frozenset[str]] = {
    "de": _words("z.b bzw ca hr fr nr usw vgl ggf evtl inkl str abs"),
    "fr": _words("m mm mme mlle av bd env etc p.ex cf"),
    "es": _words("sr sra srta dña ud uds av avda etc pág núm"),
    "it": _words("sig sigg dott prof avv ing ecc pag"),
    "pt": _words("sr sra dr dra av etc pág nº"),
    "nl": _words("dhr mevr mw blz bijv nr ca enz"),
}
# Languages that write ordinals with a period ("am 3. Oktober"): small numbers act as abbreviations.
ORDINAL_LANGUAGES = _words("de da nb nn no fi cs sk sl hr sr pl hu et lv lt is tr")
_ORDINALS = frozenset(str(i) for i in range(1, 100)) | frozenset(f"0{i}" for i in range(1, 10))
# Words that usually open a sentence: after a "may end" abbreviation they make it final.
STARTERS = _words(
    "the a an this that these those it its it's he she they we i you his her their our my your "
    "there here but and or so yet however in on at for if when while after before as since "
    "although though because what who whom why how where which meanwhile also then many most "
    "some all one both each last next according despite during under over with without from to "
    "by not now still even only other such do does did is are was were will would can could "
    "should has have had let please yes mr mrs ms dr prof"
)
_TIME = frozenset(("a.m", "p.m"))


def split_sentences(text: str, language: str | None = None) -> list[str]:
    """The sentences of `text`, whitespace-stripped, in order."""
    return [text[a:b] for a, b in sentence_spans(text, language)]


def count_sentences(text: str, language: str | None = None) -> int:
    """Number of sentences `split_sentences` finds in `text`."""
    return len(sentence_spans(text, language))


def sentence_spans(text: str, language: str | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of each sentence of `text`, whitespace excluded, in order."""
    extra = LANGUAGE_ABBREVIATIONS.get(language or "", frozenset())
    if language in ORDINAL_LANGUAGES:
        extra = extra | _ORDINALS
    spans: list[tuple[int, int]] = []
    for lo, hi in paragraph_spans(text):
        for a, b in _list_items(text, lo, hi):
            _split_item(text, a, b, extra, spans)
    return spans


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each block of text between blank lines."""
    bounds = [0]
    for m in PARAGRAPH_BREAK.finditer(text):
        bounds += [m.start(), m.end()]
    bounds.append(len(text))
    pairs = zip(bounds[::2], bounds[1::2], strict=True)
    return [(a, b) for a, b in pairs if not text[a:b].isspace() and a < b]


def _list_items(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """text[lo:hi] cut before each bullet and each item of a list it opens with (1. 2. ...)."""
    paragraph = text[lo:hi]
    bounds = [0]
    if "\n" in paragraph or any(b in paragraph for b in _BULLETS):
        bounds += _bullet_cuts(paragraph)
    if len(bounds) == 1:
        bounds += _list_cuts(paragraph)
    bounds.append(len(paragraph))
    return [(lo + a, lo + b) for a, b in zip(bounds, bounds[1:], strict=False) if a < b]


def _bullet_cuts(paragraph: str) -> list[int]:
    """Offsets of each bullet sign after whitespace and of each dashed list line."""
    return [
        m.end()
        for m in _ITEM_GAP.finditer(paragraph)
        if paragraph[m.end()] in _BULLETS or "\n" in m.group()
    ]


def _list_cuts(paragraph: str) -> list[int]:
    """Offsets of items 2, 3, ... of a numbered or lettered list that opens the paragraph."""
    marker = _LIST_MARKER.match(paragraph)
    if marker is None:
        return []
    label, delimiter = marker.group(1), marker.group(2)
    cuts, pos = [], marker.end()
    while True:
        label = str(int(label) + 1) if label.isdigit() else chr(ord(label) + 1)
        item = label + delimiter
        found = _find_label(paragraph, item, pos)
        if found < 0:
            return cuts
        cuts.append(found)
        pos = found + len(item) + 1  # the space after this label cannot lead the next one


def _find_label(paragraph: str, label: str, pos: int) -> int:
    """Offset of the first `label` after paragraph[pos] with whitespace on both sides, or -1."""
    at = paragraph.find(label, pos + 1)
    while at >= 0:
        end = at + len(label)
        if paragraph[at - 1].isspace() and end < len(paragraph) and paragraph[end].isspace():
            return at
        at = paragraph.find(label, at + 1)
    return -1


def _split_item(
    text: str, lo: int, hi: int, extra: frozenset[str], spans: list[tuple[int, int]]
) -> None:
    """Append to `spans` the sentences of the paragraph or list item text[lo:hi]."""
    start = lo
    for m in _CANDIDATE.finditer(text, lo, hi):
        cut = m.end() if m.group("cjk") else _cut(text, m, start, hi, extra)
        if cut is not None:
            _append_stripped(text, start, cut, spans)
            start = cut
    _append_stripped(text, start, hi, spans)


def _append_stripped(text: str, a: int, b: int, spans: list[tuple[int, int]]) -> None:
    """Append (a, b) narrowed to exclude surrounding whitespace, unless nothing is left."""
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if a < b:
        spans.append((a, b))


def _cut(text: str, m: re.Match[str], start: int, hi: int, extra: frozenset[str]) -> int | None:
    """Where the sentence ends if the candidate terminator `m` ends it, else None."""
    nxt = _NEXT.match(text, m.end(), hi)
    if nxt is None or not (nxt.group(1) or nxt.group(2)):
        return None  # end of the text: the caller keeps the rest
    head = (nxt.group(2) or nxt.group(1))[:1]
    if head.islower() or head in ",;:":
        return None  # a sentence does not open in lower case
    term = m.group("term")
    if term[0] in "!?؟":
        return m.end()
    if term.startswith(". ."):
        return _spaced_ellipsis_cut(text, m, term)
    if len(term) > 2 or term == "…":
        # "[...]" marks an omission inside a quotation; otherwise "..." + capital ends a sentence.
        before = text[m.start() - 1 : m.start()]
        return m.end() if before != "[" and head.isupper() else None
    return m.end() if _period_ends(text, m.start(), start, nxt, extra) else None


def _spaced_ellipsis_cut(text: str, m: re.Match[str], term: str) -> int | None:
    """Cut for ". . ." (an omission, never final) and ". . . ." (omission plus full stop)."""
    if term.count(".") < 4:
        return None
    if m.start() > 0 and not text[m.start() - 1].isspace():
        return m.start() + 1  # "word. . . . Next": the period ends it, ". . ." opens the next one
    return m.end()


def _period_ends(
    text: str, pos: int, start: int, nxt: re.Match[str], extra: frozenset[str]
) -> bool:
    """Whether the period at `pos` ends the sentence that began at `start`."""
    token_start = _token_start(text, start, pos)
    token = text[token_start:pos].lstrip(_OPENERS + _BULLETS)
    if not token:
        return True
    if _is_list_label(token) and _only_lead(text, start, token_start):
        return False  # "1. The first item", "a. The first item"
    low = token.lower()
    head = (nxt.group(2) or nxt.group(1))[:1]
    if low in NEVER_FINAL:
        return False
    if len(token) == 1 and token.isalpha():
        return token == "I" and not _previous_word(text, start, token_start)[:1].isupper()
    if low in BEFORE_NUMBER:
        return not head.isdigit()
    if low in MAY_END or low in extra or _MULTI_DOT.match(token):
        word = _LEADING_WORD.match(nxt.group(2))
        if not head.isupper() or word is None or word.group().lower() not in STARTERS:
            return False
        # "At 5 a.m. Mr. Smith went": a time that opens the sentence is not its end.
        return not (low in _TIME and not _FOUR_WORDS.match(text, start, pos))
    return True


def _token_start(text: str, start: int, pos: int) -> int:
    """Start of the token ending at `pos`: after the last space or newline since `start`."""
    width = _WINDOW
    while True:
        lo = max(start, pos - width)
        found = max(text.rfind(" ", lo, pos), text.rfind("\n", lo, pos))
        if found >= 0:
            return found + 1
        if lo == start:
            return start
        width *= 4


def _only_lead(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] holds only spaces, tabs, newlines, bullets and openers."""
    # Read backwards: the nearest other character is usually the previous word's last one.
    width = _WINDOW
    while True:
        lo = max(start, end - width)
        if text[lo:end].rstrip(_LEAD):
            return False
        if lo == start:
            return True
        width *= 4


def _is_list_label(token: str) -> bool:
    """Whether a token is a list label such as 1 or b (without its period)."""
    return (token.isdigit() and len(token) <= 2) or (len(token) == 1 and token.islower())


def _previous_word(text: str, start: int, token_start: int) -> str:
    """The word before the token that starts at `token_start`, or '' at the sentence start."""
    words = text[max(start, token_start - 40) : token_start].split()
    return words[-1] if words else ""
