"""A run's state: its lock and staging, the reports it folds in, its runs row, its stage timings."""

from __future__ import annotations

import json
from collections import Counter
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from proseflow.flows import state as state_module
from proseflow.flows.prefect_tasks import BatchReport, ReadReport
from proseflow.flows.state import STAGES, RunState, Stopwatch, absolute
from proseflow.tasks.config import PipelineConfig, canonical_json
from proseflow.tasks.errors import OutputLockedError
from proseflow.tasks.provenance import pipeline_fingerprint
from proseflow.tasks.rejects import reject_row, rejects_table
from proseflow.tasks.schema import RUNS
from proseflow.tasks.stats import TERMS_PARTIAL
from proseflow.tasks.store.output import Output
from proseflow.tasks.triage import Verdicts
from tests.store_runs import doc_ids

CONFIG = PipelineConfig(workers=1)


def open_state(tmp_path, run_id: str = "r1") -> RunState:
    return RunState.open(
        run_id, "in-20260101T000000", ["in", "s3://b/x"], str(tmp_path / "out"), CONFIG
    )


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the relative source `in` is tmp_path/in
    run = open_state(tmp_path)
    yield run
    run.close()


def batch_report(key: str, documents: int, rejects: int, **fields) -> BatchReport:
    clean_ops, terms_ = fields.pop("clean_ops", Counter()), fields.pop("terms", None)
    return BatchReport(key, documents, rejects, clean_ops, terms_, **fields)


def terms(*rows: tuple[str, str, int, int]) -> pa.Table:
    names = ["collection", "term", "document_frequency", "term_frequency"]
    return pa.Table.from_pylist([dict(zip(names, row, strict=True)) for row in rows], TERMS_PARTIAL)


# ---------------------------------------------------------------- opening and closing


def test_a_run_holds_the_output_until_it_closes(state, tmp_path):
    with pytest.raises(OutputLockedError, match="run r1"):
        open_state(tmp_path, "r2")
    state.close()
    state.close()  # closing twice is harmless
    open_state(tmp_path, "r2").close()


def test_a_failed_recovery_releases_the_lock(tmp_path, monkeypatch):
    def broken(output):
        raise OSError("journal unreadable")

    with monkeypatch.context() as patch:
        patch.setattr(state_module, "recover", broken)
        with pytest.raises(OSError, match="journal unreadable"):
            open_state(tmp_path)
    open_state(tmp_path, "r2").close()


def test_the_run_info_is_kept_in_staging_for_a_killed_run(state, tmp_path):
    info = json.loads((state.staging.root / "run.json").read_text())
    assert info["run_id"] == "r1" and info["flow_run_name"] == "in-20260101T000000"
    assert json.loads(info["source"]) == [str(tmp_path / "in"), "s3://b/x"]
    assert info["pipeline_fingerprint"] == state.fingerprint == pipeline_fingerprint(CONFIG)
    assert PipelineConfig.from_dict(json.loads(info["parameters"])) == CONFIG


def test_tasks_stage_into_the_run_staging_folder(state):
    target = state.target
    assert (target.run_id, target.fingerprint) == ("r1", state.fingerprint)
    assert target.staging == str(state.staging.root) and target.started_at == state.started_at


# ---------------------------------------------------------------- stage timings


@pytest.fixture
def clock(monkeypatch):
    """perf_counter as the Stopwatch sees it: 10.0, then 12.5, 20.0, 20.25, ..."""
    ticks = iter([10.0, 12.5, 20.0, 20.25, 30.0, 31.0])
    monkeypatch.setattr(state_module, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))


def test_a_stopwatch_adds_its_seconds_to_its_stage(state, clock):
    with Stopwatch(state, "clean"):
        pass
    with Stopwatch(state, "clean"):
        pass
    with Stopwatch(state, "commit"):
        pass
    assert state.stage_seconds == Counter({"clean": 2.75, "commit": 1.0})


def test_a_stopwatch_counts_a_block_that_raises(state, clock):
    with pytest.raises(ValueError), Stopwatch(state, "discover"):
        raise ValueError("bad source")
    assert state.stage_seconds["discover"] == 2.5


# ---------------------------------------------------------------- reports folded in


def test_discovery_and_reads_count_the_inputs(state):
    unread = rejects_table([reject_row("/in/big.txt", "", "too_large", "over max_bytes", 10**9)])
    state.fold_discovery(SimpleNamespace(rejects=unread, n_ignored=2))
    state.fold_read(ReadReport([], unread, 5, 1.5))
    state.fold_read(ReadReport([], unread, 0, 0.25))
    assert (state.n_inputs, state.n_ignored) == (6, 2)
    assert state.stage_seconds["ingest"] == 1.75


def test_triage_rejects_are_counted_and_staged_with_the_run_fields(state):
    first, second = doc_ids(1, 2)
    rejects = rejects_table(
        [
            reject_row("/in/copy.txt", "", "duplicate", "same bytes as /in/a.txt", 10, first),
            reject_row("/in/blank.txt", "", "empty", "no text", 0, second),
        ]
    )
    state.fold_verdicts(Verdicts([], [], rejects, n_skipped=3))
    assert (state.n_skipped, state.n_rejects) == (3, 2)
    assert state.reject_reasons == Counter({"duplicate": 1, "empty": 1})
    assert state.staging.finalize("rejects", ["source_uri", "reason"]) == 2
    staged = pq.read_table(state.staging.final_files("rejects"))
    assert set(staged["run_id"].to_pylist()) == {"r1"}
    assert set(staged["pipeline_fingerprint"].to_pylist()) == {state.fingerprint}


def test_batch_reports_add_up(state):
    state.fold_batch(
        batch_report(
            "b00000",
            3,
            1,
            clean_ops=Counter({"nfc": 2}),
            seconds={"clean": 1.0, "readability": 2.0},
            reasons=Counter({"empty": 1}),
        )
    )
    state.fold_batch(
        batch_report(
            "b00001",
            4,
            2,
            clean_ops=Counter({"nfc": 1, "markup": 4}),
            seconds={"clean": 0.5},
            reasons=Counter({"error": 2}),
        )
    )
    assert (state.n_documents, state.n_rejects) == (7, 3)
    assert state.clean_ops == Counter({"nfc": 3, "markup": 4})
    assert state.reject_reasons == Counter({"empty": 1, "error": 2})
    assert state.stage_seconds == Counter({"clean": 1.5, "readability": 2.0})
    assert state.terms is None  # no batch had terms


def test_terms_of_batches_are_summed_per_collection_and_term(state):
    state.fold_batch(
        batch_report("b0", 1, 0, terms=terms(("news", "straße", 1, 2), ("news", "pear", 1, 1)))
    )
    state.fold_batch(
        batch_report("b1", 2, 0, terms=terms(("news", "straße", 2, 3), ("blogs", "straße", 1, 1)))
    )
    state.fold_terms(terms(("news", "strasse", 1, 1)))
    folded = state.terms.sort_by([("collection", "ascending"), ("term", "ascending")])
    assert folded.schema == TERMS_PARTIAL
    assert [tuple(row.values()) for row in folded.to_pylist()] == [
        ("blogs", "straße", 1, 1),
        ("news", "pear", 1, 1),
        ("news", "strasse", 1, 1),
        ("news", "straße", 3, 5),
    ]


# ---------------------------------------------------------------- the runs row


def test_a_completed_runs_row_holds_the_counts_and_every_stage(state):
    state.fold_read(ReadReport([], None, 5, 0.123456))
    state.fold_batch(batch_report("b0", 4, 1, clean_ops=Counter({"nfc": 2, "markup": 1})))
    state.n_skipped, state.n_ignored = 2, 1
    row = state.runs_row("completed").to_pylist()[0]
    assert state.runs_row("completed").schema == RUNS
    assert (row["run_id"], row["status"], row["error"]) == ("r1", "completed", None)
    counts = [row[k] for k in ("n_inputs", "n_documents", "n_rejects", "n_skipped", "n_ignored")]
    assert counts == [5, 4, 1, 2, 1]
    assert row["clean_ops"] == '{"markup":1,"nfc":2}'
    seconds = json.loads(row["stage_seconds"])
    assert list(seconds) == sorted(STAGES) and seconds["ingest"] == 0.1235
    assert seconds["commit"] == 0
    assert row["finished_at"] >= row["started_at"] == state.started_at


def test_a_failed_runs_row_counts_nothing_written_and_names_the_error(state):
    state.fold_read(ReadReport([], None, 5, 0.0))
    state.fold_batch(batch_report("b0", 4, 1))
    state.n_skipped = 1
    row = state.runs_row("failed", "OSError: disk full").to_pylist()[0]
    assert (row["status"], row["error"]) == ("failed", "OSError: disk full")
    assert (row["n_inputs"], row["n_documents"], row["n_rejects"], row["n_skipped"]) == (5, 0, 0, 1)
    assert row["parameters"] == canonical_json(CONFIG.to_dict())


def test_a_failed_run_discards_its_staging_and_records_itself(state):
    state.fold_batch(batch_report("b0", 4, 1))
    state.fail("RuntimeError: disk on fire")
    assert not state.staging.root.exists()
    runs = state.output.read("runs").to_pylist()
    assert [(r["run_id"], r["status"], r["error"]) for r in runs] == [
        ("r1", "failed", "RuntimeError: disk on fire")
    ]


def test_a_run_that_failed_in_its_journaled_commit_completes_instead(state, monkeypatch):
    publish = Output.publish
    calls: list = []

    def fails_first(self, *args):
        calls.append(args)
        if len(calls) == 1:
            raise OSError("connection reset")
        return publish(self, *args)

    monkeypatch.setattr(Output, "publish", fails_first)
    with pytest.raises(OSError, match="connection reset"):
        state.staging.commit(state.runs_row("completed"))
    state.fail("OSError: connection reset")
    assert state.output.run_status("r1") == "completed"
    assert not state.staging.root.exists()


# ---------------------------------------------------------------- sources as recorded


def test_a_local_source_is_recorded_absolute_and_a_url_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute("in") == str(tmp_path / "in")
    assert absolute("in/../données été/") == str(tmp_path / "données été")
    assert absolute("/srv/corpus") == "/srv/corpus"
    for url in ("s3://bucket/news/", "memory://x", "file:///srv/x"):
        assert absolute(url) == url
