"""Tests for tasks/ingest/uris.py: names that are not UTF-8 become file:// URLs and escaped text."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from proseflow.tasks.ingest.stage import discover
from proseflow.tasks.ingest.uris import is_utf8, local_uri, uri_path
from tests.ingest_inputs import (
    CONFIG,
    bytes_name,
    ingest_all,
    write,
)


def test_name_that_is_not_utf8_is_read_under_a_percent_encoded_url(tmp_path: Path) -> None:
    bad = bytes_name(tmp_path, b"bad\xff.txt")
    bad.write_bytes(b"Content that is fine.")
    write(tmp_path / "bad%FF.txt", "A real name that looks like the escaped one.")
    write(tmp_path / "good.txt", "Good.")
    ingested, rejects = ingest_all([str(tmp_path)])
    assert rejects.num_rows == 0
    by_text = dict(
        zip(ingested["decoded"].to_pylist(), ingested["source_uri"].to_pylist(), strict=True)
    )
    url = "file://" + urllib.parse.quote(os.fsencode(tmp_path) + b"/bad\xff.txt")
    assert by_text["Content that is fine."] == url and url.endswith("/bad%FF.txt")
    assert by_text["A real name that looks like the escaped one."] == str(tmp_path / "bad%FF.txt")
    assert discover([str(tmp_path)], CONFIG).inputs[-1].uri == url  # the same on every run


def test_folder_and_record_file_names_that_are_not_utf8(tmp_path: Path) -> None:
    folder = bytes_name(tmp_path, b"caf\xe9")
    folder.unlink()
    folder.mkdir()
    write(folder / "a.txt", "In a folder with a Latin-1 name.")
    feed = bytes_name(tmp_path, b"feed\xe9.jsonl")
    feed.write_text('{"id": "r1", "text": "A record."}\n')
    ingested, rejects = ingest_all([str(tmp_path)])
    assert rejects.num_rows == 0
    rows = {r["decoded"]: r for r in ingested.to_pylist()}
    assert rows["In a folder with a Latin-1 name."]["collection"] == "caf\\xe9"
    assert rows["A record."]["collection"] == "feed\\xe9"
    assert rows["A record."]["source_uri"].endswith("/feed%E9.jsonl#r1")


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b and b"\0" not in b))
def test_local_uri_is_utf8_and_names_exactly_its_path(name: bytes) -> None:
    path = os.fsdecode(b"/corpus/" + name)
    uri = local_uri(path)
    assert is_utf8(uri) and uri_path(uri) == os.path.abspath(path)
