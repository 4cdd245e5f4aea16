"""Paragraphs broken in the middle of a sentence joined again."""

from __future__ import annotations

import itertools
import re

TERMINAL = re.compile(r"[.!?…:;][\"'”’»)\]]*$")
QUOTE_COMMA = re.compile(r",[\"'”’»]$")
SPEECH_VERB = re.compile(
    r"^(?:[A-Z][\w'’.\-]*\s+){1,4}(?:said|says|told|added|asked|declared|explained|wrote|"
    r"continued|noted|insisted|replied|argued|warned|stated|claimed|admitted|concluded)\b"
)


def _continues(previous: str, paragraph: str) -> bool:
    """True when a paragraph continues the sentence the previous one left unfinished."""
    if TERMINAL.search(previous):
        return False
    if paragraph[:1].islower():
        return True
    return bool(QUOTE_COMMA.search(previous) and SPEECH_VERB.match(paragraph))


def join_paragraphs(text: str) -> str:
    """Join paragraphs that were broken in the middle of a sentence.

    Whether a paragraph continues depends only on the end of the one before it, so each is tested
    against that paragraph alone and the text is joined once: linear in the text. (Growing the
    joined paragraph and testing it whole was quadratic on many short unfinished paragraphs.)
    """
    paragraphs = text.split("\n\n")
    parts = [paragraphs[0]]
    for previous, paragraph in itertools.pairwise(paragraphs):
        parts += (" " if _continues(previous, paragraph) else "\n\n", paragraph)
    return "".join(parts)
