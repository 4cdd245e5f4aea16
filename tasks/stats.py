"""Statistics stage: per-document text statistics, corpus summaries and top terms.

`statistics_batch` appends the statistics columns of `documents`; `corpus_stats`, `terms_partial`
and `top_terms` build the `corpus_stats/` and `terms/` datasets of a run.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from tasks import schema
from tasks.config import PipelineConfig
from tasks.errors import UsageError
from tasks.segment import paragraph_spans, sentence_spans

# Letters or digits, with inner apostrophes and hyphens ("don't", "well-known", "1990s") and
# with inner decimal or thousands separators before a digit ("3.5", "1,200", "1.2bn").
WORD = re.compile(r"[^\W_]+(?:(?:['’\-‐]|[.,](?=\d))[^\W_]+)*")
MTLD_THRESHOLD = 0.72
MTLD_MIN_TOKENS = 10
LONG_WORD_LETTERS = 7
RESOURCES = Path(__file__).parent / "resources"
STOPWORD_LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "nl")
ALL_COLLECTIONS = "*"
SUMMARY_COLUMNS = (
    "flesch_reading_ease",
    "flesch_kincaid_grade",
    "gunning_fog",
    "smog_index",
    "n_words",
)
QUANTILES = {"p10": 0.1, "p25": 0.25, "median": 0.5, "p75": 0.75, "p90": 0.9}
SUMMARY_CHUNK = 4  # numeric columns summarised per DuckDB query

# Straight quotes toggle; curly and angle quotes pair up ("„" closes with "“", "»" with "«").
_QUOTE_MARK = re.compile(r"[\"“”„«»]")
_CLOSER_FOR = {"“": "”", "„": "“", "«": "»", "»": "«", '"': '"'}

_OUTPUT_FIELDS = [
    schema.DOCUMENTS.field("n_sentences"),
    schema.DOCUMENTS.field("n_paragraphs"),
    *schema.STAT_FIELDS,
]
# One batch's term counts, merged by `top_terms`.
TERMS_PARTIAL = pa.schema(
    [
        schema.TERMS.field("collection").with_metadata(
            {schema.DESCRIPTION: b"Collection of the documents counted."}
        ),
        schema.TERMS.field("term"),
        schema.TERMS.field("document_frequency").with_nullable(False),
        schema.TERMS.field("term_frequency").with_nullable(False),
    ]
)


@cache
def stopwords(language: str | None) -> frozenset[str] | None:
    """The stopword list of an ISO 639-1 language, or None when proseflow has none."""
    if language not in STOPWORD_LANGUAGES:
        return None
    lines = (RESOURCES / f"stopwords_{language}.txt").read_text(encoding="utf-8").split()
    return frozenset(lines)


def statistics_batch(table: pa.Table, config: PipelineConfig) -> pa.Table:
    """Append n_sentences, n_paragraphs and the STAT_FIELDS columns, from text and language."""
    rows = [
        document_statistics(text or "", language)
        for text, language in zip(
            table.column("text").to_pylist(), table.column("language").to_pylist(), strict=True
        )
    ]
    for field in _OUTPUT_FIELDS:
        table = table.append_column(field, pa.array([r[field.name] for r in rows], field.type))
    return table


def document_statistics(text: str, language: str | None) -> dict[str, float | int | None]:
    """Every statistics column of one document, from one tokenisation of its sentences."""
    sentences = sentence_spans(text, language)
    lengths: list[int] = []
    tokens: list[str] = []
    for a, b in sentences:
        words = WORD.findall(text, a, b)
        lengths.append(len(words))
        tokens += words
    counts = _characters(text)
    n_quotes, quoted = _quotes(text)
    return {
        "n_sentences": len(sentences),
        "n_paragraphs": len(paragraph_spans(text)),
        **_lexical(normalise(tokens), counts["letters"], stopwords(language)),
        **_sentence_lengths(lengths),
        "digit_ratio": _share(counts["digits"], counts["visible"]),
        "uppercase_ratio": _share(counts["upper"], counts["letters"]),
        "punctuation_ratio": _share(counts["punctuation"], counts["visible"]),
        "n_quotes": n_quotes,
        "quote_ratio": _share(quoted, len(tokens)),
    }


def normalise(tokens: list[str]) -> list[str]:
    """Tokens lower-cased, with typographic apostrophes made straight ("Don’t" -> "don't")."""
    return " ".join(tokens).lower().replace("’", "'").split(" ") if tokens else []


def _share(part: int, whole: int) -> float | None:
    """part / whole, or None when whole is 0."""
    return part / whole if whole else None


def _lexical(
    tokens: list[str], letters: int, stop: frozenset[str] | None
) -> dict[str, float | int | None]:
    """Vocabulary statistics of normalised tokens: uniqueness, MTLD, lengths, stopwords, numbers."""
    n = len(tokens)
    counts = Counter(tokens)
    long_words = numbers = 0
    for word, count in counts.items():
        if word[0].isdigit():
            numbers += count
        # Only words of 7+ characters can hold 7+ letters; most are pure letters.
        if len(word) >= LONG_WORD_LETTERS and (
            word.isalpha() or sum(c.isalpha() for c in word) >= LONG_WORD_LETTERS
        ):
            long_words += count
    stop_hits = sum(counts[w] for w in counts.keys() & stop) if stop is not None else 0
    return {
        "n_unique_words": len(counts),
        "type_token_ratio": _share(len(counts), n),
        "mtld": mtld(tokens),
        # Every letter of the text lies inside a word token, so the text's letter count is theirs.
        "avg_word_length": _share(letters, n),
        "long_word_ratio": _share(long_words, n),
        "stopword_ratio": _share(stop_hits, n) if stop is not None else None,
        "n_numbers": numbers,
    }


def mtld(tokens: Sequence[str], threshold: float = MTLD_THRESHOLD) -> float | None:
    """MTLD: mean of the forward and backward passes; None below 10 tokens or without any factor."""
    if len(tokens) < MTLD_MIN_TOKENS:
        return None
    forward = _mtld_pass(tokens, threshold)
    backward = _mtld_pass(tokens[::-1], threshold)
    if forward is None or backward is None:
        return None
    return (forward + backward) / 2


def _mtld_pass(tokens: Sequence[str], threshold: float) -> float | None:
    """Tokens per factor in one direction; the last segment adds a partial factor."""
    factors = 0.0
    types: set[str] = set()
    n_types = in_segment = 0
    ttr = 1.0
    for token in tokens:
        if token not in types:
            types.add(token)
            n_types += 1
        in_segment += 1
        ttr = n_types / in_segment
        if ttr <= threshold:
            factors += 1
            types = set()
            n_types = in_segment = 0
            ttr = 1.0
    # Partial credit: how far the unfinished segment's TTR has fallen towards the threshold.
    factors += (1 - ttr) / (1 - threshold)
    return len(tokens) / factors if factors else None


def _sentence_lengths(lengths: list[int]) -> dict[str, float | int | None]:
    """Mean, population std and max of word tokens per sentence (None without sentences)."""
    if not lengths:
        return {
            "avg_sentence_length": None,
            "sentence_length_std": None,
            "max_sentence_length": None,
        }
    mean = sum(lengths) / len(lengths)
    variance = sum((x - mean) ** 2 for x in lengths) / len(lengths)
    return {
        "avg_sentence_length": mean,
        "sentence_length_std": variance**0.5,
        "max_sentence_length": max(lengths),
    }


@cache
def _char_class(c: str) -> tuple[bool, bool, bool, bool]:
    """(is digit, is letter, is upper-case letter, is punctuation) for one character."""
    punct = c in string.punctuation or unicodedata.category(c).startswith("P")
    return c.isdigit(), c.isalpha(), c.isalpha() and c.isupper(), punct


def _characters(text: str) -> dict[str, int]:
    """Counts of non-whitespace characters, digits, letters, upper-case letters and punctuation."""
    visible = digits = letters = upper = punct = 0
    for c, count in Counter(text).items():
        if c.isspace():
            continue
        is_digit, is_letter, is_upper, is_punct = _char_class(c)
        visible += count
        digits += count * is_digit
        letters += count * is_letter
        upper += count * is_upper
        punct += count * is_punct
    return {
        "visible": visible,
        "digits": digits,
        "letters": letters,
        "upper": upper,
        "punctuation": punct,
    }


def _quotes(text: str) -> tuple[int, int]:
    """(quoted passages, word tokens inside them); a quote left open closes at its paragraph end."""
    if not _QUOTE_MARK.search(text):
        return 0, 0
    passages = quoted = 0
    for lo, hi in paragraph_spans(text):
        for a, b in _quote_spans(text, lo, hi):
            words = len(WORD.findall(text, a, b))
            if words:  # a passage holds at least one word
                passages += 1
                quoted += words
    return passages, quoted


def _quote_spans(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """(start, end) of each quoted passage of the paragraph text[lo:hi]."""
    spans, closer, opened = [], "", 0
    for m in _QUOTE_MARK.finditer(text, lo, hi):
        mark = m.group()
        if closer and mark == closer:
            spans.append((opened, m.start()))
            closer = ""
        elif not closer and mark in _CLOSER_FOR:
            closer, opened = _CLOSER_FOR[mark], m.end()
    if closer:
        spans.append((opened, hi))
    return spans


def corpus_stats(
    documents: pa.Table | ds.Dataset, run_id: str, fingerprint: str, columns: Sequence[str]
) -> pa.Table:
    """CORPUS_STATS rows: each numeric column summarised per collection and for '*' (all).

    Columns are summarised SUMMARY_CHUNK at a time, which bounds the memory DuckDB needs for the
    quantiles to a few columns' values whatever the number of columns. Given a dataset (Parquet
    files), each query reads just its columns from the files: nothing else is held in memory.
    """
    _check_numeric(documents, columns)
    if not columns or _num_rows(documents) == 0:
        return schema.CORPUS_STATS.empty_table()
    chunks = [columns[i : i + SUMMARY_CHUNK] for i in range(0, len(columns), SUMMARY_CHUNK)]
    if isinstance(documents, pa.Table):
        documents = documents.select(["collection", *columns])
    with duckdb.connect(config={"threads": 1}) as con:  # one thread: see _query
        con.register("data", documents)
        parts = [_summaries(con, chunk, list(columns)) for chunk in chunks]
    result = pa.concat_tables(parts).sort_by(
        [("collection", "ascending"), ("position", "ascending")]
    )
    result = result.drop_columns(["position"])
    n = result.num_rows
    result = result.add_column(0, "pipeline_fingerprint", pa.array([fingerprint] * n))
    result = result.add_column(0, "run_id", pa.array([run_id] * n))
    return result.cast(schema.CORPUS_STATS)


def _num_rows(documents: pa.Table | ds.Dataset) -> int:
    return documents.num_rows if isinstance(documents, pa.Table) else documents.count_rows()


def _summaries(con, chunk: Sequence[str], order: list[str]) -> pa.Table:
    """count, nulls, mean, std, min, quantiles and max of some columns, per collection and '*'."""
    names = ", ".join(_quote_ident(c) for c in chunk)
    casts = ", ".join(f"CAST({_quote_ident(c)} AS DOUBLE) AS {_quote_ident(c)}" for c in chunk)
    positions = ", ".join(_quote_literal(c) for c in order)
    quantiles = ", ".join(f"quantile_cont(value, {q}) AS {name}" for name, q in QUANTILES.items())
    sql = f"""
        WITH long AS (
            FROM (SELECT collection, {casts} FROM data)
            UNPIVOT INCLUDE NULLS (value FOR "column" IN ({names}))
        )
        SELECT
            CASE WHEN grouping(collection) = 1 THEN '{ALL_COLLECTIONS}' ELSE collection END
                AS collection,
            "column",
            list_position([{positions}], "column") AS position,
            count(value) AS count,
            count(*) - count(value) AS nulls,
            avg(value) AS mean,
            CASE WHEN count(value) >= 2 THEN stddev_samp(value) END AS std,
            min(value) AS min, {quantiles}, max(value) AS max
        FROM long
        GROUP BY GROUPING SETS ((collection, "column"), ("column"))
    """
    return con.sql(sql).to_arrow_table()


def _query(sql: str, **tables: pa.Table) -> pa.Table:
    """Run one DuckDB query over the named Arrow tables in a private in-memory database.

    One thread: parallel aggregation would add partial sums in a varying order and change the last
    digits of means and deviations from run to run.
    """
    with duckdb.connect(config={"threads": 1}) as con:
        for name, table in tables.items():
            con.register(name, table)
        return con.sql(sql).to_arrow_table()


def _check_numeric(documents: pa.Table | ds.Dataset, columns: Sequence[str]) -> None:
    """Raise UsageError naming any column that is missing or not numeric."""
    numeric = {
        f.name
        for f in documents.schema
        if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
    }
    bad = [c for c in columns if c not in numeric]
    if bad:
        raise UsageError(
            f"corpus statistics columns {bad} are not numeric columns of the documents table; "
            f"expected some of {sorted(numeric)}"
        )


def _quote_ident(name: str) -> str:
    """A SQL identifier for a column name."""
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def collection_summary(corpus_stats_table: pa.Table) -> list[dict[str, object]]:
    """Per collection ('*' last): documents and the mean of the main scores, rounded to 2 places."""
    rows = corpus_stats_table.to_pylist()
    summary: dict[str, dict[str, object]] = {}
    for row in rows:
        entry = summary.setdefault(row["collection"], {"collection": row["collection"]})
        entry.setdefault("documents", row["count"] + row["nulls"])
        if row["column"] in SUMMARY_COLUMNS:
            mean = row["mean"]
            entry[row["column"]] = None if mean is None else round(mean, 2)
    ordered = sorted(summary, key=lambda c: (c == ALL_COLLECTIONS, c))
    return [{**{c: None for c in SUMMARY_COLUMNS}, **summary[c]} for c in ordered]


def terms_partial(table: pa.Table, config: PipelineConfig) -> pa.Table:
    """Per (collection, term) of one batch: documents containing the term and its occurrences."""
    collections: list[str] = []
    terms: list[str] = []
    frequencies: list[int] = []
    for collection, text, language in zip(
        table.column("collection").to_pylist(),
        table.column("text").to_pylist(),
        table.column("language").to_pylist(),
        strict=True,
    ):
        counts = document_terms(text or "", language)
        collections += [collection] * len(counts)
        terms += counts.keys()
        frequencies += counts.values()
    long = pa.table(
        {"collection": collections, "term": terms, "tf": pa.array(frequencies, pa.int64())}
    )
    grouped = long.group_by(["collection", "term"]).aggregate([("tf", "sum"), ("tf", "count")])
    return pa.table(
        {
            "collection": grouped["collection"],
            "term": grouped["term"],
            "document_frequency": grouped["tf_count"],
            "term_frequency": grouped["tf_sum"],
        },
        schema=TERMS_PARTIAL,
    )


def document_terms(text: str, language: str | None) -> Counter[str]:
    """Occurrences of each term: normalised tokens of 2+ characters with a letter, no stopword."""
    counts = Counter(normalise(WORD.findall(text)))
    for word in counts.keys() & (stopwords(language) or frozenset()):
        del counts[word]
    for word in [w for w in counts if len(w) < 2 or not _has_letter(w)]:
        del counts[word]
    return counts


def _has_letter(word: str) -> bool:
    """Whether a word holds at least one letter."""
    return word.isalpha() or any(c.isalpha() for c in word)


def top_terms(partials: Sequence[pa.Table], run_id: str, fingerprint: str, n: int) -> pa.Table:
    """TERMS rows: the n most frequent terms per collection and for '*', ties by term ascending."""
    merged = pa.concat_tables([p.select(TERMS_PARTIAL.names).cast(TERMS_PARTIAL) for p in partials])
    if merged.num_rows == 0:
        return schema.TERMS.empty_table()
    sql = f"""
        WITH per_collection AS (
            SELECT
                CASE WHEN grouping(collection) = 1 THEN '{ALL_COLLECTIONS}' ELSE collection END
                    AS collection,
                term,
                sum(document_frequency) AS document_frequency,
                sum(term_frequency) AS term_frequency
            FROM merged
            GROUP BY GROUPING SETS ((collection, term), (term))
        ), ranked AS (
            SELECT *, row_number() OVER (
                PARTITION BY collection ORDER BY term_frequency DESC, term ASC
            ) AS rank
            FROM per_collection
        )
        SELECT collection, rank, term, document_frequency, term_frequency
        FROM ranked WHERE rank <= {int(n)}
        ORDER BY collection, rank
    """
    result = _query(sql, merged=merged)
    rows = result.num_rows
    result = result.add_column(0, "pipeline_fingerprint", pa.array([fingerprint] * rows))
    result = result.add_column(0, "run_id", pa.array([run_id] * rows))
    return result.cast(schema.TERMS)
