"""The DuckDB catalog: views over rows of completed runs only, wherever the output folder goes."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from proseflow.tasks import catalog
from proseflow.tasks.store.commit import write_runs_row
from proseflow.tasks.store.lock import locked
from proseflow.tasks.store.output import Output
from tests.store_runs import commit_killed_after, commit_run, doc_ids, runs_row

DATA_VIEWS = ("documents", "documents_all", "rejects", "raw", "corpus_stats", "terms")


def view_runs(output: Path | str) -> dict[str, set[str]]:
    """The run_ids each view shows, read through the catalog file of `output`."""
    con = duckdb.connect(str(Path(output) / "proseflow.duckdb"), read_only=True)
    try:
        return {
            view: {row[0] for row in con.execute(f"select distinct run_id from {view}").fetchall()}
            for view in (*DATA_VIEWS, "runs")
        }
    finally:
        con.close()


def everywhere(*run_ids: str) -> dict[str, set[str]]:
    return {view: set(run_ids) for view in (*DATA_VIEWS, "runs")}


def test_views_show_no_file_of_a_commit_that_has_no_runs_row_yet(tmp_path, monkeypatch):
    output = Output.open(tmp_path / "out")
    commit_run(output, "r1", doc_ids(1, 2))
    commit_killed_after(output, "r2", doc_ids(3, 4), monkeypatch, publishes=5)  # all but runs/
    assert output.exists("documents", "run-r2")
    catalog.refresh(output)
    assert view_runs(output.root) == everywhere("r1")


def test_views_hide_a_run_whose_runs_row_is_gone_without_a_refresh(tmp_path):
    output = Output.open(tmp_path / "out")
    commit_run(output, "r1", doc_ids(1, 2))
    commit_run(output, "r2", doc_ids(3, 4))
    catalog.refresh(output)
    assert view_runs(output.root) == everywhere("r1", "r2")
    row = Path(output.path("runs", "run-r2.parquet"))
    row.rename(tmp_path / "aside.parquet")
    assert view_runs(output.root) == everywhere("r1")
    write_runs_row(output, runs_row("r2", status="failed"))
    assert view_runs(output.root) == dict(everywhere("r1"), runs={"r1", "r2"})


def test_the_documents_view_keeps_the_newest_completed_row(tmp_path, monkeypatch):
    output = Output.open(tmp_path / "out")
    commit_run(output, "r1", doc_ids(1, 2))
    commit_killed_after(output, "r2", doc_ids(1, 2), monkeypatch, publishes=5)  # newer, same ids
    catalog.refresh(output)
    con = duckdb.connect(str(output.catalog_path), read_only=True)
    assert con.execute("select distinct run_id from documents").fetchall() == [("r1",)]
    assert con.execute("select count(*) from documents").fetchone()[0] == 2


def test_views_follow_the_output_folder_when_it_moves(tmp_path, monkeypatch):
    output = Output.open(tmp_path / "out")
    commit_run(output, "r1", doc_ids(1, 2, 3))
    catalog.refresh(output)
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    shutil.move(output.root, moved)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # DuckDB resolves relative paths against the working directory
    assert view_runs(moved) == everywhere("r1")
    con = duckdb.connect(str(moved / "proseflow.duckdb"), read_only=True)
    assert con.execute("select count(*) from documents").fetchone()[0] == 3


def test_an_attached_catalog_reads_the_folder_it_was_built_for(tmp_path):
    output = Output.open(tmp_path / "out")
    commit_run(output, "r1", doc_ids(1, 2, 3))
    catalog.refresh(output)
    con = duckdb.connect()
    con.execute(f"attach '{output.catalog_path}' as pf (read_only)")
    assert con.execute("select count(*) from pf.documents_all").fetchone()[0] == 3


def test_rebuild_rolls_an_interrupted_commit_forward(tmp_path, monkeypatch):
    output = Output.open(tmp_path / "out")
    commit_run(output, "r1", doc_ids(1))
    commit_killed_after(output, "r2", doc_ids(2), monkeypatch, publishes=2)
    catalog.refresh(output)
    assert view_runs(output.root) == everywhere("r1")
    with locked(output, "catalog"):
        assert catalog.rebuild(output) == str(output.catalog_path)
    assert view_runs(output.root) == everywhere("r1", "r2")
    assert output.journaled_runs() == [] and not list(output.staging_root.iterdir())


def test_an_output_without_completed_runs_has_typed_empty_views(tmp_path, monkeypatch):
    output = Output.open(tmp_path / "out")
    commit_killed_after(output, "r1", doc_ids(1), monkeypatch, publishes=5)
    catalog.refresh(output)
    con = duckdb.connect(str(output.catalog_path), read_only=True)
    for view in (*DATA_VIEWS, "runs"):
        assert con.execute(f"select count(*) from {view}").fetchone()[0] == 0, view
    columns = [c[0] for c in con.execute("select * from raw").description]
    assert "doc_id" in columns and "content" not in columns


@pytest.mark.parametrize("view", DATA_VIEWS)
def test_every_data_view_filters_on_completed_runs(tmp_path, view):
    output = Output.open(tmp_path / "out")
    commit_run(output, "r1", doc_ids(1))
    assert "status = 'completed'" in catalog.view_sql(output, view)


def test_a_refresh_removes_what_a_killed_refresh_left(tmp_path):
    output = Output.open(tmp_path / "out")
    commit_run(output, "r1", doc_ids(1))
    name = output.catalog_path.name
    left = [
        f".{name}.tmp",
        f".{name}.tmp.wal",
        f".{name}.0a1b2c3d.tmp",
        f".{name}.0a1b2c3d.tmp.wal",
    ]
    for leftover in left:
        (output.catalog_path.parent / leftover).write_bytes(b"half a database")
    catalog.refresh(output)
    assert not [
        p.name for p in output.catalog_path.parent.iterdir() if p.name.startswith(f".{name}")
    ]
    assert view_runs(output.root) == everywhere("r1")
