"""Tests for tasks/clean/repeated.py: the key of a line."""

from __future__ import annotations

import hashlib

from proseflow.tasks.clean.repeated import line_key


def test_line_key_is_stable_blake2b_of_normalised_line() -> None:
    expected = int.from_bytes(
        hashlib.blake2b(b"subscribe now", digest_size=8).digest(), "little", signed=True
    )
    assert line_key("  Subscribe \t NOW\u200b ") == expected
    assert line_key("   ") is None and line_key("x" * 201) is None
