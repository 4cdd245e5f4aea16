"""The output folder: staged writes, one commit per run (runs row last), lock, recovery and reads.

Layout under the output folder::

    documents/run-<run_id>/part-00000.parquet   rejects/run-<run_id>/...   raw/run-<run_id>/...
    corpus_stats/run-<run_id>/...   terms/run-<run_id>/...   runs/run-<run_id>.parquet
    proseflow.duckdb                 (views only; rebuilt by `proseflow catalog`)
    _proseflow/commits/<run_id>.json (the journal of a commit in progress: what it publishes)
    _proseflow/lock                  (flock held by the running run; names it)
    _proseflow/staging/<run_id>/     (everything a run writes before its commit)

A run's rows count only once its runs row says `completed`: every reader here (`Output.read`, the
DuckDB views of `tasks.catalog`) keeps the rows of completed runs alone, so the files a commit has
moved into place before its runs row stay invisible. A commit writes a journal, in staging and in
the output, before the first file moves; the next run (or `proseflow catalog`) rolls an interrupted
commit forward from its staging, or, when that staging is gone (a remote output's local state folder
lost), completes it from the output when every file arrived and removes its files otherwise.
Staging folders without a journal belong to runs that never reached their commit and are removed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
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

from tasks.errors import DiskFullError, OutputError, OutputLockedError
from tasks.schema import DATASETS, RUNS, SCHEMA_VERSION

COMMITTED_DATASETS = ("raw", "rejects", "documents", "corpus_stats", "terms")
ALL_ROWS = "all"  # staging bucket of tables without a complete doc_id column
CONTROL_DIR = "_proseflow"
COMMITS = "commits"  # <output>/_proseflow/commits/<run_id>.json: journals of unfinished commits
JOURNAL = "COMMIT"
ORDER = "ORDER.json"  # which buckets go into which final file, fixed by finalize's first try
RUN_INFO = "run.json"
ROW_GROUP_SIZE = 10_000
WRITE_OPTIONS = {"compression": "zstd", "compression_level": 3, "use_dictionary": True}
# Parts are read back only by finalize, with the dataset's schema: min/max statistics of the text
# columns and the stored schema with its descriptions would make them ~1.6x the final files.
PART_OPTIONS = {"compression": "zstd", "compression_level": 3, "write_statistics": False}
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
RUN_SPACE = 1.25  # free space a run needs, times its output: staging peaked at 1.23x on BBC
LOST_COMMIT = (
    "killed during its commit and its staged files are gone; its uploaded files were removed"
)


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
    with _replacing(path, table.nbytes) as tmp:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_SIZE, **WRITE_OPTIONS)
    return path


def write_part(path: Path, table: pa.Table, dataset: str) -> Path:
    """Write one staged part atomically: the dataset's columns, lean (see PART_OPTIONS)."""
    table = conform(table, dataset)
    with _replacing(path, table.nbytes) as tmp:
        pq.write_table(
            table, tmp, row_group_size=ROW_GROUP_SIZE, store_schema=False, **PART_OPTIONS
        )
    return path


def write_text(path: Path, text: str) -> None:
    """Write a small file atomically (temp file, fsync, rename): whole or absent."""
    with _replacing(path, len(text)) as tmp:
        tmp.write_text(text)


@contextlib.contextmanager
def _replacing(path: Path, needed: int) -> Iterator[Path]:
    """A temp file beside `path` that replaces it when the block ends well, and is removed if not."""
    with space_for(path, needed):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            yield tmp
            _fsync(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


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
        write_part(parts / bucket / f"{key}.parquet", rows, dataset)


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


# ---------------------------------------------------------------- a full disk


@contextlib.contextmanager
def space_for(path: Path, needed: int | None = None) -> Iterator[None]:
    """Turn a full disk (ENOSPC, EDQUOT) while writing `path` into a DiskFullError naming it."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in NO_SPACE:
            raise
        raise disk_full(Path(path), needed) from exc


def disk_full(path: Path, needed: int | None = None) -> DiskFullError:
    """The error for a write into `path` that found its disk full: where, what is free, what to do."""
    run = _staging_run(path)
    folder = run or _existing(path.parent)
    usage = shutil.disk_usage(_existing(folder))
    write = f"; this write needs up to {_human(needed)}" if needed else ""
    held = (
        f"the run's staged files there take {_human(_tree_size(run))} so far, and " if run else ""
    )
    return DiskFullError(
        f"no space left on the disk holding {folder} ({_human(usage.free)} free of "
        f"{_human(usage.total)}{write}): {held}a run needs free space of about {RUN_SPACE}x its "
        "output (staged files, then the output on the same disk). Free space there, or put the "
        "output (for a remote output: $PROSEFLOW_STATE) on a larger disk, and run again; "
        "retrying as is cannot help",
        folder=str(folder),
        free=usage.free,
    )


def _staging_run(path: Path) -> Path | None:
    """The run folder of a staging area (`<control>/staging/<run_id>`) that holds `path`, if any."""
    for parent in path.parents:
        area = parent.parent
        if area.name == "staging" and (
            area.parent.name == CONTROL_DIR or re.fullmatch("[0-9a-f]{16}", area.parent.name)
        ):
            return parent
    return None


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _tree_size(folder: Path) -> int:
    total = 0
    for base, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(base, name))
    return total


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


# ---------------------------------------------------------------- the output folder


@dataclass
class Output:
    """A proseflow output: a local folder, or a folder on any fsspec filesystem (s3://, memory://, ...).

    Lock and staging always live on local disk: in `<output>/_proseflow/` for a local output, in
    `~/.cache/proseflow/outputs/<hash of the URL>/` (or $PROSEFLOW_STATE) for a remote one. Commit
    journals live in the output itself, so that any machine can finish or undo a commit.
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
            with space_for(output.staging_root):
                output.staging_root.mkdir(parents=True, exist_ok=True)
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
        fs.invalidate_cache()  # a cached listing may predate what other processes wrote since
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

    def found(self, dataset: str) -> list[str]:
        """Every Parquet file under a dataset's folder, sorted, committed or not."""
        folder = self.path(dataset)
        if not self.fs.isdir(folder):
            return []
        found = self.fs.find(folder)
        return sorted(
            f for f in found if f.endswith(".parquet") and not f.rsplit("/", 1)[-1].startswith(".")
        )

    def files(self, dataset: str) -> list[str]:
        """Parquet files of a dataset written by completed runs, sorted (runs/: every file)."""
        found = self.found(dataset)
        if dataset == "runs" or not found:
            return found
        folders = {f"run-{run_id}" for run_id in self.completed_runs()}
        return [f for f in found if f.rsplit("/", 2)[-2] in folders]

    def completed_runs(self) -> set[str]:
        """run_ids whose runs row says `completed`: the runs whose rows readers see."""
        runs = self._scan("runs", self.found("runs"), ["run_id", "status"])
        return set(runs.filter(pc.equal(runs["status"], "completed"))["run_id"].to_pylist())

    def run_status(self, run_id: str) -> str | None:
        """The status in a run's runs row; None when it has none."""
        path = self.path("runs", runs_file(run_id))
        if not self.fs.exists(path):
            return None
        return self._scan("runs", [path], ["status"])["status"][0].as_py()

    def read(self, dataset: str, columns: Sequence[str] | None = None, filter=None) -> pa.Table:
        """Rows of a dataset written by completed runs (empty table with the schema when none)."""
        return self._scan(dataset, self.files(dataset), columns, filter)

    def _scan(self, dataset: str, files: list[str], columns=None, filter=None) -> pa.Table:
        schema = DATASETS[dataset]
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

    def holds(self, sizes: dict[str, int]) -> bool:
        """Whether every file named (path in the output -> bytes) is in the output, whole."""
        for name, size in sizes.items():
            try:
                if self.fs.size(self.path(name)) != size:
                    return False
            except FileNotFoundError:
                return False
        return True

    def remove(self, *parts: str) -> None:
        """Delete a file or folder of the output, if it is there."""
        target = self.path(*parts)
        if self.fs.exists(target):
            self.fs.rm(target, recursive=True)

    def publish(self, local: Path, *parts: str) -> None:
        """Move a finished local file or folder into the output (a rename on local disk).

        A remote folder is uploaded file by file and leaves staging only once all are uploaded, so
        publishing it again after any failure uploads it whole.
        """
        target = self.path(*parts)
        if self.local:
            with space_for(Path(target)):
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

    # ------------------------------------------------------------ commit journals in the output

    def journal(self, run_id: str) -> str:
        return self.path(CONTROL_DIR, COMMITS, f"{run_id}.json")

    def write_journal(self, run_id: str, manifest: dict) -> None:
        """Record in the output what a commit publishes, before its first file lands there."""
        text = json.dumps(manifest, default=str)
        if self.local:
            write_text(Path(self.journal(run_id)), text)
        else:
            self.fs.pipe_file(self.journal(run_id), text.encode())  # one PUT: whole or absent

    def read_journal(self, run_id: str) -> dict | None:
        try:
            return json.loads(self.fs.cat_file(self.journal(run_id)))
        except (OSError, ValueError):
            return None

    def remove_journal(self, run_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.journal(run_id))

    def journaled_runs(self) -> list[str]:
        """run_ids whose commit journal is in the output: commits begun and not finished."""
        folder = self.path(CONTROL_DIR, COMMITS)
        if not self.fs.isdir(folder):
            return []
        names = (f.rsplit("/", 1)[-1] for f in self.fs.find(folder))
        return sorted(n[: -len(".json")] for n in names if n.endswith(".json") and n[0] != ".")


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


def runs_file(run_id: str) -> str:
    return f"run-{run_id}.parquet"


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
