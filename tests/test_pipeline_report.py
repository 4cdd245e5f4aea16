"""Reports and drift through whole runs: the page each run commits, `proseflow report`, the flags."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from proseflow.flows import cli
from proseflow.flows.runtime import run_flow
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.store.output import Output
from tests.helpers import article

CONFIG = PipelineConfig(workers=1, near_duplicates="off")


def add_articles(folder: Path, prefix: str, n: int, seed: int, keep: float = 1.0) -> None:
    """N articles of the same distribution into FOLDER; KEEP < 1 truncates each to that share."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        text = article(rng)
        (folder / f"{prefix}-{i:03d}.txt").write_text(text[: int(len(text) * keep)] + "\n")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Three runs over one source: a first one, new documents alike, then truncated ones."""
    root = tmp_path_factory.mktemp("drift")
    source, output = root / "in", root / "out"
    add_articles(source / "wire", "first", 60, seed=1)
    first = run_flow([str(source)], str(output), CONFIG)
    add_articles(source / "wire", "alike", 60, seed=2)
    alike = run_flow([str(source)], str(output), CONFIG)
    unchanged = run_flow([str(source)], str(output), CONFIG)
    add_articles(source / "wire", "cut", 60, seed=3, keep=0.3)
    truncated = run_flow([str(source)], str(output), CONFIG)
    return {
        "output": output,
        "first": first,
        "alike": alike,
        "unchanged": unchanged,
        "truncated": truncated,
    }


def test_every_run_commits_a_self_contained_report(runs):
    path = Path(runs["first"]["report"])
    assert path == runs["output"] / "reports" / f"run-{runs['first']['run_id']}.html"
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "http://" not in page and "https://" not in page
    assert "<script" not in page and "@import" not in page
    charts = re.findall(r'data-chart="([^"]+)"', page)
    assert len(charts) >= 6 and page.count("<svg") >= len(charts)
    assert "there is no previous completed run over the same sources" in page


def test_new_documents_from_the_same_distribution_are_not_flagged(runs):
    drift = runs["alike"]["drift"]
    assert drift["compared_with"] == runs["first"]["run_id"]
    assert drift["flags"] == []


def test_truncated_texts_are_flagged_against_the_previous_run_with_documents(runs):
    drift = runs["truncated"]["drift"]
    # the unchanged rerun committed no document: the truncated run is compared with `alike`
    assert drift["compared_with"] == runs["alike"]["run_id"]
    flagged = {(flag["collection"], flag["column"]) for flag in drift["flags"]}
    assert {("wire", "n_words"), ("wire", "n_sentences"), ("wire", "n_chars")} <= flagged
    n_words = next(f for f in drift["flags"] if f["column"] == "n_words")
    assert n_words["mean_current"] < 0.5 * n_words["mean_previous"]
    page = Path(runs["truncated"]["report"]).read_text()
    assert "flagged" in page and "n_words" in page


def test_a_run_with_nothing_new_compares_nothing_and_says_so(runs):
    unchanged = runs["unchanged"]
    assert unchanged["n_documents"] == 0 and unchanged["drift"]["flags"] == []
    page = Path(unchanged["report"]).read_text()
    assert "Nothing compared: this run has no new documents" in page
    assert "This run committed no documents." in page


def test_the_report_command_rewrites_a_committed_run(runs, capsys):
    output, run_id = runs["output"], runs["truncated"]["run_id"]
    path = output / "reports" / f"run-{run_id}.html"
    path.unlink()
    assert cli.main(["report", "--output", str(output), "--run", run_id]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"proseflow: report in {path}" and "flagged" in out[1]
    assert "n_words" in path.read_text()
    # default: the last completed run
    assert cli.main(["report", "-o", str(output)]) == 0
    assert capsys.readouterr().out.startswith("proseflow: report in ")


def test_the_report_command_names_a_run_that_is_not_there(runs, capsys):
    assert cli.main(["report", "-o", str(runs["output"]), "--run", "nope"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("proseflow: error: run nope is not a completed run") and err.count("\n") == 1
    )


def test_reports_are_committed_with_their_run(runs):
    runs_ids = set(Output.open(runs["output"]).read("runs")["run_id"].to_pylist())
    pages = {p.name for p in (runs["output"] / "reports").iterdir()}
    assert pages == {f"run-{run_id}.html" for run_id in runs_ids}
