"""Built-in boilerplate patterns: a line matching any of them (case-insensitive search) is removed.

Each pattern is anchored to the whole line so that sentences merely mentioning these words stay.
"""

from __future__ import annotations

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
