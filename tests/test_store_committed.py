"""What is already committed: the index of the current fingerprint's rows."""

from __future__ import annotations

from proseflow.tasks.store.commit import Staging
from proseflow.tasks.store.committed import CommittedIndex
from proseflow.tasks.store.output import Output
from tests.store_runs import rejects_table, runs_row


def test_committed_index_reads_only_the_current_fingerprint(tmp_path):
    output = Output.open(tmp_path / "out")
    for run, fingerprint in (("r1", "a" * 16), ("r2", "b" * 16)):
        staging = Staging(output, run, fingerprint)
        staging.start({"run_id": run})
        staging.stage("rejects", rejects_table([f"{run}.txt"], fingerprint), "k")
        staging.finalize("rejects", ["source_uri"])
        staging.commit(runs_row(run))
    index = CommittedIndex.load(output, "b" * 16)
    assert {uri for _, uri in index.rejected} == {"r2.txt"}
    assert index.documents == {}
