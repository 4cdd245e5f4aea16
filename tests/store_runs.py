"""Tables, and whole runs staged, committed or killed, for the tests of `tasks.store` and the catalog."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from proseflow.tasks.schema import DATASETS, RUNS, SCHEMA_VERSION
from proseflow.tasks.store.commit import Staging
from proseflow.tasks.store.files import utc_now
from proseflow.tasks.store.output import Output

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
    now = utc_now()
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
        if pa.types.is_boolean(type_):
            return False
        if pa.types.is_integer(type_) or pa.types.is_floating(type_):
            return 0
        if pa.types.is_date(type_):
            return dt.date(2020, 1, 1)
        if pa.types.is_timestamp(type_):
            return utc_now()
        if pa.types.is_binary(type_):
            return b"bytes"
        return []

    columns = {f.name: given.get(f.name, [placeholder(f.type)] * n) for f in schema}
    return pa.table(columns, schema=schema)


def stage_run(output: Output, run_id: str, ids: list[str]) -> Staging:
    """A run staged up to its commit: documents and raw in two batches, a reject, signatures, a
    near-duplicate link, summaries."""
    staging = Staging(output, run_id, FP)
    info = {k: v for k, v in runs_row(run_id).to_pylist()[0].items() if k != "finished_at"}
    staging.start(dict(info, started_at=info["started_at"].isoformat()))
    half = len(ids) // 2
    for dataset in ("documents", "raw"):
        staging.stage(dataset, rows(dataset, ids[:half], run_id), "b0")
        staging.stage(dataset, rows(dataset, ids[half:], run_id), "b1")
        staging.finalize(dataset, ["doc_id"])
    staging.stage("rejects", rows("rejects", doc_ids(999), run_id), "triage")
    staging.finalize("rejects", ["source_uri", "reason"])
    staging.stage("signatures", rows("signatures", ids, run_id), "b0")
    staging.finalize("signatures", ["doc_id"])
    staging.stage_final("near_duplicates", rows("near_duplicates", ids[:1], run_id))
    staging.stage_final("corpus_stats", rows("corpus_stats", ["-"], run_id))
    staging.stage_final("terms", rows("terms", ["-"], run_id))
    return staging


def commit_run(output: Output, run_id: str, ids: list[str]) -> None:
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


def commit_killed_after(output, run_id, ids, monkeypatch, publishes: int) -> Staging:
    """Stage a run and die in its commit after `publishes` moves into the output."""
    staging = stage_run(output, run_id, ids)
    with monkeypatch.context() as patch:
        kill_after(patch, Output, "publish", publishes)
        with pytest.raises(Killed):
            staging.commit(runs_row(run_id))
    return staging


def run_ids(table: pa.Table) -> set[str]:
    return set(table["run_id"].to_pylist())
