"""Outputs on S3, against a real S3 server on loopback (moto): runs, reruns, kills and verify.

Skipped where `moto[server]` or `s3fs` is not installed (`pip install 'moto[server]' s3fs`).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from proseflow.flows.runtime import run_flow
from proseflow.flows.verify import verify
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.store.commit import recover
from proseflow.tasks.store.layout import COMMITTED_DATASETS, CONTROL_DIR, runs_file
from proseflow.tasks.store.output import Output
from tests.conftest import REPO, SEEDS

pytestmark = pytest.mark.usefixtures("prefect_harness")

BUCKET = "proseflow-test"
DATASETS = COMMITTED_DATASETS
# One process (the commit and its uploads happen here) and small batches: many files per dataset.
CONFIG = PipelineConfig(workers=1, batch_size=4)
CLI_OPTIONS = ["--workers", "1", "--batch-size", "4"]
# `proseflow run` that dies by SIGKILL when it starts its upload number KILL_AT (0: the first).
KILLED_RUN = """
import os, signal, sys
import s3fs
kill_at = int(os.environ["KILL_AT"])
uploads = []
real = s3fs.S3FileSystem._put_file
async def _put_file(self, lpath, rpath, *args, **kwargs):
    if len(uploads) == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    uploads.append(rpath)
    return await real(self, lpath, rpath, *args, **kwargs)
s3fs.S3FileSystem._put_file = _put_file
from proseflow.flows.cli import main
sys.exit(main(sys.argv[1:]))
"""


def moto_server() -> str | None:
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("s3fs") is None:
        return None
    beside = Path(sys.executable).parent / "moto_server"
    return str(beside) if beside.exists() else shutil.which("moto_server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(server: subprocess.Popen, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"moto_server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"moto_server did not answer on {url} within {timeout} s")


@dataclass
class S3:
    endpoint: str
    fs: object  # the s3fs filesystem proseflow uses in this process

    def url(self, name: str) -> str:
        return f"s3://{BUCKET}/{name}"

    def keys(self, name: str) -> list[str]:
        self.fs.invalidate_cache()
        return self.fs.find(f"{BUCKET}/{name}")


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on a free loopback port, with a bucket, and the AWS variables set."""
    command = moto_server()
    if command is None:
        pytest.skip("moto[server] and s3fs are not installed: pip install 'moto[server]' s3fs")
    import s3fs

    port = free_port()
    server = subprocess.Popen(
        [command, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for(server, endpoint)
        with pytest.MonkeyPatch.context() as env:
            env.setenv("AWS_ENDPOINT_URL", endpoint)
            env.setenv("AWS_ACCESS_KEY_ID", "testing")
            env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            env.setenv("AWS_DEFAULT_REGION", "us-east-1")
            for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
                env.delenv(name, raising=False)
            s3fs.S3FileSystem.clear_instance_cache()  # none may keep another endpoint
            fs = s3fs.S3FileSystem()
            fs.mkdir(BUCKET)
            yield S3(endpoint, fs)
            s3fs.S3FileSystem.clear_instance_cache()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    """A fresh local state folder (lock and staging of remote outputs), as on a new machine."""
    folder = tmp_path / "state"
    monkeypatch.setenv("PROSEFLOW_STATE", str(folder))
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Fourteen articles in two collections, a duplicate and an empty file."""
    folder = tmp_path_factory.mktemp("s3-corpus")
    seed = (SEEDS / "000_b1d7bf9a9c0969a7.txt").read_text()
    for i in range(14):
        sub = folder / f"c{i % 2}"
        sub.mkdir(exist_ok=True)
        (sub / f"{i:03d}.txt").write_text(f"Story {i}.\n\n{seed[: 1500 + 89 * i]}\n")
    shutil.copy(folder / "c0" / "000.txt", folder / "c1" / "zz-copy.txt")
    (folder / "c0" / "empty.txt").write_text("")
    return folder


@pytest.fixture(scope="module")
def undisturbed(s3, corpus, tmp_path_factory) -> tuple[Output, dict]:
    """One run of the corpus to S3 that nothing disturbed: what every other run must equal."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PROSEFLOW_STATE", str(tmp_path_factory.mktemp("undisturbed-state")))
        summary = run_flow([str(corpus)], s3.url("undisturbed"), CONFIG)
    return Output.open(s3.url("undisturbed"), create=False), summary


def comparable(output: Output, dataset: str) -> list[dict]:
    """A dataset's committed rows without the run fields, in a stable order."""
    table = output.read(dataset)
    drop = [c for c in ("run_id", "processed_at", "first_seen_at") if c in table.column_names]
    table = table.drop_columns(drop)
    keys = ("doc_id", "source_uri", "unique_only", "collection", "metric", "rank", "term")
    return table.sort_by([(k, "ascending") for k in keys if k in table.column_names]).to_pylist()


def assert_same_data(output: Output, expected: Output) -> None:
    for dataset in DATASETS:
        assert comparable(output, dataset) == comparable(expected, dataset), dataset


def test_a_run_to_s3_commits_and_a_rerun_skips_everything(s3, corpus, undisturbed, state):
    expected, first = undisturbed
    assert (first["n_documents"], first["n_rejects"], first["n_inputs"]) == (14, 2, 16)
    keys = s3.keys("undisturbed")
    assert any("/documents/run-" in k for k in keys) and any("/raw/run-" in k for k in keys)
    assert not [k for k in keys if CONTROL_DIR in k]  # the journal is gone once committed
    again = run_flow([str(corpus)], s3.url("undisturbed"), CONFIG)  # another machine, even
    assert (again["n_documents"], again["n_rejects"], again["n_skipped"]) == (0, 0, 16)
    output = Output.open(s3.url("undisturbed"), create=False)
    assert [r["status"] for r in output.read("runs").to_pylist()] == ["completed", "completed"]
    assert output.read("documents").num_rows == 14


def test_verify_recomputes_every_value_stored_on_s3(undisturbed):
    output, _ = undisturbed
    report = verify(output, PipelineConfig())
    assert report["identical"] and report["n_compared"] == 14


def test_rows_of_a_run_without_its_runs_row_are_invisible(s3, undisturbed):
    output, summary = undisturbed
    row = output.path("runs", runs_file(summary["run_id"]))
    aside = output.path("aside.parquet")
    s3.fs.mv(row, aside)
    try:
        hidden = Output.open(s3.url("undisturbed"))
        assert summary["run_id"] not in set(hidden.read("documents")["run_id"].to_pylist())
        assert hidden.found("documents")  # the files are there, unread
    finally:
        s3.fs.mv(aside, row)


def proseflow_killed_at(upload: int, corpus: Path, url: str, state: Path) -> None:
    """Run `proseflow run` in a subprocess that dies by SIGKILL at its upload number `upload`."""
    from prefect.settings import PREFECT_API_URL

    env = dict(
        os.environ,
        KILL_AT=str(upload),
        PROSEFLOW_STATE=str(state),
        PREFECT_API_URL=PREFECT_API_URL.value(),  # the session's test server: a fast start
    )
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, "run", str(corpus), "--output", url, *CLI_OPTIONS],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -9, f"the run was not killed: {proc.returncode} {proc.stderr[-800:]}"


def published_files(output: Output) -> int:
    return sum(len(output.found(dataset)) for dataset in DATASETS)


@pytest.mark.parametrize("where", ["first upload", "raw half uploaded", "before the runs row"])
def test_a_run_killed_in_its_commit_is_settled_by_a_rerun_on_a_fresh_machine(
    s3, corpus, undisturbed, tmp_path, monkeypatch, where
):
    expected, _ = undisturbed
    n_files = published_files(expected)
    # a commit uploads the dataset files, then the run's report page, then its runs row
    upload = {"first upload": 0, "raw half uploaded": 3, "before the runs row": n_files + 1}[where]
    url = s3.url(f"killed-{upload}")
    proseflow_killed_at(upload, corpus, url, tmp_path / "killed-machine")

    monkeypatch.setenv("PROSEFLOW_STATE", str(tmp_path / "fresh-machine"))
    seen = Output.open(url)
    assert len(seen.journaled_runs()) == 1  # the journal is in the output itself
    assert published_files(seen) == min(upload, n_files)  # what arrived before the kill ...
    for dataset in DATASETS:
        assert seen.read(dataset).num_rows == 0, dataset  # ... is invisible

    rerun = run_flow([str(corpus)], url, CONFIG)
    action = "committed" if upload > n_files else "removed"
    assert [r["action"] for r in rerun["recovered"]] == [action]
    output = Output.open(url, create=False)
    assert_same_data(output, expected)
    statuses = sorted(r["status"] for r in output.read("runs").to_pylist())
    assert statuses == (["completed"] * 2 if action == "committed" else ["completed", "failed"])
    assert not [k for k in s3.keys(f"killed-{upload}") if CONTROL_DIR in k]
    assert published_files(output) == n_files

    # The killed machine comes back: its staging is discarded, the data stays as it is.
    monkeypatch.setenv("PROSEFLOW_STATE", str(tmp_path / "killed-machine"))
    back = Output.open(url)
    assert [r["action"] for r in recover(back)] == [action]
    assert_same_data(back, expected)
    assert published_files(back) == n_files
