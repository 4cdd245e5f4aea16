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


def _field(name: str, type_: pa.DataType, description: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={DESCRIPTION: description.encode()})


def _required(name: str, type_: pa.DataType, description: str) -> pa.Field:
    return _field(name, type_, description, nullable=False)


def _float(name: str, description: str) -> pa.Field:
    return _field(name, pa.float64(), description)


def _int(name: str, description: str) -> pa.Field:
    return _field(name, pa.int64(), description)


TIMESTAMP = pa.timestamp("us", tz="UTC")

RUN_FIELDS = [
    _required("run_id", pa.string(), "Prefect flow run id of the run that wrote the row."),
    _required(
        "pipeline_fingerprint",
        pa.string(),
        "Hash of pipeline version, value-changing configuration, schema version and library versions.",
    ),
]

IDENTITY_FIELDS = [
    _required("doc_id", pa.string(), "sha256 hex digest of the raw input bytes."),
    _field(
        "source_uri",
        pa.string(),
        "Where the input was read from (path or URL, '#n' for record n).",
        False,
    ),
    _field(
        "collection",
        pa.string(),
        "Parent folder relative to SOURCE ('' at top); a record file's stem.",
        False,
    ),
]

DOCUMENT_META_FIELDS = [
    _field("format", pa.string(), "Input format: txt, md, html, jsonl, csv or parquet."),
    _field(
        "encoding",
        pa.string(),
        "Encoding the raw bytes were decoded with (utf-8, cp1252, utf-16, ...).",
    ),
    _field(
        "title",
        pa.string(),
        "Title from the heading, first short line, HTML metadata or record field.",
    ),
    _field(
        "author",
        pa.string(),
        "Author from the byline, HTML metadata or record field; null if absent.",
    ),
    _field(
        "published_date",
        pa.date32(),
        "Publication date from the byline, HTML or record; null if absent.",
    ),
    _field("language", pa.string(), "ISO 639-1 language code, detected or forced with --language."),
    _field("text", pa.string(), "Cleaned body text; paragraphs separated by one blank line."),
    _field(
        "clean_ops", pa.list_(pa.string()), "Cleaning steps that changed this document, in order."
    ),
    _field(
        "n_chars_removed",
        pa.int64(),
        "Characters of the decoded input not kept in title, author or text.",
    ),
]

# Where the readability descriptions say when a value is null (see tasks.readability).
SYLLABLE_NULLS = (
    "; null without words, and for languages without a Pyphen dictionary or textstat constants."
)
ANY_LANGUAGE = "; filled for every document with words, in every language."

READABILITY_FIELDS = [
    _float(
        "flesch_reading_ease",
        "textstat.flesch_reading_ease(text), English as textstat's default en_US" + SYLLABLE_NULLS,
    ),
    _float("flesch_kincaid_grade", "textstat.flesch_kincaid_grade(text)" + SYLLABLE_NULLS),
    _float("gunning_fog", "textstat.gunning_fog(text)" + SYLLABLE_NULLS),
    _float(
        "smog_index",
        "textstat.smog_index(text) (any number of sentences, as textstat computes it)"
        + SYLLABLE_NULLS,
    ),
    _float(
        "coleman_liau_index",
        "textstat.coleman_liau_index(text) (textstat's 0.058 coefficient)" + ANY_LANGUAGE,
    ),
    _float(
        "automated_readability_index", "textstat.automated_readability_index(text)" + ANY_LANGUAGE
    ),
    _float(
        "dale_chall_readability_score",
        "textstat.dale_chall_readability_score(text)" + SYLLABLE_NULLS,
    ),
    _float("linsear_write_formula", "textstat.linsear_write_formula(text)" + SYLLABLE_NULLS),
    _float("spache_readability", "textstat.spache_readability(text)" + SYLLABLE_NULLS),
    _float("mcalpine_eflaw", "textstat.mcalpine_eflaw(text)" + ANY_LANGUAGE),
    _float("lix", "textstat.lix(text)" + ANY_LANGUAGE),
    _float("rix", "textstat.rix(text)" + ANY_LANGUAGE),
    _float(
        "text_standard",
        "textstat.text_standard(text, float_output=True): consensus grade" + SYLLABLE_NULLS,
    ),
    _float(
        "reading_time",
        "textstat.reading_time(text): seconds at 14.69 ms per character; every language.",
    ),
    _float(
        "fernandez_huerta", "textstat.fernandez_huerta(text); Spanish documents only, else null."
    ),
    _float("szigriszt_pazos", "textstat.szigriszt_pazos(text); Spanish documents only, else null."),
    _float(
        "gutierrez_polini", "textstat.gutierrez_polini(text); Spanish documents only, else null."
    ),
    _float("crawford", "textstat.crawford(text); Spanish documents only, else null."),
    _float("gulpease_index", "textstat.gulpease_index(text); Italian documents only, else null."),
    _float(
        "wiener_sachtextformel",
        "textstat.wiener_sachtextformel(text, variant=1); German documents only, else null.",
    ),
    _float("osman", "textstat.osman(text); Arabic documents only, else null."),
]

COUNT_FIELDS = [
    _int("n_chars", "textstat.char_count(text): characters excluding whitespace."),
    _int(
        "n_letters", "textstat.letter_count(text): characters excluding whitespace and punctuation."
    ),
    _int("n_words", "textstat.lexicon_count(text): words after removing punctuation."),
    _int(
        "n_sentences",
        "Sentences found by proseflow's segmenter (abbreviation, decimal and quote aware).",
    ),
    _int("n_paragraphs", "Blocks of text separated by a blank line."),
    _int("n_syllables", "textstat.syllable_count(text) in the row's language."),
    _int("n_difficult_words", "textstat.difficult_words(text)."),
]

STAT_FIELDS = [
    _int("n_unique_words", "Distinct word tokens, lower-cased, with \u2019 written as '."),
    _float("type_token_ratio", "n_unique_words / word tokens; null without words."),
    _float(
        "mtld",
        "Measure of textual lexical diversity (McCarthy & Jarvis 2010, threshold 0.72); null below 10 tokens "
        "or when a pass finds no factor (all tokens distinct).",
    ),
    _float("avg_word_length", "Mean letters per word token."),
    _float(
        "avg_sentence_length", "Mean word tokens per segmenter sentence; null without sentences."
    ),
    _float(
        "sentence_length_std",
        "Population standard deviation of words per segmenter sentence; null without sentences.",
    ),
    _int(
        "max_sentence_length",
        "Word tokens in the longest segmenter sentence; null without sentences.",
    ),
    _float("long_word_ratio", "Share of word tokens with 7 or more letters."),
    _float(
        "stopword_ratio",
        "Share of word tokens that are stopwords of the document's language; null for languages "
        "without a list (lists: en es fr de it pt nl).",
    ),
    _float("digit_ratio", "Share of non-whitespace characters that are digits."),
    _float("uppercase_ratio", "Share of letters that are upper case."),
    _float(
        "punctuation_ratio",
        "Share of non-whitespace characters that are punctuation (Unicode P* or ASCII "
        "string.punctuation, so $ and % count).",
    ),
    _int(
        "n_quotes",
        'Quoted passages holding at least one word ("\u2026", \u201c\u2026\u201d, \u201e\u2026\u201c, \u00ab\u2026\u00bb); '
        "a quote still open at a paragraph end closes there.",
    ),
    _float("quote_ratio", "Share of word tokens inside quoted passages."),
    _int(
        "n_numbers",
        "Word tokens that start with a digit (123, 3.5, 1,200, 1.2bn in $1.2bn, 45 in 45%).",
    ),
]

DOCUMENTS = pa.schema(
    IDENTITY_FIELDS
    + DOCUMENT_META_FIELDS
    + READABILITY_FIELDS
    + COUNT_FIELDS
    + STAT_FIELDS
    + RUN_FIELDS
    + [_required("processed_at", TIMESTAMP, "When the row was computed (UTC).")]
)

REJECTS = pa.schema(
    [
        _required("source_uri", pa.string(), "Where the input was read from."),
        _field("collection", pa.string(), "Parent folder relative to SOURCE ('' at top)."),
        _field(
            "doc_id", pa.string(), "sha256 of the raw bytes when they could be read, else null."
        ),
        _required(
            "reason", pa.string(), "Stable reason code: empty, binary, undecodable, too_large, ..."
        ),
        _required("detail", pa.string(), "Human-readable explanation."),
        _field("n_bytes", pa.int64(), "Size of the input in bytes when known."),
        RUN_FIELDS[0],
        RUN_FIELDS[1],
    ]
)

RAW = pa.schema(
    [
        _required("doc_id", pa.string(), "sha256 hex digest of `content`."),
        _required("content", pa.binary(), "The raw input bytes, exactly as read."),
        _required("n_bytes", pa.int64(), "Length of `content`."),
        _required("format", pa.string(), "Input format the bytes were read as."),
        _required("source_uri", pa.string(), "Where the bytes were first seen."),
        _required("collection", pa.string(), "Collection of the first source."),
        _required("first_seen_at", TIMESTAMP, "When the bytes were first stored (UTC)."),
        _required("run_id", pa.string(), "Run that first stored the bytes."),
    ]
)

RUNS = pa.schema(
    [
        _required("run_id", pa.string(), "Prefect flow run id."),
        _field("flow_run_name", pa.string(), "Prefect flow run name."),
        _required("started_at", TIMESTAMP, "Run start (UTC)."),
        _required("finished_at", TIMESTAMP, "Run end (UTC)."),
        _required("status", pa.string(), "completed or failed."),
        _required(
            "source",
            pa.string(),
            "The SOURCE arguments, JSON list: URLs as given, local paths absolute.",
        ),
        _required("parameters", pa.string(), "Effective configuration, canonical JSON."),
        _required("pipeline_version", pa.string(), "proseflow version."),
        _required("pipeline_fingerprint", pa.string(), "See documents.pipeline_fingerprint."),
        _required("schema_version", pa.string(), "Version of these schemas."),
        _field(
            "versions",
            pa.string(),
            "Library versions (python, prefect, pyarrow, textstat, ...), JSON.",
            False,
        ),
        _required("n_inputs", pa.int64(), "Inputs discovered: documents + rejects + skipped."),
        _required("n_documents", pa.int64(), "Document rows committed by the run."),
        _required("n_rejects", pa.int64(), "Reject rows committed by the run."),
        _required("n_skipped", pa.int64(), "Inputs already committed with the same fingerprint."),
        _field(
            "n_ignored",
            pa.int64(),
            "Files under SOURCE that are not inputs (other extensions).",
            False,
        ),
        _required("clean_ops", pa.string(), "Documents changed per cleaning step, JSON object."),
        _required("stage_seconds", pa.string(), "Seconds spent in each stage, JSON object."),
        _field("error", pa.string(), "Why a failed run failed; null when completed."),
    ]
)

CORPUS_STATS = pa.schema(
    [
        RUN_FIELDS[0],
        RUN_FIELDS[1],
        _field(
            "collection",
            pa.string(),
            "Collection, or '*' for all documents of the run (only when it has several collections).",
            False,
        ),
        _required("metric", pa.string(), "Numeric column of `documents` summarised."),
        _required(
            "unique_only",
            pa.bool_(),
            "false: all the run's documents; true: without near-duplicates of another document.",
        ),
        _int("count", "Non-null values."),
        _int("nulls", "Null values."),
        _float("mean", "Mean of the non-null values."),
        _float("std", "Sample standard deviation (ddof=1); null for fewer than 2 values."),
        _float("min", "Minimum."),
        _float("p10", "10th percentile (linear interpolation)."),
        _float("p25", "25th percentile (linear interpolation)."),
        _float("median", "50th percentile (linear interpolation)."),
        _float("p75", "75th percentile (linear interpolation)."),
        _float("p90", "90th percentile (linear interpolation)."),
        _float("max", "Maximum."),
    ]
)

TERMS = pa.schema(
    [
        RUN_FIELDS[0],
        RUN_FIELDS[1],
        _field(
            "collection",
            pa.string(),
            "Collection, or '*' for all documents of the run (only when it has several collections).",
            False,
        ),
        _int("rank", "1 for the most frequent term of the collection."),
        _required("term", pa.string(), "Lower-cased word, stopwords excluded."),
        _int("document_frequency", "Documents of the collection containing the term."),
        _int("term_frequency", "Occurrences of the term in the collection."),
    ]
)

SIGNATURES = pa.schema(
    [
        _required("doc_id", pa.string(), "The document's doc_id."),
        _required("collection", pa.string(), "The document's collection."),
        _field(
            "signature",
            pa.list_(pa.uint32()),
            "MinHash signature over the word shingles of the cleaned text; null without shingles.",
        ),
        RUN_FIELDS[0],
        RUN_FIELDS[1],
    ]
)

NEAR_DUPLICATES = pa.schema(
    [
        _required("doc_id", pa.string(), "A document of a near-duplicate cluster."),
        _field(
            "representative_id",
            pa.string(),
            "The cluster's representative: its smallest doc_id (itself for the representative).",
            False,
        ),
        _required(
            "similarity",
            pa.float64(),
            "Jaccard similarity of the word shingles to the representative, estimated by MinHash.",
        ),
        _required("collection", pa.string(), "The document's collection."),
        _required(
            "run_id",
            pa.string(),
            "Run that computed the clusters: each run with new documents links all committed ones.",
        ),
        RUN_FIELDS[1],
    ]
)

# The drift table of a run's report (tasks/drift.py): on the report page and in the artifact, not a
# dataset of its own.
DRIFT = pa.schema(
    [
        _field("collection", pa.string(), "Collection, or '*' for all documents."),
        _field(
            "column", pa.string(), "Numeric column of documents, or '(reject rate)' for rejects."
        ),
        _field("n_previous", pa.int64(), "Documents of the previous run (reject rate: inputs)."),
        _field("n_current", pa.int64(), "Documents of this run (reject rate: inputs)."),
        _field("psi", pa.float64(), "PSI of the non-null values (at most 10,000 per side)."),
        _field("mean_previous", pa.float64(), "Mean of the previous run's non-null values."),
        _field("mean_current", pa.float64(), "Mean of this run's non-null values."),
        _field("mean_change", pa.float64(), "(mean_current - mean_previous) / |mean_previous|."),
        _field("null_share_previous", pa.float64(), "Share of null values, previous run."),
        _field("null_share_current", pa.float64(), "Share of null values, this run."),
        _field("flagged", pa.bool_(), "Whether the change is over its threshold and noise."),
        _field("reason", pa.string(), "Why flagged, or why not judged; null otherwise."),
    ]
)


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
