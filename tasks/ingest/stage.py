"""The ingest stage over whole batches: `discover` the inputs, `read_inputs` into the raw batch,
`decode_batch` into the ingested batch; and the schemas of those batches.

Each function loops once over its batch; the work on one input or document is done by the modules
of this package. Every input ends up as a row or as a reject row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from proseflow.tasks import schema
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.dates import parse_date
from proseflow.tasks.errors import SourceError
from proseflow.tasks.ingest.encoding import decode_bytes
from proseflow.tasks.ingest.extract import html_text
from proseflow.tasks.ingest.read import raw_row, read_bytes, sha
from proseflow.tasks.ingest.records import decode_record, record_rows, records_before
from proseflow.tasks.ingest.sources import (
    INPUT_NAMES,
    RECORD_FORMAT_NAMES,
    Found,
    InputRef,
    discover_source,
)
from proseflow.tasks.rejects import (
    REASON_EMPTY,
    REASON_ERROR,
    Reject,
    error_detail,
    reject_row,
    rejects_table,
)

RAW_COLUMNS = ("doc_id", "content", "n_bytes", "format", "source_uri", "collection")
RAW_BATCH = pa.schema([schema.RAW.field(name) for name in RAW_COLUMNS])
INGESTED = pa.schema(
    [
        schema.DOCUMENTS.field("doc_id"),
        schema.DOCUMENTS.field("source_uri"),
        schema.DOCUMENTS.field("collection"),
        schema.DOCUMENTS.field("format"),
        schema.DOCUMENTS.field("encoding"),
        schema._field(
            "decoded", pa.string(), "Decoded text (main text for HTML, text field for records)."
        ),
        schema._field(
            "meta_title", pa.string(), "Title from HTML metadata or the record's title field."
        ),
        schema._field("meta_author", pa.string(), "Author from HTML metadata or a record field."),
        schema._field(
            "meta_published_date", pa.date32(), "Publication date from HTML or a record."
        ),
    ]
)


@dataclass
class Discovery:
    """What discover found: inputs to read, inputs rejected already, files of other kinds."""

    inputs: list[InputRef]
    rejects: pa.Table
    n_ignored: int


def discover(sources: Sequence[str], config: PipelineConfig) -> Discovery:
    """Every input under the SOURCE arguments, sorted by uri, plus rejects and ignored files."""
    found = Found()
    visited: set[tuple[int, int]] = set()  # (device, inode) of folders walked
    for source in dict.fromkeys(sources):
        if discover_source(source, found, visited) == 0:
            raise SourceError(f"SOURCE {source!r} matches no input; expected {INPUT_NAMES}")
    inputs = sorted(found.inputs.values(), key=lambda ref: ref.uri)
    return Discovery(inputs, rejects_table(found.rejects), found.n_ignored)


def _read_one(ref: InputRef, config: PipelineConfig) -> tuple[list[dict], list[dict]]:
    """Raw rows and rejects for one input."""
    try:
        data = read_bytes(ref, config.max_bytes)
    except Reject as rej:
        return _salvage(ref, rej, config)
    if ref.format in RECORD_FORMAT_NAMES:
        return record_rows(ref, data, config)
    if not data:
        return [], [
            reject_row(ref.uri, ref.collection, REASON_EMPTY, "file is empty", 0, sha(data))
        ]
    return [raw_row(data, ref.format, ref.uri, ref.collection)], []


def _salvage(ref: InputRef, rej: Reject, config: PipelineConfig) -> tuple[list[dict], list[dict]]:
    """The reject of an input not read whole, plus the JSON Lines records intact before the damage.

    Only JSON Lines: each of its lines stands alone, while a CSV cut inside a quoted cell would
    still parse, as a shortened document.
    """
    reject = reject_row(ref.uri, ref.collection, rej.reason, rej.detail, rej.n_bytes)
    if ref.format != "jsonl" or b"\n" not in rej.partial:
        return [], [reject]
    complete = rej.partial[: rej.partial.rfind(b"\n") + 1]  # the last line is cut short
    rows, rejects = record_rows(ref, complete, config)
    reject["detail"] += records_before(len(rows) + len(rejects))
    return rows, [*rejects, reject]


def read_inputs(refs: Sequence[InputRef], config: PipelineConfig) -> tuple[pa.Table, pa.Table]:
    """The raw batch (one row per document) and the rejects of a batch of inputs.

    Identical contents keep one row each: telling duplicates apart is the run's triage.
    """
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    for ref in refs:
        try:
            new_rows, new_rejects = _read_one(ref, config)
        except Exception as exc:  # never lose an input to an unexpected failure
            new_rows = []
            new_rejects = [
                reject_row(ref.uri, ref.collection, REASON_ERROR, error_detail(exc), ref.size)
            ]
        rows += new_rows
        rejects += new_rejects
    return pa.Table.from_pylist(rows, schema=RAW_BATCH), rejects_table(rejects)


def decode_document(content: bytes, fmt: str, config: PipelineConfig) -> dict[str, Any]:
    """Decoded text, encoding and metadata of one raw document; raises Reject."""
    title = author = date = None
    if fmt in RECORD_FORMAT_NAMES:
        text, encoding, title, author, date = decode_record(content, config)
    else:
        text, encoding = decode_bytes(content)
        if fmt == "html":
            text, title, author, date = html_text(text)
    return {
        "encoding": encoding,
        "decoded": text,
        "meta_title": title,
        "meta_author": author,
        "meta_published_date": parse_date(date),
    }


def decode_batch(raw: pa.Table, config: PipelineConfig) -> tuple[pa.Table, pa.Table]:
    """The ingested batch (decoded text + metadata per document) and the rejects, from raw alone."""
    rows, rejects = [], []
    columns = {name: raw.column(name).to_pylist() for name in RAW_COLUMNS if name != "content"}
    contents = raw.column("content")
    for i in range(raw.num_rows):
        ident = {k: columns[k][i] for k in ("doc_id", "source_uri", "collection")}
        content = contents[i].as_py()
        try:
            decoded = decode_document(content, columns["format"][i], config)
        except Reject as rej:
            reason, detail = rej.reason, rej.detail
        except Exception as exc:  # never lose a document to an unexpected failure
            reason, detail = REASON_ERROR, error_detail(exc)
        else:
            rows.append({**ident, "format": columns["format"][i], **decoded})
            continue
        uri, collection, doc_id = ident["source_uri"], ident["collection"], ident["doc_id"]
        rejects.append(reject_row(uri, collection, reason, detail, len(content), doc_id))
    return pa.Table.from_pylist(rows, schema=INGESTED), rejects_table(rejects)
