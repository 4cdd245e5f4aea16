"""One run's state in the flow process: output, lock, staging, triage and the counts it reports."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from proseflow.flows.prefect_tasks import BatchReport, BatchTarget, ReadReport, write_known
from proseflow.tasks.config import PipelineConfig, canonical_json
from proseflow.tasks.provenance import all_versions, pipeline_fingerprint, pipeline_version
from proseflow.tasks.run_report import Report
from proseflow.tasks.schema import RUNS, SCHEMA_VERSION, STAGES
from proseflow.tasks.stats import TERMS_PARTIAL
from proseflow.tasks.store.commit import Staging, recover, write_runs_row
from proseflow.tasks.store.committed import CommittedIndex
from proseflow.tasks.store.files import stamp_run, utc_now
from proseflow.tasks.store.lock import RunLock
from proseflow.tasks.store.output import Output
from proseflow.tasks.triage import Verdicts


@dataclass
class RunState:
    """Everything one run accumulates between its start and its commit, folded in by the flow alone.

    Tasks never touch it: they return reports, and the flow folds each report in exactly once, so a
    retried task cannot count anything twice.
    """

    run_id: str
    flow_run_name: str
    sources: list[str]
    config: PipelineConfig
    output: Output
    fingerprint: str
    started_at: datetime
    staging: Staging
    index: CommittedIndex
    lock: RunLock | None = None
    n_inputs: int = 0
    n_ignored: int = 0
    n_skipped: int = 0
    n_documents: int = 0
    n_rejects: int = 0
    clean_ops: Counter = field(default_factory=Counter)
    reject_reasons: Counter = field(default_factory=Counter)
    stage_seconds: Counter = field(default_factory=Counter)
    recovered: list[dict] = field(default_factory=list)
    terms: pa.Table | None = None
    # per collection of the run's documents: in a cluster, near-duplicates of another document
    near_duplicates: dict[str, dict[str, int]] | None = None
    report: Report | None = None  # once written
    unread: pa.Table | None = None  # discovery's rejects, for the triage
    progress_id: object = None
    known: str | None = None  # the staged doc_ids of `index.documents`, for the read tasks

    @classmethod
    def open(
        cls, run_id: str, name: str, sources: list[str], output: str, config: PipelineConfig
    ) -> RunState:
        """Lock the output, finish what killed runs left, load what is committed, start staging."""
        out = Output.open(output)
        lock = RunLock(out.control / "lock")
        lock.acquire(run_id)
        try:
            recovered = recover(out)
            fingerprint = pipeline_fingerprint(config)
            index = CommittedIndex.load(out, fingerprint)
        except BaseException:
            lock.release()
            raise
        state = cls(
            run_id=run_id,
            flow_run_name=name,
            sources=list(sources),
            config=config,
            output=out,
            fingerprint=fingerprint,
            started_at=utc_now(),
            staging=Staging(out, run_id, fingerprint),
            index=index,
            lock=lock,
            recovered=recovered,
        )
        state.staging.start(state.info())
        if index.documents:  # the read tasks leave these undecoded
            state.known = _staged_known(state.staging, index)
        return state

    @property
    def target(self) -> BatchTarget:
        """Where this run's tasks stage their files."""
        return BatchTarget(
            self.run_id, self.fingerprint, self.staging.staging, self.started_at, self.known
        )

    def info(self) -> dict:
        """The runs-row fields known at the start (kept in staging to report a killed run)."""
        return {
            "run_id": self.run_id,
            "flow_run_name": self.flow_run_name,
            "started_at": self.started_at.isoformat(),
            "source": json.dumps([absolute(source) for source in self.sources]),
            "parameters": canonical_json(self.config.to_dict()),
            "pipeline_version": pipeline_version(),
            "pipeline_fingerprint": self.fingerprint,
            "schema_version": SCHEMA_VERSION,
            "versions": canonical_json(all_versions()),
        }

    def timed(self, stage: str, seconds: float) -> None:
        self.stage_seconds[stage] += seconds

    def fold_discovery(self, discovery) -> None:
        """Count what discovery found besides the inputs to read (tasks.ingest.stage.Discovery)."""
        self.n_inputs += discovery.rejects.num_rows
        self.n_ignored += discovery.n_ignored

    def fold_read(self, report: ReadReport) -> None:
        self.n_inputs += report.n_inputs
        self.timed("ingest", report.seconds)

    def fold_verdicts(self, verdicts: Verdicts) -> None:
        """Stage the triage's rejects and count what it skipped."""
        self.n_skipped += verdicts.n_skipped
        self.n_rejects += verdicts.rejects.num_rows
        self.reject_reasons.update(verdicts.rejects["reason"].to_pylist())
        rejects = stamp_run(verdicts.rejects, self.run_id, self.fingerprint)
        self.staging.stage("rejects", rejects, "triage")

    def fold_batch(self, report: BatchReport) -> None:
        """Fold a processed part's report into the run's totals."""
        self.n_documents += report.n_documents
        self.n_rejects += report.n_rejects
        self.reject_reasons.update(report.reasons)
        self.clean_ops.update(report.clean_ops)
        for stage, seconds in report.seconds.items():
            self.timed(stage, seconds)
        if report.terms is not None:
            self.fold_terms(report.terms)

    def fold_terms(self, partial: pa.Table) -> None:
        """Add a batch's term counts to the run's running totals (bounded by distinct terms)."""
        tables = [t for t in (self.terms, partial) if t is not None]
        merged = (
            pa.concat_tables(tables)
            .group_by(["collection", "term"])
            .aggregate([("document_frequency", "sum"), ("term_frequency", "sum")])
        )
        names = ["collection", "term", "document_frequency", "term_frequency"]
        self.terms = merged.rename_columns(names).cast(TERMS_PARTIAL)

    def runs_row(self, status: str, error: str | None = None) -> pa.Table:
        row = dict(self.info())
        row.update(
            started_at=self.started_at,
            finished_at=utc_now(),
            status=status,
            n_inputs=self.n_inputs,
            n_documents=self.n_documents if status == "completed" else 0,
            n_rejects=self.n_rejects if status == "completed" else 0,
            n_skipped=self.n_skipped,
            n_ignored=self.n_ignored,
            clean_ops=canonical_json(dict(sorted(self.clean_ops.items()))),
            stage_seconds=canonical_json({k: round(self.stage_seconds[k], 4) for k in STAGES}),
            error=error,
        )
        return pa.Table.from_pylist([row], schema=RUNS)

    def fail(self, error: str) -> None:
        """Record the run as failed and discard its staging, unless its commit already began.

        A run whose commit journal is written is committed: it is rolled forward, here or by the
        next run, and never turns into `failed`.
        """
        if self.staging.journaled:
            with contextlib.suppress(OSError):
                self.staging.roll_forward()
            return
        self.staging.discard()
        write_runs_row(self.output, self.runs_row("failed", error))

    def close(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


class Stopwatch:
    """Context manager that adds its elapsed seconds to a run's stage."""

    def __init__(self, state: RunState, stage: str):
        self.state, self.stage = state, stage

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.state.timed(self.stage, time.perf_counter() - self.started)


def absolute(source: str) -> str:
    """A SOURCE as the runs row records it: a URL as given, a local path made absolute."""
    return source if "://" in source else os.path.abspath(source)


def _staged_known(staging: Staging, index: CommittedIndex) -> str | None:
    """Stage the committed doc_ids for the read tasks; None when it cannot be written.

    The file only saves work: without it every input is decoded, as in a first run.
    """
    try:
        return write_known(staging.work / "known.arrow", index.documents)
    except OSError:  # a full disk, say: the run goes on, slower
        return None
