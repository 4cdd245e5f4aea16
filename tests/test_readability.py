"""The readability engine equals textstat 0.7.13 called function by function (`==`, nulls aside)."""

from __future__ import annotations

import functools
import math
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proseflow.tasks import languages, lexicon, readability, schema
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.languages import DETECTED_LANGUAGES, detect_language
from proseflow.tasks.readability import LANGUAGE_ONLY, OUTPUT_NAMES, readability_batch, score_text
from tests.textstat_default import COUNTS, PLAIN, DefaultTextstat

BBC = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "bbc"
pytestmark = pytest.mark.filterwarnings("ignore:There is no easy words vocabulary")


@pytest.fixture(scope="module", autouse=True)
def offline_cmudict():
    lexicon.ensure_cmudict()


_default: DefaultTextstat | None = None


@pytest.fixture(scope="module", autouse=True)
def default_textstat(offline_cmudict):
    """One fresh textstat interpreter for the module (it finds CMUdict through NLTK_DATA)."""
    global _default
    _default = DefaultTextstat()
    yield _default
    _default.close()
    _default = None


def is_default_english(lang: str | None) -> bool:
    return lang in ("en", "en_US")


def textstat_row(text: str, lang: str) -> dict:
    """textstat's own values, one function at a time: English as analysts call it (no set_lang),
    any other language or locale after set_lang (this module is the only caller of set_lang)."""
    if is_default_english(lang):
        return _default.row(text)
    import textstat

    textstat.set_lang(lang)
    row = {name: getattr(textstat, name)(text) for name in PLAIN}
    row["text_standard"] = textstat.text_standard(text, float_output=True)
    row["wiener_sachtextformel"] = textstat.wiener_sachtextformel(text, variant=1)
    row |= {column: getattr(textstat, function)(text) for column, function in COUNTS.items()}
    return row


def expected_row(text: str, lang: str) -> dict:
    """textstat's values with proseflow's null rules applied (see tasks.readability)."""
    row = textstat_row(text, lang)
    has_words = row["n_words"] > 0
    code = lang.split("_")[0]
    for name in schema.READABILITY_COLUMNS:
        only = LANGUAGE_ONLY.get(name)
        defined = has_words if only is None else has_words and code == only
        if not defined and name != "reading_time":
            row[name] = None
    return row


def assert_parity(text: str, lang: str) -> None:
    got = score_text(text, lang)
    want = expected_row(text, lang)
    diff = {
        k: (got[k], want[k])
        for k in want
        if got[k] != want[k] or (got[k] is None) != (want[k] is None)
    }
    assert not diff, f"{lang} {text[:80]!r}: {diff}"


FIXTURES = [
    "",
    "   \n\t ",
    "Hello",
    "no terminator at all in this line",
    "The 3 cats ate 12.5 kg of food in 2004. Prices rose 4% to $1.2bn!",
    "A well-known state-of-the-art co-operative. Re-enter the mother-in-law's house.",
    "Don't you think it's 'quoted'? They'll say we've done it; I'd agree. O'Neill's rock 'n' roll.",
    "Café naïve Zoë Müller façade. Ångström über İstanbul ΣΟΦΙΑΣ straße.",
    "Pneumonoultramicroscopicsilicovolcanoconiosis supercalifragilisticexpialidocious and "
    "antidisestablishmentarianism.",
    "... !!! ??? --- ,,, ;;; ''' \"\"\" ()",
    "U.S. officials said at 9 a.m. that Mr. Smith, 45, had left. He went home. Yes.",
    "Line one\nLine two without stop\n\nA new paragraph here. And another sentence follows it.",
    "snake_case words_with_underscores and CAPS LOCK SHOUTING TEXT.",
    "Short. Tiny. Ok. This sentence has more than three words in it.",
    "I I I I I I I I I I I I I I I I I I I I I I I I.",
]


@pytest.mark.parametrize("text", FIXTURES)
def test_fixtures_equal_textstat_in_english(text):
    assert_parity(text, "en")


LANGUAGE_TEXTS = {
    "es": "El niño comió una manzana muy grande en la escuela. Después, todos los estudiantes "
    "salieron al patio para jugar al fútbol. ¿Quién ganó el partido? Nadie lo sabe todavía.",
    "it": "Il governo italiano ha approvato ieri una nuova legge sull'immigrazione. Secondo il "
    "ministro, la riforma entrerà in vigore dal prossimo gennaio. L'opposizione protesta.",
    "de": "Die Bundesregierung hat am Mittwoch ein umfangreiches Maßnahmenpaket beschlossen. "
    "Die Opposition kritisierte die Entscheidung scharf. Sie fordert Neuwahlen im Frühjahr.",
    "fr": "Le président de la République a annoncé mardi une réforme des retraites. Les syndicats "
    "appellent à la grève générale. C'est une décision qu'ils jugent inacceptable.",
    "ar": "أعلنت الحكومة اليوم عن خطة جديدة لتطوير التعليم في المدارس الحكومية. وقال الوزير إن "
    "الخطة ستبدأ في العام المقبل. وَالمُعَلِّمُونَ سَيَحْصُلُونَ عَلَى تَدْرِيبٍ إِضَافِيٍّ.",
}


@pytest.mark.parametrize("lang", ["es", "it", "de", "fr"])
def test_language_texts_equal_textstat(lang):
    assert_parity(LANGUAGE_TEXTS[lang], lang)
    assert score_text(LANGUAGE_TEXTS[lang], lang)["flesch_reading_ease"] is not None


def test_language_specific_columns_only_in_their_language():
    for lang, text in LANGUAGE_TEXTS.items():
        row = score_text(text, lang)
        assert {name for name, only in LANGUAGE_ONLY.items() if row[name] is not None} == {
            name for name, only in LANGUAGE_ONLY.items() if only == lang
        }


LANGUAGE_FREE_COLUMNS = sorted(readability.LANGUAGE_FREE | {"reading_time"})
SYLLABLE_COLUMNS = [
    name
    for name in schema.READABILITY_COLUMNS
    if name not in LANGUAGE_FREE_COLUMNS and name not in LANGUAGE_ONLY
]


def assert_language_free_columns_equal_textstat(text: str, lang: str, row: dict) -> None:
    """The formulas without syllables or constants are textstat's after set_lang(lang)."""
    import textstat

    textstat.set_lang(lang)
    want = {name: getattr(textstat, name)(text) for name in LANGUAGE_FREE_COLUMNS}
    assert {name: row[name] for name in LANGUAGE_FREE_COLUMNS} == want
    assert all(row[name] is not None for name in LANGUAGE_FREE_COLUMNS)


def test_arabic_gets_osman_and_the_language_free_scores_equal_to_textstat():
    import textstat

    text = LANGUAGE_TEXTS["ar"]
    row = score_text(text, "ar")
    textstat.set_lang("ar")
    assert row["osman"] == textstat.osman(text)
    assert_language_free_columns_equal_textstat(text, "ar", row)
    # No Pyphen dictionary: textstat raises for every syllable-based score.
    with pytest.raises(KeyError):
        textstat.flesch_reading_ease(text)
    assert all(row[name] is None for name in SYLLABLE_COLUMNS)
    assert row["n_syllables"] is None and row["n_difficult_words"] is None
    assert row["n_words"] == textstat.lexicon_count(text) and row["n_chars"] == textstat.char_count(
        text
    )


ARABIC = "".join(chr(c) for c in range(0x0621, 0x0653)) + "  \n.!?,*'-"


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=ARABIC, max_size=200))
def test_generated_arabic_osman_equals_textstat(text):
    import textstat

    row = score_text(text, "ar")
    assert row["n_words"] == textstat.lexicon_count(text)
    assert row["osman"] == (textstat.osman(text) if row["n_words"] else None)


CHINESE = "北京是中国的首都。 这是一个 很大的 城市 有 很多 人。 你好 世界 今天 天气 很好。"


def test_chinese_gets_the_language_free_scores_and_no_syllable_score():
    import textstat

    row = score_text(CHINESE, "zh")
    assert_language_free_columns_equal_textstat(CHINESE, "zh", row)
    textstat.set_lang("zh")
    with pytest.raises(KeyError):  # no Pyphen dictionary
        textstat.flesch_kincaid_grade(CHINESE)
    assert all(row[name] is None for name in SYLLABLE_COLUMNS + list(LANGUAGE_ONLY))
    assert row["n_syllables"] is None and row["n_words"] == textstat.lexicon_count(CHINESE)


def test_language_without_textstat_constants_keeps_its_counts_and_language_free_scores():
    import textstat

    text = "O governo anunciou hoje um novo plano para a educação pública no país."
    row = score_text(text, "pt")
    assert_language_free_columns_equal_textstat(text, "pt", row)
    # textstat would apply English constants to Portuguese: null, not a misleading number.
    assert all(row[name] is None for name in SYLLABLE_COLUMNS + list(LANGUAGE_ONLY))
    textstat.set_lang("pt")
    assert row["n_syllables"] == textstat.syllable_count(text)
    assert row["n_words"] == 13 and row["n_difficult_words"] is None


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=ARABIC, max_size=200), st.sampled_from(["ar", "zh", "pt", "ja"]))
def test_generated_language_free_scores_equal_textstat_in_any_language(text, lang):
    row = score_text(text, lang)
    if row["n_words"]:
        assert_language_free_columns_equal_textstat(text, lang, row)
    else:
        assert all(row[name] is None for name in readability.LANGUAGE_FREE)


def test_no_language_keeps_language_free_counts_and_scores():
    import textstat

    row = score_text("12 345 6789", None)
    assert (row["n_chars"], row["n_letters"], row["n_words"]) == (9, 9, 3)
    assert row["n_syllables"] is None and row["flesch_reading_ease"] is None
    assert row["lix"] == textstat.lix("12 345 6789")


def test_no_words_gives_null_scores_but_a_reading_time():
    row = score_text("?! ...", "en")
    assert all(row[name] is None for name in schema.READABILITY_COLUMNS if name != "reading_time")
    assert row["reading_time"] == 14.69 * 5 / 1000 and row["n_words"] == 0


# Words CMUdict lacks, on which Pyphen's en_GB and en_US patterns disagree: a test that passes
# with en_GB patterns fails on them.
EN_US_WORDS = ["antiretroviral", "vicepresident", "HIVAids", "telecommunications", "bioinformatics"]


def test_disputed_words_split_differently_in_en_gb_and_en_us():
    cmu = lexicon.cmudict_syllables()
    gb, us = lexicon.hyphenation("en_GB"), lexicon.hyphenation("en_US")
    disputed = [w for w in EN_US_WORDS if w.lower() not in cmu and gb.cuts(w) != us.cuts(w)]
    assert len(disputed) >= 3, disputed


def test_english_is_scored_with_textstats_default_en_us_patterns():
    text = "The antiretroviral drugs reached the vicepresident. HIVAids cases fell in the region."
    assert_parity(text, "en")
    gb = score_text(text, "en_GB")
    assert gb["n_syllables"] != score_text(text, "en")["n_syllables"]
    assert_parity(text, "en_GB")  # a forced locale equals textstat after set_lang("en_GB")


def test_forced_locale_keeps_the_iso_language_and_scores_in_that_locale():
    text = "The antiretroviral drugs reached the vicepresident. HIVAids cases fell in the region."
    out = readability_batch(_table([text]), PipelineConfig(language="en_GB"))
    row = out.to_pylist()[0]
    assert row["language"] == "en"
    assert row["n_syllables"] == score_text(text, "en_GB")["n_syllables"]
    assert row["n_syllables"] != score_text(text, "en")["n_syllables"]


@pytest.mark.parametrize(
    ("given_", "stored"),
    [("en", "en_US"), ("EN-gb", "en_GB"), ("pt_br", "pt_BR"), ("de", "de"), ("de_CH", "de_CH")],
)
def test_language_option_is_stored_as_the_locale_used(given_, stored):
    assert PipelineConfig(language=given_).language == stored


@pytest.mark.parametrize("bad", ["xx", "english", "en_ZZ", "", "e"])
def test_unknown_language_is_a_usage_error_naming_the_accepted_values(bad):
    from proseflow.tasks.errors import UsageError

    with pytest.raises(UsageError, match="expected") as error:
        PipelineConfig(language=bad)
    assert "en" in str(error.value)


def test_the_locale_changes_the_fingerprint():
    from proseflow.tasks.provenance import pipeline_fingerprint

    assert pipeline_fingerprint(PipelineConfig(language="en")) == pipeline_fingerprint(
        PipelineConfig(language="en_US")
    )
    assert pipeline_fingerprint(PipelineConfig(language="en")) != pipeline_fingerprint(
        PipelineConfig(language="en_GB")
    )


WORDS = str.split(
    "the a of and to in is was he she it they said government minister election people year "
    "market company shares growth economy technology mobile phone software internet music film "
    "award actor football match player season win beautiful extraordinary unbelievable "
    "don't it's we'll I'd 'quoted' well-known co-operate U.S. Mr. e.g. 9.5 1,200 $4bn 45% "
    "café naïve Müller İstanbul ΣΟΦΙΑΣ straße über résumé Ångström _under_score "
    "antiretroviral vicepresident HIVAids telecommunications bioinformatics"
)
PIECES = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(list(".,;:!?-'\"()…—–")),
    st.from_regex(r"[0-9]{1,5}", fullmatch=True),
    st.text(alphabet="abcdeéèüößçñøåæœΣσςİıǅﬁ", min_size=1, max_size=12),
)
SEPARATORS = st.sampled_from([" ", " ", " ", "\n", "\n\n", "\t", "", ". ", "! ", "? "])


@st.composite
def documents(draw):
    parts = draw(st.lists(st.tuples(PIECES, SEPARATORS), max_size=140))
    return "".join(piece + sep for piece, sep in parts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.sampled_from(["en", "en", "es", "de", "fr", "it"]))
def test_generated_documents_equal_textstat(text, lang):
    assert_parity(text, lang)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_unicode_equals_textstat(text):
    assert_parity(text, "en")


@settings(max_examples=60, deadline=None)
@given(documents(), st.sampled_from(["en", "es", "de", "ar", "pt", None]))
def test_scores_are_finite_or_null(text, lang):
    row = score_text(text, lang)
    assert all(v is None or math.isfinite(v) for v in row.values())


def _bbc_bodies(limit: int) -> list[str]:
    if not BBC.is_dir():
        pytest.skip("../shared/corpora/bbc is not present")
    paths = sorted(BBC.glob("*/*.txt"))
    step = max(1, len(paths) // limit)
    bodies = []
    for path in paths[::step][:limit]:
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        bodies.append(text.split("\n", 1)[1] if "\n" in text else "")
    return bodies


def test_bbc_documents_equal_textstat():
    for body in _bbc_bodies(200):
        assert_parity(body, "en")


@settings(max_examples=200, deadline=None)
@given(st.one_of(documents(), st.text(max_size=200)))
def test_sentence_count_equals_textstats(text):
    import textstat

    assert readability.textstat_sentences(text) == textstat.sentence_count(text)


def reference_linsear_prefix(tokens: list[str]) -> str:
    """Tokens up to and including the 100th one with a word character (all when fewer)."""
    seen = 0
    for end, token in enumerate(tokens, 1):
        seen += any(ch.isalnum() or ch == "_" for ch in token)
        if seen == readability.LINSEAR_WORDS:
            return " ".join(tokens[:end])
    return " ".join(tokens)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["word", "it's", "...", "--", "(a)", "9.5", "!", "—", "x"]), max_size=400
    )
)
def test_linsear_prefix_ends_on_the_hundredth_word(tokens):
    n_words = len(lexicon.strip_punctuation(" ".join(tokens)).split())
    assert readability._linsear_prefix(tokens, n_words) == reference_linsear_prefix(tokens)


def test_linsear_prefix_past_many_punctuation_tokens_equals_textstat():
    text = "Words and words. " * 25 + "-- " * 3000 + "The end of it all came slowly. " * 30
    assert_parity(text, "en")


def test_word_facts_by_hand():
    facts = readability.language("en").facts
    assert readability.unpack(facts("extraordinary")) == {
        "syllables": 6, "polysyllable": 1, "monosyllable": 0, "long": 1, "mini": 0,
        "not_easy": 1, "difficult": 1, "fog_difficult": 1, "linsear_easy": 0, "letters": 13,
    }  # fmt: skip
    assert readability.unpack(facts("don't")) == {
        "syllables": 1, "polysyllable": 0, "monosyllable": 1, "long": 0, "mini": 0,
        "not_easy": 0, "difficult": 0, "fog_difficult": 0, "linsear_easy": 1, "letters": 4,
    }  # fmt: skip  # four letters (the apostrophe is not one), on the easy-word list
    # No Pyphen dictionary for Arabic: letters only.
    assert readability.unpack(readability.language("ar").facts("كتاب")) == dict.fromkeys(
        readability.FACTS, 0
    ) | {"letters": 4}


@given(
    st.lists(st.tuples(st.sampled_from(WORDS), st.integers(1, 10**9)), max_size=30),
    st.sampled_from(["en", "de", "ar"]),
)
def test_packed_word_facts_add_field_by_field(words, lang):
    facts = readability.language(lang).facts
    total = readability.unpack(sum(facts(word) * times for word, times in words))
    fields = [(readability.unpack(facts(word)), times) for word, times in words]
    assert total == {name: sum(f[name] * t for f, t in fields) for name in readability.FACTS}


def test_threads_give_the_sequential_results(monkeypatch):
    jobs = [(text, lang) for lang, text in LANGUAGE_TEXTS.items()] + [(t, "en") for t in FIXTURES]
    jobs = jobs * 4
    sequential = [score_text(t, lang) for t, lang in jobs]
    # Cold language and word caches: the threads race to build them.
    monkeypatch.setattr(readability, "_languages", {})
    results: dict[int, dict] = {}

    def work(offset: int) -> None:
        for i in range(offset, len(jobs), 4):
            results[i] = score_text(*jobs[i])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(jobs))] == sequential


def test_scoring_leaves_textstat_language_alone():
    import textstat

    textstat.set_lang("de")
    score_text(LANGUAGE_TEXTS["es"], "es")
    assert (
        textstat.flesch_reading_ease("Ein kurzer Satz mit Wörtern.")
        == score_text("Ein kurzer Satz mit Wörtern.", "de")["flesch_reading_ease"]
    )


@pytest.mark.parametrize("lang", sorted(LANGUAGE_TEXTS))
def test_detect_language_names_iso_639_1_codes(lang):
    assert detect_language(LANGUAGE_TEXTS[lang]) == lang


def test_detect_language_is_none_without_letters():
    assert detect_language("") is None
    assert detect_language("12.5% -- 3,400 !!") is None
    assert detect_language("42 rue") in DETECTED_LANGUAGES


def py3langid_decisions(texts: list[str | None]) -> list[str | None]:
    """py3langid's own classify, restricted like tasks.languages, on each text's sample."""
    model = reference_model()
    return [
        model.classify(t[: languages.SAMPLE_CHARS])[0]
        if t is not None and any(map(str.isalpha, t))
        else None
        for t in texts
    ]


HOSTILE_SAMPLES = [
    None, "", "12.5% -- 3,400 !!", "SHOUTING HEADLINE IN CAPITALS", "x\ud800y lone surrogate",
    "東京は日本の首都です。" * 60, "مرحبا بالعالم", "a", "e\u0301te\u0301 combining accents",
    "\x00\x01 control bytes and words", "ﬁ ligature ﬂow", "Ωmega " * 200,
]  # fmt: skip


def test_batch_detection_equals_py3langid():
    texts = list(LANGUAGE_TEXTS.values()) * 3 + FIXTURES + HOSTILE_SAMPLES
    if BBC.is_dir():
        texts += _bbc_bodies(300)
    assert len(texts) > languages.MIN_BATCH  # the batched walk, not py3langid's
    assert languages.detect_languages(texts) == py3langid_decisions(texts)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(documents(), st.text(max_size=120)), min_size=16, max_size=40))
def test_generated_batch_detection_equals_py3langid(texts):
    assert languages.detect_languages(texts) == py3langid_decisions(texts)


def test_batch_scores_are_py3langids_to_the_bit():
    model = languages._model()
    samples = [model._encode(t) for t in list(LANGUAGE_TEXTS.values()) + FIXTURES[2:]]
    got = languages._batch_scores(samples)
    for sample, scores in zip(samples, got, strict=True):
        want = model._raw_score(sample)
        assert scores is not None and scores.tobytes() == want.tobytes(), sample


@pytest.fixture
def fresh_model_cache(tmp_path, monkeypatch):
    """An empty language-model cache and no model loaded yet in this process."""
    monkeypatch.setenv(languages.MODEL_CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(languages, "_identifier", None)
    monkeypatch.setattr(languages, "_tables", None)
    return tmp_path


def assert_same_model(a, b) -> None:
    for name in (*languages._MODEL_ARRAYS, "_rowbase", "_alias_pairs"):
        x, y = getattr(a, name), getattr(b, name)
        assert type(x) is type(y), name
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), name
        else:
            assert x == y and getattr(x, "typecode", None) == getattr(y, "typecode", None), name


@functools.cache
def reference_model():
    """py3langid's restricted model, loaded once: loading takes ~0.5 s."""
    return py3langid_model()


def py3langid_model():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
    model.set_languages(list(DETECTED_LANGUAGES))
    return model


def test_cached_language_model_is_py3langids(fresh_model_cache):
    first = languages._load_model()  # from the package; writes the cache
    folder = languages.model_cache()
    assert folder.parent == fresh_model_cache
    assert sorted(p.name for p in fresh_model_cache.iterdir()) == [folder.name]  # no leftovers
    cached = languages._load_model()
    reference = py3langid_model()
    assert_same_model(first, reference)
    assert_same_model(cached, reference)
    texts = list(LANGUAGE_TEXTS.values()) * 5
    assert languages.detect_languages(texts) == py3langid_decisions(texts)


@pytest.mark.parametrize("damage", ["truncate", "remove"])
def test_a_damaged_language_model_cache_is_rebuilt(fresh_model_cache, damage):
    languages._load_model()
    victim = languages.model_cache() / "tk_nextmove.npy"
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:1000])
    else:
        victim.unlink()
    assert_same_model(languages._load_model(), py3langid_model())
    assert victim.stat().st_size > 1000  # a good copy is back
    assert_same_model(languages._load_model(), py3langid_model())


def test_an_unwritable_language_model_cache_still_detects(fresh_model_cache, monkeypatch):
    def refuse(*_):
        raise PermissionError("read-only")

    monkeypatch.setattr(languages, "_write_model_cache", refuse)
    assert languages.detect_language(LANGUAGE_TEXTS["de"]) == "de"
    assert not languages.model_cache().exists()


def test_small_and_chunked_batches_agree(monkeypatch):
    texts = list(LANGUAGE_TEXTS.values()) * 4
    whole = languages.detect_languages(texts)
    monkeypatch.setattr(languages, "CHUNK", 5)
    assert languages.detect_languages(texts) == whole
    assert [languages.detect_language(t) for t in texts] == whole


def _table(texts: list[str | None]) -> pa.Table:
    return pa.table(
        {"doc_id": [str(i) for i in range(len(texts))], "text": pa.array(texts, pa.string())}
    )


def test_batch_appends_typed_columns_in_schema_order():
    out = readability_batch(
        _table(["Hello world. This is a test of it.", None]), PipelineConfig(language="en")
    )
    assert out.column_names == ["doc_id", "text"] + OUTPUT_NAMES
    for name in OUTPUT_NAMES:
        assert out.schema.field(name).type == schema.DOCUMENTS.field(name).type
    first, missing = out.to_pylist()
    assert first == {"doc_id": "0", "text": first["text"]} | {"language": "en"} | score_text(
        first["text"], "en"
    )
    assert all(missing[name] is None for name in OUTPUT_NAMES)


def test_batch_detects_each_row_language():
    texts = [
        LANGUAGE_TEXTS["es"],
        LANGUAGE_TEXTS["de"],
        "The minister said the plan would help schools.",
        "123",
    ]
    out = readability_batch(_table(texts), PipelineConfig())
    assert out.column("language").to_pylist() == ["es", "de", "en", None]
    assert (
        out.column("fernandez_huerta").to_pylist()[0]
        == score_text(texts[0], "es")["fernandez_huerta"]
    )


def test_batch_replaces_an_existing_language_column():
    table = _table(["Hello there, my good friend."]).append_column("language", pa.array(["xx"]))
    out = readability_batch(table, PipelineConfig(language="fr"))
    assert out.column_names.count("language") == 1 and out.column("language").to_pylist() == ["fr"]


def _segmenter():
    return pytest.importorskip("proseflow.tasks.segment")


def test_published_mode_uses_segmenter_sentences_and_published_coefficients():
    segment = _segmenter()
    text = (
        "The U.S. economy grew 3.5% in 2004. Mr. Brown said so at 9 a.m. on Monday. Markets rose!"
    )
    c = score_text(text, "en", "published")
    t = score_text(text, "en")
    n = len(segment.split_sentences(text, "en"))
    words, letters = t["n_words"], t["n_letters"]
    assert (
        c["coleman_liau_index"]
        == 0.0588 * (100 * letters / words) - 0.296 * (100 * n / words) - 15.8
    )
    alnum = sum(ch.isalnum() for ch in text)
    assert c["automated_readability_index"] == 4.71 * (alnum / words) + 0.5 * (words / n) - 21.43
    assert (
        c["flesch_kincaid_grade"] == 0.39 * (words / n) + 11.8 * (t["n_syllables"] / words) - 15.59
    )
    assert c["reading_time"] == t["reading_time"]


def test_published_dale_chall_adds_constant_only_above_five_percent():
    _segmenter()
    easy = "The cat sat on the mat. The dog ran to the big red barn."
    hard = "Extraordinary phenomena perplexed meticulous investigators yesterday."
    assert score_text(easy, "en", "published")["dale_chall_readability_score"] < 3.6365
    assert score_text(hard, "en", "published")["dale_chall_readability_score"] > 3.6365


def test_batch_published_mode():
    _segmenter()
    out = readability_batch(
        _table([LANGUAGE_TEXTS["it"]]), PipelineConfig(language="it", readability="published")
    )
    assert out.column("gulpease_index").to_pylist() == [
        score_text(LANGUAGE_TEXTS["it"], "it", "published")["gulpease_index"]
    ]


@settings(deadline=None)  # the first example imports textstat
@given(
    st.text(
        alphabet=st.one_of(st.characters(max_codepoint=0x7F), st.sampled_from("’é£İ中\u00a0")),
        max_size=80,
    )
)
def test_strip_punctuation_equals_textstats_on_any_text(text):
    from textstat.backend.transformations import remove_punctuation

    assert lexicon.strip_punctuation(text) == remove_punctuation(text, rm_apostrophe=False)


GRADE_SCORES = readability.TEXT_STANDARD_SCORES


@given(st.tuples(*[st.floats(-5, 120, allow_nan=False)] * len(GRADE_SCORES)))
def test_text_standard_breaks_ties_like_counter_most_common(values):
    from collections import Counter

    scores = dict(zip(GRADE_SCORES, values, strict=True))
    grade = readability._grades(scores["flesch_kincaid_grade"])
    grade += readability._ease_grade(scores["flesch_reading_ease"])
    for name in GRADE_SCORES[2:]:
        grade += readability._grades(scores[name])
    want = float(max(1, min(float(Counter(grade).most_common(1)[0][0]), 18)))
    assert readability.text_standard(scores) == want
