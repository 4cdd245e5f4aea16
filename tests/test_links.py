"""tasks.links: which signatures a run links, the near_duplicates rows, the counts it reports."""

from __future__ import annotations

import pyarrow as pa
import pytest

from proseflow.tasks import links, near_duplicates
from proseflow.tasks.schema import NEAR_DUPLICATES, SIGNATURES
from proseflow.tasks.store.commit import Staging
from proseflow.tasks.store.output import Output
from tests.store_runs import runs_row

STORY = " ".join(f"word{i} follows word{i + 1} in sentence {i}." for i in range(60))
# about 1 word in 30 replaced: a Jaccard similarity of the shingles near 0.7
EDITED = " ".join(w if i % 30 else "changed" for i, w in enumerate(STORY.split()))
OTHER = " ".join(f"entry{i} precedes item{i * 7} on page {i}." for i in range(60))


def signed(rows: list[tuple[str, str, str]], run_id: str = "r1", fingerprint: str = "fp"):
    """SIGNATURES rows of (doc_id, collection, text)."""
    doc_ids, collections, texts = (list(column) for column in zip(*rows, strict=True))
    n = len(rows)
    return pa.table(
        {
            "doc_id": doc_ids,
            "collection": collections,
            "signature": near_duplicates.signatures(pa.array(texts)).cast(pa.list_(pa.uint32())),
            "run_id": [run_id] * n,
            "pipeline_fingerprint": [fingerprint] * n,
        },
        schema=SIGNATURES,
    )


def test_link_joins_the_committed_and_the_new_and_names_each_row_once():
    committed = signed([("b", "wire", STORY), ("c", "wire", OTHER)])
    new = signed([("a", "site", EDITED), ("b", "wire", STORY)])  # b reprocessed
    rows = links.link(committed, new, 0.5, "r2", "fp")
    assert rows.schema == NEAR_DUPLICATES
    assert rows.select(["doc_id", "representative_id", "collection", "run_id"]).to_pylist() == [
        {"doc_id": "a", "representative_id": "a", "collection": "site", "run_id": "r2"},
        {"doc_id": "b", "representative_id": "a", "collection": "wire", "run_id": "r2"},
    ]
    assert rows["similarity"][0].as_py() == 1.0 and 0.5 <= rows["similarity"][1].as_py() < 1.0
    assert links.duplicate_ids(rows).to_pylist() == ["b"]


def test_link_of_distinct_documents_is_empty():
    rows = links.link(signed([("a", "x", STORY)]), signed([("b", "x", OTHER)]), 0.5, "r", "fp")
    assert rows.num_rows == 0 and rows.schema == NEAR_DUPLICATES
    assert links.duplicate_ids(rows).to_pylist() == []


def test_counts_cover_every_collection_of_the_new_documents():
    committed = signed([("b", "wire", STORY)])
    new = signed([("a", "site", STORY), ("c", "site", OTHER), ("d", "blog", OTHER + " More.")])
    rows = links.link(committed, new, 0.5, "r", "fp")
    assert links.counts(rows, new) == {
        "blog": {"documents": 1, "in_clusters": 1, "near_duplicates": 1},
        "site": {"documents": 2, "in_clusters": 2, "near_duplicates": 0},
    }


def test_committed_signatures_are_those_of_completed_runs_and_one_fingerprint(tmp_path):
    output = Output.open(tmp_path / "out")
    for run_id, fingerprint, status in (
        ("r1", "fp", "completed"),
        ("r2", "other", "completed"),
        ("r3", "fp", "failed"),
    ):
        staging = Staging(output, run_id, fingerprint)
        staging.start({"run_id": run_id})
        staging.stage("signatures", signed([(run_id, "c", STORY)], run_id, fingerprint), "b0")
        staging.finalize("signatures", ["doc_id"])
        staging.commit(runs_row(run_id, status))
    assert links.committed_signatures(output, "fp")["doc_id"].to_pylist() == ["r1"]


def test_staged_signatures_without_files_is_empty():
    assert links.staged_signatures([]).num_rows == 0


@pytest.mark.parametrize("threshold", [0.3, 0.9])
def test_the_threshold_decides_which_edits_link(threshold):
    rows = links.link(
        signed([("a", "x", STORY)]), signed([("b", "x", EDITED)]), threshold, "r", "fp"
    )
    assert (rows.num_rows == 2) is (threshold == 0.3)
