"""The output folder: staged writes, one commit per run (runs row last), lock, recovery and reads.

Layout under the output folder::

    documents/run-<run_id>/part-00000.parquet   rejects/run-<run_id>/...   raw/run-<run_id>/...
    corpus_stats/run-<run_id>/...   terms/run-<run_id>/...   runs/run-<run_id>.parquet
    proseflow.duckdb                 (views only; rebuilt by `proseflow catalog`)
    _proseflow/lock                  (flock held by the running run; names it)
    _proseflow/staging/<run_id>/     (everything a run writes before its commit)

A run's files are visible only after `commit`: each dataset's staged folder is renamed into place (one
atomic rename per dataset) and the runs row is renamed in last. A commit journal written before the first
rename lets the next run roll an interrupted commit forward; staging folders without a journal belong to
runs that never reached their commit and are removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from tasks.errors import OutputError, OutputLockedError
from tasks.schema import DATASETS, RUNS, SCHEMA_VERSION

COMMITTED_DATASETS = ("raw", "rejects", "documents", "corpus_stats", "terms")
ALL_ROWS = "all"  # staging bucket of tables without a complete doc_id column
CONTROL_DIR = "_proseflow"
JOURNAL = "COMMIT"
RUN_INFO = "run.json"
ROW_GROUP_SIZE = 10_000
WRITE_OPTIONS = {"compression": "zstd", "compression_level": 3, "use_dictionary": True}


def utc_now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- writing files


def _file_metadata(schema: pa.Schema, run_id: str, fingerprint: str) -> pa.Schema:
    return schema.with_metadata(
        {
            "proseflow.run_id": run_id,
            "proseflow.pipeline_fingerprint": fingerprint,
            "proseflow.schema_version": SCHEMA_VERSION,
        }
    )


def write_parquet(path: Path, table: pa.Table, dataset: str, run_id: str, fingerprint: str) -> Path:
    """Write one Parquet file atomically (temp file, fsync, rename) with the dataset's schema."""
    schema = _file_metadata(DATASETS[dataset], run_id, fingerprint)
    table = conform(table, dataset).replace_schema_metadata(schema.metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, row_group_size=ROW_GROUP_SIZE, **WRITE_OPTIONS)
    _fsync(tmp)
    os.replace(tmp, path)
    return path


def conform(table: pa.Table, dataset: str) -> pa.Table:
    """Select and cast the dataset's columns in schema order; a missing column is an error."""
    schema = DATASETS[dataset]
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise OutputError(
            f"{dataset} table lacks columns {missing}; the stage that owns them did not run"
        )
    return table.select(schema.names).cast(schema)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def stamp_run(
    table: pa.Table, run_id: str, fingerprint: str, processed_at: datetime | None = None
) -> pa.Table:
    """Set the run columns (run_id, pipeline_fingerprint and, when given, processed_at) on every row."""
    n = table.num_rows
    stamps = {
        "run_id": pa.array([run_id] * n, pa.string()),
        "pipeline_fingerprint": pa.array([fingerprint] * n, pa.string()),
    }
    if processed_at is not None:
        stamps["processed_at"] = pa.array([processed_at] * n, pa.timestamp("us", tz="UTC"))
    for name, column in stamps.items():
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(name, column)
    return table


def stage_part(target, dataset: str, table: pa.Table, key: str) -> None:
    """Write one batch of a dataset into a run's staging folder (target: staging, run_id, fingerprint).

    Tables with a doc_id are split by its first hex digit, so that the commit can order a dataset of
    any size one bucket (1/16 of it) at a time.
    """
    if table.num_rows == 0:
        return
    parts = Path(target.staging) / "parts" / dataset
    for bucket, rows in _buckets(table):
        path = parts / bucket / f"{key}.parquet"
        write_parquet(path, rows, dataset, target.run_id, target.fingerprint)


def release_memory() -> None:
    """Hand the memory Arrow has freed back to the system (its allocator keeps it otherwise)."""
    pa.default_memory_pool().release_unused()


def _buckets(table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
    if "doc_id" not in table.column_names or table["doc_id"].null_count:
        yield ALL_ROWS, table
        return
    prefix = pc.utf8_slice_codeunits(table["doc_id"], 0, 1)
    for bucket in sorted(pc.unique(prefix).to_pylist()):
        yield bucket, table.filter(pc.equal(prefix, bucket))


# ---------------------------------------------------------------- the output folder


@dataclass
class Output:
    """A proseflow output: a local folder, or a folder on any fsspec filesystem (s3://, memory://, ...).

    Lock and staging always live on local disk: in `<output>/_proseflow/` for a local output, in
    `~/.cache/proseflow/outputs/<hash of the URL>/` (or $PROSEFLOW_STATE) for a remote one.
    """

    root: str  # local path, or the path inside `fs`
    fs: object  # fsspec filesystem
    control: Path  # local folder holding the lock and the staging area
    url: str  # what the user passed, normalised: shown in messages and the run summary

    @classmethod
    def open(cls, location: str | os.PathLike, create: bool = True) -> Output:
        location = str(location)
        if _is_remote(location):
            output = cls._remote(location)
        else:
            output = cls._local(Path(location).expanduser())
        if not create and not output.fs.isdir(output.path("runs")):
            raise OutputError(
                f"{output.url} holds no proseflow runs; pass the folder given to --output"
            )
        if create:
            (output.control / "staging").mkdir(parents=True, exist_ok=True)
        return output

    @classmethod
    def _local(cls, root: Path) -> Output:
        from fsspec.implementations.local import LocalFileSystem

        if root.exists() and not root.is_dir():
            raise OutputError(f"output {root} is a file; expected a folder (or a path to create)")
        root = root.resolve()
        return cls(str(root), LocalFileSystem(), root / CONTROL_DIR, str(root))

    @classmethod
    def _remote(cls, url: str) -> Output:
        import hashlib

        import fsspec

        try:
            fs, path = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:
            raise OutputError(f"--output {url}: {exc}; install the fsspec backend for it") from None
        state = Path(
            os.environ.get("PROSEFLOW_STATE", Path.home() / ".cache" / "proseflow" / "outputs")
        )
        key = hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]
        return cls(path.rstrip("/"), fs, state / key, url.rstrip("/"))

    @property
    def local(self) -> bool:
        return self.url == self.root

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    @property
    def staging_root(self) -> Path:
        return self.control / "staging"

    @property
    def catalog_path(self) -> Path:
        return Path(self.root) / "proseflow.duckdb"

    def files(self, dataset: str) -> list[str]:
        """Committed Parquet files of a dataset, sorted."""
        folder = self.path(dataset)
        if not self.fs.isdir(folder):
            return []
        found = self.fs.find(folder)
        return sorted(
            f for f in found if f.endswith(".parquet") and not f.rsplit("/", 1)[-1].startswith(".")
        )

    def read(self, dataset: str, columns: Sequence[str] | None = None, filter=None) -> pa.Table:
        """Committed rows of a dataset (empty table with the schema when there are none)."""
        schema = DATASETS[dataset]
        files = self.files(dataset)
        if not files:
            table = schema.empty_table()
            return table.select(list(columns)) if columns else table
        dataset_ = ds.dataset(files, schema=schema, format="parquet", filesystem=self.arrow_fs())
        return dataset_.to_table(columns=list(columns) if columns else None, filter=filter)

    def arrow_fs(self):
        """The output's filesystem as pyarrow sees it."""
        if self.local:
            return None
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        return PyFileSystem(FSSpecHandler(self.fs))

    def exists(self, *parts: str) -> bool:
        return self.fs.exists(self.path(*parts))

    def publish(self, local: Path, *parts: str) -> None:
        """Move a finished local file or folder into the output (a rename on local disk)."""
        target = self.path(*parts)
        if self.local:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            os.replace(local, target)
            return
        self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        if local.is_dir():
            for file in sorted(local.iterdir()):
                self.fs.put_file(str(file), f"{target}/{file.name}")
            shutil.rmtree(local)
        else:
            self.fs.put_file(str(local), target)
            local.unlink()


def _is_remote(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


# ---------------------------------------------------------------- lock


@dataclass
class RunLock:
    """An exclusive flock on the output, held for a run's whole life; the kernel drops it on death."""

    path: Path
    handle: object = None

    def acquire(self, run_id: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for the run's life
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "an unknown run"
            handle.close()
            raise OutputLockedError(
                f"the output is in use by {holder}; wait for that run to finish "
                "(a killed run releases the lock by itself)"
            ) from None
        handle.seek(0)
        handle.truncate()
        started = utc_now().isoformat(timespec="seconds")
        handle.write(
            f"run {run_id} (pid {os.getpid()} on {socket.gethostname()}, started {started})"
        )
        handle.flush()
        self.handle = handle

    def release(self) -> None:
        if self.handle is not None:
            self.handle.truncate(0)
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


@contextlib.contextmanager
def locked(output: Output, run_id: str) -> Iterator[RunLock]:
    """Hold the output's lock for the duration of the block."""
    lock = RunLock(output.control / "lock")
    lock.acquire(run_id)
    try:
        yield lock
    finally:
        lock.release()


# ---------------------------------------------------------------- staging and commit


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
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / RUN_INFO).write_text(json.dumps(info, default=str))

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
        Any other order (rejects, by source_uri: small) is made over all parts at once.
        """
        parts = self.root / "parts" / dataset
        if not parts.is_dir():
            return 0
        buckets = sorted(p for p in parts.iterdir() if p.is_dir())
        groups = [sorted(str(p) for p in b.glob("*.parquet")) for b in buckets]
        if sort_keys[0] != "doc_id":
            groups = [sorted(f for group in groups for f in group)]
        rows = 0
        for index, files in enumerate(groups):
            table = ds.dataset(files, schema=DATASETS[dataset], format="parquet").to_table()
            table = table.sort_by([(key, "ascending") for key in sort_keys])
            path = self.root / "final" / dataset / f"part-{index:05d}.parquet"
            write_parquet(path, table, dataset, self.run_id, self.fingerprint)
            rows += table.num_rows
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

    def commit(self, runs_row: pa.Table) -> None:
        """Make the run visible: journal, one rename per dataset, then the runs row last."""
        write_parquet(
            self.root / "final" / "runs.parquet", runs_row, "runs", self.run_id, self.fingerprint
        )
        journal = self.root / JOURNAL
        journal.write_text(self.run_id)
        _fsync(journal)
        self.roll_forward()

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
    """Finish a journaled commit: move every final dataset folder into place, runs row last."""
    run_id = staging_root.name
    final = staging_root / "final"
    for dataset in COMMITTED_DATASETS:
        source = final / dataset
        if source.is_dir():  # gone once published: a second roll-forward skips it
            output.publish(source, dataset, f"run-{run_id}")
    runs_file = final / "runs.parquet"
    if runs_file.exists():
        output.publish(runs_file, "runs", f"run-{run_id}.parquet")
    shutil.rmtree(staging_root, ignore_errors=True)


def recover(output: Output) -> list[dict]:
    """Finish or remove what killed runs left in staging; returns one record per leftover handled.

    Call only while holding the output's lock. A leftover with a commit journal is rolled forward (its
    data was complete); one without is removed, and a `failed` runs row is written for it when its run
    info survived, so that the interrupted run stays visible in `runs`.
    """
    handled = []
    if not output.staging_root.is_dir():
        return handled
    for leftover in sorted(output.staging_root.iterdir()):
        if (leftover / JOURNAL).exists():
            _roll_forward(output, leftover)
            handled.append({"run_id": leftover.name, "action": "committed"})
            continue
        info = _read_info(leftover)
        shutil.rmtree(leftover, ignore_errors=True)
        if info and not output.exists("runs", f"run-{leftover.name}.parquet"):
            record_failed_run(output, info, "interrupted before its commit; leftovers removed")
        handled.append({"run_id": leftover.name, "action": "removed"})
    return handled


def _read_info(folder: Path) -> dict | None:
    try:
        return json.loads((folder / RUN_INFO).read_text())
    except (OSError, ValueError):
        return None


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
    row["started_at"] = _as_datetime(row["started_at"])
    table = pa.Table.from_pylist([{k: row.get(k) for k in RUNS.names}], schema=RUNS)
    write_runs_row(output, table)


def write_runs_row(output: Output, row: pa.Table) -> None:
    """Write a runs row straight into runs/ (atomic on local disk, one object elsewhere)."""
    run_id, fingerprint = row["run_id"][0].as_py(), row["pipeline_fingerprint"][0].as_py()
    local = output.control / f".runs-{run_id}.parquet"
    write_parquet(local, row, "runs", run_id, fingerprint)
    output.publish(local, "runs", f"run-{run_id}.parquet")


def _as_datetime(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


# ---------------------------------------------------------------- what is already committed


@dataclass
class CommittedIndex:
    """What earlier runs committed, as needed to skip work and name duplicates."""

    documents: dict[str, str]  # doc_id -> source_uri, for the current fingerprint
    rejected: set[tuple[str, str]]  # (doc_id, source_uri) rejected under the current fingerprint
    raw: set[str]  # doc_ids whose bytes are in raw/
    unread: set[tuple[str, str]] = field(
        default_factory=set
    )  # (source_uri, reason), bytes never read

    @classmethod
    def load(cls, output: Output, fingerprint: str) -> CommittedIndex:
        same = ds.field("pipeline_fingerprint") == fingerprint
        docs = output.read("documents", ["doc_id", "source_uri"], filter=same)
        rejects = output.read(
            "rejects", ["doc_id", "source_uri", "reason"], filter=same
        ).to_pylist()
        raw = output.read("raw", ["doc_id"])
        return cls(
            documents=dict(
                zip(docs["doc_id"].to_pylist(), docs["source_uri"].to_pylist(), strict=True)
            ),
            rejected={(r["doc_id"], r["source_uri"]) for r in rejects if r["doc_id"] is not None},
            raw=set(raw["doc_id"].to_pylist()),
            unread={(r["source_uri"], r["reason"]) for r in rejects if r["doc_id"] is None},
        )
