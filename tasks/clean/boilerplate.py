"""Pattern boilerplate: a short line matching any pattern (case-insensitive search) is removed.

The built-in patterns are each anchored to the whole line so that sentences merely mentioning
these words stay; `boilerplate_patterns` in the configuration replaces them.
"""

from __future__ import annotations

import functools
import re

from proseflow.tasks.clean.normalize import tidy
from proseflow.tasks.errors import UsageError

DEFAULT_PATTERNS: tuple[str, ...] = (
    r"^to contact (the|us)\b.{0,120}$",
    r"^(contact us|get in touch)\b.{0,100}$",
    r"^(subscribe|sign up|register)( now| today| here)?[.!:]?$",
    r"^(subscribe|sign up) (to|for) (our|the|my) .{0,80}"
    r"(newsletter|updates|emails?|channel|podcast)\b.{0,60}$",
    r"^(share|share this( article| story| page)?|share on \w+|share via \w+)[:.!]?$",
    r"^(share|tweet|email|print)( this)?( (on|via) \w+)?"
    r"( \| (share|tweet|email|print)( on \w+)?)+$",
    r"^(copyright|©|\(c\))\s*(\d{4}|[^\s]).{0,150}$",
    r"^.{0,150}\ball rights reserved\.?$",
    r"^click here\b.{0,150}$",
    r"^follow (us|me)\b.{0,100}$",
    r"^(advertisement|advertising|sponsored( content)?|ad)$",
    r"^(read more|related( articles| stories| content)?|see also|more on this story"
    r"|most popular)[:.]?$",
    r"^(tags?|filed under|topics?):\s.{0,150}$",
    r"^(https?://|www\.)\S+$",
    r"^([\w-]+\.)+(com|org|net|info|co\.uk|uk|io|news)(/\S*)?$",
    r"^(this (article|story) (was|has been) (updated|corrected)|cookies?( policy| settings)?)\.?$",
    r"^(we use cookies|this (site|website) uses cookies)\b.{0,200}$",
    r"^(listen to|watch|download) (this|the) (article|story|podcast|video)\b.{0,60}$",
)

MAX_BOILERPLATE_LINE = 300  # pattern boilerplate is short; long lines are never tested

NEVER = re.compile(r"(?!)")  # an empty pattern list: nothing is boilerplate


@functools.lru_cache(maxsize=16)
def compile_boilerplate(patterns: tuple[str, ...] | None) -> re.Pattern[str]:
    """One case-insensitive regex matching any boilerplate pattern (None = built-in list)."""
    patterns = DEFAULT_PATTERNS if patterns is None else patterns
    if not patterns:
        return NEVER
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise UsageError(f"boilerplate pattern {p!r} is not a valid regex: {exc}") from exc
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I)


def remove_boilerplate(text: str, pattern: re.Pattern[str] | None) -> str:
    """Drop the short lines matching a boilerplate pattern."""
    if pattern is None:
        return text
    lines = text.split("\n")
    kept = [line for line in lines if len(line) > MAX_BOILERPLATE_LINE or not pattern.search(line)]
    return text if len(kept) == len(lines) else tidy("\n".join(kept))
