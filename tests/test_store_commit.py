"""Staging and commit: staged rows invisible until the commit, finalize, journals and recovery."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from proseflow.tasks.store import commit
from proseflow.tasks.store.commit import JOURNAL, LOST_COMMIT, Staging, recover
from proseflow.tasks.store.files import write_parquet
from proseflow.tasks.store.layout import COMMITS, COMMITTED_DATASETS, CONTROL_DIR
from proseflow.tasks.store.output import Output
from tests.store_runs import (
    FP,
    Killed,
    commit_killed_after,
    commit_run,
    doc_ids,
    kill_after,
    rejects_table,
    rows,
    runs_row,
    stage_run,
)


def test_staged_rows_are_invisible_until_commit(tmp_path):
    output = Output.open(tmp_path / "out")
    staging = Staging(output, "r1", "f" * 16)
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
    output = Output.open(tmp_path / "out")
    staging = Staging(output, "r1", "f" * 16)
    staging.start({"run_id": "r1"})
    staging.stage("rejects", rejects_table(["a"]), "k1")
    staging.finalize("rejects", ["source_uri"])
    write_parquet(staging.root / "final" / "runs.parquet", runs_row("r1"), "runs", "r1", "f")
    (staging.root / JOURNAL).write_text("r1")  # killed right after writing the journal
    handled = recover(output)
    assert handled == [{"run_id": "r1", "action": "committed"}]
    assert output.read("rejects").num_rows == 1
    assert output.read("runs")["status"].to_pylist() == ["completed"]


def test_recover_removes_an_unjournaled_run_and_records_it_failed(tmp_path):
    output = Output.open(tmp_path / "out")
    staging = Staging(output, "r2", "f" * 16)
    info = {
        k: v for k, v in runs_row("r2").to_pylist()[0].items() if k not in ("status", "finished_at")
    }
    info["started_at"] = info["started_at"].isoformat()
    staging.start(info)
    staging.stage("rejects", rejects_table(["a"]), "k1")
    assert recover(output) == [{"run_id": "r2", "action": "removed"}]
    assert output.read("rejects").num_rows == 0
    runs = output.read("runs").to_pylist()
    assert [(r["run_id"], r["status"]) for r in runs] == [("r2", "failed")]
    assert "interrupted" in runs[0]["error"]


# ---------------------------------------------------------------- staging layout


def test_finalize_deletes_parts_as_it_goes_and_a_retry_writes_the_same_files(tmp_path, monkeypatch):
    output = Output.open(tmp_path / "out")
    ids = doc_ids(*range(40))
    expected = stage_run(output, "r0", ids)
    reference = [pq.read_table(f) for f in expected.final_files("documents")]

    staging = Staging(output, "r1", FP)
    for key, chunk in (("b0", ids[:25]), ("b1", ids[25:])):
        staging.stage("documents", rows("documents", chunk, "r0"), key)
    parts = staging.root / "parts" / "documents"
    with monkeypatch.context() as patch:
        kill_after(patch, commit, "write_parquet", 5)
        with pytest.raises(Killed):
            staging.finalize("documents", ["doc_id"])
    assert len([p for p in parts.iterdir() if p.is_dir()]) == 16 - 5  # written buckets are gone
    assert staging.finalize("documents", ["doc_id"]) == 40
    assert not parts.exists()
    names = [Path(f).name for f in staging.final_files("documents")]
    assert names == [f"part-{i:05d}.parquet" for i in range(16)]
    again = [pq.read_table(f) for f in staging.final_files("documents")]
    assert [t.drop_columns(["processed_at"]) for t in again] == [
        t.drop_columns(["processed_at"]) for t in reference
    ]
    assert staging.finalize("documents", ["doc_id"]) == 40  # a third try changes nothing


# ---------------------------------------------------------------- journals


def test_a_commit_writes_its_journal_into_the_output_before_the_first_file(tmp_path, monkeypatch):
    output = Output.open(tmp_path / "out")
    commit_killed_after(output, "r1", doc_ids(1, 2, 3), monkeypatch, publishes=0)
    journal = json.loads(Path(output.journal("r1")).read_text())
    assert journal["runs_row"]["status"] == "completed"
    assert set(journal["files"]) == {
        f"{d}/run-r1/{Path(f).name}"
        for d in COMMITTED_DATASETS
        for f in Staging(output, "r1", FP).final_files(d)
    }
    assert recover(output) == [{"run_id": "r1", "action": "committed"}]
    assert output.journaled_runs() == []
    assert sorted(output.read("documents")["doc_id"].to_pylist()) == sorted(doc_ids(1, 2, 3))


# ---------------------------------------------------------------- recovery from the output alone


def test_a_lost_staging_whose_files_all_arrived_is_completed_from_the_journal(
    tmp_path, monkeypatch
):
    output = Output.open(tmp_path / "out")
    every = len(COMMITTED_DATASETS)
    staging = commit_killed_after(output, "r1", doc_ids(1, 2, 3), monkeypatch, publishes=every)
    shutil.rmtree(staging.root)  # the state folder is lost
    assert output.read("documents").num_rows == 0
    assert recover(output) == [{"run_id": "r1", "action": "committed"}]
    runs = output.read("runs").to_pylist()
    assert [(r["run_id"], r["status"], r["n_documents"]) for r in runs] == [("r1", "completed", 0)]
    assert output.read("documents").num_rows == 3
    assert output.journaled_runs() == []


def test_a_lost_staging_with_files_missing_is_removed_and_recorded_failed(tmp_path, monkeypatch):
    output = Output.open(tmp_path / "out")
    commit_run(output, "r0", doc_ids(7))
    staging = commit_killed_after(output, "r1", doc_ids(1, 2, 3), monkeypatch, publishes=2)
    shutil.rmtree(staging.root)
    assert output.found("raw") != output.files("raw")  # raw and rejects of r1 arrived
    assert recover(output) == [{"run_id": "r1", "action": "removed"}]
    for dataset in COMMITTED_DATASETS:
        assert not output.exists(dataset, "run-r1"), dataset
        assert output.found(dataset) == output.files(dataset)
    runs = {r["run_id"]: r for r in output.read("runs").to_pylist()}
    assert runs["r1"]["status"] == "failed" and runs["r1"]["error"] == LOST_COMMIT
    assert output.journaled_runs() == []


def test_a_journal_of_a_live_process_on_this_machine_is_left_alone(tmp_path, monkeypatch):
    output = Output.open(tmp_path / "out")
    staging = commit_killed_after(output, "r1", doc_ids(1), monkeypatch, publishes=1)
    shutil.rmtree(staging.root)
    journal = json.loads(Path(output.journal("r1")).read_text())
    output.write_journal("r1", dict(journal, pid=os.getppid()))  # alive, and not this process
    assert recover(output) == []
    assert output.journaled_runs() == ["r1"]


def test_roll_forward_uploads_a_half_uploaded_folder_again_whole(tmp_path, monkeypatch):
    import fsspec

    monkeypatch.setenv("PROSEFLOW_STATE", str(tmp_path / "state"))
    url = f"memory://proseflow-store/{tmp_path.name}/out"
    output = Output.open(url)
    staging = stage_run(output, "r1", doc_ids(*range(40)))
    fs = fsspec.filesystem("memory")
    with monkeypatch.context() as patch:
        kill_after(patch, type(fs), "put_file", 12)  # raw (16 files) is half uploaded
        with pytest.raises(Killed):
            staging.commit(runs_row("r1"))
    assert output.exists(CONTROL_DIR, COMMITS, "r1.json")
    assert output.read("raw").num_rows == 0
    sizes = json.loads(fs.cat_file(output.journal("r1")))["files"]
    assert recover(output) == [{"run_id": "r1", "action": "committed"}]
    assert output.holds(sizes)
    assert output.read("raw").num_rows == 40 and output.read("documents").num_rows == 40
    assert not [f for f in fs.find(url) if CONTROL_DIR in f]
