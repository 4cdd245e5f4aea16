"""Readability stage: textstat 0.7.13's scores and counts for every document, computed in one pass.

Each document is tokenised once the way textstat tokenises it, syllables are counted once per
distinct word with textstat's own rules (first CMUdict pronunciation for English, Pyphen otherwise)
in an unbounded process-wide cache, and every formula is evaluated from those counts with textstat's
exact arithmetic. The values equal (`==`) textstat's functions as analysts call them: English rows
as `textstat.<fn>(text)` with no `set_lang` (textstat's default locale en_US: CMUdict, then Pyphen's
en_US patterns), other languages after `set_lang(<language>)`, a forced locale (`--language en_GB`)
after `set_lang(<locale>)`. Nulls stand where textstat has no meaningful value to give:

- a document without words gets null scores (textstat returns 0.0 placeholders, or a clamped
  text_standard); `reading_time` stays textstat's value (0 characters are read in 0 seconds);
- Coleman-Liau, ARI, McAlpine EFLAW, LIX and RIX read neither syllables nor language constants:
  they are filled for every document with words, in any language or none;
- the syllable-based scores are null for a language textstat cannot score: one without a Pyphen
  dictionary (textstat raises: ar, zh, ja, ...) or without textstat constants (textstat silently
  applies the English ones: pt, sv, ...). Arabic still gets `osman`, which needs neither.
  `n_syllables` is null without a Pyphen dictionary and `n_difficult_words` null for an unscored
  language; the other counts are always filled;
- the Spanish, Italian, German and Arabic formulas are null for documents in other languages.

No textstat global state is touched: languages are resolved per call (see `tasks.lexicon`), so the
stage is safe in threads and processes.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import pyarrow as pa

from proseflow.tasks import lexicon, schema
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.languages import detect_languages, language_code, scoring_locale

Scores = dict[str, Any]

PUBLISHED = "published"
LANGUAGE_ONLY = {
    "fernandez_huerta": "es",
    "szigriszt_pazos": "es",
    "gutierrez_polini": "es",
    "crawford": "es",
    "gulpease_index": "it",
    "wiener_sachtextformel": "de",
    "osman": "ar",
}
# Formulas that read neither syllables nor language constants: textstat has a value in any language.
LANGUAGE_FREE = frozenset(
    ("coleman_liau_index", "automated_readability_index", "mcalpine_eflaw", "lix", "rix")
)
COUNT_NAMES = ("n_chars", "n_letters", "n_words", "n_syllables", "n_difficult_words")
OUTPUT_FIELDS = (
    [schema.DOCUMENTS.field("language")]
    + schema.READABILITY_FIELDS
    + [schema.DOCUMENTS.field(name) for name in COUNT_NAMES]
)
OUTPUT_NAMES = [f.name for f in OUTPUT_FIELDS]

LINSEAR_WORDS = 100  # textstat's Linsear Write reads only the first 100 words
READING_MS_PER_CHAR = 14.69

# textstat's sentence count: the fragments of its regex `\b[^.!?]+[.!?]*` holding three or more
# words, a word being a whitespace-separated token with a word character (what survives its
# punctuation removal). A fragment's words all lie before its first terminator, so an optional
# lookahead for three such words, anchored at the fragment's start, marks the counted fragments:
# findall returns one group per fragment, a word character for a counted one and '' otherwise.
_WORD_IN_FRAGMENT = r"[^\w\s.!?]*\w[^\s.!?]*"
_GAP_IN_FRAGMENT = r"\s+(?:[^\w\s.!?]+\s+)*"
_SENTENCE = re.compile(
    rf"\b(?:(?={_WORD_IN_FRAGMENT}{_GAP_IN_FRAGMENT}{_WORD_IN_FRAGMENT}{_GAP_IN_FRAGMENT}"
    r"[^\w\s.!?]*(\w))|)[^.!?]+[.!?]*"
)
# A whitespace-separated token without a word character: removed by textstat's punctuation removal.
_PUNCTUATION_TOKEN = re.compile(r"(?<!\S)[^\w\s]+(?!\S)")

_TASHKEEL = re.compile("[\u064e\u064b\u064f\u064c\u0650\u064d\u0651]")
_SHORT_VOWEL = re.compile("[\u064e\u064f\u0650]")
_LONG_VOWEL = re.compile("[\u064e\u064f\u0650](?=[\u0627\u0648\u064a])")
_STRESS = re.compile("[\u064b\u064c\u064d\u0651]")
_NOT_SYLLABLE = re.compile(r"[\u0627\u0649\?\.\!\,\s*]")
_FASEEH_CHAR = re.compile("[\u0626\u0621\u0624\u0630\u0638]")
_FASEEH_PAIR = re.compile("(\u0648\u0627|\u0648\u0646)")


# What textstat's formulas read from one word, packed into one int of FIELD_BITS-bit fields so that a
# document's totals are one C-level `sum` over its words. A field's total is at most a few times the
# document's length in characters, far below 2**FIELD_BITS for any text that fits in memory.
FACTS = (
    "syllables",
    "polysyllable",  # >= 3 syllables
    "monosyllable",
    "long",  # > 6 letters (apostrophes excluded)
    "mini",  # <= 3 letters
    "not_easy",  # not in the easy-word list: Dale-Chall's difficult word
    "difficult",  # not easy and >= 2 syllables: Spache's and textstat.difficult_words'
    "fog_difficult",  # not easy and >= the language's syllable threshold: Gunning Fog's
    "linsear_easy",  # 1 or 2 syllables
    "letters",  # characters other than apostrophes
)
FIELD_BITS = 48
FIELD_MASK = (1 << FIELD_BITS) - 1
_SHIFT = {name: FIELD_BITS * i for i, name in enumerate(FACTS)}
(
    _SYLLABLES,
    _POLYSYLLABLE,
    _MONOSYLLABLE,
    _LONG,
    _MINI,
    _NOT_EASY,
    _DIFFICULT,
    _FOG_DIFFICULT,
    _LINSEAR_EASY,
    _LETTERS,
) = _SHIFT.values()


def unpack(packed: int) -> dict[str, int]:
    """The FACTS fields of a packed word, or of a sum of packed words."""
    return {name: (packed >> shift) & FIELD_MASK for name, shift in _SHIFT.items()}


def field(packed: int, name: str) -> int:
    """One FACTS field of a packed word, or of a sum of packed words."""
    return (packed >> _SHIFT[name]) & FIELD_MASK


class Language:
    """One locale's textstat resources and its unbounded cache of packed facts per word."""

    def __init__(self, locale: str | None) -> None:
        self.locale = locale  # what textstat's set_lang would be given: 'en_US', 'de', 'pt_BR'
        self.code = language_code(locale)
        self.hyphenation = lexicon.hyphenation(locale) if locale else None
        self.counts_syllables = self.hyphenation is not None
        self.scorable = self.counts_syllables and lexicon.has_lang_config(locale or "")
        self.config = lexicon.lang_config(locale or "en")
        self.fog_threshold = int(self.config["syllable_threshold"])
        self.easy = lexicon.easy_words(locale) if self.scorable else frozenset()
        is_english = self.counts_syllables and self.code == "en"
        self.cmudict = lexicon.cmudict_syllables() if is_english else {}
        self.words: dict[str, int] = {}  # word -> packed facts

    def syllables(self, word: str) -> int:
        """textstat's syllables of a lower-cased word: CMUdict stresses, else Pyphen cuts + 1."""
        found = self.cmudict.get(word)
        if found is not None:
            return found
        return self.hyphenation.cuts(word) + 1

    def learn(self, tokens: set[str]) -> None:
        """Cache the packed facts of every word in `tokens` not seen before."""
        words = self.words
        for token in tokens.difference(words):
            words[token] = self.facts(token)

    def facts(self, token: str) -> int:
        """Packed facts about one word as textstat's list_words returns it (case kept)."""
        letters = len(token) - token.count("'")
        packed = letters << _LETTERS | (letters > 6) << _LONG | (letters <= 3) << _MINI
        if not self.counts_syllables:
            return packed
        lower = token.lower()
        syllables = self.syllables(lower)
        # is_difficult_word re-cleans the lower-cased word: that drops marks lower() adds ('İ').
        recleaned = lower if lower.isascii() else lexicon.strip_punctuation(lower).lower()
        hard = syllables if recleaned == lower else sum(map(self.syllables, recleaned.split()))
        not_easy = lower not in self.easy
        return (
            packed
            | syllables << _SYLLABLES
            | (syllables >= 3) << _POLYSYLLABLE
            | (syllables == 1) << _MONOSYLLABLE
            | (0 < syllables < 3) << _LINSEAR_EASY
            | not_easy << _NOT_EASY
            | (not_easy and hard >= 2) << _DIFFICULT
            | (not_easy and hard >= self.fog_threshold) << _FOG_DIFFICULT
        )


_languages: dict[str | None, Language] = {}
_languages_lock = threading.Lock()


def language(locale: str | None) -> Language:
    """The process-wide Language for a locale or ISO 639-1 code (None: no language)."""
    locale = scoring_locale(locale)
    found = _languages.get(locale)
    if found is None:
        with _languages_lock:
            found = _languages.get(locale) or _languages.setdefault(locale, Language(locale))
    return found


def textstat_sentences(text: str) -> int:
    """textstat.sentence_count: regex fragments of three words or more, at least 1 for any text."""
    if not text:
        return 0
    marks = _SENTENCE.findall(text)
    return max(1, len(marks) - marks.count(""))


@dataclass(frozen=True, slots=True)
class Counts:
    """Everything textstat's formulas read from a document, gathered in one pass."""

    n_chars: int
    n_letters: int
    n_tokens: int  # whitespace tokens, punctuation-only ones included (textstat's chars_per_word)
    n_words: int
    n_sentences: int
    n_syllables: int
    n_polysyllables: int  # >= 3 syllables
    n_monosyllables: int
    n_long: int  # > 6 letters
    n_mini: int  # <= 3 letters
    n_not_easy: int  # Dale-Chall's difficult words (threshold 0)
    n_difficult: int  # not easy, >= 2 syllables (Spache)
    n_fog_difficult: int  # not easy, >= the language's syllable threshold (Gunning Fog)
    n_difficult_unique: int  # distinct (case-sensitive) difficult words of >= 2 syllables
    linsear_easy: int
    linsear_hard: int
    linsear_sentences: int
    linsear_prefix: str  # the text textstat's Linsear Write counts sentences in


def count(text: str, lang: Language) -> Counts:
    """Tokenise `text` once as textstat does and gather every count its formulas need."""
    tokens = text.split()
    stripped = lexicon.strip_punctuation(text)
    words = stripped.split()
    distinct = set(words)
    lang.learn(distinct)
    facts = list(map(lang.words.__getitem__, words))
    total = unpack(sum(facts))
    first = sum(facts[:LINSEAR_WORDS])
    prefix = _linsear_prefix(tokens, len(words))
    return Counts(
        n_chars=len("".join(tokens)),
        n_letters=total["letters"],
        n_tokens=len(tokens),
        n_words=len(words),
        n_sentences=textstat_sentences(text),
        n_syllables=total["syllables"],
        n_polysyllables=total["polysyllable"],
        n_monosyllables=total["monosyllable"],
        n_long=total["long"],
        n_mini=total["mini"],
        n_not_easy=total["not_easy"],
        n_difficult=total["difficult"],
        n_fog_difficult=total["fog_difficult"],
        # textstat.difficult_words counts distinct words, case-sensitively.
        n_difficult_unique=field(sum(map(lang.words.__getitem__, distinct)), "difficult"),
        linsear_easy=field(first, "linsear_easy"),
        linsear_hard=field(first, "polysyllable"),
        linsear_sentences=textstat_sentences(prefix),
        linsear_prefix=prefix,
    )


def _linsear_prefix(tokens: list[str], n_words: int) -> str:
    """The text textstat's Linsear Write counts sentences in: tokens up to the 100th word.

    Tokens without a word character are not words. Each step takes as many more tokens as words
    are still missing, so the prefix never passes the 100th word and ends on it.
    """
    if n_words <= LINSEAR_WORDS:
        return " ".join(tokens)
    end = seen = 0
    while seen < LINSEAR_WORDS:
        added = tokens[end : end + LINSEAR_WORDS - seen]
        end += len(added)
        seen += len(added) - len(_PUNCTUATION_TOKEN.findall(" ".join(added)))
    return " ".join(tokens[:end])


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, or textstat's 0.0 placeholder for a zero denominator."""
    return numerator / denominator if denominator else 0.0


def _grades(score: float) -> list[int]:
    """text_standard's three votes for a grade-level score: floor, ceiling and nearest."""
    return [math.floor(score), math.ceil(score), round(score)]


def _ease_grade(score: float) -> list[int]:
    """text_standard's grade for a Flesch Reading Ease score."""
    for floor, grade in (
        (90, [5]),
        (80, [6]),
        (70, [7]),
        (60, [8, 9]),
        (50, [10]),
        (40, [11]),
        (30, [12]),
    ):
        if floor <= score < floor + 10:
            return grade
    return [13]


# The scores textstat's text_standard votes with, in its order (which breaks ties): Flesch reading
# ease through its grade table, the others as grades.
TEXT_STANDARD_SCORES = (
    "flesch_kincaid_grade",
    "flesch_reading_ease",
    "smog_index",
    "coleman_liau_index",
    "automated_readability_index",
    "dale_chall_readability_score",
    "linsear_write_formula",
    "gunning_fog",
)


def text_standard(s: Scores) -> float:
    """textstat's consensus grade over eight formulas, clamped to 1..18 like text_standard does."""
    kincaid, ease, *others = TEXT_STANDARD_SCORES
    grade = _grades(s[kincaid]) + _ease_grade(s[ease])
    for name in others:
        grade += _grades(s[name])
    # The most frequent grade, the first of them on a tie (as Counter.most_common(1) picks it).
    consensus = float(max(grade, key=grade.count))
    return float(max(1, min(consensus, 18)))


def _linsear_score(c: Counts) -> float:
    """textstat's Linsear Write on the first 100 words (easy = 1-2 syllables, hard = 3+)."""
    if not c.linsear_sentences:
        return 0.0
    number = float((c.linsear_easy * 1 + c.linsear_hard * 3) / c.linsear_sentences)
    if number <= 20:
        number -= 2
    return number / 2


def _sentence_scores(c: Counts, cfg: dict[str, float]) -> Scores:
    """Flesch, Flesch-Kincaid and SMOG with textstat's placeholders for zero counts."""
    wps = _ratio(c.n_words, c.n_sentences)
    spw = _ratio(c.n_syllables, c.n_words)
    ready = wps != 0 and spw != 0
    ease = cfg["fre_base"] - cfg["fre_sentence_length"] * wps - cfg["fre_syll_per_word"] * spw
    smog = (
        (1.043 * (30 * (c.n_polysyllables / c.n_sentences)) ** 0.5) + 3.1291
        if c.n_sentences
        else 0.0
    )
    return {
        "flesch_reading_ease": ease if ready else 0.0,
        "flesch_kincaid_grade": (0.39 * wps) + (11.8 * spw) - 15.59 if ready else 0.0,
        "smog_index": smog,
    }


def _word_scores(c: Counts) -> Scores:
    """Coleman-Liau, ARI, LIX, RIX and McAlpine EFLAW exactly as textstat evaluates them."""
    wps = _ratio(c.n_words, c.n_sentences)
    letters = _ratio(c.n_letters, c.n_words) * 100
    sentences = _ratio(c.n_sentences, c.n_words) * 100
    cpw = _ratio(c.n_chars, c.n_tokens)
    return {
        "coleman_liau_index": (0.058 * letters) - (0.296 * sentences) - 15.8
        if letters and sentences
        else 0.0,
        "automated_readability_index": (4.71 * cpw) + (0.5 * wps) - 21.43 if cpw and wps else 0.0,
        "lix": wps + 100 * c.n_long / c.n_words if c.n_words else 0.0,
        "rix": _ratio(c.n_long, c.n_sentences),
        "mcalpine_eflaw": _ratio(c.n_words + c.n_mini, c.n_sentences),
    }


def _difficulty_scores(c: Counts) -> Scores:
    """Dale-Chall, Spache, Gunning Fog and Linsear Write exactly as textstat evaluates them."""
    if not c.n_words:
        return dict.fromkeys(
            ("dale_chall_readability_score", "spache_readability", "gunning_fog"), 0.0
        ) | {"linsear_write_formula": _linsear_score(c)}
    wps = _ratio(c.n_words, c.n_sentences)
    not_easy = 100 * c.n_not_easy / c.n_words
    dale_chall = (0.1579 * not_easy) + (0.0496 * wps)
    return {
        "dale_chall_readability_score": dale_chall + 3.6365 if not_easy > 5 else dale_chall,
        "linsear_write_formula": _linsear_score(c),
        "spache_readability": (0.141 * wps) + (0.086 * (100 * c.n_difficult / c.n_words)) + 0.839,
        "gunning_fog": 0.4 * (wps + 100 * c.n_fog_difficult / c.n_words),
    }


def _spanish_scores(c: Counts, cfg: dict[str, float]) -> Scores:
    """Fernandez Huerta, Szigriszt-Pazos, Gutierrez de Polini and Crawford as textstat has them."""
    wps = _ratio(c.n_words, c.n_sentences)
    spw = _ratio(c.n_syllables, c.n_words)
    lpw = _ratio(c.n_letters, c.n_words)
    sentences100 = 100 * _ratio(c.n_sentences, c.n_words)
    syllables100 = 100 * spw
    pazos = 0.0
    if c.n_words and c.n_sentences:
        pazos = cfg["fre_base"] - 62.3 * (c.n_syllables / c.n_words) - (c.n_words / c.n_sentences)
    return {
        "fernandez_huerta": 206.84 - (60 * spw) - (1.02 * wps) if wps and spw else 0.0,
        "szigriszt_pazos": pazos,
        "gutierrez_polini": 95.2 - 9.7 * lpw - 0.35 * wps if lpw and wps else 0.0,
        "crawford": -0.205 * sentences100 + 0.049 * syllables100 - 3.407
        if sentences100 and syllables100
        else 0.0,
    }


def _gulpease(c: Counts) -> float:
    """textstat's Gulpease index (Italian); it counts characters, punctuation included."""
    spw = _ratio(c.n_sentences, c.n_words)
    cpw = _ratio(c.n_chars, c.n_tokens)
    return (300 * spw) - (10 * cpw) + 89 if spw and cpw else 0.0


def _wiener(c: Counts) -> float:
    """Wiener Sachtextformel, variant 1."""
    if not c.n_words:
        return 0.0
    ms = 100 * c.n_polysyllables / c.n_words
    sl = _ratio(c.n_words, c.n_sentences)
    iw = 100 * c.n_long / c.n_words
    es = 100 * c.n_monosyllables / c.n_words
    return (0.1935 * ms) + (0.1672 * sl) + (0.1297 * iw) - (0.0327 * es) - 0.875


def _arabic_syllables(text: str, words: list[str]) -> int:
    """textstat's count_arabic_syllables over `text` whose punctuation-free words are `words`."""
    letters = "".join(words)
    long_count = len(_LONG_VOWEL.findall(letters))
    short_count = len(_SHORT_VOWEL.findall(letters)) - long_count
    stress_count = len(_STRESS.findall(text))
    if short_count == 0:
        short_count = len(_NOT_SYLLABLE.sub("", text)) - 2
    return short_count + 2 * (long_count + stress_count)


def osman(text: str, n_sentences: int) -> float:
    """textstat.osman: Arabic readability from complex, long, faseeh words and syllables."""
    words = [w.replace("'", "") for w in lexicon.strip_punctuation(text).split()]
    if not words:
        return 0.0
    complex_words = sum(1 for w in words if len(_TASHKEEL.findall(w)) > 5)
    # textstat strips tashkeel before counting long words; they are not word characters, so the
    # punctuation-free words are already without them.
    long_words = sum(1 for w in words if len(w) > 5)
    faseeh = sum(
        1
        for w in words
        if _arabic_syllables(w, [w]) > 5
        and len(_FASEEH_CHAR.findall(w)) + len(_FASEEH_PAIR.findall(w)) > 0
    )
    n = len(words)
    rates = complex_words / n + _arabic_syllables(text, words) / n + faseeh / n + long_words / n
    return 200.791 - (1.015 * _ratio(n, n_sentences)) - (24.181 * rates)


def textstat_scores(text: str, c: Counts, lang: Language) -> Scores:
    """Every readability column as textstat computes it, 0.0 placeholders included."""
    cfg = lang.config
    scores: Scores = _sentence_scores(c, cfg) | _word_scores(c) | _difficulty_scores(c)
    scores["text_standard"] = text_standard(scores)
    scores["reading_time"] = READING_MS_PER_CHAR * c.n_chars / 1000
    scores |= _spanish_scores(c, cfg)
    scores["gulpease_index"] = _gulpease(c)
    scores["wiener_sachtextformel"] = _wiener(c)
    scores["osman"] = osman(text, c.n_sentences) if lang.code == "ar" else None
    return scores


def published_scores(text: str, c: Counts, lang: Language) -> Scores:
    """Scores from the published formulas, on the segmenter's sentences instead of textstat's regex.

    Differences from textstat: every sentence count (Linsear Write's too, on its 100-word prefix)
    comes from `tasks.segment.split_sentences`; Coleman-Liau uses 0.0588; ARI counts letters and
    digits only (no punctuation) per word. Dale-Chall keeps textstat's first formula, which already
    adds 3.6365 only above 5% difficult words (its v2 has the wrong condition); SMOG keeps the
    30-sentence normalisation on any number of sentences. Words, syllables and easy words are
    textstat's.
    """
    from proseflow.tasks.segment import split_sentences

    c = replace(
        c,
        n_sentences=len(split_sentences(text, lang.code)),
        linsear_sentences=len(split_sentences(c.linsear_prefix, lang.code)),
    )
    scores = textstat_scores(text, c, lang)
    if c.n_words and c.n_sentences:
        alnum = c.n_letters - text.count("_")
        scores["coleman_liau_index"] = (
            0.0588 * (100 * c.n_letters / c.n_words)
            - 0.296 * (100 * c.n_sentences / c.n_words)
            - 15.8
        )
        scores["automated_readability_index"] = (
            4.71 * (alnum / c.n_words) + 0.5 * (c.n_words / c.n_sentences) - 21.43
        )
        scores["text_standard"] = text_standard(scores)
    return scores


def _nulls_applied(scores: Scores, c: Counts, lang: Language) -> Scores:
    """Null every score undefined for this document or language (see the module docstring)."""
    defined = c.n_words > 0 and c.n_sentences > 0
    kept = _kept_columns(lang.code, lang.scorable, defined)
    return {name: scores[name] if keep else None for name, keep in kept}


@cache
def _kept_columns(code: str | None, scorable: bool, defined: bool) -> tuple[tuple[str, bool], ...]:
    """(column, whether its score is kept) for every readability column, in schema order."""
    return tuple(
        (name, _is_kept(name, code, scorable, defined)) for name in schema.READABILITY_COLUMNS
    )


def _is_kept(name: str, code: str | None, scorable: bool, defined: bool) -> bool:
    """Whether a score has a value for a document (`defined`: it has words and sentences)."""
    only = LANGUAGE_ONLY.get(name)
    if only is not None:
        return defined and code == only and (scorable or name == "osman")
    if name == "reading_time":
        return True
    if name in LANGUAGE_FREE:
        return defined
    return scorable and defined


def score_text(text: str, locale: str | None, mode: str = "textstat") -> Scores:
    """Readability columns and the five textstat counts for one document in `locale`.

    `locale` is what textstat's set_lang would be given; an ISO 639-1 code is scored in its default
    locale (English: en_US, textstat's default).
    """
    resources = language(locale)
    c = count(text, resources)
    score = published_scores if mode == PUBLISHED else textstat_scores
    row = _nulls_applied(score(text, c, resources), c, resources)
    row["n_chars"], row["n_letters"], row["n_words"] = c.n_chars, c.n_letters, c.n_words
    row["n_syllables"] = c.n_syllables if resources.counts_syllables else None
    row["n_difficult_words"] = c.n_difficult_unique if resources.scorable else None
    return row


def _languages_of(texts: list[str | None], config: PipelineConfig) -> list[str | None]:
    """The forced locale for every row, else each row's detected language."""
    if config.language:
        return [config.language if t is not None else None for t in texts]
    return detect_languages(texts)


def readability_batch(table: pa.Table, config: PipelineConfig) -> pa.Table:
    """Append `language`, the readability columns and the textstat counts to a table with `text`."""
    texts = table.column("text").to_pylist()
    locales = _languages_of(texts, config)
    empty = dict.fromkeys(OUTPUT_NAMES)
    rows = [
        score_text(t, locale, config.readability) | {"language": language_code(locale)}
        if t is not None
        else empty
        for t, locale in zip(texts, locales, strict=True)
    ]
    kept = [name for name in table.column_names if name not in OUTPUT_NAMES]
    table = table.select(kept)
    for f in OUTPUT_FIELDS:
        table = table.append_column(f, pa.array([r[f.name] for r in rows], type=f.type))
    return table
