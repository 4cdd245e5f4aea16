"""The output folder: atomic files, one commit per run, recovery, lock and committed index."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks import store
from tasks.errors import DiskFullError, OutputError, OutputLockedError
from tasks.schema import DATASETS, REJECTS, RUNS, SCHEMA_VERSION

FP = "f" * 16


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


# ---------------------------------------------------------------- helpers: whole runs


def doc_ids(*seeds: int) -> list[str]:
    """doc_ids spread over several buckets (first hex digit)."""
    return [f"{seed % 16:x}{seed:063x}" for seed in seeds]


def rows(dataset: str, ids: list[str], run_id: str) -> pa.Table:
    """Rows of a dataset with every column filled: the doc_ids given, placeholders elsewhere."""
    schema = DATASETS[dataset]
    n = len(ids)
    given = {
        "doc_id": ids,
        "run_id": [run_id] * n,
        "pipeline_fingerprint": [FP] * n,
        "source_uri": [f"/in/{i[:12]}.txt" for i in ids],
    }

    def placeholder(type_: pa.DataType):
        if pa.types.is_string(type_):
            return "x"
        if pa.types.is_integer(type_) or pa.types.is_floating(type_):
            return 0
        if pa.types.is_date(type_):
            return dt.date(2020, 1, 1)
        if pa.types.is_timestamp(type_):
            return store.utc_now()
        if pa.types.is_binary(type_):
            return b"bytes"
        return []

    columns = {f.name: given.get(f.name, [placeholder(f.type)] * n) for f in schema}
    return pa.table(columns, schema=schema)


def stage_run(output: store.Output, run_id: str, ids: list[str]) -> store.Staging:
    """A run staged up to its commit: documents and raw in two batches, a reject, summaries."""
    staging = store.Staging(output, run_id, FP)
    info = {k: v for k, v in runs_row(run_id).to_pylist()[0].items() if k != "finished_at"}
    staging.start(dict(info, started_at=info["started_at"].isoformat()))
    half = len(ids) // 2
    for dataset in ("documents", "raw"):
        staging.stage(dataset, rows(dataset, ids[:half], run_id), "b0")
        staging.stage(dataset, rows(dataset, ids[half:], run_id), "b1")
        staging.finalize(dataset, ["doc_id"])
    staging.stage("rejects", rows("rejects", doc_ids(999), run_id), "triage")
    staging.finalize("rejects", ["source_uri", "reason"])
    staging.stage_final("corpus_stats", rows("corpus_stats", ["-"], run_id))
    staging.stage_final("terms", rows("terms", ["-"], run_id))
    return staging


def commit_run(output: store.Output, run_id: str, ids: list[str]) -> None:
    stage_run(output, run_id, ids).commit(runs_row(run_id))


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no handler cleans up."""


def kill_after(monkeypatch, owner, name: str, calls: int) -> None:
    """Let owner.name run `calls` times, then die on the next call."""
    real = getattr(owner, name)
    done: list = []

    def dying(*args, **kwargs):
        if len(done) == calls:
            raise Killed(name)
        done.append(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, dying)


def commit_killed_after(output, run_id, ids, monkeypatch, publishes: int) -> store.Staging:
    """Stage a run and die in its commit after `publishes` moves into the output."""
    staging = stage_run(output, run_id, ids)
    with monkeypatch.context() as patch:
        kill_after(patch, store.Output, "publish", publishes)
        with pytest.raises(Killed):
            staging.commit(runs_row(run_id))
    return staging


def run_ids(table: pa.Table) -> set[str]:
    return set(table["run_id"].to_pylist())


# ---------------------------------------------------------------- staging layout


def test_finalize_deletes_parts_as_it_goes_and_a_retry_writes_the_same_files(tmp_path, monkeypatch):
    output = store.Output.open(tmp_path / "out")
    ids = doc_ids(*range(40))
    expected = stage_run(output, "r0", ids)
    reference = [pq.read_table(f) for f in expected.final_files("documents")]

    staging = store.Staging(output, "r1", FP)
    for key, chunk in (("b0", ids[:25]), ("b1", ids[25:])):
        staging.stage("documents", rows("documents", chunk, "r0"), key)
    parts = staging.root / "parts" / "documents"
    with monkeypatch.context() as patch:
        kill_after(patch, store, "write_parquet", 5)
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


def test_staged_parts_carry_no_statistics(tmp_path):
    output = store.Output.open(tmp_path / "out")
    staging = store.Staging(output, "r1", FP)
    staging.stage("documents", rows("documents", doc_ids(1), "r1"), "b0")
    part = next((staging.root / "parts" / "documents").glob("*/*.parquet"))
    assert pq.ParquetFile(part).metadata.row_group(0).column(0).statistics is None


# ---------------------------------------------------------------- what readers see


def test_files_of_a_run_without_a_completed_runs_row_are_never_read(tmp_path, monkeypatch):
    output = store.Output.open(tmp_path / "out")
    commit_run(output, "r1", doc_ids(1, 2))
    commit_killed_after(output, "r2", doc_ids(3, 4), monkeypatch, publishes=5)  # all but runs/
    assert output.found("documents") != output.files("documents")
    for dataset in store.COMMITTED_DATASETS:
        assert run_ids(output.read(dataset)) == {"r1"}, dataset
    store.write_runs_row(output, runs_row("r2", status="failed"))
    assert run_ids(output.read("documents")) == {"r1"}
    assert store.CommittedIndex.load(output, FP).documents.keys() == set(doc_ids(1, 2))


def test_a_commit_writes_its_journal_into_the_output_before_the_first_file(tmp_path, monkeypatch):
    output = store.Output.open(tmp_path / "out")
    commit_killed_after(output, "r1", doc_ids(1, 2, 3), monkeypatch, publishes=0)
    journal = json.loads(Path(output.journal("r1")).read_text())
    assert journal["runs_row"]["status"] == "completed"
    assert set(journal["files"]) == {
        f"{d}/run-r1/{Path(f).name}"
        for d in store.COMMITTED_DATASETS
        for f in store.Staging(output, "r1", FP).final_files(d)
    }
    assert store.recover(output) == [{"run_id": "r1", "action": "committed"}]
    assert output.journaled_runs() == []
    assert sorted(output.read("documents")["doc_id"].to_pylist()) == sorted(doc_ids(1, 2, 3))


# ---------------------------------------------------------------- recovery from the output alone


def test_a_lost_staging_whose_files_all_arrived_is_completed_from_the_journal(
    tmp_path, monkeypatch
):
    output = store.Output.open(tmp_path / "out")
    staging = commit_killed_after(output, "r1", doc_ids(1, 2, 3), monkeypatch, publishes=5)
    shutil.rmtree(staging.root)  # the state folder is lost
    assert output.read("documents").num_rows == 0
    assert store.recover(output) == [{"run_id": "r1", "action": "committed"}]
    runs = output.read("runs").to_pylist()
    assert [(r["run_id"], r["status"], r["n_documents"]) for r in runs] == [("r1", "completed", 0)]
    assert output.read("documents").num_rows == 3
    assert output.journaled_runs() == []


def test_a_lost_staging_with_files_missing_is_removed_and_recorded_failed(tmp_path, monkeypatch):
    output = store.Output.open(tmp_path / "out")
    commit_run(output, "r0", doc_ids(7))
    staging = commit_killed_after(output, "r1", doc_ids(1, 2, 3), monkeypatch, publishes=2)
    shutil.rmtree(staging.root)
    assert output.found("raw") != output.files("raw")  # raw and rejects of r1 arrived
    assert store.recover(output) == [{"run_id": "r1", "action": "removed"}]
    for dataset in store.COMMITTED_DATASETS:
        assert not output.exists(dataset, "run-r1"), dataset
        assert output.found(dataset) == output.files(dataset)
    runs = {r["run_id"]: r for r in output.read("runs").to_pylist()}
    assert runs["r1"]["status"] == "failed" and runs["r1"]["error"] == store.LOST_COMMIT
    assert output.journaled_runs() == []


def test_a_journal_of_a_live_process_on_this_machine_is_left_alone(tmp_path, monkeypatch):
    output = store.Output.open(tmp_path / "out")
    staging = commit_killed_after(output, "r1", doc_ids(1), monkeypatch, publishes=1)
    shutil.rmtree(staging.root)
    journal = json.loads(Path(output.journal("r1")).read_text())
    output.write_journal("r1", dict(journal, pid=os.getppid()))  # alive, and not this process
    assert store.recover(output) == []
    assert output.journaled_runs() == ["r1"]


def test_roll_forward_uploads_a_half_uploaded_folder_again_whole(tmp_path, monkeypatch):
    import fsspec

    monkeypatch.setenv("PROSEFLOW_STATE", str(tmp_path / "state"))
    url = f"memory://proseflow-store/{tmp_path.name}/out"
    output = store.Output.open(url)
    staging = stage_run(output, "r1", doc_ids(*range(40)))
    fs = fsspec.filesystem("memory")
    with monkeypatch.context() as patch:
        kill_after(patch, type(fs), "put_file", 12)  # raw (16 files) is half uploaded
        with pytest.raises(Killed):
            staging.commit(runs_row("r1"))
    assert output.exists(store.CONTROL_DIR, store.COMMITS, "r1.json")
    assert output.read("raw").num_rows == 0
    sizes = json.loads(fs.cat_file(output.journal("r1")))["files"]
    assert store.recover(output) == [{"run_id": "r1", "action": "committed"}]
    assert output.holds(sizes)
    assert output.read("raw").num_rows == 40 and output.read("documents").num_rows == 40
    assert not [f for f in fs.find(url) if store.CONTROL_DIR in f]


# ---------------------------------------------------------------- a full disk


def test_a_full_disk_is_a_proseflow_error_naming_the_folder_and_the_space(tmp_path, monkeypatch):
    output = store.Output.open(tmp_path / "out")
    staging = store.Staging(output, "r1", FP)
    staging.stage("documents", rows("documents", doc_ids(1), "r1"), "b0")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.pq, "write_table", full)
    with pytest.raises(DiskFullError) as caught:
        staging.stage("documents", rows("documents", doc_ids(2), "r1"), "b1")
    error = caught.value
    message = str(error)
    assert str(staging.root) in message and "free of" in message and "cannot help" in message
    assert "staged files there take" in message and f"{store.RUN_SPACE}x" in message
    assert error.folder == str(staging.root) and error.free > 0
    assert error.retryable is False and error.exit_code == 1
    copy = pickle.loads(pickle.dumps(error))  # crosses worker processes whole
    assert (type(copy), str(copy), copy.folder) == (DiskFullError, message, error.folder)


def test_other_write_errors_stay_what_they_are(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(store.pq, "write_table", denied)
    with pytest.raises(PermissionError):
        store.write_parquet(tmp_path / "a.parquet", rejects_table(["x"]), "rejects", "r1", FP)


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (root only); skipped where it cannot be mounted."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_really_full_disk_stops_the_run_with_a_disk_full_error(small_disk):
    output = store.Output.open(small_disk / "out")
    staging = store.Staging(output, "r1", FP)
    staging.start({"run_id": "r1"})
    big = rows("raw", doc_ids(*range(64)), "r1")
    big = big.set_column(
        big.schema.get_field_index("content"),
        "content",
        pa.array([os.urandom(64 * 1024) for _ in range(64)], pa.binary()),
    )
    with pytest.raises(DiskFullError, match=str(staging.root)):
        for key in range(10):
            staging.stage("raw", big, f"b{key}")
