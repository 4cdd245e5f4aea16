"""Faults never change the final data: every retried task fails once after its side effects."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from proseflow.flows import flow, prefect_tasks
from proseflow.flows.runtime import run_flow
from proseflow.tasks import catalog
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.errors import SourceError
from proseflow.tasks.store.layout import COMMITTED_DATASETS
from proseflow.tasks.store.output import Output
from tests.conftest import SEEDS
from tests.helpers import comparable

pytestmark = pytest.mark.usefixtures("prefect_harness")

DATASETS = COMMITTED_DATASETS
COUNTS = ("n_inputs", "n_documents", "n_rejects", "n_skipped", "n_ignored")
# One process, small batches: the patched functions run here, and the corpus spans many batches.
CONFIG = PipelineConfig(workers=1, batch_size=4)


def make_corpus(folder: Path) -> Path:
    """Articles in two collections with a shared footer, duplicates across batches, bad inputs."""
    seed = (SEEDS / "000_b1d7bf9a9c0969a7.txt").read_text()
    for i in range(14):
        sub = folder / f"c{i % 2}"
        sub.mkdir(parents=True, exist_ok=True)
        body = f"Story {i}.\n\n{seed[: 2000 + 97 * i]}\n\nShare this story with friends\n"
        (sub / f"{i:03d}.txt").write_text(body)
    shutil.copy(folder / "c0" / "000.txt", folder / "c1" / "zz-copy.txt")  # a later batch
    (folder / "c0" / "empty.txt").write_text("")
    (folder / "c1" / "binary.txt").write_bytes(bytes(range(256)) * 8)
    return folder


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("undisturbed")
    source = make_corpus(root / "in")
    output = root / "out"
    summary = run_flow([str(source)], str(output), CONFIG)
    return source, output, summary


def assert_same_run(output: Path, summary: dict, undisturbed) -> None:
    _, expected_output, expected = undisturbed
    for dataset in DATASETS:
        assert comparable(output, dataset) == comparable(expected_output, dataset), dataset
    assert {k: summary[k] for k in COUNTS} == {k: expected[k] for k in COUNTS}
    runs = pq.read_table(output / "runs").to_pylist()
    assert [r["status"] for r in runs] == ["completed"]
    assert {k: runs[0][k] for k in COUNTS} == {k: expected[k] for k in COUNTS}
    assert (
        summary["n_inputs"] == summary["n_documents"] + summary["n_rejects"] + summary["n_skipped"]
    )


def fail_once_after(monkeypatch, owner, name: str, error: Exception) -> list:
    """Make owner.name do its work, then raise `error` the first time it is called."""
    real = getattr(owner, name)
    calls: list = []

    def flaky(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append(name)
        if len(calls) == 1:
            raise error
        return result

    monkeypatch.setattr(owner, name, flaky)
    return calls


def test_the_undisturbed_run_has_documents_duplicates_and_rejects(undisturbed):
    _, output, summary = undisturbed
    reasons = sorted(r["reason"] for r in pq.read_table(output / "rejects").to_pylist())
    assert reasons == ["binary", "duplicate", "empty"]
    assert summary["n_documents"] == 14 and summary["n_inputs"] == 17
    texts = pq.read_table(output / "documents", columns=["text"])["text"].to_pylist()
    assert not any("Share this story" in t for t in texts)  # the repeated footer is boilerplate


def test_discover_retried_after_listing(monkeypatch, tmp_path, undisturbed):
    source = undisturbed[0]
    calls = fail_once_after(monkeypatch, prefect_tasks.ingest_stage, "discover", OSError("listing"))
    summary = run_flow([str(source)], str(tmp_path / "out"), CONFIG)
    assert len(calls) == 2
    assert_same_run(tmp_path / "out", summary, undisturbed)


def test_a_usage_error_in_a_task_is_not_retried(monkeypatch, tmp_path):
    calls = []

    def refuse(sources, config):
        calls.append(sources)
        raise SourceError("SOURCE 'x' matches no input")

    monkeypatch.setattr(prefect_tasks.ingest_stage, "discover", refuse)
    with pytest.raises(SourceError):
        run_flow([str(tmp_path)], str(tmp_path / "out"), CONFIG)
    assert len(calls) == 1


def test_read_retried_after_writing_its_work_file(monkeypatch, tmp_path, undisturbed):
    source = undisturbed[0]
    error = OSError(errno.EIO, "Input/output error")
    calls = fail_once_after(monkeypatch, prefect_tasks, "park", error)
    summary = run_flow([str(source)], str(tmp_path / "out"), CONFIG)
    assert len(calls) > 2  # one batch ran twice
    assert_same_run(tmp_path / "out", summary, undisturbed)


def test_process_retried_after_staging_its_documents(monkeypatch, tmp_path, undisturbed):
    source = undisturbed[0]
    calls = fail_once_after(monkeypatch, prefect_tasks, "stage_documents", OSError("flaky disk"))
    summary = run_flow([str(source)], str(tmp_path / "out"), CONFIG)
    assert len(calls) > 2
    assert_same_run(tmp_path / "out", summary, undisturbed)


def test_commit_retried_after_writing_final_files(monkeypatch, tmp_path, undisturbed):
    source = undisturbed[0]
    calls = fail_once_after(monkeypatch, flow.stats_stage, "top_terms", OSError("flaky"))
    summary = run_flow([str(source)], str(tmp_path / "out"), CONFIG)
    assert len(calls) == 2
    assert_same_run(tmp_path / "out", summary, undisturbed)


def test_a_publish_that_fails_after_the_journal_still_completes(monkeypatch, tmp_path, undisturbed):
    source = undisturbed[0]
    calls = fail_once_after(monkeypatch, Output, "publish", OSError("network blip"))
    summary = run_flow([str(source)], str(tmp_path / "out"), CONFIG)
    assert len(calls) > 2
    assert_same_run(tmp_path / "out", summary, undisturbed)


def test_a_catalog_that_cannot_be_refreshed_leaves_the_run_completed(
    monkeypatch, tmp_path, undisturbed
):
    source = undisturbed[0]

    def broken(output):
        raise OSError("catalog locked by a reader")

    monkeypatch.setattr(catalog, "refresh", broken)
    summary = run_flow([str(source)], str(tmp_path / "out"), CONFIG)
    assert_same_run(tmp_path / "out", summary, undisturbed)


def test_batch_size_and_workers_never_change_the_data(tmp_path, undisturbed):
    source = undisturbed[0]
    config = PipelineConfig(workers=2, batch_size=5, runner="process")
    summary = run_flow([str(source)], str(tmp_path / "out"), config)
    assert_same_run(tmp_path / "out", summary, undisturbed)
