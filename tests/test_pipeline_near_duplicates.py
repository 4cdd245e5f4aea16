"""Near-duplicates through whole runs: signatures, links across runs, catalog views, unique stats."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from proseflow.flows.runtime import run_flow
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.store.output import Output
from tests.helpers import article, reworded


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text + "\n")


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> tuple[Path, Path]:
    """A: articles with near-copies inside it; B: new articles and near-copies of A's."""
    rng = random.Random(7)
    root = tmp_path_factory.mktemp("corpora")
    a, b = root / "a", root / "b"
    originals = [article(rng) for _ in range(8)]
    for i, text in enumerate(originals):
        write(a / "wire", f"{i:02d}.txt", text)
    write(
        a / "wire", "copy-00.txt", f"From our correspondent\n\n{originals[0]}\n\nShare this story"
    )
    write(a / "site", "copy-01.txt", reworded(originals[1], rng))
    for i in range(5):
        write(b / "site", f"new-{i:02d}.txt", article(rng))
    write(b / "site", "copy-02.txt", reworded(originals[2], rng))
    write(b / "site", "copy-00b.txt", reworded(originals[0], rng, changes=2))
    return a, b


def links(output: Path) -> list[tuple]:
    """The near_duplicates rows the catalog shows: the last linking run's."""
    con = duckdb.connect(str(output / "proseflow.duckdb"), read_only=True)
    try:
        return con.sql(
            "SELECT doc_id, representative_id, round(similarity, 6), collection "
            "FROM near_duplicates ORDER BY doc_id"
        ).fetchall()
    finally:
        con.close()


def clusters_of(rows: list[tuple]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for doc_id, representative, *_ in rows:
        found.setdefault(representative, set()).add(doc_id)
    return found


@pytest.fixture(scope="module")
def one_run(corpora, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("one") / "out"
    run_flow([str(p) for p in corpora], str(output), PipelineConfig(workers=1))
    return output


def test_near_copies_form_clusters_named_after_their_smallest_doc_id(one_run):
    rows = links(one_run)
    clusters = clusters_of(rows)
    # originals 0, 1 and 2 each with their copies; the distinct articles stay out
    assert sorted(len(members) for members in clusters.values()) == [2, 2, 3]
    for representative, members in clusters.items():
        assert representative == min(members)
    for doc_id, representative, similarity, _ in rows:
        assert similarity == 1.0 if doc_id == representative else 0.5 <= similarity <= 1.0


def test_one_run_over_a_and_b_links_as_a_then_b_whatever_the_batches(corpora, one_run, tmp_path):
    a, b = corpora
    output = tmp_path / "out"
    run_flow([str(a)], str(output), PipelineConfig(workers=1, batch_size=3))
    first = links(output)
    run_flow([str(b)], str(output), PipelineConfig(workers=2, batch_size=4))
    assert links(output) == links(one_run)
    assert clusters_of(first) != clusters_of(links(output))  # B's copies joined A's clusters

    runs = Output.open(output).read("runs").sort_by("started_at")
    fingerprints = set(runs["pipeline_fingerprint"].to_pylist())
    assert len(fingerprints) == 1
    nd = pq.read_table(output / "near_duplicates")
    assert set(nd["run_id"].to_pylist()) == set(runs["run_id"].to_pylist())  # one snapshot each


def test_unchanged_rerun_computes_no_signature_and_keeps_the_links(corpora, tmp_path):
    output = tmp_path / "out"
    run_flow([str(p) for p in corpora], str(output), PipelineConfig(workers=1))
    before = links(output)
    summary = run_flow([str(p) for p in corpora], str(output), PipelineConfig(workers=1))
    assert summary["n_documents"] == 0 and summary["near_duplicates"] is None
    assert len(list((output / "signatures").iterdir())) == 1
    assert len(list((output / "near_duplicates").iterdir())) == 1
    assert links(output) == before


def test_catalog_and_corpus_stats_count_each_cluster_once(one_run):
    con = duckdb.connect(str(one_run / "proseflow.duckdb"), read_only=True)
    try:
        n_all = con.sql("SELECT count(*) FROM documents").fetchall()[0][0]
        n_unique = con.sql("SELECT count(*) FROM documents_unique").fetchall()[0][0]
        stats = dict(
            con.sql(
                "SELECT unique_only, sum(count + nulls) FROM corpus_stats "
                "WHERE metric = 'n_words' AND collection <> '*' GROUP BY ALL"
            ).fetchall()
        )
    finally:
        con.close()
    assert (n_all, n_unique) == (17, 13)  # 4 copies linked to 3 originals
    assert stats == {False: 17, True: 13}


def test_summary_counts_near_duplicates_per_collection(corpora, tmp_path):
    output = tmp_path / "out"
    summary = run_flow([str(corpora[0])], str(output), PipelineConfig(workers=1))
    expected = {
        "site": {"documents": 1, "in_clusters": 1, "near_duplicates": 0},
        "wire": {"documents": 9, "in_clusters": 3, "near_duplicates": 0},
    }
    for doc_id, representative, _, collection in links(output):
        expected[collection]["near_duplicates"] += doc_id != representative
    assert summary["near_duplicates"] == expected
    assert sum(c["near_duplicates"] for c in expected.values()) == 2


def test_switched_off_writes_no_signatures_nor_links(corpora, tmp_path):
    output = tmp_path / "out"
    summary = run_flow(
        [str(corpora[0])], str(output), PipelineConfig(workers=1, near_duplicates="off")
    )
    assert summary["near_duplicates"] is None
    assert not (output / "signatures").exists() and not (output / "near_duplicates").exists()
    stats = pq.read_table(output / "corpus_stats")
    assert not pc.any(stats["unique_only"]).as_py()
    con = duckdb.connect(str(output / "proseflow.duckdb"), read_only=True)
    try:
        assert con.sql("SELECT count(*) FROM documents_unique").fetchall()[0][0] == 10
        assert con.sql("SELECT count(*) FROM near_duplicates").fetchall()[0][0] == 0
    finally:
        con.close()


def test_options_change_the_fingerprint():
    from proseflow.tasks.provenance import pipeline_fingerprint

    base = pipeline_fingerprint(PipelineConfig())
    for change in (
        {"near_duplicates": "off"},
        {"near_duplicate_threshold": 0.8},
        {"shingle_size": 3},
    ):
        assert pipeline_fingerprint(PipelineConfig(**change)) != base, change
