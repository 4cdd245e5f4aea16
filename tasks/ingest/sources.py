"""Discovery: which files under a SOURCE are inputs, by name, and which are rejected unread.

A SOURCE is a local file, folder or glob, or an fsspec URL. Local folders are walked without
recursion, symlink loops end, and FIFOs, sockets and devices are rejected without being opened.
"""

from __future__ import annotations

import errno
import glob
import os
import re
import stat
from dataclasses import dataclass
from typing import Any

import fsspec

from proseflow.tasks.errors import SourceError
from proseflow.tasks.ingest.uris import URL_SCHEME, local_uri, safe_text
from proseflow.tasks.rejects import REASON_NOT_A_FILE, REASON_UNREADABLE, os_detail, reject_row

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

GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class InputRef:
    """One input file found by discover."""

    uri: str
    collection: str
    format: str
    size: int | None


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
    rel = safe_text(rel_dir).replace(os.sep, "/").strip("/")
    return "" if rel in ("", ".") else rel


class Found:
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
            self.rejects.append(reject_row(uri, collection, reason, detail))


def _walk_local(
    path: str, rel: str, found: Found, visited: set[tuple[int, int]], enough: int | None = None
) -> int:
    """Add every visible input under a local path; returns how many inputs/rejects it matched.

    The walk keeps its own stack rather than recursing, so folders nest as deep as the file system
    lets them; entries are visited depth-first in name order. With `enough`, it stops once it has
    matched that many.
    """
    n = 0
    stack: list[tuple[str, str, str | None]] = [(path, rel, None)]
    while stack and (enough is None or n < enough):
        path, rel, real = stack.pop()
        try:
            info = os.stat(path)
        except OSError as exc:
            n += _unreachable(path, rel, exc, found)
            continue
        real = real or os.path.realpath(path)
        if stat.S_ISDIR(info.st_mode):
            n += _enter_folder(path, rel, real, info, found, visited, stack)
        else:
            n += _visit_file(path, rel, info, found, real)
    return n


def _enter_folder(
    path: str,
    rel: str,
    real: str,
    info: os.stat_result,
    found: Found,
    visited: set[tuple[int, int]],
    stack: list[tuple[str, str, str | None]],
) -> int:
    """Push a folder's visible entries on the stack; 1 if the walk ends at it (seen, unlistable).

    Each entry goes with its real path when it is no symlink (REAL, the folder's real path, and
    its name): resolving every path on its own cost a system call per folder above it, for every
    file and every folder (cubic in the depth of nested folders).
    """
    if (info.st_dev, info.st_ino) in visited:  # symlink loops and overlapping sources end here
        return 1
    visited.add((info.st_dev, info.st_ino))
    try:
        with os.scandir(path) as scan:
            entries = sorted((e.name, e.is_symlink()) for e in scan if not e.name.startswith("."))
    except OSError as exc:
        uri, collection = local_uri(path), _collection(rel)
        found.reject(real, uri, collection, REASON_UNREADABLE, os_detail(exc))
        return 1
    stack.extend(
        (
            os.path.join(path, name),
            os.path.join(rel, name),
            None if link else os.path.join(real, name),
        )
        for name, link in reversed(entries)
    )
    return 0


def _visit_file(path: str, rel: str, info: os.stat_result, found: Found, key: str) -> int:
    """Add one local path that is not a folder: an input, a reject, or an ignored file."""
    uri, collection = local_uri(path), _collection(os.path.dirname(rel))
    if input_format(path) is not None and not stat.S_ISREG(info.st_mode):
        found.reject(key, uri, collection, REASON_NOT_A_FILE, kind_detail(info.st_mode))
        return 1
    return int(found.add(key, uri, collection, info.st_size))


def _unreachable(path: str, rel: str, exc: OSError, found: Found) -> int:
    """Reject a path that cannot be stat'ed; a dangling link without an input's name is ignored.

    Anything else is rejected whatever its name: it may be a folder full of inputs.
    """
    broken_link = exc.errno in DANGLING and os.path.islink(path)
    if broken_link and input_format(path) is None:
        found.n_ignored += 1
        return 0
    detail = os_detail(exc)
    if broken_link:
        detail = f"broken symlink to {_link_target(path)} ({exc.strerror})"
    uri = local_uri(path)
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


def kind_detail(mode: int) -> str:
    """Names what a non-regular file is and why it is never opened."""
    kind = next((name for is_kind, name in FILE_KINDS if is_kind(mode)), "not a regular file")
    return f"{kind}, not a regular file: never opened, as reading it could block or never end"


def _discover_local(source: str, found: Found, visited: set[tuple[int, int]]) -> int:
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
    return _walk_local(path, os.path.basename(path), Found(), set(), enough=1) > 0


def _glob_base(pattern: str) -> str:
    """The folder part of a glob before its first wildcard: collections are relative to it."""
    parts = pattern.replace(os.sep, "/").split("/")
    fixed = []
    for part in parts:
        if GLOB_CHARS.search(part):
            break
        fixed.append(part)
    return "/".join(fixed) or "."


def _discover_fsspec(source: str, found: Found) -> int:
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


def _local_path(source: str) -> str | None:
    """The local path of a SOURCE (plain path or file:// URL), or None for other URLs."""
    if source.startswith("file://"):
        return fsspec.core.url_to_fs(source)[1]
    return None if URL_SCHEME.match(source) else source


def discover_source(source: str, found: Found, visited: set[tuple[int, int]]) -> int:
    """Add the inputs of one SOURCE (path, glob or URL); returns how many inputs/rejects it matched."""
    local = _local_path(source)
    if local is not None:
        return _discover_local(local, found, visited)
    return _discover_fsspec(source, found)
