"""Tests for tasks/clean/stage.py: repeated lines learned per collection, and clean_batch over
whole batches."""

from __future__ import annotations

import datetime as dt
import html
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from proseflow.tasks import schema
from proseflow.tasks.clean.repeated import line_key
from proseflow.tasks.clean.stage import (
    CLEANED,
    LINE_PROFILE,
    boilerplate_lines,
    clean_batch,
    line_profile,
)
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.ingest.stage import INGESTED, decode_batch, discover, read_inputs

CONFIG = PipelineConfig()
REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "seeds" / "000_b1d7bf9a9c0969a7.txt"
BBC = REPO.parent / "shared" / "corpora" / "bbc"


def ingested_table(texts: list[str], collection: str = "c", **meta: list) -> pa.Table:
    """An `ingested` batch built by hand."""
    n = len(texts)
    return (
        pa.Table.from_pylist(
            [
                {
                    "doc_id": f"d{i}",
                    "source_uri": f"u{i}",
                    "collection": collection,
                    "format": "txt",
                    "encoding": "utf-8",
                    "decoded": text,
                    **{k: v[i] for k, v in meta.items()},
                }
                for i, text in enumerate(texts)
            ],
            schema=INGESTED,
        )
        if n
        else INGESTED.empty_table()
    )


def run_batch(
    texts: list[str], config: PipelineConfig = CONFIG, **meta: list
) -> tuple[pa.Table, pa.Table]:
    """line_profile -> boilerplate_lines -> clean_batch over one collection."""
    table = ingested_table(texts, **meta)
    lines = boilerplate_lines([line_profile(table)], {"c": len(texts)}, config)
    return clean_batch(table, lines, config)


def test_seed_document() -> None:
    cleaned, rejects = run_batch([SEED.read_text(encoding="utf-8")])
    row = cleaned.to_pylist()[0]
    assert rejects.num_rows == 0
    assert row["title"] == "US-backed offensives seize towns in northern Iraq"
    assert row["author"] == "Thomas Gaist"
    assert row["published_date"] == dt.date(2015, 11, 14)
    text = row["text"]
    assert "## " not in text and "Thomas Gaist" not in text and "To contact the WSWS" not in text
    assert "wsws.org/contact" not in text
    assert "threat to the United States in a generation." in text
    assert '"We are just getting started," Kerry said, touting' in text
    assert "*Wall Street Journal*" not in text and "Wall Street Journal" in text
    assert row["clean_ops"] == [
        "normalize_whitespace",
        "extract_header",
        "strip_markup",
        "remove_boilerplate",
        "join_paragraphs",
    ]
    assert cleaned.schema == CLEANED


def test_bbc_titles_are_first_lines() -> None:
    if not BBC.is_dir():
        pytest.skip("../shared/corpora/bbc is not present")
    found = discover([str(BBC / "*" / "*.txt")], CONFIG)
    raw, _ = read_inputs(found.inputs, CONFIG)
    ingested, _ = decode_batch(raw, CONFIG)
    counts = Counter(ingested["collection"].to_pylist())
    lines = boilerplate_lines([line_profile(ingested)], dict(counts), CONFIG)
    cleaned, rejects = clean_batch(ingested, lines, CONFIG)
    assert len(found.inputs) == 2225 and cleaned.num_rows == 2225 and rejects.num_rows == 0
    assert len(counts) == 5
    # first lines as text: whitespace collapsed, entities such as &#163; decoded
    firsts = [
        " ".join(html.unescape(d.split("\n", 1)[0]).split())
        for d in ingested["decoded"].to_pylist()
    ]
    assert cleaned["title"].to_pylist() == firsts
    assert all(
        not t.startswith(f) for t, f in zip(cleaned["text"].to_pylist(), firsts, strict=True)
    )


def test_metadata_takes_precedence_and_title_line_is_dropped_only_when_it_repeats_it() -> None:
    cleaned, _ = run_batch(
        ["Meta title\n\nBy Jane Doe\n\nBody one.", "Different first line\n\nBody two."],
        meta_title=["Meta title", "Meta title 2"],
        meta_author=["Record Author", None],
        meta_published_date=[dt.date(2001, 1, 1), None],
    )
    first, second = cleaned.to_pylist()
    assert (first["title"], first["author"], first["published_date"]) == (
        "Meta title",
        "Record Author",
        dt.date(2001, 1, 1),
    )
    assert first["text"] == "Body one."
    assert second["title"] == "Meta title 2"
    assert second["text"] == "Different first line\n\nBody two."


def test_boilerplate_patterns_are_configurable() -> None:
    texts = ["Keep this.\n\nAdvertisement\n\nDROP ME NOW"]
    custom, _ = run_batch(texts, PipelineConfig(boilerplate_patterns=(r"^drop me",)))
    assert custom["text"].to_pylist() == ["Keep this.\n\nAdvertisement"]
    off, _ = run_batch(texts, PipelineConfig(boilerplate_patterns=()))
    assert off["text"].to_pylist() == ["Keep this.\n\nAdvertisement\n\nDROP ME NOW"]


def test_line_profile_counts_each_line_once_per_document() -> None:
    table = ingested_table(["Menu\nMenu\nBody one.", "Menu\nBody two."])
    profile = line_profile(table)
    counts = dict(zip(profile["line_hash"].to_pylist(), profile["n_docs"].to_pylist(), strict=True))
    assert counts[line_key("Menu")] == 2 and counts[line_key("Body one.")] == 1
    assert profile.schema == LINE_PROFILE


def test_boilerplate_lines_thresholds_per_collection() -> None:
    key = line_key("Site menu")
    profiles = [
        pa.Table.from_pylist(
            [
                {"collection": "a", "line_hash": key, "n_docs": 3},
                {"collection": "b", "line_hash": key, "n_docs": 5},
            ],
            schema=LINE_PROFILE,
        ),
        pa.Table.from_pylist(
            [{"collection": "a", "line_hash": key, "n_docs": 2}], schema=LINE_PROFILE
        ),
    ]
    config = PipelineConfig(repeated_line_min_docs=5, repeated_line_min_share=0.5)
    lines = boilerplate_lines(profiles, {"a": 10, "b": 11}, config)
    assert lines.to_pylist() == [{"collection": "a", "line_hash": key}]  # b: 5 of 11 < 50%
    assert boilerplate_lines([], {}, config).num_rows == 0


def test_repeated_lines_are_removed_from_their_collection() -> None:
    texts = [
        f"Title {i}\n\nSite navigation bar\n\nStory number {i} is told here." for i in range(6)
    ]
    cleaned, rejects = run_batch(texts)
    assert rejects.num_rows == 0
    assert cleaned["text"].to_pylist() == [f"Story number {i} is told here." for i in range(6)]
    assert cleaned["clean_ops"][0].as_py()[0] == "remove_repeated_lines"


def test_empty_after_cleaning_is_rejected() -> None:
    cleaned, rejects = run_batch(["   \n\t\n", "Advertisement", "Kept text."])
    assert cleaned["text"].to_pylist() == ["Kept text."]
    assert rejects["reason"].to_pylist() == ["empty", "empty"]
    assert rejects.schema == schema.REJECTS


def test_n_chars_removed_counts_what_title_author_and_text_do_not_keep() -> None:
    document = "# Title\n\nBy Ann Lee\n\nBody  text."
    cleaned, _ = run_batch([document])
    row = cleaned.to_pylist()[0]
    assert row["n_chars_removed"] == len(document) - len("Title") - len("Ann Lee") - len(
        "Body text."
    )
