"""Record formats: the records of a JSON Lines, CSV or Parquet file as raw rows and rejects, and
the text, title, author and date fields of one record.

A record is stored in the raw batch as canonical JSON; a file that breaks part-way keeps the
records before the break.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

import pyarrow.parquet as pq

from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.ingest.encoding import decode_bytes
from proseflow.tasks.ingest.read import raw_row, sha
from proseflow.tasks.ingest.sources import GZIP_SUFFIX, InputRef
from proseflow.tasks.ingest.uris import safe_text, uri_path
from proseflow.tasks.rejects import (
    REASON_EMPTY,
    REASON_TOO_LARGE,
    REASON_UNDECODABLE,
    Reject,
    error_detail,
    reject_row,
)

PARQUET_BATCH = 256
# Records read from one file. 10 MB of `{}` lines are 3.3M records; a million tiny records took
# 2.2 GiB in the flow process (bench/hostile.py), a quarter of a million stay well under 1.5 GiB.
# News articles never come close: 250,000 records in 10 MB are 40 bytes each.
MAX_RECORDS = 250_000

AUTHOR_FIELDS = ("author", "authors", "byline", "creator")
DATE_FIELDS = ("published_date", "date", "published", "published_at", "pubdate", "publish_date")

# One article per CSV cell can exceed the csv module's default 128 KiB field limit.
csv.field_size_limit(2**31 - 1)


def _records(
    data: bytes, fmt: str, max_bytes: int
) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """Records of a record-format file, lazily: (index, record or None when malformed, problem)."""
    if fmt == "jsonl":
        yield from _jsonl_records(data)
    elif fmt == "csv":
        text = decode_bytes(data)[0].lstrip("\ufeff")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        # cells beyond the header row land under the key None: they have no field name to keep
        for i, row in enumerate(reader):
            yield i, {k: v for k, v in row.items() if k is not None}, ""
    else:
        yield from ((i, row, "") for i, row in enumerate(_parquet_rows(data, max_bytes)))


def _jsonl_records(data: bytes) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """Records of JSON Lines, each line parsed on its own: a bad line spoils only itself."""
    index = 0
    for lineno, line in enumerate(data.splitlines(), 1):
        if line.strip():
            record, problem = _json_object(line)
            yield index, record, f"line {lineno}: {problem}" if problem else ""
            index += 1


def _json_object(line: bytes) -> tuple[dict[str, Any] | None, str]:
    """(the JSON object on a line, '') or (None, what is wrong with the line)."""
    try:
        value = json.loads(line)
    except ValueError as exc:
        return None, f"invalid JSON ({exc})"
    except RecursionError:
        return None, "invalid JSON (nested too deeply to read)"
    if not isinstance(value, dict):
        return None, f"expected a JSON object, got {type(value).__name__}"
    return value, ""


def _parquet_rows(data: bytes, max_bytes: int) -> Iterator[dict[str, Any]]:
    """Rows of a Parquet file, a batch at a time; raises Reject when it unpacks beyond max_bytes.

    The limit applies to the uncompressed column data, as it does to a gzip file's decompressed
    bytes: a few compressed megabytes can hold gigabytes.
    """
    parquet = pq.ParquetFile(io.BytesIO(data))
    meta = parquet.metadata
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if size > max_bytes:
        detail = f"uncompressed size {size} bytes is more than max_bytes={max_bytes}"
        raise Reject(REASON_TOO_LARGE, detail)
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH):
        yield from batch.to_pylist()


def record_rows(
    ref: InputRef, data: bytes, config: PipelineConfig
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Raw rows and rejects for the records of one record-format file.

    A file that breaks part-way keeps the records before the break, and one reject row for the file
    says why. At most MAX_RECORDS records are read: a small file of tiny records would otherwise
    hold millions of rows in memory at once.
    """
    rows, rejects = [], []
    collection = _stem(ref.uri)
    records = _records(data, ref.format, config.max_bytes)
    try:
        for index, record, problem in islice(records, MAX_RECORDS):
            ok, row = _record_row(ref, index, record, problem, collection, config)
            (rows if ok else rejects).append(row)
        if next(records, None) is not None:
            detail = f"more than {MAX_RECORDS} records; the first {MAX_RECORDS} were read"
            rejects.append(_file_reject(ref, collection, REASON_TOO_LARGE, detail, len(data)))
    except Reject as rej:
        rejects.append(_file_reject(ref, collection, rej.reason, rej.detail, len(data)))
    except Exception as exc:  # a file the reader cannot parse (any further)
        detail = error_detail(exc) + records_before(len(rows) + len(rejects))
        rejects.append(_file_reject(ref, collection, REASON_UNDECODABLE, detail, len(data)))
    return rows, rejects


def _record_row(
    ref: InputRef,
    index: int,
    record: dict[str, Any] | None,
    problem: str,
    collection: str,
    config: PipelineConfig,
) -> tuple[bool, dict[str, Any]]:
    """(True, raw row) of one record, or (False, reject row) when it is malformed or has no text."""
    uri = f"{ref.uri}#{index}"
    if record is None:
        return False, reject_row(uri, collection, REASON_UNDECODABLE, problem)
    if record.get(config.id_field) not in (None, ""):
        uri = f"{ref.uri}#{record[config.id_field]}"
    try:
        content = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str).encode()
    except (ValueError, TypeError, RecursionError) as exc:  # lone surrogates, deep nesting
        detail = f"record cannot be stored as UTF-8 JSON: {error_detail(exc)}"
        return False, reject_row(uri, collection, REASON_UNDECODABLE, detail)
    if record.get(config.text_field) is None:
        detail = f"record has no {config.text_field!r} field (text_field)"
        return False, reject_row(uri, collection, REASON_EMPTY, detail, len(content), sha(content))
    return True, raw_row(content, ref.format, uri, collection)


def _file_reject(
    ref: InputRef, collection: str, reason: str, detail: str, n_bytes: int
) -> dict[str, Any]:
    """The reject row of a record file as a whole, its format named in the detail."""
    return reject_row(ref.uri, collection, reason, f"{ref.format}: {detail}", n_bytes)


def records_before(n: int) -> str:
    """Tells a file reject's reader how many records before the problem were read."""
    return f"; records read before it: {n}" if n else ""


def _stem(uri: str) -> str:
    """A record file's stem: its name without directory and format extensions, UTF-8 safe."""
    name = uri_path(uri).rstrip("/").rsplit("/", 1)[-1].split("#", 1)[0]
    if name.lower().endswith(GZIP_SUFFIX):
        name = name[: -len(GZIP_SUFFIX)]
    return safe_text(os.path.splitext(name)[0])


def _first_field(record: dict[str, Any], names: Sequence[str]) -> Any:
    """The first non-empty value among a record's fields."""
    for name in names:
        value = record.get(name)
        if value not in (None, "", []):
            return value
    return None


def _author(value: Any) -> str | None:
    """An author string from a record value (lists joined with commas)."""
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value if v)
    return str(value).strip() or None if value is not None else None


def decode_record(
    content: bytes, config: PipelineConfig
) -> tuple[str, str, str | None, str | None, Any]:
    """(text, encoding, title, author, date) of a record stored as canonical JSON."""
    try:
        record = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise Reject(REASON_UNDECODABLE, f"record is not JSON: {error_detail(exc)}") from exc
    text = record.get(config.text_field)
    if text is None:
        raise Reject(REASON_EMPTY, f"record has no {config.text_field!r} field (text_field)")
    title = record.get(config.title_field)
    return (
        str(text),
        "utf-8",
        str(title).strip() or None if title is not None else None,
        _author(_first_field(record, AUTHOR_FIELDS)),
        _first_field(record, DATE_FIELDS),
    )
