"""Repeated lines: the key of a line, and a document's lines dropped when its collection repeats
them. Which keys a collection repeats is learned over the whole run (`stage.boilerplate_lines`)."""

from __future__ import annotations

import hashlib

from proseflow.tasks.clean.normalize import CONTROL, NEWLINES

MAX_REPEATED_LINE = 200  # longer lines are content, never repeated-line boilerplate


def line_key(line: str) -> int | None:
    """Stable signed 64-bit blake2b of a normalised line; None for blank or long lines."""
    norm = " ".join(CONTROL.sub("", line).split()).casefold()
    if not norm or len(norm) > MAX_REPEATED_LINE:
        return None
    digest = hashlib.blake2b(norm.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def doc_line_keys(text: str) -> set[int]:
    """The distinct line keys of one decoded document."""
    keys = {line_key(line) for line in NEWLINES.sub("\n", text).split("\n")}
    keys.discard(None)
    return keys  # type: ignore[return-value]


def remove_repeated(text: str, repeated: frozenset[int]) -> str:
    """Drop the lines whose key is in the repeated set."""
    if not repeated:
        return text
    return "\n".join(line for line in text.split("\n") if line_key(line) not in repeated)
