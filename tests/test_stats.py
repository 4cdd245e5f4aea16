"""Tests for tasks/stats.py: document statistics, corpus summaries and top terms."""

from __future__ import annotations

import math
import string
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.csv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proseflow.tasks import schema, stats
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.errors import UsageError
from proseflow.tasks.stats import (
    ALL_COLLECTIONS,
    STOPWORD_LANGUAGES,
    TERMS_PARTIAL,
    WORD,
    collection_summary,
    corpus_stats,
    document_statistics,
    document_terms,
    mtld,
    normalise,
    statistics_batch,
    stopwords,
    terms_partial,
    top_terms,
)

FIXTURES = Path(__file__).parent / "fixtures" / "stats"
CONFIG = PipelineConfig()
RATIOS = [
    "type_token_ratio",
    "long_word_ratio",
    "stopword_ratio",
    "digit_ratio",
    "uppercase_ratio",
    "punctuation_ratio",
    "quote_ratio",
]


def _docs(texts: list[str], language: str | None = "en", collection: str = "a") -> pa.Table:
    n = len(texts)
    return pa.table({"collection": [collection] * n, "text": texts, "language": [language] * n})


def test_statistics_batch_appends_the_schema_columns_in_order():
    table = _docs(["One. Two.", ""])
    out, _ = statistics_batch(table, CONFIG)
    added = out.schema.names[table.num_columns :]
    assert added == ["n_sentences", "n_paragraphs", *schema.STAT_COLUMNS]
    for name in added:
        assert out.schema.field(name).equals(schema.DOCUMENTS.field(name), check_metadata=True)
    assert out.column("text").to_pylist() == ["One. Two.", ""]


def test_every_statistic_on_a_hand_checked_document():
    text = 'The cat sat. "The dog ran fast," she said.\n\nIt cost $1.2bn, up 45%!'
    s = document_statistics(text, "en")
    # Sentences: "The cat sat." | "\"The dog ran fast,\" she said." | "It cost $1.2bn, up 45%!"
    # Word tokens 3 + 6 + 5 = 14: the cat sat the dog ran fast she said it cost 1.2bn up 45.
    assert (s["n_sentences"], s["n_paragraphs"]) == (3, 2)
    assert s["n_unique_words"] == 13  # "the" twice
    assert s["type_token_ratio"] == pytest.approx(13 / 14)
    # Lengths 3, 6, 5: mean 14/3; deviations -5/3, 4/3, 1/3 -> variance (25+16+1)/9/3 = 14/9.
    assert s["avg_sentence_length"] == pytest.approx(14 / 3)
    assert s["sentence_length_std"] == pytest.approx(math.sqrt(14 / 9))
    assert s["max_sentence_length"] == 6
    # Letters 3+3+3+3+3+3+4+3+4+2+4+2("bn")+2+0 = 39 over 14 tokens; none has 7 letters.
    assert s["avg_word_length"] == pytest.approx(39 / 14)
    assert s["long_word_ratio"] == 0.0
    # Stopwords: the, the, she, it, up.
    assert s["stopword_ratio"] == pytest.approx(5 / 14)
    # 53 visible characters: digits 1 2 4 5; punctuation . " , " . $ . , % ! (10); upper T T I.
    assert s["digit_ratio"] == pytest.approx(4 / 53)
    assert s["punctuation_ratio"] == pytest.approx(10 / 53)
    assert s["uppercase_ratio"] == pytest.approx(3 / 39)
    # One quoted passage holding 4 tokens; numbers 1.2bn and 45.
    assert (s["n_quotes"], s["quote_ratio"]) == (1, pytest.approx(4 / 14))
    assert s["n_numbers"] == 2
    # MTLD: TTR never reaches 0.72 (lowest 13/14 in either direction): one partial factor
    # (1 - 13/14) / 0.28 per pass, so MTLD = 14 / ((1/14) / 0.28) = 54.88.
    assert s["mtld"] == pytest.approx(54.88)


def test_mtld_counts_full_and_partial_factors():
    # Forward and backward: a b a -> TTR 2/3 <= 0.72 closes a factor, three times; the last
    # token starts a segment with TTR 1 (no partial credit): 10 / 3.
    assert mtld(list("ababababab")) == pytest.approx(10 / 3)
    # Forward: "a a" closes a factor, then 8 distinct tokens (partial 0): 10 / 1.
    # Backward: 9 types in 10 tokens never falls to 0.72: partial (1 - 0.9) / 0.28: 10 / 0.357.
    assert mtld(list("aabcdefghi")) == pytest.approx((10 + 28) / 2)
    assert mtld(list("abcdefghi")) is None  # fewer than 10 tokens
    assert mtld([f"w{i}" for i in range(12)]) is None  # all distinct: no factor at all


def test_numbers_are_tokens_that_start_with_a_digit():
    s = document_statistics(
        "Sold 1,200 units at 3.5 each, $1.2bn in all, 45% up; MP3 players.", "en"
    )
    assert s["n_numbers"] == 4


def test_quotes_left_open_close_at_the_paragraph_end():
    text = '"First part.\n\n"Second part," he said. „Hallo Welt“ and “curly one”.'
    s = document_statistics(text, "en")
    # Passages: "First part" (closed by the paragraph end), "Second part", "Hallo Welt",
    # "curly one": 8 of 11 tokens.
    assert s["n_quotes"] == 4
    assert s["quote_ratio"] == pytest.approx(8 / 11)


def test_no_words_and_no_text_give_nulls_not_zeros():
    empty = document_statistics("", "en")
    assert (empty["n_sentences"], empty["n_paragraphs"], empty["n_unique_words"]) == (0, 0, 0)
    nulls = [
        "type_token_ratio",
        "mtld",
        "avg_word_length",
        "avg_sentence_length",
        "sentence_length_std",
        "max_sentence_length",
        *RATIOS,
    ]
    assert all(empty[name] is None for name in nulls)
    dots = document_statistics("... !!", "en")
    assert dots["n_sentences"] == 1 and dots["avg_sentence_length"] == 0.0
    assert dots["type_token_ratio"] is None and dots["uppercase_ratio"] is None
    assert dots["punctuation_ratio"] == 1.0


def test_stopword_ratio_is_null_without_a_list():
    assert document_statistics("Der Hund und die Katze.", "de")["stopword_ratio"] == 0.6
    assert document_statistics("The dog.", "ja")["stopword_ratio"] is None
    assert document_statistics("The dog.", None)["stopword_ratio"] is None


def test_every_listed_language_has_stopwords():
    for language in STOPWORD_LANGUAGES:
        words = stopwords(language)
        assert words and len(words) >= 80 and all(w == w.lower() for w in words)


@given(st.text(alphabet=st.sampled_from(list("aB3 .,!?\"“”'’-\n$%")), max_size=120))
def test_ratios_are_shares_or_null_and_lengths_add_up(text):
    s = document_statistics(text, "en")
    for name in RATIOS:
        assert s[name] is None or 0.0 <= s[name] <= 1.0
    for value in s.values():
        assert value is None or math.isfinite(value)
    tokens = s["n_unique_words"] / s["type_token_ratio"] if s["type_token_ratio"] else 0
    if s["n_sentences"]:
        assert s["avg_sentence_length"] * s["n_sentences"] == pytest.approx(tokens)
        assert s["max_sentence_length"] >= s["avg_sentence_length"]


def _fixture_corpus() -> pa.Table:
    return pyarrow.csv.read_csv(FIXTURES / "corpus.csv")


def test_corpus_stats_on_a_hand_computed_fixture():
    out = corpus_stats(_fixture_corpus(), "run-1", "fp-1", ["y", "x"])
    assert out.schema.equals(schema.CORPUS_STATS, check_metadata=True)
    rows = {(r["collection"], r["metric"]): r for r in out.to_pylist()}
    assert [(r["collection"], r["metric"]) for r in out.to_pylist()] == [
        ("*", "y"), ("*", "x"), ("a", "y"), ("a", "x"), ("b", "y"), ("b", "x"),
    ]  # fmt: skip
    assert {r["run_id"] for r in rows.values()} == {"run-1"}
    # a.x = 1 2 3 4 5 and a null: positions (n-1)q = 0.4, 1, 2, 3, 3.6.
    a_x = rows["a", "x"]
    assert (a_x["count"], a_x["nulls"], a_x["mean"], a_x["min"], a_x["max"]) == (5, 1, 3, 1, 5)
    assert a_x["std"] == pytest.approx(math.sqrt(2.5))  # squares 4+1+0+1+4 over 4
    quantiles = [a_x[k] for k in ("p10", "p25", "median", "p75", "p90")]
    assert quantiles == pytest.approx([1.4, 2, 3, 4, 4.6])
    # a.y = 2 4 6 8: positions 0.3, 0.75, 1.5, 2.25, 2.7; std sqrt((9+1+1+9)/3).
    a_y = rows["a", "y"]
    assert [a_y[k] for k in ("p10", "p25", "median", "p75", "p90")] == pytest.approx(
        [2.6, 3.5, 5, 6.5, 7.4]
    )
    assert a_y["std"] == pytest.approx(math.sqrt(20 / 3))
    # b.y has no value: count 0, everything else null.
    b_y = rows["b", "y"]
    assert (b_y["count"], b_y["nulls"]) == (0, 2)
    assert all(b_y[k] is None for k in ("mean", "std", "min", "median", "max"))
    # '*'.x = 1 2 3 4 5 10 20: positions 0.6, 1.5, 3, 4.5, 5.4; sum of squares 555.
    all_x = rows["*", "x"]
    assert (all_x["count"], all_x["nulls"]) == (7, 1)
    assert all_x["mean"] == pytest.approx(45 / 7)
    assert all_x["std"] == pytest.approx(math.sqrt((555 - 45**2 / 7) / 6))
    assert [all_x[k] for k in ("p10", "p25", "median", "p75", "p90")] == pytest.approx(
        [1.6, 2.5, 4, 7.5, 14]
    )


def test_std_is_null_below_two_values():
    table = pa.table({"collection": ["a", "b", "b"], "x": [1.0, 2.0, 4.0]})
    rows = {r["collection"]: r for r in corpus_stats(table, "r", "f", ["x"]).to_pylist()}
    assert rows["a"]["std"] is None
    assert rows["b"]["std"] == pytest.approx(math.sqrt(2))


def test_corpus_stats_rejects_a_non_numeric_column():
    with pytest.raises(UsageError, match="collection"):
        corpus_stats(_fixture_corpus(), "r", "f", ["x", "collection"])


def test_corpus_stats_of_no_documents_is_empty():
    out = corpus_stats(_fixture_corpus().slice(0, 0), "r", "f", ["x"])
    assert out.num_rows == 0 and out.schema.equals(schema.CORPUS_STATS)


def test_corpus_stats_read_from_parquet_files_equal_the_in_memory_table(tmp_path):
    import numpy as np
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    n = 5000
    table = pa.table(
        {
            "collection": rng.choice(["business", "sport", "tech"], n),
            "score": rng.normal(50, 20, n) * 1.000001,
            "count": pa.array(rng.integers(0, 900, n)).cast(pa.int64()),
            "ratio": pa.array([None if i % 7 == 0 else i / 3 for i in range(n)], pa.float64()),
        }
    )
    for i, start in enumerate(range(0, n, 1300)):  # several files, as staging writes them
        pq.write_table(table.slice(start, 1300), tmp_path / f"part-{i:05d}.parquet")
    files = sorted(str(p) for p in tmp_path.glob("*.parquet"))
    columns = ["score", "count", "ratio"]
    in_memory = corpus_stats(table, "r", "f", columns)
    from_files = corpus_stats(ds.dataset(files, format="parquet"), "r", "f", columns)
    assert from_files.equals(in_memory)  # to the last bit, nulls included
    empty = ds.dataset([], schema=table.schema, format="parquet")
    assert corpus_stats(empty, "r", "f", columns).num_rows == 0


def test_collection_summary_gives_mean_scores_with_all_last():
    table = pa.table(
        {
            "collection": ["b", "a", "a"],
            "flesch_reading_ease": [60.0, 50.0, 70.0],
            "n_words": [100, 200, None],
        }
    )
    stats = corpus_stats(table, "r", "f", ["flesch_reading_ease", "n_words"])
    summary = collection_summary(stats)
    assert [s["collection"] for s in summary] == ["a", "b", ALL_COLLECTIONS]
    assert summary[0] == {
        "collection": "a",
        "documents": 2,
        "flesch_reading_ease": 60.0,
        "flesch_kincaid_grade": None,
        "gunning_fog": None,
        "smog_index": None,
        "n_words": 200.0,
    }
    assert summary[2]["documents"] == 3 and summary[2]["n_words"] == 150.0


def reference_terms(text: str, language: str | None) -> Counter:
    """Terms counted from the definition: every WORD token of the text, normalised and filtered."""
    counts = Counter(normalise(WORD.findall(text)))
    return Counter(
        {
            w: n
            for w, n in counts.items()
            if len(w) >= 2 and any(c.isalpha() for c in w) and w not in (stopwords(language) or ())
        }
    )


def reference_partial(table: pa.Table) -> list[tuple[str, str, int, int]]:
    """(collection, term, document_frequency, term_frequency) of every term of the table."""
    rows: dict[tuple[str, str], list[int]] = {}
    for row in table.to_pylist():
        for term, n in reference_terms(row["text"] or "", row["language"]).items():
            entry = rows.setdefault((row["collection"], term), [0, 0])
            entry[0] += 1
            entry[1] += n
    return [(c, t, df, tf) for (c, t), (df, tf) in rows.items()]


HOSTILE = st.lists(
    st.sampled_from(
        list("aBé3 .,!?\"“”'’-‐_\n$%。！」中İ\u00a0") + ["The ", "Mr. ", "4.5", "\n\n"]
    ),
    max_size=60,
).map("".join)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(HOSTILE, st.none()), max_size=6), st.sampled_from(["en", "de", None]))
def test_terms_are_counted_on_the_whole_text_with_or_without_statistics_first(texts, language):
    table = pa.table(
        {
            "collection": [f"c{i % 2}" for i in range(len(texts))],
            "text": pa.array(texts, pa.string()),
            "language": pa.array([language] * len(texts), pa.string()),
        }
    )
    want = reference_partial(table)
    fresh = terms_partial(table, CONFIG)
    _, with_statistics = statistics_batch(table, CONFIG)
    for out in (fresh, with_statistics):
        assert out.schema.equals(TERMS_PARTIAL)
        got = list(zip(*(out.column(n).to_pylist() for n in TERMS_PARTIAL.names), strict=True))
        assert sorted(got) == sorted(want)  # row order is the grouping's
    for text in texts:
        assert document_terms(text or "", language) == reference_terms(text or "", language)


def test_statistics_terms_follow_each_documents_collection():
    table = pa.concat_tables(
        [_docs(["apple apple"], collection="x"), _docs(["pear"], collection="y")]
    )
    _, terms = statistics_batch(table, CONFIG)
    rows = sorted((r["collection"], r["term"], r["term_frequency"]) for r in terms.to_pylist())
    assert rows == [("x", "apple", 2), ("y", "pear", 1)]


def test_cjk_sentences_end_without_space_and_tokens_stay_whole():
    text = "3.5倍。5倍です。The end."
    s = document_statistics(text, "ja")
    assert s["n_unique_words"] == len(set(normalise(WORD.findall(text))))
    assert document_terms(text, "ja") == reference_terms(text, "ja")


def reference_mtld_pass(tokens: list[str], threshold: float) -> float | None:
    """One MTLD pass exactly as defined: the TTR computed after every token."""
    factors, types, in_segment, ttr = 0.0, set(), 0, 1.0
    for token in tokens:
        types.add(token)
        in_segment += 1
        ttr = len(types) / in_segment
        if ttr <= threshold:
            factors, types, in_segment, ttr = factors + 1, set(), 0, 1.0
    factors += (1 - ttr) / (1 - threshold)
    return len(tokens) / factors if factors else None


@given(
    st.lists(st.sampled_from("abcdefghijklmnopqrstuvwxyz"[:12]), min_size=10, max_size=300),
    st.sampled_from([0.72, 0.5, 0.9, 0.01, 0.99, 0.72000001, 0.7199999]),
)
def test_mtld_equals_its_definition_to_the_bit(tokens, threshold):
    forward = reference_mtld_pass(tokens, threshold)
    backward = reference_mtld_pass(tokens[::-1], threshold)
    want = None if forward is None or backward is None else (forward + backward) / 2
    assert mtld(tokens, threshold) == want


@given(st.text(max_size=200))
def test_character_counts_equal_their_definition(text):
    counts = {"visible": 0, "digits": 0, "letters": 0, "upper": 0, "punctuation": 0}
    for c in text:
        if not c.isspace():
            counts["visible"] += 1
            counts["digits"] += c.isdigit()
            counts["letters"] += c.isalpha()
            counts["upper"] += c.isalpha() and c.isupper()
            counts["punctuation"] += c in string.punctuation or unicodedata.category(c)[0] == "P"
    assert stats._characters(text) == counts


def test_character_counts_survive_lone_surrogates():
    counts = stats._characters("a\udcff £")
    assert counts == {"visible": 3, "digits": 0, "letters": 1, "upper": 0, "punctuation": 0}


@given(st.one_of(st.text(max_size=120), st.text(st.characters(max_codepoint=127)), HOSTILE))
def test_fast_word_patterns_find_what_word_finds(text):
    assert stats._word_finder(text)(text, 0, len(text)) == WORD.findall(text)
    for a, b in [(0, len(text) // 2), (len(text) // 3, len(text))]:
        assert stats._word_finder(text)(text, a, b) == WORD.findall(text, a, b)


def test_no_character_is_both_a_letter_and_a_digit():
    # Word counting skips the number test for words made of letters only.
    assert not any(c.isalpha() and c.isdigit() for c in map(chr, range(sys.maxunicode + 1)))


def test_terms_partial_counts_documents_and_occurrences():
    table = _docs(["The apple, the Apple! x 42 b2b", "apple pie"])
    rows = {r["term"]: r for r in terms_partial(table, CONFIG).to_pylist()}
    # "the" is a stopword, "x" too short, "42" has no letter.
    assert set(rows) == {"apple", "b2b", "pie"}
    assert (rows["apple"]["document_frequency"], rows["apple"]["term_frequency"]) == (2, 3)


def test_terms_partial_uses_each_rows_language():
    table = pa.table(
        {"collection": ["a", "a"], "text": ["the die", "the die"], "language": ["en", "de"]}
    )
    rows = {r["term"]: r["term_frequency"] for r in terms_partial(table, CONFIG).to_pylist()}
    assert rows == {"die": 1, "the": 1}


def test_top_terms_breaks_ties_by_term_and_ranks_per_collection():
    a = _docs(["zebra apple mango apple zebra"], collection="a")
    b = _docs(["mango mango kiwi"], collection="b")
    out = top_terms([terms_partial(a, CONFIG), terms_partial(b, CONFIG)], "r", "f", 2)
    assert out.schema.equals(schema.TERMS, check_metadata=True)
    got = [(r["collection"], r["rank"], r["term"], r["term_frequency"]) for r in out.to_pylist()]
    assert got == [
        ("*", 1, "mango", 3), ("*", 2, "apple", 2),
        ("a", 1, "apple", 2), ("a", 2, "zebra", 2),
        ("b", 1, "mango", 2), ("b", 2, "kiwi", 1),
    ]  # fmt: skip


def test_one_collection_gets_no_repeated_all_rows():
    table = _docs(["apple apple pie", "pie tart"], collection="only")
    terms = top_terms([terms_partial(table, CONFIG)], "r", "f", 5)
    assert set(terms.column("collection").to_pylist()) == {"only"}
    numbers = pa.table({"collection": ["only", "only"], "x": [1.0, 3.0]})
    stats = corpus_stats(numbers, "r", "f", ["x"])
    assert [(r["collection"], r["metric"], r["mean"]) for r in stats.to_pylist()] == [
        ("only", "x", 2.0)
    ]
    assert [s["collection"] for s in collection_summary(stats)] == ["only"]


def test_top_terms_of_no_documents_is_an_empty_terms_table():
    empty = terms_partial(_docs([]), CONFIG)
    for partials in ([], [empty], [empty, empty]):
        out = top_terms(partials, "r", "f", 5)
        assert out.num_rows == 0
        assert out.schema.equals(schema.TERMS, check_metadata=True)


@settings(max_examples=25, deadline=None)  # each example runs two DuckDB queries
@given(
    st.lists(st.sampled_from(["apple pie", "the kiwi", "pie pie tart", "Tart kiwi"]), max_size=8),
    st.integers(min_value=0, max_value=8),
)
def test_top_terms_of_split_batches_equal_one_batch(texts, cut):
    table = _docs(texts)
    whole = top_terms([terms_partial(table, CONFIG)], "r", "f", 3)
    parts = [terms_partial(table.slice(0, cut), CONFIG), terms_partial(table.slice(cut), CONFIG)]
    assert top_terms(parts, "r", "f", 3).equals(whole)


def test_bbc_batch_statistics_are_plausible(bbc):
    files = sorted(bbc.glob("*/*.txt"))[::45]
    texts = [f.read_bytes().decode("utf-8", errors="replace").split("\n", 1)[1] for f in files]
    out, _ = statistics_batch(_docs(texts), CONFIG)
    assert out.num_rows == len(files) >= 45
    assert out.column("n_sentences").null_count == 0
    assert min(out.column("mtld").to_pylist()) > 20
    assert 10 < sum(out.column("avg_sentence_length").to_pylist()) / out.num_rows < 35
