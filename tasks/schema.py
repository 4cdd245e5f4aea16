"""Every Parquet table proseflow writes: one explicit pyarrow schema each, with a description per field.

The README's data dictionary is generated from these schemas (`proseflow schema --markdown`) and a test
checks that the two agree.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = "3"

# The stages a run times, in order: the keys of `runs.stage_seconds`.
STAGES = (
    "discover",
    "ingest",
    "clean",
    "readability",
    "statistics",
    "near_duplicates",
    "commit",
    "report",
)

DESCRIPTION = b"description"

# The words of the tables below: a column's type, and whether it may hold nulls.
STRING, INT64, FLOAT64, BOOL = pa.string(), pa.int64(), pa.float64(), pa.bool_()
BINARY, DATE32, TIMESTAMP = pa.binary(), pa.date32(), pa.timestamp("us", tz="UTC")
STRING_LIST, UINT32_LIST = pa.list_(pa.string()), pa.list_(pa.uint32())
REQUIRED, NULLABLE = False, True

# A table's row: (name, type, nullable, description).
Row = tuple[str, pa.DataType, bool, str]


def _field(name: str, type_: pa.DataType, description: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={DESCRIPTION: description.encode()})


def _fields(*rows: Row | pa.Field) -> list[pa.Field]:
    """A table's fields, one a row, in order; a field built elsewhere (RUN_FIELDS) is kept as is."""
    fields = []
    for row in rows:
        if isinstance(row, pa.Field):
            fields.append(row)
        else:
            name, type_, nullable, description = row
            fields.append(_field(name, type_, description, nullable))
    return fields


def _schema(*rows: Row | pa.Field) -> pa.Schema:
    return pa.schema(_fields(*rows))


# Where the readability descriptions say when a value is null (see tasks.readability).
SYLLABLE_NULLS = (
    "; null without words, and for languages without a Pyphen dictionary or textstat constants."
)
ANY_LANGUAGE = "; filled for every document with words, in every language."

# The tables are laid out by hand, a field in two lines: its name, type and whether it may be null,
# then its description, so that every row reads the same. ruff format would join the short rows
# into one line and break each long one into five.
# fmt: off
RUN_FIELDS = _fields(
    ("run_id", STRING, REQUIRED,
     "Prefect flow run id of the run that wrote the row."),
    ("pipeline_fingerprint", STRING, REQUIRED,
     "Hash of pipeline version, value-changing configuration, schema version and library versions."),
)

IDENTITY_FIELDS = _fields(
    ("doc_id", STRING, REQUIRED,
     "sha256 hex digest of the raw input bytes."),
    ("source_uri", STRING, REQUIRED,
     "Where the input was read from (path or URL, '#n' for record n)."),
    ("collection", STRING, REQUIRED,
     "Parent folder relative to SOURCE ('' at top); a record file's stem."),
)

DOCUMENT_META_FIELDS = _fields(
    ("format", STRING, NULLABLE,
     "Input format: txt, md, html, jsonl, csv or parquet."),
    ("encoding", STRING, NULLABLE,
     "Encoding the raw bytes were decoded with (utf-8, cp1252, utf-16, ...)."),
    ("title", STRING, NULLABLE,
     "Title from the heading, first short line, HTML metadata or record field."),
    ("author", STRING, NULLABLE,
     "Author from the byline, HTML metadata or record field; null if absent."),
    ("published_date", DATE32, NULLABLE,
     "Publication date from the byline, HTML or record; null if absent."),
    ("language", STRING, NULLABLE,
     "ISO 639-1 language code, detected or forced with --language."),
    ("text", STRING, NULLABLE,
     "Cleaned body text; paragraphs separated by one blank line."),
    ("clean_ops", STRING_LIST, NULLABLE,
     "Cleaning steps that changed this document, in order."),
    ("n_chars_removed", INT64, NULLABLE,
     "Characters of the decoded input not kept in title, author or text."),
)

READABILITY_FIELDS = _fields(
    ("flesch_reading_ease", FLOAT64, NULLABLE,
     "textstat.flesch_reading_ease(text), English as textstat's default en_US" + SYLLABLE_NULLS),
    ("flesch_kincaid_grade", FLOAT64, NULLABLE,
     "textstat.flesch_kincaid_grade(text)" + SYLLABLE_NULLS),
    ("gunning_fog", FLOAT64, NULLABLE,
     "textstat.gunning_fog(text)" + SYLLABLE_NULLS),
    ("smog_index", FLOAT64, NULLABLE,
     "textstat.smog_index(text) (any number of sentences, as textstat computes it)" + SYLLABLE_NULLS),
    ("coleman_liau_index", FLOAT64, NULLABLE,
     "textstat.coleman_liau_index(text) (textstat's 0.058 coefficient)" + ANY_LANGUAGE),
    ("automated_readability_index", FLOAT64, NULLABLE,
     "textstat.automated_readability_index(text)" + ANY_LANGUAGE),
    ("dale_chall_readability_score", FLOAT64, NULLABLE,
     "textstat.dale_chall_readability_score(text)" + SYLLABLE_NULLS),
    ("linsear_write_formula", FLOAT64, NULLABLE,
     "textstat.linsear_write_formula(text)" + SYLLABLE_NULLS),
    ("spache_readability", FLOAT64, NULLABLE,
     "textstat.spache_readability(text)" + SYLLABLE_NULLS),
    ("mcalpine_eflaw", FLOAT64, NULLABLE,
     "textstat.mcalpine_eflaw(text)" + ANY_LANGUAGE),
    ("lix", FLOAT64, NULLABLE,
     "textstat.lix(text)" + ANY_LANGUAGE),
    ("rix", FLOAT64, NULLABLE,
     "textstat.rix(text)" + ANY_LANGUAGE),
    ("text_standard", FLOAT64, NULLABLE,
     "textstat.text_standard(text, float_output=True): consensus grade" + SYLLABLE_NULLS),
    ("reading_time", FLOAT64, NULLABLE,
     "textstat.reading_time(text): seconds at 14.69 ms per character; every language."),
    ("fernandez_huerta", FLOAT64, NULLABLE,
     "textstat.fernandez_huerta(text); Spanish documents only, else null."),
    ("szigriszt_pazos", FLOAT64, NULLABLE,
     "textstat.szigriszt_pazos(text); Spanish documents only, else null."),
    ("gutierrez_polini", FLOAT64, NULLABLE,
     "textstat.gutierrez_polini(text); Spanish documents only, else null."),
    ("crawford", FLOAT64, NULLABLE,
     "textstat.crawford(text); Spanish documents only, else null."),
    ("gulpease_index", FLOAT64, NULLABLE,
     "textstat.gulpease_index(text); Italian documents only, else null."),
    ("wiener_sachtextformel", FLOAT64, NULLABLE,
     "textstat.wiener_sachtextformel(text, variant=1); German documents only, else null."),
    ("osman", FLOAT64, NULLABLE,
     "textstat.osman(text); Arabic documents only, else null."),
)

COUNT_FIELDS = _fields(
    ("n_chars", INT64, NULLABLE,
     "textstat.char_count(text): characters excluding whitespace."),
    ("n_letters", INT64, NULLABLE,
     "textstat.letter_count(text): characters excluding whitespace and punctuation."),
    ("n_words", INT64, NULLABLE,
     "textstat.lexicon_count(text): words after removing punctuation."),
    ("n_sentences", INT64, NULLABLE,
     "Sentences found by proseflow's segmenter (abbreviation, decimal and quote aware)."),
    ("n_paragraphs", INT64, NULLABLE,
     "Blocks of text separated by a blank line."),
    ("n_syllables", INT64, NULLABLE,
     "textstat.syllable_count(text) in the row's language."),
    ("n_difficult_words", INT64, NULLABLE,
     "textstat.difficult_words(text)."),
)

STAT_FIELDS = _fields(
    ("n_unique_words", INT64, NULLABLE,
     "Distinct word tokens, lower-cased, with \u2019 written as '."),
    ("type_token_ratio", FLOAT64, NULLABLE,
     "n_unique_words / word tokens; null without words."),
    ("mtld", FLOAT64, NULLABLE,
     "Measure of textual lexical diversity (McCarthy & Jarvis 2010, threshold 0.72); null below 10 "
     "tokens or when a pass finds no factor (all tokens distinct)."),
    ("avg_word_length", FLOAT64, NULLABLE,
     "Mean letters per word token."),
    ("avg_sentence_length", FLOAT64, NULLABLE,
     "Mean word tokens per segmenter sentence; null without sentences."),
    ("sentence_length_std", FLOAT64, NULLABLE,
     "Population standard deviation of words per segmenter sentence; null without sentences."),
    ("max_sentence_length", INT64, NULLABLE,
     "Word tokens in the longest segmenter sentence; null without sentences."),
    ("long_word_ratio", FLOAT64, NULLABLE,
     "Share of word tokens with 7 or more letters."),
    ("stopword_ratio", FLOAT64, NULLABLE,
     "Share of word tokens that are stopwords of the document's language; null for languages "
     "without a list (lists: en es fr de it pt nl)."),
    ("digit_ratio", FLOAT64, NULLABLE,
     "Share of non-whitespace characters that are digits."),
    ("uppercase_ratio", FLOAT64, NULLABLE,
     "Share of letters that are upper case."),
    ("punctuation_ratio", FLOAT64, NULLABLE,
     "Share of non-whitespace characters that are punctuation (Unicode P* or ASCII "
     "string.punctuation, so $ and % count)."),
    ("n_quotes", INT64, NULLABLE,
     'Quoted passages holding at least one word ("\u2026", \u201c\u2026\u201d, \u201e\u2026\u201c, '
     '\u00ab\u2026\u00bb); a quote still open at a paragraph end closes there.'),
    ("quote_ratio", FLOAT64, NULLABLE,
     "Share of word tokens inside quoted passages."),
    ("n_numbers", INT64, NULLABLE,
     "Word tokens that start with a digit (123, 3.5, 1,200, 1.2bn in $1.2bn, 45 in 45%)."),
)

DOCUMENTS = pa.schema(
    IDENTITY_FIELDS
    + DOCUMENT_META_FIELDS
    + READABILITY_FIELDS
    + COUNT_FIELDS
    + STAT_FIELDS
    + RUN_FIELDS
    + _fields(("processed_at", TIMESTAMP, REQUIRED, "When the row was computed (UTC)."))
)

REJECTS = _schema(
    ("source_uri", STRING, REQUIRED,
     "Where the input was read from."),
    ("collection", STRING, NULLABLE,
     "Parent folder relative to SOURCE ('' at top)."),
    ("doc_id", STRING, NULLABLE,
     "sha256 of the raw bytes when they could be read, else null."),
    ("reason", STRING, REQUIRED,
     "Stable reason code: empty, binary, undecodable, too_large, ..."),
    ("detail", STRING, REQUIRED,
     "Human-readable explanation."),
    ("n_bytes", INT64, NULLABLE,
     "Size of the input in bytes when known."),
    *RUN_FIELDS,
)

RAW = _schema(
    ("doc_id", STRING, REQUIRED,
     "sha256 hex digest of `content`."),
    ("content", BINARY, REQUIRED,
     "The raw input bytes, exactly as read."),
    ("n_bytes", INT64, REQUIRED,
     "Length of `content`."),
    ("format", STRING, REQUIRED,
     "Input format the bytes were read as."),
    ("source_uri", STRING, REQUIRED,
     "Where the bytes were first seen."),
    ("collection", STRING, REQUIRED,
     "Collection of the first source."),
    ("first_seen_at", TIMESTAMP, REQUIRED,
     "When the bytes were first stored (UTC)."),
    ("run_id", STRING, REQUIRED,
     "Run that first stored the bytes."),
)

RUNS = _schema(
    ("run_id", STRING, REQUIRED,
     "Prefect flow run id."),
    ("flow_run_name", STRING, NULLABLE,
     "Prefect flow run name."),
    ("started_at", TIMESTAMP, REQUIRED,
     "Run start (UTC)."),
    ("finished_at", TIMESTAMP, REQUIRED,
     "Run end (UTC)."),
    ("status", STRING, REQUIRED,
     "completed or failed."),
    ("source", STRING, REQUIRED,
     "The SOURCE arguments, JSON list: URLs as given, local paths absolute."),
    ("parameters", STRING, REQUIRED,
     "Effective configuration, canonical JSON."),
    ("pipeline_version", STRING, REQUIRED,
     "proseflow version."),
    ("pipeline_fingerprint", STRING, REQUIRED,
     "See documents.pipeline_fingerprint."),
    ("schema_version", STRING, REQUIRED,
     "Version of these schemas."),
    ("versions", STRING, REQUIRED,
     "Library versions (python, prefect, pyarrow, textstat, ...), JSON."),
    ("n_inputs", INT64, REQUIRED,
     "Inputs discovered: documents + rejects + skipped."),
    ("n_documents", INT64, REQUIRED,
     "Document rows committed by the run."),
    ("n_rejects", INT64, REQUIRED,
     "Reject rows committed by the run."),
    ("n_skipped", INT64, REQUIRED,
     "Inputs already committed with the same fingerprint."),
    ("n_ignored", INT64, REQUIRED,
     "Files under SOURCE that are not inputs (other extensions)."),
    ("clean_ops", STRING, REQUIRED,
     "Documents changed per cleaning step, JSON object."),
    ("stage_seconds", STRING, REQUIRED,
     "Seconds spent in each stage, JSON object."),
    ("error", STRING, NULLABLE,
     "Why a failed run failed; null when completed."),
)

CORPUS_STATS = _schema(
    *RUN_FIELDS,
    ("collection", STRING, REQUIRED,
     "Collection, or '*' for all documents of the run (only when it has several collections)."),
    ("metric", STRING, REQUIRED,
     "Numeric column of `documents` summarised."),
    ("unique_only", BOOL, REQUIRED,
     "false: all the run's documents; true: without near-duplicates of another document."),
    ("count", INT64, NULLABLE,
     "Non-null values."),
    ("nulls", INT64, NULLABLE,
     "Null values."),
    ("mean", FLOAT64, NULLABLE,
     "Mean of the non-null values."),
    ("std", FLOAT64, NULLABLE,
     "Sample standard deviation (ddof=1); null for fewer than 2 values."),
    ("min", FLOAT64, NULLABLE,
     "Minimum."),
    ("p10", FLOAT64, NULLABLE,
     "10th percentile (linear interpolation)."),
    ("p25", FLOAT64, NULLABLE,
     "25th percentile (linear interpolation)."),
    ("median", FLOAT64, NULLABLE,
     "50th percentile (linear interpolation)."),
    ("p75", FLOAT64, NULLABLE,
     "75th percentile (linear interpolation)."),
    ("p90", FLOAT64, NULLABLE,
     "90th percentile (linear interpolation)."),
    ("max", FLOAT64, NULLABLE,
     "Maximum."),
)

TERMS = _schema(
    *RUN_FIELDS,
    ("collection", STRING, REQUIRED,
     "Collection, or '*' for all documents of the run (only when it has several collections)."),
    ("rank", INT64, NULLABLE,
     "1 for the most frequent term of the collection."),
    ("term", STRING, REQUIRED,
     "Lower-cased word, stopwords excluded."),
    ("document_frequency", INT64, NULLABLE,
     "Documents of the collection containing the term."),
    ("term_frequency", INT64, NULLABLE,
     "Occurrences of the term in the collection."),
)

SIGNATURES = _schema(
    ("doc_id", STRING, REQUIRED,
     "The document's doc_id."),
    ("collection", STRING, REQUIRED,
     "The document's collection."),
    ("signature", UINT32_LIST, NULLABLE,
     "MinHash signature over the word shingles of the cleaned text; null without shingles."),
    *RUN_FIELDS,
)

NEAR_DUPLICATES = _schema(
    ("doc_id", STRING, REQUIRED,
     "A document of a near-duplicate cluster."),
    ("representative_id", STRING, REQUIRED,
     "The cluster's representative: its smallest doc_id (itself for the representative)."),
    ("similarity", FLOAT64, REQUIRED,
     "Jaccard similarity of the word shingles to the representative, estimated by MinHash."),
    ("collection", STRING, REQUIRED,
     "The document's collection."),
    ("run_id", STRING, REQUIRED,
     "Run that computed the clusters: each run with new documents links all committed ones."),
    RUN_FIELDS[1],
)

# The drift table of a run's report (tasks/drift.py): on the report page and in the artifact, not a
# dataset of its own.
DRIFT = _schema(
    ("collection", STRING, NULLABLE,
     "Collection, or '*' for all documents."),
    ("column", STRING, NULLABLE,
     "Numeric column of documents, or '(reject rate)' for rejects."),
    ("n_previous", INT64, NULLABLE,
     "Documents of the previous run (reject rate: inputs)."),
    ("n_current", INT64, NULLABLE,
     "Documents of this run (reject rate: inputs)."),
    ("psi", FLOAT64, NULLABLE,
     "PSI of the non-null values (at most 10,000 per side)."),
    ("mean_previous", FLOAT64, NULLABLE,
     "Mean of the previous run's non-null values."),
    ("mean_current", FLOAT64, NULLABLE,
     "Mean of this run's non-null values."),
    ("mean_change", FLOAT64, NULLABLE,
     "(mean_current - mean_previous) / |mean_previous|."),
    ("null_share_previous", FLOAT64, NULLABLE,
     "Share of null values, previous run."),
    ("null_share_current", FLOAT64, NULLABLE,
     "Share of null values, this run."),
    ("flagged", BOOL, NULLABLE,
     "Whether the change is over its threshold and noise."),
    ("reason", STRING, NULLABLE,
     "Why flagged, or why not judged; null otherwise."),
)
# fmt: on


DATASETS: dict[str, pa.Schema] = {
    "documents": DOCUMENTS,
    "rejects": REJECTS,
    "raw": RAW,
    "runs": RUNS,
    "corpus_stats": CORPUS_STATS,
    "terms": TERMS,
    "signatures": SIGNATURES,
    "near_duplicates": NEAR_DUPLICATES,
}

# Columns of `documents` computed by the pipeline (everything but the run fields): what --verify compares.
DERIVED_COLUMNS = [f.name for f in DOCUMENTS if f.name not in ("run_id", "processed_at")]
READABILITY_COLUMNS = [f.name for f in READABILITY_FIELDS]
STAT_COLUMNS = [f.name for f in STAT_FIELDS]
NUMERIC_COLUMNS = [
    f.name for f in DOCUMENTS if pa.types.is_floating(f.type) or pa.types.is_integer(f.type)
]


def describe(field: pa.Field) -> str:
    """The one-line description stored in a field's metadata."""
    return (field.metadata or {}).get(DESCRIPTION, b"").decode()


def data_dictionary_markdown() -> str:
    """The README's data dictionary, generated from the schemas above."""
    lines: list[str] = []
    for name, schema in DATASETS.items():
        lines += [f"### `{name}/`", "", "| column | type | description |", "|---|---|---|"]
        lines += [f"| `{f.name}` | {f.type} | {describe(f)} |" for f in schema]
        lines.append("")
    return "\n".join(lines)
