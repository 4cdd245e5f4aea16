"""Near-duplicate links at a run's commit: its new signatures against every committed one.

Each run that adds documents clusters the signatures of every document committed under its
fingerprint together with its own, and stages the result as its `near_duplicates/` rows: the links
as they stand once the run is committed. The clusters are a function of the set of signatures
alone (see `tasks.near_duplicates.clusters`), so one run over A+B links exactly as a run over A and
then a run over B. A run without new documents links nothing and writes no rows: the last run's
links still hold.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from proseflow.tasks import near_duplicates
from proseflow.tasks.schema import NEAR_DUPLICATES, SIGNATURES
from proseflow.tasks.store.files import read_files
from proseflow.tasks.store.output import Output

COLUMNS = ["doc_id", "collection", "signature"]


def committed_signatures(output: Output, fingerprint: str) -> pa.Table:
    """The signatures committed under FINGERPRINT, by completed runs."""
    same = ds.field("pipeline_fingerprint") == fingerprint
    return output.read("signatures", COLUMNS, filter=same)


def staged_signatures(files: list[str]) -> pa.Table:
    """The signatures of a run's finalized signature files."""
    return read_files(files, SIGNATURES, COLUMNS)


def link(
    committed: pa.Table, new: pa.Table, threshold: float, run_id: str, fingerprint: str
) -> pa.Table:
    """NEAR_DUPLICATES rows over the committed and the new signatures, ordered by doc_id."""
    signatures = pa.concat_tables([committed.select(COLUMNS), new.select(COLUMNS)])
    clusters = near_duplicates.clusters(signatures["doc_id"], signatures["signature"], threshold)
    collections = (
        signatures.select(["doc_id", "collection"])
        .group_by("doc_id")
        .aggregate([("collection", "min")])
        .rename_columns(["doc_id", "collection"])
    )
    rows = clusters.join(collections, "doc_id", join_type="left outer").sort_by("doc_id")
    n = rows.num_rows
    rows = rows.append_column("run_id", pa.array([run_id] * n, pa.string()))
    rows = rows.append_column("pipeline_fingerprint", pa.array([fingerprint] * n, pa.string()))
    return rows.select(NEAR_DUPLICATES.names).cast(NEAR_DUPLICATES)


def duplicate_ids(links: pa.Table) -> pa.Array:
    """doc_ids that are near-duplicates of another document (every member but representatives)."""
    others = links.filter(pc.not_equal(links["doc_id"], links["representative_id"]))
    return others["doc_id"].combine_chunks()


def counts(links: pa.Table, documents: pa.Table) -> dict[str, dict[str, int]]:
    """Per collection of DOCUMENTS (doc_id, collection): how many, how many are in a cluster, and
    how many are near-duplicates of another document."""
    representative = dict(
        zip(links["doc_id"].to_pylist(), links["representative_id"].to_pylist(), strict=True)
    )
    result: dict[str, dict[str, int]] = {}
    for doc_id, collection in zip(
        documents["doc_id"].to_pylist(), documents["collection"].to_pylist(), strict=True
    ):
        entry = result.setdefault(
            collection, {"documents": 0, "in_clusters": 0, "near_duplicates": 0}
        )
        entry["documents"] += 1
        if doc_id in representative:
            entry["in_clusters"] += 1
            entry["near_duplicates"] += representative[doc_id] != doc_id
    return dict(sorted(result.items()))
