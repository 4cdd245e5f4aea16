"""What a run reports: artifact keys, the summary of a committed run, its markdown, the bar."""

from __future__ import annotations

import re
from collections import Counter
from types import SimpleNamespace

import pyarrow as pa
import pytest

from proseflow.flows import reporting
from proseflow.flows.state import STAGES
from proseflow.tasks.schema import CORPUS_STATS
from proseflow.tasks.stats import SUMMARY_COLUMNS

# ---------------------------------------------------------------- artifact keys


def test_an_output_keeps_its_artifact_key_across_versions():
    # A new key would start a new artifact history in the Prefect UI.
    assert (
        reporting.artifact_key("summary", "/srv/news-out") == "proseflow-summary-news-out-2340694b"
    )


@pytest.mark.parametrize(
    ("output", "name"),
    [
        ("/srv/Données Été", "-donn-es-t-"),
        ("/srv/日本語", "-"),
        ("/srv/\udcffout", "-out-"),  # a file name that is not UTF-8, as Python decodes it
        ("s3://bucket/Q3 Report (final)/", "-q3-report-final-"),
    ],
)
def test_artifact_keys_of_hostile_folder_names_are_valid(output, name):
    key = reporting.artifact_key("summary", output)
    assert re.fullmatch(r"proseflow-summary-([a-z0-9-]+-)?[0-9a-f]{8}", key)
    assert f"summary{name}" in key


def test_a_long_folder_name_is_cut_in_the_key():
    key = reporting.artifact_key("collections", "/srv/" + "x" * 200)
    assert key == "proseflow-collections-" + "x" * 40 + key[-9:]


def test_each_kind_of_artifact_has_its_own_key():
    kinds = ("summary", "collections", "output", "progress")
    assert len({reporting.artifact_key(kind, "/srv/out") for kind in kinds}) == len(kinds)


# ---------------------------------------------------------------- progress bar


@pytest.mark.parametrize(
    ("done", "total", "line"),
    [
        (1, 3, "[" + "#" * 10 + "." * 20 + "] 1/3 inputs"),
        (5, 2000, "[" + "." * 30 + "]    5/2000 inputs"),
        (0, 0, "[" + "#" * 30 + "] 0/0 inputs"),
    ],
)
def test_bar_line_rounds_down_and_pads_the_count(done, total, line):
    assert reporting.bar_line(done, total) == line


# ---------------------------------------------------------------- the summary of a run


def corpus_stats(*rows: tuple[str, str, int, float | None]) -> pa.Table:
    """corpus_stats rows over all documents: collection, metric, count (no nulls), mean."""
    names = ["collection", "metric", "count", "mean"]
    rows_ = [{**dict(zip(names, r, strict=True)), "nulls": 0, "unique_only": False} for r in rows]
    return pa.Table.from_pylist(rows_, schema=CORPUS_STATS)


def finished_run(**counts) -> SimpleNamespace:
    """What `summary` reads of a RunState at its commit."""
    fields = {
        "run_id": "r1",
        "flow_run_name": "news-20260101T000000",
        "output": SimpleNamespace(url="/srv/out"),
        "fingerprint": "f" * 16,
        "n_inputs": 9,
        "n_documents": 5,
        "n_rejects": 3,
        "n_skipped": 1,
        "n_ignored": 2,
        "clean_ops": Counter({"nfc": 2, "markup": 5}),
        "reject_reasons": Counter({"empty": 2, "duplicate": 1}),
        "stage_seconds": Counter({"clean": 1.23456, "commit": 0.5}),
        "near_duplicates": None,
        "report": None,
        "recovered": [],
    }
    return SimpleNamespace(**{**fields, **counts})


def test_summary_holds_the_counts_sorted_steps_and_every_stage():
    summary = reporting.summary(finished_run(), corpus_stats())
    assert summary["output"] == "/srv/out" and summary["pipeline_fingerprint"] == "f" * 16
    counts = [summary[k] for k in ("n_inputs", "n_documents", "n_rejects", "n_skipped")]
    assert counts + [summary["n_ignored"]] == [9, 5, 3, 1, 2]
    assert list(summary["clean_ops"].items()) == [("markup", 5), ("nfc", 2)]
    assert list(summary["rejects_by_reason"].items()) == [("duplicate", 1), ("empty", 2)]
    assert list(summary["stage_seconds"]) == list(STAGES)
    assert summary["stage_seconds"]["clean"] == 1.235 and summary["stage_seconds"]["ingest"] == 0
    assert summary["collections"] == []


def test_summary_lists_collections_by_name_first_and_all_documents_last():
    corpus = corpus_stats(
        ("*", "n_words", 3, 200.0),
        ("tech", "n_words", 1, 100.0),
        ("", "n_words", 2, 250.0),
        ("tech", "gunning_fog", 1, 12.3456),
    )
    collections = reporting.summary(finished_run(), corpus)["collections"]
    assert [c["collection"] for c in collections] == ["", "tech", "*"]
    assert all(list(c)[0] == "collection" for c in collections)
    assert collections[1]["gunning_fog"] == 12.35 and collections[1]["documents"] == 1
    assert set(SUMMARY_COLUMNS) <= set(collections[0])


# ---------------------------------------------------------------- markdown


def summary_of(**changes) -> dict:
    summary = {
        "flow_run_name": "news-20260101T000000",
        "output": "/srv/out",
        "pipeline_fingerprint": "f" * 16,
        "n_inputs": 9,
        "n_documents": 5,
        "n_rejects": 3,
        "n_skipped": 1,
        "n_ignored": 2,
        "collections": [
            {"collection": "", "documents": 2, "n_words": 250.0},
            {"collection": "*", "documents": 3, "n_words": 200.0},
        ],
        "rejects_by_reason": {"duplicate": 1, "empty": 2},
        "clean_ops": {},
        "stage_seconds": {"clean": 1.2},
    }
    return {**summary, **changes}


def test_markdown_shows_the_counts_and_one_table_row_per_entry():
    text = reporting.markdown(summary_of())
    assert text.startswith("# proseflow run `news-20260101T000000`\n")
    assert "| 9 | 5 | 3 | 1 | 2 |" in text
    assert "| (top folder) | 2 | 250.0 |" in text and "| (all) | 3 | 200.0 |" in text
    assert "| duplicate | 1 |\n| empty | 2 |" in text
    assert "## Cleaning steps (documents changed)\n\n(none)" in text
    assert "| stage | seconds |\n|---|---|\n| clean | 1.2 |" in text


def table_blocks(text: str) -> list[list[str]]:
    """The markdown's tables, each as its lines."""
    blocks: list[list[str]] = []
    previous = ""
    for line in text.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                blocks.append([])
            blocks[-1].append(line)
        previous = line
    return blocks


def test_every_markdown_table_row_has_as_many_cells_as_its_header():
    collections = [
        {"collection": "Ünïcode", "documents": 1, "n_words": 3.0},
        {"collection": "short", "documents": 1},
    ]
    text = reporting.markdown(summary_of(collections=collections, clean_ops={"nfc": 1}))
    blocks = table_blocks(text)
    assert len(blocks) == 5
    for block in blocks:
        assert len(block) >= 3 and len({row.count("|") for row in block}) == 1, block


def test_sections_without_rows_say_none():
    text = reporting.markdown(summary_of(rejects_by_reason={}, collections=[]))
    assert "## Mean scores\n\n(none)" in text and "## Rejects by reason\n\n(none)" in text
    assert len(table_blocks(text)) == 2


def test_a_collection_without_a_score_shows_an_empty_cell_not_a_missing_one():
    rows = [{"collection": "a", "n_words": 1.0}, {"collection": "b"}]
    assert reporting._markdown_table(rows)[-1] == "| b |  |"


def test_shown_collections_renames_the_two_special_names_and_keeps_its_input():
    rows = [{"collection": "*", "documents": 3}, {"collection": "Ünïcode", "documents": 1}]
    shown = reporting.shown_collections(rows)
    assert [row["collection"] for row in shown] == ["(all)", "Ünïcode"]
    assert rows[0]["collection"] == "*"
