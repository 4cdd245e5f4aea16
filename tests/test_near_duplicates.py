"""Tests for tasks/near_duplicates.py: signatures, LSH banding, clusters, and the quality of
bench/near_duplicate_cases.py's labelled BBC pairs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proseflow.tasks.near_duplicates import (
    NUM_PERM,
    SIGNATURE_TYPE,
    THRESHOLD,
    clusters,
    lsh_bands,
    shingle_set,
    signatures,
)

REPO = Path(__file__).resolve().parents[1]
BBC = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "bbc"


def vocabulary_text(first: int, last: int, prefix: str = "w") -> str:
    """Words `{prefix}{first}` ... `{prefix}{last - 1}`: texts of one prefix overlap by range."""
    return " ".join(f"{prefix}{i}" for i in range(first, last))


def estimate(left: str, right: str) -> float:
    """The estimated Jaccard similarity that `clusters` uses for a pair."""
    pair = signatures(pa.array([left, right])).to_pylist()
    return float(np.mean(np.equal(pair[0], pair[1])))


def run(doc_ids: list[str], texts: list[str | None], threshold: float = THRESHOLD) -> list[dict]:
    return clusters(pa.array(doc_ids), signatures(pa.array(texts)), threshold).to_pylist()


ARTICLE = vocabulary_text(0, 120)
OTHER = vocabulary_text(0, 120, prefix="x")
THIRD = vocabulary_text(0, 120, prefix="y")
# A chain: a~b and b~c are above the threshold, a~c is below it.
CHAIN = {
    "a": vocabulary_text(0, 140, "v"),
    "b": vocabulary_text(30, 170, "v"),
    "c": vocabulary_text(60, 200, "v"),
}


def test_signatures_have_the_declared_type_and_one_row_per_text():
    result = signatures(pa.array([ARTICLE, OTHER, ARTICLE]))
    assert result.type == SIGNATURE_TYPE
    assert len(result) == 3
    rows = result.to_pylist()
    assert rows[0] == rows[2]
    assert rows[0] != rows[1]
    assert all(0 <= value < 2**32 for value in rows[0])


def test_texts_without_shingles_have_null_signatures():
    result = signatures(pa.array(["", None, "   \n\n ", "-- !! ...", "one", "Two words"]))
    assert result.is_null().to_pylist() == [True, True, True, True, False, False]


def test_short_texts_are_one_shingle_and_case_and_punctuation_do_not_matter():
    assert shingle_set("Two words", 5) == {("two", "words")}
    assert signatures(pa.array(["Hello, World!"]))[0] == signatures(pa.array(["hello world"]))[0]


def test_chunked_input_gives_the_same_signatures():
    texts = [ARTICLE, None, OTHER]
    chunked = pa.chunked_array([texts[:1], texts[1:]], pa.string())
    assert signatures(chunked).to_pylist() == signatures(pa.array(texts)).to_pylist()


def test_signatures_are_stable_across_processes_with_different_hash_seeds():
    texts = [ARTICLE, "Café crème, naïve façade: ünïcödé wörds", "日本語 の テキスト です"]
    expected = signatures(pa.array(texts)).to_pylist()
    script = (
        "import json, sys, pyarrow as pa\n"
        "from tasks.near_duplicates import signatures\n"
        "print(json.dumps(signatures(pa.array(json.loads(sys.argv[1]))).to_pylist()))\n"
    )
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script, json.dumps(texts)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(done.stdout) == expected, f"PYTHONHASHSEED={seed}"


def test_exact_copies_cluster_with_similarity_one():
    rows = run(["b", "a", "z"], [ARTICLE, ARTICLE, OTHER])
    assert rows == [
        {"doc_id": "a", "representative_id": "a", "similarity": 1.0},
        {"doc_id": "b", "representative_id": "a", "similarity": 1.0},
    ]


def test_unrelated_texts_are_not_clustered():
    assert run(["a", "b", "c"], [ARTICLE, OTHER, THIRD]) == []
    assert clusters(pa.array([], pa.string()), signatures(pa.array([], pa.string()))).num_rows == 0


def test_null_signatures_never_cluster():
    rows = run(["a", "b", "c", "d"], [None, "", None, ARTICLE])
    assert rows == []


def test_transitive_cluster_takes_the_smallest_doc_id_and_reports_honest_similarity():
    ab, bc, ac = (
        estimate(CHAIN["a"], CHAIN["b"]),
        estimate(CHAIN["b"], CHAIN["c"]),
        estimate(CHAIN["a"], CHAIN["c"]),
    )
    assert ab >= THRESHOLD and bc >= THRESHOLD and ac < THRESHOLD  # the chain's premise
    rows = run(["c", "b", "a"], [CHAIN["c"], CHAIN["b"], CHAIN["a"]])
    assert [row["doc_id"] for row in rows] == ["a", "b", "c"]
    assert {row["representative_id"] for row in rows} == {"a"}
    assert [row["similarity"] for row in rows] == [1.0, ab, ac]


def test_a_pair_is_linked_exactly_from_its_estimate_upwards():
    similarity = estimate(CHAIN["a"], CHAIN["c"])
    assert 0.2 < similarity < THRESHOLD
    pair = ["a", "c"], [CHAIN["a"], CHAIN["c"]]
    assert run(*pair) == []
    assert len(run(*pair, threshold=similarity)) == 2
    assert run(*pair, threshold=similarity + 1 / NUM_PERM) == []


def test_repeated_doc_ids_are_one_document_whatever_the_row_order():
    doc_ids = ["a", "b", "a", "b"]
    texts = [ARTICLE, None, ARTICLE, ARTICLE]
    expected = [
        {"doc_id": "a", "representative_id": "a", "similarity": 1.0},
        {"doc_id": "b", "representative_id": "a", "similarity": 1.0},
    ]
    assert run(doc_ids, texts) == expected
    assert run(doc_ids[::-1], texts[::-1]) == expected
    # Two different texts under one doc_id: the same one is kept in either order.
    assert run(["a", "a", "b"], [OTHER, ARTICLE, OTHER]) == run(
        ["b", "a", "a"], [OTHER, ARTICLE, OTHER]
    )


def test_mismatched_inputs_are_refused_with_a_message():
    with pytest.raises(ValueError, match="doc_ids has 2 rows but signatures has 1"):
        clusters(pa.array(["a", "b"]), signatures(pa.array([ARTICLE])))
    with pytest.raises(ValueError, match="lists of 128 uint32"):
        clusters(pa.array(["a"]), pa.array([[1, 2, 3]], pa.list_(pa.uint32())))
    with pytest.raises(ValueError, match="null"):
        clusters(pa.array(["a", None]), signatures(pa.array([ARTICLE, ARTICLE])))


def _mixed_set() -> tuple[list[str], list[str | None]]:
    doc_ids = ["k", "a", "m", "b", "x", "c", "q", "n", "e"]
    texts = [
        ARTICLE,
        OTHER,
        ARTICLE + " w120 w121",
        CHAIN["a"],
        None,
        CHAIN["b"],
        CHAIN["c"],
        THIRD,
        ARTICLE,
    ]
    return doc_ids, texts


MIXED_IDS, MIXED_TEXTS = _mixed_set()
MIXED_SIGNATURES = signatures(pa.array(MIXED_TEXTS))
MIXED_EXPECTED = clusters(pa.array(MIXED_IDS), MIXED_SIGNATURES)


def test_mixed_set_has_the_expected_clusters():
    rows = MIXED_EXPECTED.to_pylist()
    assert [row["doc_id"] for row in rows] == ["b", "c", "e", "k", "m", "q"]
    assert [row["representative_id"] for row in rows] == ["b", "b", "e", "e", "e", "b"]


def test_variable_length_list_signatures_give_the_same_clusters():
    # A Parquet schema that does not keep the fixed width gives lists back.
    as_lists = MIXED_SIGNATURES.cast(pa.list_(pa.uint32()))
    assert clusters(pa.array(MIXED_IDS), as_lists).equals(MIXED_EXPECTED)


@settings(max_examples=30, deadline=None)
@given(st.permutations(range(len(MIXED_IDS))))
def test_clusters_do_not_depend_on_row_order(order):
    doc_ids = pa.array([MIXED_IDS[i] for i in order])
    assert clusters(doc_ids, MIXED_SIGNATURES.take(list(order))).equals(MIXED_EXPECTED)


def test_chunked_inputs_give_the_same_clusters():
    doc_ids = pa.chunked_array([MIXED_IDS[:4], MIXED_IDS[4:]], pa.string())
    sigs = pa.chunked_array([MIXED_SIGNATURES[:4], MIXED_SIGNATURES[4:]])
    assert clusters(doc_ids, sigs).equals(MIXED_EXPECTED)


@pytest.mark.parametrize("threshold", [0.3, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9])
def test_lsh_bands_fit_the_signature_and_find_pairs_just_above_the_threshold(threshold):
    bands, rows = lsh_bands(threshold)
    assert bands * rows <= NUM_PERM
    above = min(threshold + 0.1, 1.0)
    assert 1 - (1 - above**rows) ** bands >= 0.98
    assert 1 - (1 - (threshold / 2) ** rows) ** bands <= 0.8


def test_lsh_rows_grow_with_the_threshold():
    rows = [lsh_bands(threshold / 100)[1] for threshold in range(5, 100, 5)]
    assert rows == sorted(rows)
    assert rows[0] < rows[-1]


def test_lsh_bands_refuse_a_threshold_outside_zero_one():
    with pytest.raises(ValueError, match="threshold"):
        lsh_bands(0.0)


def test_ninety_thousand_signatures_cluster_in_seconds():
    rng = np.random.default_rng(7)
    base = rng.integers(0, 2**32, size=(30_000, NUM_PERM), dtype=np.uint32)
    copies = [base]
    for _ in range(2):  # two copies of every document, each with 10 % of its slots changed
        copy = base.copy()
        changed = rng.random(copy.shape) < 0.1
        copy[changed] = rng.integers(0, 2**32, size=int(changed.sum()), dtype=np.uint32)
        copies.append(copy)
    same = np.repeat(base[:1], 5_000, axis=0)  # one bucket of 5,000 equal keys in every band
    matrix = np.concatenate([*copies, same])
    doc_ids = pa.array([f"{i:06d}" for i in range(len(matrix))])
    sigs = pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), type=SIGNATURE_TYPE)
    started = time.process_time()
    table = clusters(doc_ids, sigs)
    assert time.process_time() - started < 15
    representatives = table["representative_id"].value_counts().to_pylist()
    sizes = sorted(item["counts"] for item in representatives)
    assert len(sizes) == 30_000
    assert sizes[-1] == 5_003  # document 0, its two copies and the 5,000 equal signatures
    assert sizes[:-1] == [3] * 29_999


@pytest.fixture(scope="module")
def bbc_cases():
    if not BBC.is_dir():
        pytest.skip("../shared/corpora/bbc is not present")
    from bench import near_duplicate_cases

    articles = near_duplicate_cases.read_articles(BBC)
    return near_duplicate_cases.build_cases(articles, seed=2005, per_kind=100)


def test_labelled_cases_have_every_kind_and_distinct_negatives(bbc_cases):
    from bench.near_duplicate_cases import NEGATIVE_KINDS, POSITIVE_KINDS

    kinds = {case.kind for case in bbc_cases.cases}
    assert kinds == set(POSITIVE_KINDS) | set(NEGATIVE_KINDS)
    for case in bbc_cases.cases:
        assert case.duplicate == (case.kind in POSITIVE_KINDS)
        assert bbc_cases.documents[case.left] != bbc_cases.documents[case.right]
        if not case.duplicate:
            assert "~" not in case.left + case.right  # negatives join two original articles


def test_labelled_cases_are_reproducible(bbc_cases):
    from bench import near_duplicate_cases

    articles = near_duplicate_cases.read_articles(BBC)[:400]  # one collection keeps it quick
    first = near_duplicate_cases.build_cases(articles, seed=7, per_kind=20)
    assert near_duplicate_cases.build_cases(articles, seed=7, per_kind=20) == first
    assert near_duplicate_cases.build_cases(articles, seed=8, per_kind=20) != first


def test_quality_on_bbc_meets_precision_and_recall_on_every_kind(bbc_cases):
    from bench import near_duplicate_cases

    doc_ids, sigs = near_duplicate_cases.case_signatures(bbc_cases)
    predicted = near_duplicate_cases.predicted_duplicates(bbc_cases, doc_ids, sigs)
    rows = near_duplicate_cases.measure(bbc_cases, predicted)
    assert len(rows) == 8
    for row in rows:
        assert row.pairs >= 50, row
        assert row.precision >= 0.95, row
        assert row.recall >= 0.90, row


def test_measure_counts_hits_and_false_positives():
    from bench.near_duplicate_cases import Case, CaseSet, measure

    cases = [
        Case("truncated", True, "a", "b"),
        Case("truncated", True, "c", "d"),
        Case("random", False, "a", "c"),
        Case("random", False, "b", "d"),
    ]
    rows = {row.kind: row for row in measure(CaseSet({}, cases), [True, False, True, False])}
    assert rows["truncated"].recall == 0.5
    assert rows["truncated"].precision == 0.5
    assert rows["random"].predicted == 1
    assert rows["all"].precision == 0.5
    assert rows["all"].recall == 0.5


def test_the_installed_rensa_is_the_pinned_one():
    pinned = (REPO / "pyproject.toml").read_text()
    assert f'"rensa=={version("rensa")}"' in pinned
