"""Statistics stage: per-document text statistics, corpus summaries and top terms.

`statistics_batch` appends the statistics columns of `documents`; `corpus_stats`, `terms_partial`
and `top_terms` build the `corpus_stats/` and `terms/` datasets of a run.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from proseflow.tasks import schema
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.errors import UsageError
from proseflow.tasks.segment import paragraph_spans, sentence_spans

if TYPE_CHECKING:  # workers score documents and never summarise: see `duckdb_connection`
    import pyarrow.dataset as ds

# Letters or digits, with inner apostrophes and hyphens ("don't", "well-known", "1990s") and
# with inner decimal or thousands separators before a digit ("3.5", "1,200", "1.2bn").
WORD = re.compile(r"[^\W_]+(?:(?:['’\-‐]|[.,](?=\d))[^\W_]+)*")
# WORD's matches, found faster: possessive (nothing is ever given back, so nothing is retried),
# and for ASCII text, where [^\W_] is [0-9A-Za-z] and \d is [0-9], with plain character ranges.
_WORD = re.compile(r"[^\W_]++(?:(?:['’\-‐]|[.,](?=\d))[^\W_]++)*+")
_ASCII_WORD = re.compile(r"[0-9A-Za-z]++(?:(?:['-]|[.,](?=[0-9]))[0-9A-Za-z]++)*+")
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


def statistics_batch(table: pa.Table, config: PipelineConfig) -> tuple[pa.Table, pa.Table]:
    """The table with n_sentences, n_paragraphs and the STAT_FIELDS columns appended, and its terms.

    The terms (a TERMS_PARTIAL table, as `terms_partial` gives) come from the same tokenisation
    as the statistics: each text is tokenised once.
    """
    terms = _Terms()
    rows = []
    for text, language in zip(
        table.column("text").to_pylist(), table.column("language").to_pylist(), strict=True
    ):
        row, words = _document(text or "", language)
        rows.append(row)
        terms.add(words if words is not None else _text_words(text or "", language))
    for column in _OUTPUT_FIELDS:
        table = table.append_column(column, pa.array([r[column.name] for r in rows], column.type))
    return table, terms.table(table.column("collection").to_pylist())


def document_statistics(text: str, language: str | None) -> dict[str, float | int | None]:
    """Every statistics column of one document, from one tokenisation of its sentences."""
    return _document(text, language)[0]


def _document(
    text: str, language: str | None
) -> tuple[dict[str, float | int | None], Words | None]:
    """The statistics columns of one document, and its word counts for the terms."""
    sentences = sentence_spans(text, language)
    paragraphs = paragraph_spans(text)
    findall = _word_finder(text)
    tokens, lengths, seamless = _sentence_tokens(text, sentences, findall)
    words = _count_words(normalise(tokens), language)
    counts = _characters(text)
    n_quotes, quoted = _quotes(text, paragraphs, findall)
    row = {
        "n_sentences": len(sentences),
        "n_paragraphs": len(paragraphs),
        **_lexical(words, counts["letters"], language),
        **_sentence_lengths(lengths),
        "digit_ratio": _share(counts["digits"], counts["visible"]),
        "uppercase_ratio": _share(counts["upper"], counts["letters"]),
        "punctuation_ratio": _share(counts["punctuation"], counts["visible"]),
        "n_quotes": n_quotes,
        "quote_ratio": _share(quoted, len(tokens)),
    }
    return row, words if seamless else None


def _word_finder(text: str) -> Callable[[str, int, int], list[str]]:
    """WORD.findall for `text`, in its fastest form for that text."""
    return (_ASCII_WORD if text.isascii() else _WORD).findall


def _sentence_tokens(
    text: str, sentences: list[tuple[int, int]], findall: Callable[[str, int, int], list[str]]
) -> tuple[list[str], list[int], bool]:
    """Word tokens of the sentences in order, tokens per sentence, and whether they are the text's.

    The sentences' tokens are WORD.findall(text)'s when only whitespace lies around and between
    sentences: no token can then cross a sentence boundary, nor lie outside every sentence.
    """
    tokens: list[str] = []
    lengths: list[int] = []
    seamless = True
    end = 0
    for a, b in sentences:
        if a and not text[end:a].isspace():
            seamless = False
        words = findall(text, a, b)
        lengths.append(len(words))
        tokens += words
        end = b
    return tokens, lengths, seamless and (end == len(text) or text[end:].isspace())


def normalise(tokens: list[str]) -> list[str]:
    """Tokens lower-cased, with typographic apostrophes made straight ("Don’t" -> "don't")."""
    return " ".join(tokens).lower().replace("’", "'").split(" ") if tokens else []


def _share(part: int, whole: int) -> float | None:
    """part / whole, or None when whole is 0."""
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class Words:
    """What the statistics and the terms read from a document's normalised word tokens."""

    tokens: list[str]
    n_distinct: int
    n_numbers: int  # tokens starting with a digit
    n_long: int  # tokens of 7+ letters
    n_stopwords: int
    terms: list[str]  # distinct tokens of 2+ characters with a letter, no stopword, in order
    frequencies: list[int]  # occurrences of each term


_NO_WORDS: frozenset[str] = frozenset()


def _count_words(tokens: list[str], language: str | None) -> Words:
    """Counts of normalised tokens and their terms, in one pass over the distinct words."""
    counts = Counter(tokens)
    stop = stopwords(language)
    skip = stop or _NO_WORDS
    terms: list[str] = []
    frequencies: list[int] = []
    numbers = long_words = 0
    for word, count in counts.items():
        if word.isalpha():  # most words; no letter is a digit, so none of these is a number
            if len(word) >= LONG_WORD_LETTERS:
                long_words += count
            if len(word) >= 2 and word not in skip:
                terms.append(word)
                frequencies.append(count)
            continue
        letters = sum(map(str.isalpha, word))
        if word[0].isdigit():
            numbers += count
        if letters >= LONG_WORD_LETTERS:
            long_words += count
        if letters and len(word) >= 2 and word not in skip:
            terms.append(word)
            frequencies.append(count)
    stop_hits = sum(map(counts.__getitem__, counts.keys() & skip))
    return Words(tokens, len(counts), numbers, long_words, stop_hits, terms, frequencies)


def _lexical(words: Words, letters: int, language: str | None) -> dict[str, float | int | None]:
    """Vocabulary statistics of normalised tokens: uniqueness, MTLD, lengths, stopwords, numbers."""
    n = len(words.tokens)
    return {
        "n_unique_words": words.n_distinct,
        "type_token_ratio": _share(words.n_distinct, n),
        "mtld": mtld(words.tokens),
        # Every letter of the text lies inside a word token, so the text's letter count is theirs.
        "avg_word_length": _share(letters, n),
        "long_word_ratio": _share(words.n_long, n),
        "stopword_ratio": None if stopwords(language) is None else _share(words.n_stopwords, n),
        "n_numbers": words.n_numbers,
    }


def mtld(tokens: Sequence[str], threshold: float = MTLD_THRESHOLD) -> float | None:
    """MTLD: mean of the forward and backward passes; None below 10 tokens or without any factor."""
    if len(tokens) < MTLD_MIN_TOKENS:
        return None
    pass_ = _mtld_pass if 0 < threshold < 1 else _mtld_pass_stepwise
    forward = pass_(tokens, threshold)
    backward = pass_(tokens[::-1], threshold)
    if forward is None or backward is None:
        return None
    return (forward + backward) / 2


def _mtld_pass(tokens: Sequence[str], threshold: float) -> float | None:
    """Tokens per factor in one direction; the last segment adds a partial factor.

    A factor closes at the first token where types / tokens of the segment <= threshold. A new
    type never lowers that ratio, so only a repeated token can close one.
    """
    limit = _ttr_limits(threshold, len(tokens))
    factors = in_segment = 0
    types: set[str] = set()
    add = types.add
    for token in tokens:
        in_segment += 1
        if token not in types:
            add(token)
        elif len(types) <= limit[in_segment]:
            factors += 1
            types.clear()
            in_segment = 0
    ttr = len(types) / in_segment if in_segment else 1.0
    # Partial credit: how far the unfinished segment's TTR has fallen towards the threshold.
    total = factors + (1 - ttr) / (1 - threshold)
    return len(tokens) / total if total else None


def _mtld_pass_stepwise(tokens: Sequence[str], threshold: float) -> float | None:
    """_mtld_pass computing the TTR at every token: for thresholds outside (0, 1)."""
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
    factors += (1 - ttr) / (1 - threshold)
    return len(tokens) / factors if factors else None


_limits: dict[float, list[int]] = {}


def _ttr_limits(threshold: float, n: int) -> list[int]:
    """limit[k] for k up to n: the most types k tokens hold with types / k <= threshold (floats)."""
    found = _limits.get(threshold)
    if found is not None and len(found) > n:
        return found
    limit = [0]
    for k in range(1, 2 * n + 2):  # room for longer documents to come
        m = int(threshold * k)
        while m < k and (m + 1) / k <= threshold:
            m += 1
        while m >= 0 and m / k > threshold:
            m -= 1
        limit.append(m)
    _limits[threshold] = limit  # replaced whole: no reader sees a half-built list
    return limit


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


def _ascii_classes() -> tuple[bytes, list[tuple[bool, ...]]]:
    """A bytes.translate table numbering the (is space, *_char_class) kinds of ASCII, and the kinds."""
    kinds: dict[tuple[bool, ...], int] = {}
    table = bytearray(256)
    for i in range(128):
        c = chr(i)
        table[i] = kinds.setdefault((c.isspace(), *_char_class(c)), len(kinds))
    return bytes(table), list(kinds)


_ASCII_TABLE, _ASCII_KINDS = _ascii_classes()
_ASCII_BYTES = bytes(range(128))


def _characters(text: str) -> dict[str, int]:
    """Counts of non-whitespace characters, digits, letters, upper-case letters and punctuation."""
    ascii_text = text.encode("ascii", "ignore")
    kinds = ascii_text.translate(_ASCII_TABLE)
    tally = [(kind, kinds.count(code)) for code, kind in enumerate(_ASCII_KINDS)]
    if len(ascii_text) != len(text):  # a few characters outside ASCII, classified one by one
        # UTF-8 keeps ASCII characters as single bytes < 128 and writes no other as such bytes.
        others = Counter(
            text.encode("utf-8", "surrogatepass")
            .translate(None, _ASCII_BYTES)
            .decode("utf-8", "surrogatepass")
        )
        tally += [((c.isspace(), *_char_class(c)), count) for c, count in others.items()]
    visible = digits = letters = upper = punct = 0
    for (is_space, is_digit, is_letter, is_upper, is_punct), count in tally:
        if is_space:
            continue
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


def _quotes(
    text: str, paragraphs: list[tuple[int, int]], findall: Callable[[str, int, int], list[str]]
) -> tuple[int, int]:
    """(quoted passages, word tokens inside them); a quote left open closes at its paragraph end."""
    if not _QUOTE_MARK.search(text):
        return 0, 0
    passages = quoted = 0
    for lo, hi in paragraphs:
        for a, b in _quote_spans(text, lo, hi):
            words = len(findall(text, a, b))
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
    documents: pa.Table | ds.Dataset,
    run_id: str,
    fingerprint: str,
    columns: Sequence[str],
    duplicates: pa.Array | None = None,
) -> pa.Table:
    """CORPUS_STATS rows: each numeric column summarised per collection, and for '*' (all) when
    there is more than one collection (with one, the '*' rows would repeat the collection's).

    The rows with unique_only false summarise every document; given the doc_ids of DUPLICATES
    (near-duplicates of another document), the rows with unique_only true summarise the others.
    Columns are summarised SUMMARY_CHUNK at a time, which bounds the memory DuckDB needs for the
    quantiles to a few columns' values whatever the number of columns. Given a dataset (Parquet
    files), each query reads just its columns from the files: nothing else is held in memory.
    """
    _check_numeric(documents, columns)
    if not columns or _num_rows(documents) == 0:
        return schema.CORPUS_STATS.empty_table()
    chunks = [columns[i : i + SUMMARY_CHUNK] for i in range(0, len(columns), SUMMARY_CHUNK)]
    if isinstance(documents, pa.Table):
        keys = ["collection"] if duplicates is None else ["doc_id", "collection"]
        documents = documents.select([*keys, *columns])
    subsets = [False] if duplicates is None else [False, True]
    parts = []
    with duckdb_connection() as con:
        con.register("data", documents)
        con.register("duplicates", pa.table({"doc_id": _strings(duplicates)}))
        for unique_only in subsets:
            where = "WHERE doc_id NOT IN (SELECT doc_id FROM duplicates)" if unique_only else ""
            overall = (
                con.sql(f"SELECT count(DISTINCT collection) FROM data {where}").fetchall()[0][0] > 1
            )
            for chunk in chunks:
                part = _summaries(con, chunk, list(columns), overall, where)
                parts.append(
                    part.append_column("unique_only", pa.repeat(unique_only, part.num_rows))
                )
    result = pa.concat_tables(parts).sort_by(
        [("unique_only", "ascending"), ("collection", "ascending"), ("position", "ascending")]
    )
    result = result.drop_columns(["position"])
    n = result.num_rows
    result = result.add_column(0, "pipeline_fingerprint", pa.array([fingerprint] * n))
    result = result.add_column(0, "run_id", pa.array([run_id] * n))
    return result.select(schema.CORPUS_STATS.names).cast(schema.CORPUS_STATS)


def _strings(values: pa.Array | pa.ChunkedArray | None) -> pa.Array:
    if values is None:
        return pa.array([], pa.string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values.cast(pa.string())


def _num_rows(documents: pa.Table | ds.Dataset) -> int:
    return documents.num_rows if isinstance(documents, pa.Table) else documents.count_rows()


def _summaries(
    con, chunk: Sequence[str], order: list[str], overall: bool, where: str = ""
) -> pa.Table:
    """count, nulls, mean, std, min, quantiles and max of some columns, per collection (and '*')."""
    names = ", ".join(_quote_ident(c) for c in chunk)
    casts = ", ".join(f"CAST({_quote_ident(c)} AS DOUBLE) AS {_quote_ident(c)}" for c in chunk)
    positions = ", ".join(_quote_literal(c) for c in order)
    quantiles = ", ".join(f"quantile_cont(value, {q}) AS {name}" for name, q in QUANTILES.items())
    sql = f"""
        WITH long AS (
            FROM (SELECT collection, {casts} FROM data {where})
            UNPIVOT INCLUDE NULLS (value FOR metric IN ({names}))
        )
        SELECT
            CASE WHEN grouping(collection) = 1 THEN '{ALL_COLLECTIONS}' ELSE collection END
                AS collection,
            metric,
            list_position([{positions}], metric) AS position,
            count(value) AS count,
            count(*) - count(value) AS nulls,
            avg(value) AS mean,
            CASE WHEN count(value) >= 2 THEN stddev_samp(value) END AS std,
            min(value) AS min, {quantiles}, max(value) AS max
        FROM long
        GROUP BY GROUPING SETS ((collection, metric){", (metric)" if overall else ""})
    """
    return con.sql(sql).to_arrow_table()


def duckdb_connection():
    """A private in-memory DuckDB database of one thread (see `_query`).

    DuckDB is imported here, not with this module: worker processes import this module for the
    per-document statistics, never summarise, and start faster without it.
    """
    import duckdb

    return duckdb.connect(config={"threads": 1})


def _query(sql: str, **tables: pa.Table) -> pa.Table:
    """Run one DuckDB query over the named Arrow tables in a private in-memory database.

    One thread: parallel aggregation would add partial sums in a varying order and change the last
    digits of means and deviations from run to run.
    """
    with duckdb_connection() as con:
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
    every = corpus_stats_table.filter(pc.invert(corpus_stats_table["unique_only"]))
    rows = every.to_pylist()
    summary: dict[str, dict[str, object]] = {}
    for row in rows:
        entry = summary.setdefault(row["collection"], {"collection": row["collection"]})
        entry.setdefault("documents", row["count"] + row["nulls"])
        if row["metric"] in SUMMARY_COLUMNS:
            mean = row["mean"]
            entry[row["metric"]] = None if mean is None else round(mean, 2)
    ordered = sorted(summary, key=lambda c: (c == ALL_COLLECTIONS, c))
    return [{**{c: None for c in SUMMARY_COLUMNS}, **summary[c]} for c in ordered]


def terms_partial(table: pa.Table, config: PipelineConfig) -> pa.Table:
    """Per (collection, term) of one batch: documents containing the term and its occurrences."""
    terms = _Terms()
    for text, language in zip(
        table.column("text").to_pylist(), table.column("language").to_pylist(), strict=True
    ):
        terms.add(_text_words(text or "", language))
    return terms.table(table.column("collection").to_pylist())


@dataclass
class _Terms:
    """The terms of a batch's documents in order: each term and its occurrences, flattened."""

    terms: list[str] = field(default_factory=list)
    frequencies: list[int] = field(default_factory=list)
    per_document: list[int] = field(default_factory=list)  # terms of each document

    def add(self, words: Words) -> None:
        """Append one document's terms, in order of first occurrence."""
        self.terms += words.terms
        self.frequencies += words.frequencies
        self.per_document.append(len(words.terms))

    def table(self, collections: list[str]) -> pa.Table:
        """TERMS_PARTIAL rows, given the collection of each document added."""
        per_term: list[str] = []
        for collection, n in zip(collections, self.per_document, strict=True):
            per_term += [collection] * n
        long = pa.table(
            {
                "collection": pa.array(per_term, pa.string()),
                "term": pa.array(self.terms, pa.string()),
                "tf": pa.array(self.frequencies, pa.int64()),
            }
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


def _text_words(text: str, language: str | None) -> Words:
    """Counts and shapes of the word tokens of a whole text."""
    return _count_words(normalise(_word_finder(text)(text, 0, len(text))), language)


def document_terms(text: str, language: str | None) -> Counter[str]:
    """Occurrences of each term: normalised tokens of 2+ characters with a letter, no stopword."""
    words = _text_words(text, language)
    return Counter(dict(zip(words.terms, words.frequencies, strict=True)))


def _has_letter(word: str) -> bool:
    """Whether a word holds at least one letter."""
    return word.isalpha() or any(c.isalpha() for c in word)


def top_terms(partials: Sequence[pa.Table], run_id: str, fingerprint: str, n: int) -> pa.Table:
    """TERMS rows: the n most frequent terms per collection, and for '*' when there are several
    collections (with one, its rows would repeat); ties by term ascending.

    No partials (a run whose every input was rejected) give an empty TERMS table.
    """
    tables = [p.select(TERMS_PARTIAL.names).cast(TERMS_PARTIAL) for p in partials]
    merged = pa.concat_tables(tables) if tables else TERMS_PARTIAL.empty_table()
    if merged.num_rows == 0:
        return schema.TERMS.empty_table()
    overall = ", (term)" if len(merged.column("collection").unique()) > 1 else ""
    sql = f"""
        WITH per_collection AS (
            SELECT
                CASE WHEN grouping(collection) = 1 THEN '{ALL_COLLECTIONS}' ELSE collection END
                    AS collection,
                term,
                sum(document_frequency) AS document_frequency,
                sum(term_frequency) AS term_frequency
            FROM merged
            GROUP BY GROUPING SETS ((collection, term){overall})
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
