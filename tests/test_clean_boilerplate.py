"""Tests for tasks/clean/boilerplate.py: the built-in patterns drop boilerplate lines only."""

from __future__ import annotations

from proseflow.tasks.clean.document import clean_text


def test_default_boilerplate_patterns() -> None:
    document = "\n\n".join(
        [
            "Real content stays here.",
            "Share this article",
            "Sign up for our newsletter today",
            "Copyright 2024 Example Media Ltd.",
            "Example Media. All rights reserved.",
            "Click here to read more",
            "Follow us on Twitter",
            "Advertisement",
            "https://example.com/x",
            "www.example.org",
            "To contact the WSWS and the Socialist Equality Party visit:",
            "wsws.org/contact",
            "We asked readers to contact us with their stories, and many did.",
        ]
    )
    result = clean_text(document, header=False)
    assert result.text == (
        "Real content stays here.\n\n"
        "We asked readers to contact us with their stories, and many did."
    )
    assert result.ops == ("remove_boilerplate",)
