"""The output folder: opening it, and what readers see (rows of completed runs only)."""

from __future__ import annotations

import pytest

from proseflow.tasks.errors import OutputError
from proseflow.tasks.schema import REJECTS
from proseflow.tasks.store.commit import write_runs_row
from proseflow.tasks.store.committed import CommittedIndex
from proseflow.tasks.store.layout import COMMITTED_DATASETS
from proseflow.tasks.store.output import Output
from tests.store_runs import FP, commit_killed_after, commit_run, doc_ids, run_ids, runs_row


def test_open_without_runs_is_a_clear_error(tmp_path):
    with pytest.raises(OutputError, match="holds no proseflow runs"):
        Output.open(tmp_path, create=False)


def test_empty_dataset_reads_as_typed_empty_table(tmp_path):
    table = Output.open(tmp_path / "o").read("rejects")
    assert table.num_rows == 0 and table.schema.names == REJECTS.names


def test_files_of_a_run_without_a_completed_runs_row_are_never_read(tmp_path, monkeypatch):
    output = Output.open(tmp_path / "out")
    commit_run(output, "r1", doc_ids(1, 2))
    commit_killed_after(output, "r2", doc_ids(3, 4), monkeypatch, publishes=5)  # all but runs/
    assert output.found("documents") != output.files("documents")
    for dataset in COMMITTED_DATASETS:
        assert run_ids(output.read(dataset)) == {"r1"}, dataset
    write_runs_row(output, runs_row("r2", status="failed"))
    assert run_ids(output.read("documents")) == {"r1"}
    assert CommittedIndex.load(output, FP).documents.keys() == set(doc_ids(1, 2))
