"""The output folder: atomic files, one commit per run, recovery, lock and committed index."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks import store
from tasks.errors import OutputError, OutputLockedError
from tasks.schema import REJECTS, RUNS, SCHEMA_VERSION


def rejects_table(uris: list[str], fingerprint: str = "f" * 16) -> pa.Table:
    n = len(uris)
    return pa.table(
        {
            "source_uri": uris,
            "collection": [""] * n,
            "doc_id": [f"{i:064x}" for i in range(n)],
            "reason": ["empty"] * n,
            "detail": ["no text"] * n,
            "n_bytes": [0] * n,
            "run_id": ["r1"] * n,
            "pipeline_fingerprint": [fingerprint] * n,
        }
    )


def runs_row(run_id: str, status: str = "completed") -> pa.Table:
    now = store.utc_now()
    row = {name: 0 for name in RUNS.names if name.startswith("n_")}
    row.update(
        run_id=run_id,
        flow_run_name="n",
        started_at=now,
        finished_at=now,
        status=status,
        source="[]",
        parameters="{}",
        pipeline_version="0",
        pipeline_fingerprint="f" * 16,
        schema_version=SCHEMA_VERSION,
        versions="{}",
        clean_ops="{}",
        stage_seconds="{}",
        error=None,
    )
    return pa.Table.from_pylist([row], schema=RUNS)


def test_write_parquet_keeps_schema_and_run_metadata(tmp_path):
    path = store.write_parquet(tmp_path / "a.parquet", rejects_table(["x"]), "rejects", "r1", "fp")
    schema = pq.read_schema(path)
    assert schema.metadata[b"proseflow.run_id"] == b"r1"
    assert schema.metadata[b"proseflow.pipeline_fingerprint"] == b"fp"
    assert schema.metadata[b"proseflow.schema_version"] == SCHEMA_VERSION.encode()
    assert schema.field("reason").metadata[b"description"].startswith(b"Stable reason code")
    assert not list(tmp_path.glob(".*.tmp"))


def test_conform_names_missing_columns():
    with pytest.raises(OutputError, match="lacks columns"):
        store.conform(pa.table({"source_uri": ["x"]}), "rejects")


def test_staged_rows_are_invisible_until_commit(tmp_path):
    output = store.Output.open(tmp_path / "out")
    staging = store.Staging(output, "r1", "f" * 16)
    staging.start({"run_id": "r1"})
    staging.stage("rejects", rejects_table(["b", "a"]), "k1")
    staging.finalize("rejects", ["source_uri"])
    assert output.read("rejects").num_rows == 0
    assert output.files("rejects") == []
    staging.commit(runs_row("r1"))
    committed = output.read("rejects")
    assert committed["source_uri"].to_pylist() == ["a", "b"]  # finalize orders rows
    assert output.read("runs")["run_id"].to_pylist() == ["r1"]
    assert not staging.root.exists()


def test_recover_rolls_a_journaled_commit_forward(tmp_path):
    output = store.Output.open(tmp_path / "out")
    staging = store.Staging(output, "r1", "f" * 16)
    staging.start({"run_id": "r1"})
    staging.stage("rejects", rejects_table(["a"]), "k1")
    staging.finalize("rejects", ["source_uri"])
    store.write_parquet(staging.root / "final" / "runs.parquet", runs_row("r1"), "runs", "r1", "f")
    (staging.root / store.JOURNAL).write_text("r1")  # killed right after writing the journal
    handled = store.recover(output)
    assert handled == [{"run_id": "r1", "action": "committed"}]
    assert output.read("rejects").num_rows == 1
    assert output.read("runs")["status"].to_pylist() == ["completed"]


def test_recover_removes_an_unjournaled_run_and_records_it_failed(tmp_path):
    output = store.Output.open(tmp_path / "out")
    staging = store.Staging(output, "r2", "f" * 16)
    info = {
        k: v for k, v in runs_row("r2").to_pylist()[0].items() if k not in ("status", "finished_at")
    }
    info["started_at"] = info["started_at"].isoformat()
    staging.start(info)
    staging.stage("rejects", rejects_table(["a"]), "k1")
    assert store.recover(output) == [{"run_id": "r2", "action": "removed"}]
    assert output.read("rejects").num_rows == 0
    runs = output.read("runs").to_pylist()
    assert [(r["run_id"], r["status"]) for r in runs] == [("r2", "failed")]
    assert "interrupted" in runs[0]["error"]


def test_lock_is_exclusive_and_names_the_holder(tmp_path):
    output = store.Output.open(tmp_path / "out")
    with store.locked(output, "first-run"), pytest.raises(OutputLockedError, match="first-run"):
        store.RunLock(output.control / "lock").acquire("second-run")
    with store.locked(output, "third-run"):  # released after the block
        pass


def test_lock_of_a_killed_process_is_released(tmp_path):
    output = store.Output.open(tmp_path / "out")
    script = textwrap.dedent(
        f"""
        import os, signal
        from tasks import store
        output = store.Output.open({str(output.root)!r})
        store.RunLock(output.control / "lock").acquire("doomed")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9
    with store.locked(output, "after"):
        pass


def test_committed_index_reads_only_the_current_fingerprint(tmp_path):
    output = store.Output.open(tmp_path / "out")
    for run, fingerprint in (("r1", "a" * 16), ("r2", "b" * 16)):
        staging = store.Staging(output, run, fingerprint)
        staging.start({"run_id": run})
        staging.stage("rejects", rejects_table([f"{run}.txt"], fingerprint), "k")
        staging.finalize("rejects", ["source_uri"])
        staging.commit(runs_row(run))
    index = store.CommittedIndex.load(output, "b" * 16)
    assert {uri for _, uri in index.rejected} == {"r2.txt"}
    assert index.documents == {}


def test_open_without_runs_is_a_clear_error(tmp_path):
    with pytest.raises(OutputError, match="holds no proseflow runs"):
        store.Output.open(tmp_path, create=False)


def test_empty_dataset_reads_as_typed_empty_table(tmp_path):
    table = store.Output.open(tmp_path / "o").read("rejects")
    assert table.num_rows == 0 and table.schema.names == REJECTS.names
