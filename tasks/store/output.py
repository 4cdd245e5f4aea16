"""The output folder: where a proseflow output is (a local folder or any fsspec filesystem), where
its lock and staging live, what readers see of it (the rows of completed runs only), moving files
into it, and the commit journals kept in it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from proseflow.tasks.errors import OutputError
from proseflow.tasks.schema import DATASETS
from proseflow.tasks.store.files import write_text
from proseflow.tasks.store.layout import COMMITS, CONTROL_DIR, runs_file
from proseflow.tasks.store.space import space_for


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
        import pyarrow.dataset as ds  # here: it imports pandas, which worker processes never need

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
