"""Reading an input's bytes: local files without blocking on FIFOs, fsspec URLs, gzip within
max_bytes; and the raw row of some bytes."""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import os
import stat
import zlib
from typing import Any

import fsspec

from proseflow.tasks.ingest.sources import GZIP_SUFFIX, InputRef, kind_detail
from proseflow.tasks.ingest.uris import FILE_URL, URL_SCHEME, safe_text, uri_path
from proseflow.tasks.rejects import (
    REASON_NOT_A_FILE,
    REASON_TOO_LARGE,
    REASON_UNDECODABLE,
    REASON_UNREADABLE,
    Reject,
    os_detail,
)

GZIP_CHUNK = 1 << 16


def _open(uri: str) -> io.BufferedIOBase:
    """Open a local path or fsspec URL for binary reading."""
    if URL_SCHEME.match(uri) and not uri.startswith(FILE_URL):
        return fsspec.open(uri, "rb").open()
    return _open_regular(uri_path(uri))


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
            raise Reject(REASON_NOT_A_FILE, kind_detail(mode))
        os.set_blocking(fd, True)
        return open(fd, "rb")  # noqa: SIM115 - closed by the caller
    except BaseException:
        os.close(fd)
        raise


def read_bytes(ref: InputRef, max_bytes: int) -> bytes:
    """The (decompressed) bytes of an input, never reading more than max_bytes + 1."""
    try:
        with _open(ref.uri) as fh:
            if ref.uri.lower().endswith(GZIP_SUFFIX):
                data = _gunzip(fh, ref, max_bytes)
            else:
                data = fh.read(max_bytes + 1)
    except Reject as rej:
        rej.n_bytes = ref.size if rej.n_bytes is None else rej.n_bytes
        raise
    except (OSError, ValueError) as exc:
        raise Reject(REASON_UNREADABLE, os_detail(exc), ref.size) from exc
    if len(data) > max_bytes:
        raise Reject(REASON_TOO_LARGE, _too_large_detail(ref, max_bytes), ref.size)
    return data


def _gunzip(fh: io.BufferedIOBase, ref: InputRef, max_bytes: int) -> bytes:
    """Up to max_bytes + 1 decompressed bytes; damage raises Reject holding the bytes before it."""
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
        raise Reject(REASON_UNDECODABLE, detail, ref.size, partial=bytes(out)) from exc
    return bytes(out)


def _too_large_detail(ref: InputRef, max_bytes: int) -> str:
    """Size and limit of an input read no further than max_bytes + 1."""
    if ref.uri.lower().endswith(GZIP_SUFFIX):
        return f"decompressed size is more than max_bytes={max_bytes} (stopped reading there)"
    if ref.size is not None and ref.size > max_bytes:
        return f"size {ref.size} bytes is more than max_bytes={max_bytes}"
    return f"size is more than max_bytes={max_bytes} (stopped reading there)"


def sha(data: bytes) -> str:
    """The doc_id of some bytes: their sha256 hex digest."""
    return hashlib.sha256(data).hexdigest()


def raw_row(content: bytes, fmt: str, uri: str, collection: str) -> dict[str, Any]:
    """One row of the raw batch; names that UTF-8 cannot hold (a record's id) are escaped."""
    return {
        "doc_id": sha(content),
        "content": content,
        "n_bytes": len(content),
        "format": fmt,
        "source_uri": safe_text(uri),
        "collection": safe_text(collection),
    }
