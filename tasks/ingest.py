"""Ingestion: find inputs under SOURCE arguments, read their bytes, decode them into documents.

Every input ends up as a row of the raw/ingested batch or as a reject row with a reason code.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import errno
import glob
import gzip
import hashlib
import html
import io
import json
import os
import re
import stat
import urllib.parse
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

import charset_normalizer
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from tasks import schema
from tasks.config import PipelineConfig
from tasks.errors import SourceError

REASON_EMPTY = "empty"
REASON_BINARY = "binary"
REASON_UNDECODABLE = "undecodable"
REASON_TOO_LARGE = "too_large"
REASON_UNREADABLE = "unreadable"
REASON_NOT_A_FILE = "not_a_file"
REASON_DUPLICATE = "duplicate"
REASON_ERROR = "error"

TEXT_FORMATS = {".txt": "txt", ".md": "md", ".html": "html", ".htm": "html"}
RECORD_FORMATS = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet"}
RECORD_FORMAT_NAMES = frozenset(RECORD_FORMATS.values())
GZIP_SUFFIX = ".gz"
GZIPPABLE = (*TEXT_FORMATS, ".jsonl", ".csv")
# What an input's name ends with, as error messages list it.
INPUT_NAMES = (
    f"files named *{', *'.join(sorted(TEXT_FORMATS | RECORD_FORMATS))} "
    f"(and *{'.gz, *'.join(GZIPPABLE)}.gz)"
)
GZIP_CHUNK = 1 << 16
PARQUET_BATCH = 256
# Records read from one file; 10 MB of `{}` lines are 3.3M records, ~4 GB as rows in memory.
MAX_RECORDS = 1_000_000

AUTHOR_FIELDS = ("author", "authors", "byline", "creator")
DATE_FIELDS = ("published_date", "date", "published", "published_at", "pubdate", "publish_date")

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

RUN_FIELD_NAMES = frozenset(f.name for f in schema.RUN_FIELDS)
# One article per CSV cell can exceed the csv module's default 128 KiB field limit.
csv.field_size_limit(2**31 - 1)

GLOB_CHARS = re.compile(r"[*?\[]")
URL_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
FILE_URL = "file://"


@dataclass(frozen=True)
class InputRef:
    """One input file found by discover."""

    uri: str
    collection: str
    format: str
    size: int | None


@dataclass
class Discovery:
    """What discover found: inputs to read, inputs rejected already, files of other kinds."""

    inputs: list[InputRef]
    rejects: pa.Table
    n_ignored: int


class _Reject(Exception):
    """An input that becomes a reject row: carries its reason code and detail."""

    def __init__(
        self,
        reason: str,
        detail: str,
        n_bytes: int | None = None,
        doc_id: str | None = None,
        partial: bytes = b"",
    ):
        super().__init__(detail)
        self.reason, self.detail, self.n_bytes, self.doc_id = reason, detail, n_bytes, doc_id
        self.partial = partial  # bytes read intact before the damage, when there are any


# --------------------------------------------------------------------------------------------
# discover


def input_format(name: str) -> str | None:
    """The format of a file name by its lower-case extension(s), or None when it is not an input.

    Extensions are matched as written: `README.TXT` beside a corpus is not an input (it is counted as
    ignored), as most tools that glob `*.txt` would also leave it out.
    """
    lower = name
    if lower.endswith(GZIP_SUFFIX):
        inner = lower[: -len(GZIP_SUFFIX)]
        ext = os.path.splitext(inner)[1]
        return (TEXT_FORMATS | RECORD_FORMATS).get(ext) if ext in GZIPPABLE else None
    ext = os.path.splitext(lower)[1]
    return TEXT_FORMATS.get(ext) or RECORD_FORMATS.get(ext)


def _collection(rel_dir: str) -> str:
    """Collection name of a folder relative to SOURCE, '/'-separated, '' at top, UTF-8 safe."""
    rel = _safe_text(rel_dir).replace(os.sep, "/").strip("/")
    return "" if rel in ("", ".") else rel


class _Found:
    """Accumulates discovery results across sources, deduplicating by real path or URL."""

    def __init__(self) -> None:
        self.inputs: dict[str, InputRef] = {}
        self.rejects: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.n_ignored = 0

    def add(self, key: str, uri: str, collection: str, size: int | None) -> bool:
        """Add a file if it has an input format; True when it counted as an input."""
        fmt = input_format(uri)
        if fmt is None:
            if key not in self.seen:
                self.seen.add(key)
                self.n_ignored += 1
            return False
        if key not in self.seen:
            self.seen.add(key)
            self.inputs[uri] = InputRef(uri, collection, fmt, size)
        return True

    def reject(self, key: str, uri: str, collection: str, reason: str, detail: str) -> None:
        """Record an input rejected before reading."""
        if key not in self.seen:
            self.seen.add(key)
            self.rejects.append(_reject_row(uri, collection, reason, detail))


def _walk_local(
    path: str, rel: str, found: _Found, visited: set[tuple[int, int]], enough: int | None = None
) -> int:
    """Add every visible input under a local path; returns how many inputs/rejects it matched.

    The walk keeps its own stack rather than recursing, so folders nest as deep as the file system
    lets them; entries are visited depth-first in name order. With `enough`, it stops once it has
    matched that many.
    """
    n = 0
    stack = [(path, rel)]
    while stack and (enough is None or n < enough):
        path, rel = stack.pop()
        try:
            info = os.stat(path)
        except OSError as exc:
            n += _unreachable(path, rel, exc, found)
            continue
        if stat.S_ISDIR(info.st_mode):
            n += _enter_folder(path, rel, info, found, visited, stack)
        else:
            n += _visit_file(path, rel, info, found)
    return n


def _enter_folder(
    path: str,
    rel: str,
    info: os.stat_result,
    found: _Found,
    visited: set[tuple[int, int]],
    stack: list[tuple[str, str]],
) -> int:
    """Push a folder's visible entries on the stack; 1 if the walk ends at it (seen, unlistable)."""
    if (info.st_dev, info.st_ino) in visited:  # symlink loops and overlapping sources end here
        return 1
    visited.add((info.st_dev, info.st_ino))
    try:
        with os.scandir(path) as entries:
            names = sorted(e.name for e in entries if not e.name.startswith("."))
    except OSError as exc:
        uri, collection = _local_uri(path), _collection(rel)
        found.reject(os.path.realpath(path), uri, collection, REASON_UNREADABLE, _os_detail(exc))
        return 1
    stack.extend((os.path.join(path, name), os.path.join(rel, name)) for name in reversed(names))
    return 0


def _visit_file(path: str, rel: str, info: os.stat_result, found: _Found) -> int:
    """Add one local path that is not a folder: an input, a reject, or an ignored file."""
    uri, collection = _local_uri(path), _collection(os.path.dirname(rel))
    key = os.path.realpath(path)
    if input_format(path) is not None and not stat.S_ISREG(info.st_mode):
        found.reject(key, uri, collection, REASON_NOT_A_FILE, _kind_detail(info.st_mode))
        return 1
    return int(found.add(key, uri, collection, info.st_size))


def _unreachable(path: str, rel: str, exc: OSError, found: _Found) -> int:
    """Reject a path that cannot be stat'ed; a dangling link without an input's name is ignored.

    Anything else is rejected whatever its name: it may be a folder full of inputs.
    """
    broken_link = exc.errno in DANGLING and os.path.islink(path)
    if broken_link and input_format(path) is None:
        found.n_ignored += 1
        return 0
    detail = _os_detail(exc)
    if broken_link:
        detail = f"broken symlink to {_link_target(path)} ({exc.strerror})"
    uri = _local_uri(path)
    found.reject(uri, uri, _collection(os.path.dirname(rel)), REASON_UNREADABLE, detail)
    return 1


def _link_target(path: str) -> str:
    """Where a symlink points, or '?' when that cannot be read."""
    try:
        return os.readlink(path)
    except OSError:
        return "?"


DANGLING = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)  # a link to nothing, or to itself
FILE_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _kind_detail(mode: int) -> str:
    """Names what a non-regular file is and why it is never opened."""
    kind = next((name for is_kind, name in FILE_KINDS if is_kind(mode)), "not a regular file")
    return f"{kind}, not a regular file: never opened, as reading it could block or never end"


def _local_uri(path: str) -> str:
    """The source_uri of a local path: its absolute path, or a file:// URL if that is not UTF-8.

    File names are bytes; Python hands the bytes that are not UTF-8 over as lone surrogates
    (PEP 383), which no Arrow string can hold. Such a path becomes the URL pathlib's `as_uri`
    builds: every byte but ASCII letters, digits, `_.-~` and `/` percent-encoded. That URL is valid
    UTF-8, the same on every run, and names exactly one file: it decodes back to the path's bytes
    (`_uri_path`), `%` itself is encoded, and no plain path starts with `file://`.
    """
    path = os.path.abspath(path)
    if _is_utf8(path):
        return path
    return FILE_URL + urllib.parse.quote_from_bytes(os.fsencode(path))


def _uri_path(uri: str) -> str:
    """The local path of a uri built by _local_uri."""
    if uri.startswith(FILE_URL):
        return os.fsdecode(urllib.parse.unquote_to_bytes(uri[len(FILE_URL) :]))
    return uri


def _is_utf8(text: str) -> bool:
    """Whether text holds no lone surrogates, so UTF-8 (and Arrow) can hold it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _safe_text(text: str) -> str:
    """Text UTF-8 can hold: undecodable file-name bytes as \\xNN, other lone surrogates \\udNNN."""
    if _is_utf8(text):
        return text
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates that stand for no byte, e.g. from a JSON escape
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return data.decode("utf-8", "backslashreplace")


def _discover_local(source: str, found: _Found, visited: set[tuple[int, int]]) -> int:
    """Add the inputs of one local SOURCE (file, folder or glob)."""
    if os.path.isdir(source):
        return _walk_local(source, "", found, visited)
    if os.path.lexists(source):
        if input_format(source) is None:
            raise SourceError(f"SOURCE {source!r} is not a supported input; expected {INPUT_NAMES}")
        return _walk_local(source, os.path.basename(source), found, visited)
    if not GLOB_CHARS.search(source):
        raise SourceError(f"SOURCE {source!r} does not exist; pass a file, folder, glob or URL")
    base = _glob_base(source)
    n = 0
    for match in sorted(glob.glob(source, recursive=True)):
        if any(part.startswith(".") for part in os.path.relpath(match, base).split(os.sep)):
            continue
        n += _walk_local(match, os.path.relpath(match, base), found, visited)
    return n


def holds_input(path: str) -> bool:
    """Whether a local file or folder is, or holds, at least one input (or an input's reject).

    Stops at the first one: a run can refuse an empty SOURCE at once, before any flow starts.
    """
    return _walk_local(path, os.path.basename(path), _Found(), set(), enough=1) > 0


def _glob_base(pattern: str) -> str:
    """The folder part of a glob before its first wildcard: collections are relative to it."""
    parts = pattern.replace(os.sep, "/").split("/")
    fixed = []
    for part in parts:
        if GLOB_CHARS.search(part):
            break
        fixed.append(part)
    return "/".join(fixed) or "."


def _discover_fsspec(source: str, found: _Found) -> int:
    """Add the inputs of one fsspec URL (file, folder or glob)."""
    try:
        fs, path = fsspec.core.url_to_fs(source)
    except (ImportError, ValueError) as exc:  # unknown protocol or its package missing
        raise SourceError(f"SOURCE {source!r} cannot be opened: {exc}".splitlines()[0]) from exc
    if GLOB_CHARS.search(path):
        base = _glob_base(path)
        listing = fs.glob(path, detail=True)
    elif fs.isdir(path):
        base = path
        listing = fs.find(path, withdirs=False, detail=True)
    elif fs.exists(path):
        if input_format(path) is None:
            raise SourceError(f"SOURCE {source!r} is not a supported input format")
        base = path.rsplit("/", 1)[0] if "/" in path.strip("/") else ""
        listing = {path: fs.info(path)}
    else:
        raise SourceError(f"SOURCE {source!r} does not exist; pass a file, folder, glob or URL")
    n = 0
    for name, info in sorted(listing.items()):
        rel = name[len(base) :].strip("/") if name.startswith(base) else name.strip("/")
        if info.get("type") == "directory" or any(p.startswith(".") for p in rel.split("/")):
            continue
        uri = fs.unstrip_protocol(name)
        collection = _collection(rel.rsplit("/", 1)[0] if "/" in rel else "")
        n += int(found.add(uri, uri, collection, info.get("size")))
    return n


def discover(sources: Sequence[str], config: PipelineConfig) -> Discovery:
    """Every input under the SOURCE arguments, sorted by uri, plus rejects and ignored files."""
    found = _Found()
    visited: set[tuple[int, int]] = set()  # (device, inode) of folders walked
    for source in dict.fromkeys(sources):
        local = _local_path(source)
        if local is not None:
            n = _discover_local(local, found, visited)
        else:
            n = _discover_fsspec(source, found)
        if n == 0:
            raise SourceError(f"SOURCE {source!r} matches no input; expected {INPUT_NAMES}")
    inputs = sorted(found.inputs.values(), key=lambda ref: ref.uri)
    return Discovery(inputs, rejects_table(found.rejects), found.n_ignored)


def _local_path(source: str) -> str | None:
    """The local path of a SOURCE (plain path or file:// URL), or None for other URLs."""
    if source.startswith("file://"):
        return fsspec.core.url_to_fs(source)[1]
    return None if URL_SCHEME.match(source) else source


# --------------------------------------------------------------------------------------------
# read_inputs


def _os_detail(exc: BaseException) -> str:
    """One line naming an OS error without a traceback."""
    return f"{type(exc).__name__}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)


def _open(uri: str) -> io.BufferedIOBase:
    """Open a local path or fsspec URL for binary reading."""
    if URL_SCHEME.match(uri) and not uri.startswith(FILE_URL):
        return fsspec.open(uri, "rb").open()
    return _open_regular(_uri_path(uri))


def _open_regular(path: str) -> io.BufferedIOBase:
    """Open a local regular file; refuses folders, and FIFOs or devices without waiting on them.

    Discovery rejects those already; opening without blocking covers a file swapped for a FIFO
    after discovery, or an InputRef made by hand.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        if not stat.S_ISREG(mode):
            raise _Reject(REASON_NOT_A_FILE, _kind_detail(mode))
        os.set_blocking(fd, True)
        return open(fd, "rb")  # noqa: SIM115 - closed by the caller
    except BaseException:
        os.close(fd)
        raise


def _read_bytes(ref: InputRef, max_bytes: int) -> bytes:
    """The (decompressed) bytes of an input, never reading more than max_bytes + 1."""
    try:
        with _open(ref.uri) as fh:
            if ref.uri.lower().endswith(GZIP_SUFFIX):
                data = _gunzip(fh, ref, max_bytes)
            else:
                data = fh.read(max_bytes + 1)
    except _Reject as rej:
        rej.n_bytes = ref.size if rej.n_bytes is None else rej.n_bytes
        raise
    except (OSError, ValueError) as exc:
        raise _Reject(REASON_UNREADABLE, _os_detail(exc), ref.size) from exc
    if len(data) > max_bytes:
        raise _Reject(REASON_TOO_LARGE, _too_large_detail(ref, max_bytes), ref.size)
    return data


def _gunzip(fh: io.BufferedIOBase, ref: InputRef, max_bytes: int) -> bytes:
    """Up to max_bytes + 1 decompressed bytes; damage raises _Reject holding the bytes before it."""
    out = bytearray()
    gz = gzip.GzipFile(fileobj=fh)
    try:
        # read1 stops after one step: read() would drop everything it buffered on damage
        while len(out) <= max_bytes and (
            chunk := gz.read1(min(GZIP_CHUNK, max_bytes + 1 - len(out)))
        ):
            out += chunk
    except (OSError, EOFError, zlib.error) as exc:
        detail = f"invalid gzip data after {len(out)} decompressed bytes: {exc}"
        raise _Reject(REASON_UNDECODABLE, detail, ref.size, partial=bytes(out)) from exc
    return bytes(out)


def _too_large_detail(ref: InputRef, max_bytes: int) -> str:
    """Size and limit of an input read no further than max_bytes + 1."""
    if ref.uri.lower().endswith(GZIP_SUFFIX):
        return f"decompressed size is more than max_bytes={max_bytes} (stopped reading there)"
    if ref.size is not None and ref.size > max_bytes:
        return f"size {ref.size} bytes is more than max_bytes={max_bytes}"
    return f"size is more than max_bytes={max_bytes} (stopped reading there)"


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
    """Rows of a Parquet file, a batch at a time; raises _Reject when it unpacks beyond max_bytes.

    The limit applies to the uncompressed column data, as it does to a gzip file's decompressed
    bytes: a few compressed megabytes can hold gigabytes.
    """
    parquet = pq.ParquetFile(io.BytesIO(data))
    meta = parquet.metadata
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if size > max_bytes:
        detail = f"uncompressed size {size} bytes is more than max_bytes={max_bytes}"
        raise _Reject(REASON_TOO_LARGE, detail)
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH):
        yield from batch.to_pylist()


def _record_rows(
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
    except _Reject as rej:
        rejects.append(_file_reject(ref, collection, rej.reason, rej.detail, len(data)))
    except Exception as exc:  # a file the reader cannot parse (any further)
        detail = _error_detail(exc) + _records_before(len(rows) + len(rejects))
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
        return False, _reject_row(uri, collection, REASON_UNDECODABLE, problem)
    if record.get(config.id_field) not in (None, ""):
        uri = f"{ref.uri}#{record[config.id_field]}"
    try:
        content = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str).encode()
    except (ValueError, TypeError, RecursionError) as exc:  # lone surrogates, deep nesting
        detail = f"record cannot be stored as UTF-8 JSON: {_error_detail(exc)}"
        return False, _reject_row(uri, collection, REASON_UNDECODABLE, detail)
    if record.get(config.text_field) is None:
        detail = f"record has no {config.text_field!r} field (text_field)"
        return False, _reject_row(
            uri, collection, REASON_EMPTY, detail, len(content), _sha(content)
        )
    return True, _raw_row(content, ref.format, uri, collection)


def _file_reject(
    ref: InputRef, collection: str, reason: str, detail: str, n_bytes: int
) -> dict[str, Any]:
    """The reject row of a record file as a whole, its format named in the detail."""
    return _reject_row(ref.uri, collection, reason, f"{ref.format}: {detail}", n_bytes)


def _records_before(n: int) -> str:
    """Tells a file reject's reader how many records before the problem were read."""
    return f"; records read before it: {n}" if n else ""


def _stem(uri: str) -> str:
    """A record file's stem: its name without directory and format extensions, UTF-8 safe."""
    name = _uri_path(uri).rstrip("/").rsplit("/", 1)[-1].split("#", 1)[0]
    if name.lower().endswith(GZIP_SUFFIX):
        name = name[: -len(GZIP_SUFFIX)]
    return _safe_text(os.path.splitext(name)[0])


def _sha(data: bytes) -> str:
    """The doc_id of some bytes: their sha256 hex digest."""
    return hashlib.sha256(data).hexdigest()


def _raw_row(content: bytes, fmt: str, uri: str, collection: str) -> dict[str, Any]:
    """One row of the raw batch; names that UTF-8 cannot hold (a record's id) are escaped."""
    return {
        "doc_id": _sha(content),
        "content": content,
        "n_bytes": len(content),
        "format": fmt,
        "source_uri": _safe_text(uri),
        "collection": _safe_text(collection),
    }


def _reject_row(
    uri: str,
    collection: str | None,
    reason: str,
    detail: str,
    n_bytes: int | None = None,
    doc_id: str | None = None,
) -> dict[str, Any]:
    """One reject row (run fields are added by rejects_table); text UTF-8 cannot hold is escaped."""
    return {
        "source_uri": _safe_text(uri),
        "collection": None if collection is None else _safe_text(collection),
        "doc_id": doc_id,
        "reason": reason,
        "detail": _safe_text(detail),
        "n_bytes": n_bytes,
    }


def rejects_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Reject rows as a table of schema.REJECTS; run fields stay '' until the flow fills them."""
    columns = {
        f.name: [""] * len(rows) if f.name in RUN_FIELD_NAMES else [row.get(f.name) for row in rows]
        for f in schema.REJECTS
    }  # built by column: a merged copy of each row would double the memory of a record bomb
    return pa.Table.from_pydict(columns, schema=schema.REJECTS)


def _read_one(ref: InputRef, config: PipelineConfig) -> tuple[list[dict], list[dict]]:
    """Raw rows and rejects for one input."""
    try:
        data = _read_bytes(ref, config.max_bytes)
    except _Reject as rej:
        return _salvage(ref, rej, config)
    if ref.format in RECORD_FORMAT_NAMES:
        return _record_rows(ref, data, config)
    if not data:
        return [], [
            _reject_row(ref.uri, ref.collection, REASON_EMPTY, "file is empty", 0, _sha(data))
        ]
    return [_raw_row(data, ref.format, ref.uri, ref.collection)], []


def _salvage(ref: InputRef, rej: _Reject, config: PipelineConfig) -> tuple[list[dict], list[dict]]:
    """The reject of an input not read whole, plus the JSON Lines records intact before the damage.

    Only JSON Lines: each of its lines stands alone, while a CSV cut inside a quoted cell would
    still parse, as a shortened document.
    """
    reject = _reject_row(ref.uri, ref.collection, rej.reason, rej.detail, rej.n_bytes)
    if ref.format != "jsonl" or b"\n" not in rej.partial:
        return [], [reject]
    complete = rej.partial[: rej.partial.rfind(b"\n") + 1]  # the last line is cut short
    rows, rejects = _record_rows(ref, complete, config)
    reject["detail"] += _records_before(len(rows) + len(rejects))
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
                _reject_row(ref.uri, ref.collection, REASON_ERROR, _error_detail(exc), ref.size)
            ]
        rows += new_rows
        rejects += new_rejects
    return pa.Table.from_pylist(rows, schema=RAW_BATCH), rejects_table(rejects)


def _error_detail(exc: BaseException) -> str:
    """One line naming an unexpected exception."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:500]


# --------------------------------------------------------------------------------------------
# decode_batch

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
BINARY_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"BZh",
    b"\x7fELF",
    b"7z\xbc\xaf",
    b"Rar!",
    b"RIFF",
    b"\x00\x00\x01\x00",
    b"OggS",
    b"ID3",
    b"PAR1",
    b"\xd0\xcf\x11\xe0",
)
# Bytes that never appear in text: C0 controls except tab, newlines, form feed and escape.
CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
SAMPLE = 8192
CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
HIGH_BYTE = re.compile(rb"[\x80-\xff]")
ENCODING_NAMES = {"iso8859-1": "latin-1", "utf-8": "utf-8"}


def binary_reason(data: bytes) -> str | None:
    """Why bytes are not text (a detail for the reject), or None when they may be text."""
    head = data[:SAMPLE]
    for magic in BINARY_MAGIC:
        if head.startswith(magic):
            return f"starts with the signature {magic!r} of a binary file"
    n_control = len(head) - len(head.translate(None, CONTROL_BYTES))
    if n_control > max(2, len(head) // 100):
        return f"{n_control} control/NUL bytes in the first {len(head)} bytes"
    return None


def decode_bytes(data: bytes) -> tuple[str, str]:
    """(text, encoding) of bytes: BOM, else UTF-8, else a legacy-encoding guess; raises _Reject."""
    for bom, name in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(name), name
            except UnicodeDecodeError as exc:
                raise _Reject(REASON_UNDECODABLE, f"invalid {name} after its BOM: {exc}") from exc
    reason = binary_reason(data)
    if reason:
        raise _Reject(REASON_BINARY, reason)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if _looks_western(data):
        return data.decode("cp1252"), "cp1252"
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise _Reject(REASON_UNDECODABLE, "not UTF-8 and no known encoding decodes it")
    name = codecs.lookup(best.encoding).name
    return str(best), ENCODING_NAMES.get(name, name)


def _looks_western(data: bytes) -> bool:
    """True for mostly-ASCII bytes whose few high bytes stand alone: Western text in cp1252.

    Detectors misjudge such texts (a single pound sign reads as cp932); multi-byte and
    non-Latin single-byte encodings have runs of high bytes in nearly every word.
    """
    if CP1252_UNDEFINED.search(data):
        return False
    highs = HIGH_BYTE.findall(data)
    if len(highs) > max(8, len(data) // 50):
        return False
    runs = re.findall(rb"[\x80-\xff]{2,}", data)
    return len(runs) * 4 <= len(highs) + 1


def _html_text(markup: str) -> tuple[str, str | None, str | None, str | None]:
    """(main text, title, author, date) of an HTML page via trafilatura, paragraphs kept."""
    import trafilatura  # heavy import: only paid by runs that meet HTML

    out = trafilatura.extract(
        markup,
        output_format="markdown",
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_recall=True,
    )
    if not out:
        return _strip_tags(markup), _html_title(markup), None, None
    meta, body = _front_matter(out)
    return body, meta.get("title"), meta.get("author"), meta.get("date")


# Tried once, at the start, and read to the first "\n---" only: linear.
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n?", re.S)
# The fallback's regexes read on from opening marks that may never be closed: applied with sub or
# search they are quadratic on many such marks. _strip_tags and _html_title apply them in linear
# time, with the same results.
SCRIPT_STYLE = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.S | re.I)
SCRIPT_OPEN = re.compile(r"<(script|style|noscript|template)\b", re.I)
SCRIPT_CLOSE = re.compile(r"</(script|style|noscript|template)\s*>", re.I)
BLOCK_TAG = re.compile(r"</?(p|div|br|li|h[1-6]|tr|article|section|blockquote|pre)\b[^>]*>", re.I)
COMMENT = re.compile(r"<!--.*?-->", re.S)
TAG = re.compile(r"<[^>]+>")
TITLE_OPEN = re.compile(r"<title", re.I)
TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.S | re.I)


def _front_matter(out: str) -> tuple[dict[str, str], str]:
    """Split trafilatura's markdown output into its metadata header and body."""
    match = FRONT_MATTER.match(out)
    if not match:
        return {}, out
    meta = {}
    for line in match.group(1).splitlines():
        key, _, value = line.partition(": ")
        value = value.strip()
        if value.startswith('"') and value.endswith('"'):
            try:
                value = json.loads(value)
            except ValueError:
                value = value[1:-1]
        meta[key.strip()] = value or None
    return meta, out[match.end() :]


def _strip_tags(markup: str) -> str:
    """Fallback text of an HTML page trafilatura found no main text in, in time linear in it.

    Script, style, noscript and template elements become a space, block tags a blank line, any
    other tag or comment a space; entities are decoded.
    """
    return html.unescape(_replace_tags(_break_blocks(_strip_scripts(markup))))


def _strip_scripts(markup: str) -> str:
    """Script, style, noscript and template elements replaced by a space, in linear time: what
    SCRIPT_STYLE does with .sub(" ", markup)."""
    from tasks.clean import strip_elements  # clean imports this module

    return strip_elements(markup, SCRIPT_STYLE, SCRIPT_OPEN, SCRIPT_CLOSE, " ", attributes=False)


def _break_blocks(text: str) -> str:
    r"""Each block tag replaced by a blank line: BLOCK_TAG.sub("\n\n", text) in linear time.

    A block tag ends at the first '>' after its name. From each block tag name with no '>' after it
    ('<p<p<p...') BLOCK_TAG reads to the end of the text and fails: quadratic. So it runs only on
    the text up to the last '>', where the first '>' after a name ends a match that consumes all
    it read; the rest holds no match and is kept as it is.
    """
    end = text.rfind(">") + 1
    return BLOCK_TAG.sub("\n\n", text[:end]) + text[end:]


def _replace_tags(text: str) -> str:
    """Each comment and tag replaced by a space, in linear time: what the regex `<!--.*?-->|<[^>]+>`
    (re.S) does with .sub(" ", text).

    That regex tries at every '<' a comment, read to the first '-->', and else a tag, read to the
    first '>': it reads to the end of the text from every '<!--' with no '-->' after it and from
    every '<' with no '>' after it. Here the last '-->' and the last '>' are found first: the search
    for '<' stops at the last '>', and a comment is read only when a '-->' follows its '<!--'. Each
    comment or tag read then ends in a match that consumes what it read, but for a tag that fails
    at its second character ('<>').
    """
    last_close, last_gt = text.rfind("-->"), text.rfind(">")
    parts, kept, pos = [], 0, 0
    while 0 <= (start := text.find("<", pos)) < last_gt:
        pos = start + 1
        if last_close >= start + 4 and text.startswith("<!--", start):
            found = COMMENT.match(text, start)
        else:
            found = TAG.match(text, start)
        if found:
            parts += (text[kept:start], " ")
            kept = pos = found.end()
    return "".join(parts) + text[kept:] if parts else text


def _html_title(markup: str) -> str | None:
    """The <title> of a page, entities decoded: TITLE_TAG.search in linear time.

    TITLE_TAG reads from a '<title' to the first '>' after it, then to the first '</title>' after
    that. When either is missing for the first '<title', it is missing for every later one, from
    each of which a search would read to the end of the text again. So only the first is tried.
    """
    opening = TITLE_OPEN.search(markup)
    match = TITLE_TAG.match(markup, opening.start()) if opening else None
    return html.unescape(" ".join(match.group(1).split())) or None if match else None


DATE_PREFIX = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def parse_date(value: Any) -> dt.date | None:
    """A date from an ISO-like value (date, datetime, 'YYYY-MM-DD...'), else None."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        return None
    match = DATE_PREFIX.match(value.strip())
    if not match:
        from tasks.clean import parse_date_text  # the byline date parser knows written dates

        return parse_date_text(value.strip())
    try:
        return dt.date(*map(int, match.groups()))
    except ValueError:
        return None


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


def _decode_record(
    content: bytes, config: PipelineConfig
) -> tuple[str, str, str | None, str | None, Any]:
    """(text, encoding, title, author, date) of a record stored as canonical JSON."""
    try:
        record = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise _Reject(REASON_UNDECODABLE, f"record is not JSON: {_error_detail(exc)}") from exc
    text = record.get(config.text_field)
    if text is None:
        raise _Reject(REASON_EMPTY, f"record has no {config.text_field!r} field (text_field)")
    title = record.get(config.title_field)
    return (
        str(text),
        "utf-8",
        str(title).strip() or None if title is not None else None,
        _author(_first_field(record, AUTHOR_FIELDS)),
        _first_field(record, DATE_FIELDS),
    )


def decode_document(content: bytes, fmt: str, config: PipelineConfig) -> dict[str, Any]:
    """Decoded text, encoding and metadata of one raw document; raises _Reject."""
    title = author = date = None
    if fmt in RECORD_FORMAT_NAMES:
        text, encoding, title, author, date = _decode_record(content, config)
    else:
        text, encoding = decode_bytes(content)
        if fmt == "html":
            text, title, author, date = _html_text(text)
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
        except _Reject as rej:
            rejects.append(_reject_from(ident, rej.reason, rej.detail, len(content)))
            continue
        except Exception as exc:  # never lose a document to an unexpected failure
            rejects.append(_reject_from(ident, REASON_ERROR, _error_detail(exc), len(content)))
            continue
        rows.append({**ident, "format": columns["format"][i], **decoded})
    return pa.Table.from_pylist(rows, schema=INGESTED), rejects_table(rejects)


def _reject_from(ident: dict[str, Any], reason: str, detail: str, n_bytes: int) -> dict[str, Any]:
    """A reject row for a raw document that could not be decoded."""
    return _reject_row(
        ident["source_uri"], ident["collection"], reason, detail, n_bytes, ident["doc_id"]
    )
