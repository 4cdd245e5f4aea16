"""Staging and commit: where a run writes before its commit, the commit itself (journal, one move
per dataset, runs row last), the recovery of what killed runs left, and the runs rows written
straight into the output.

A run's rows count only once its runs row says `completed`: every reader (`Output.read`, the
DuckDB views of `tasks.catalog`) keeps the rows of completed runs alone, so the files a commit has
moved into place before its runs row stay invisible. A commit writes a journal, in staging and in
the output, before the first file moves; the next run (or `proseflow catalog`) rolls an interrupted
commit forward from its staging, or, when that staging is gone (a remote output's local state folder
lost), completes it from the output when every file arrived and removes its files otherwise.
Staging folders without a journal belong to runs that never reached their commit and are removed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from proseflow.tasks.schema import DATASETS, RUNS
from proseflow.tasks.store.files import (
    release_memory,
    stage_part,
    utc_now,
    write_parquet,
    write_text,
)
from proseflow.tasks.store.layout import COMMITTED_DATASETS, REPORTS, report_file, runs_file
from proseflow.tasks.store.output import Output

JOURNAL = "COMMIT"
REPORT = "report.html"  # the run's report in staging/final
ORDER = "ORDER.json"  # which buckets go into which final file, fixed by finalize's first try
RUN_INFO = "run.json"
LOST_COMMIT = (
    "killed during its commit and its staged files are gone; its uploaded files were removed"
)


@dataclass
class Staging:
    """Where one run writes before its commit."""

    output: Output
    run_id: str
    fingerprint: str

    @property
    def root(self) -> Path:
        return self.output.staging_root / self.run_id

    @property
    def work(self) -> Path:
        """Scratch space for intermediate batches; removed with the staging folder."""
        path = self.root / "work"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start(self, info: dict) -> None:
        """Create the staging folder and record what is needed to report the run if it is killed."""
        write_text(self.root / RUN_INFO, json.dumps(info, default=str))

    @property
    def staging(self) -> str:
        return str(self.root)

    def stage(self, dataset: str, table: pa.Table, key: str) -> None:
        """Write one batch of a dataset into staging under a unique key; nothing for empty tables."""
        return stage_part(self, dataset, table, key)

    def final_files(self, dataset: str) -> list[str]:
        folder = self.root / "final" / dataset
        return sorted(str(p) for p in folder.glob("*.parquet")) if folder.is_dir() else []

    def finalize(self, dataset: str, sort_keys: Sequence[str]) -> int:
        """Merge a dataset's staged parts into final files ordered by sort_keys; returns rows.

        Buckets are disjoint ranges of doc_id, so for a doc_id order, ordering each bucket in memory
        and writing the buckets in order orders the whole dataset while holding one bucket at a time.
        Any other order (rejects, by source_uri: small) is made over all parts at once. The parts of
        a final file are deleted as soon as it is written, so staging never holds a dataset twice;
        a retry skips the final files already written.
        """
        parts = self.root / "parts" / dataset
        if not parts.is_dir():  # nothing staged, or finalized by an earlier try
            return sum(pq.read_metadata(f).num_rows for f in self.final_files(dataset))
        rows = 0
        for index, buckets in enumerate(self._groups(parts, by_bucket=sort_keys[0] == "doc_id")):
            path = self.root / "final" / dataset / f"part-{index:05d}.parquet"
            if path.exists():
                rows += pq.read_metadata(path).num_rows
            else:
                rows += self._merge(dataset, [parts / b for b in buckets], sort_keys, path)
            for bucket in buckets:
                shutil.rmtree(parts / bucket, ignore_errors=True)
        shutil.rmtree(parts, ignore_errors=True)
        return rows

    def _groups(self, parts: Path, by_bucket: bool) -> list[list[str]]:
        """The buckets of each final file, in order; recorded so that a retry numbers files alike."""
        order = parts / ORDER
        if order.exists():
            return json.loads(order.read_text())
        buckets = sorted(p.name for p in parts.iterdir() if p.is_dir())
        groups = [[b] for b in buckets] if by_bucket else [buckets] if buckets else []
        write_text(order, json.dumps(groups))
        return groups

    def _merge(
        self, dataset: str, folders: list[Path], sort_keys: Sequence[str], path: Path
    ) -> int:
        files = sorted(str(f) for folder in folders for f in folder.glob("*.parquet"))
        table = ds.dataset(files, schema=DATASETS[dataset], format="parquet").to_table()
        table = table.sort_by([(key, "ascending") for key in sort_keys])
        write_parquet(path, table, dataset, self.run_id, self.fingerprint)
        rows = table.num_rows
        del table
        release_memory()
        return rows

    def stage_final(self, dataset: str, table: pa.Table) -> int:
        """Stage an already complete, ordered dataset table as the run's final file."""
        if table.num_rows == 0:
            return 0
        path = self.root / "final" / dataset / "part-00000.parquet"
        write_parquet(path, table, dataset, self.run_id, self.fingerprint)
        return table.num_rows

    def stage_report(self, html: str) -> None:
        """Stage the run's report page, published with its datasets."""
        write_text(self.root / "final" / REPORT, html)

    def commit(self, runs_row: pa.Table) -> None:
        """Make the run visible: journal, one move per dataset, then the runs row last."""
        write_parquet(
            self.root / "final" / "runs.parquet", runs_row, "runs", self.run_id, self.fingerprint
        )
        write_text(self.root / JOURNAL, json.dumps(self.manifest(runs_row), default=str))
        self.roll_forward()

    def manifest(self, runs_row: pa.Table) -> dict:
        """What the commit publishes (path in the output -> bytes), its runs row and its writer."""
        files = {}
        for dataset in COMMITTED_DATASETS:
            for path in self.final_files(dataset):
                name = f"{dataset}/run-{self.run_id}/{Path(path).name}"
                files[name] = os.path.getsize(path)
        report = self.root / "final" / REPORT
        if report.exists():
            files[f"{REPORTS}/{report_file(self.run_id)}"] = report.stat().st_size
        return {
            "run_id": self.run_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "files": files,
            "runs_row": runs_row.to_pylist()[0],
        }

    @property
    def journaled(self) -> bool:
        """Whether the commit began: from then on the run is committed, whatever happens."""
        return (self.root / JOURNAL).exists()

    def roll_forward(self) -> None:
        """Finish this run's journaled commit; safe to call again after any failure."""
        _roll_forward(self.output, self.root)

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _roll_forward(output: Output, staging_root: Path) -> None:
    """Finish a journaled commit: journal in the output, every dataset folder, runs row last.

    Safe to repeat after any failure, on local and remote outputs alike: a folder leaves staging
    only once all of it is in the output. A runs row already in the output means the commit was
    finished (here, or from the output's journal by another machine): nothing more is published.
    """
    run_id = staging_root.name
    if not output.exists("runs", runs_file(run_id)):
        manifest = _read_json(staging_root / JOURNAL)
        if manifest is not None:  # a journal of an older proseflow holds only the run_id
            output.write_journal(run_id, manifest)
        final = staging_root / "final"
        for dataset in COMMITTED_DATASETS:
            if (final / dataset).is_dir():  # gone once published: a second roll-forward skips it
                output.publish(final / dataset, dataset, f"run-{run_id}")
        if (final / REPORT).exists():
            output.publish(final / REPORT, REPORTS, report_file(run_id))
        if (final / "runs.parquet").exists():
            output.publish(final / "runs.parquet", "runs", runs_file(run_id))
    output.remove_journal(run_id)
    shutil.rmtree(staging_root, ignore_errors=True)


def recover(output: Output) -> list[dict]:
    """Finish or remove what killed runs left; returns one record per leftover handled.

    Call only while holding the output's lock. A staging folder with a commit journal is rolled
    forward (its data was complete); one without is removed, and a `failed` runs row is written for
    it when its run info survived, so that the interrupted run stays visible in `runs`. A journal in
    the output whose staging is not here is settled from the output alone (`_settle`).
    """
    handled = []
    if output.staging_root.is_dir():
        for leftover in sorted(output.staging_root.iterdir()):
            if leftover.is_dir():
                handled.append(_recover_staging(output, leftover))
    for run_id in output.journaled_runs():
        record = _settle(output, run_id)
        if record is not None:
            handled.append(record)
    return handled


def _recover_staging(output: Output, leftover: Path) -> dict:
    if (leftover / JOURNAL).exists():
        _roll_forward(output, leftover)
        done = output.run_status(leftover.name) == "completed"  # else undone from elsewhere
        return {"run_id": leftover.name, "action": "committed" if done else "removed"}
    info = _read_json(leftover / RUN_INFO)
    shutil.rmtree(leftover, ignore_errors=True)
    if info and not output.exists("runs", runs_file(leftover.name)):
        record_failed_run(output, info, "interrupted before its commit; leftovers removed")
    return {"run_id": leftover.name, "action": "removed"}


def _settle(output: Output, run_id: str) -> dict | None:
    """Finish or undo a commit known only from its journal in the output (its staging is lost).

    When every file the journal lists is in the output, whole, the journal's runs row completes
    the commit; otherwise the run's files are removed and it is recorded as `failed`. A journal
    of a live process on this machine (another state folder) is left alone.
    """
    manifest = output.read_journal(run_id) or {}
    if _written_by_a_live_process(manifest):
        return None
    row = manifest.get("runs_row")
    if output.exists("runs", runs_file(run_id)):
        action = "committed"
    elif row and output.holds(manifest.get("files", {})):
        write_runs_row(output, _runs_table(row))
        action = "committed"
    else:
        for dataset in COMMITTED_DATASETS:
            output.remove(dataset, f"run-{run_id}")
        output.remove(REPORTS, report_file(run_id))
        if row:
            record_failed_run(output, row, LOST_COMMIT)
        action = "removed"
    output.remove_journal(run_id)
    return {"run_id": run_id, "action": action}


def _written_by_a_live_process(manifest: dict) -> bool:
    pid = manifest.get("pid")
    if manifest.get("host") != socket.gethostname() or not pid or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def record_failed_run(output: Output, info: dict, error: str) -> None:
    """Write a `failed` runs row for a run that committed nothing."""
    row = dict(info)
    row.update(
        status="failed",
        error=error,
        finished_at=utc_now(),
        n_documents=0,
        n_rejects=0,
    )
    for name in ("n_inputs", "n_skipped", "n_ignored"):
        row.setdefault(name, 0)
    row.setdefault("clean_ops", "{}")
    row.setdefault("stage_seconds", "{}")
    write_runs_row(output, _runs_table(row))


def _runs_table(row: dict) -> pa.Table:
    """A one-row runs table from a row whose times may be ISO strings (run info, journals)."""
    times = {name: _as_datetime(row[name]) for name in ("started_at", "finished_at")}
    row = dict(row, **times)
    return pa.Table.from_pylist([{k: row.get(k) for k in RUNS.names}], schema=RUNS)


def write_runs_row(output: Output, row: pa.Table) -> None:
    """Write a runs row straight into runs/ (atomic on local disk, one object elsewhere)."""
    run_id, fingerprint = row["run_id"][0].as_py(), row["pipeline_fingerprint"][0].as_py()
    local = output.control / f".runs-{run_id}.parquet"
    write_parquet(local, row, "runs", run_id, fingerprint)
    output.publish(local, "runs", runs_file(run_id))


def _as_datetime(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value
