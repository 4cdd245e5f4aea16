"""How inputs are named: the source_uri of a local path and back, and text that Arrow can hold.

File names are bytes; a name that is not UTF-8 becomes a file:// URL, and text that UTF-8 cannot
hold (in collection names, record ids, details) is escaped.
"""

from __future__ import annotations

import os
import re
import urllib.parse

URL_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
FILE_URL = "file://"


def local_uri(path: str) -> str:
    """The source_uri of a local path: its absolute path, or a file:// URL if that is not UTF-8.

    File names are bytes; Python hands the bytes that are not UTF-8 over as lone surrogates
    (PEP 383), which no Arrow string can hold. Such a path becomes the URL pathlib's `as_uri`
    builds: every byte but ASCII letters, digits, `_.-~` and `/` percent-encoded. That URL is valid
    UTF-8, the same on every run, and names exactly one file: it decodes back to the path's bytes
    (`uri_path`), `%` itself is encoded, and no plain path starts with `file://`.
    """
    path = os.path.abspath(path)
    if is_utf8(path):
        return path
    return FILE_URL + urllib.parse.quote_from_bytes(os.fsencode(path))


def uri_path(uri: str) -> str:
    """The local path of a uri built by local_uri."""
    if uri.startswith(FILE_URL):
        return os.fsdecode(urllib.parse.unquote_to_bytes(uri[len(FILE_URL) :]))
    return uri


def is_utf8(text: str) -> bool:
    """Whether text holds no lone surrogates, so UTF-8 (and Arrow) can hold it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def safe_text(text: str) -> str:
    """Text UTF-8 can hold: undecodable file-name bytes as \\xNN, other lone surrogates \\udNNN."""
    if is_utf8(text):
        return text
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates that stand for no byte, e.g. from a JSON escape
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return data.decode("utf-8", "backslashreplace")
