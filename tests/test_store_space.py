"""A full disk: a DiskFullError naming the folder and the space; other write errors stay as they are."""

from __future__ import annotations

import errno
import os
import pickle
import shutil
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from proseflow.tasks.errors import DiskFullError
from proseflow.tasks.store.commit import Staging
from proseflow.tasks.store.files import write_parquet
from proseflow.tasks.store.output import Output
from proseflow.tasks.store.space import RUN_SPACE
from tests.store_runs import FP, doc_ids, rejects_table, rows


def test_a_full_disk_is_a_proseflow_error_naming_the_folder_and_the_space(tmp_path, monkeypatch):
    output = Output.open(tmp_path / "out")
    staging = Staging(output, "r1", FP)
    staging.stage("documents", rows("documents", doc_ids(1), "r1"), "b0")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", full)
    with pytest.raises(DiskFullError) as caught:
        staging.stage("documents", rows("documents", doc_ids(2), "r1"), "b1")
    error = caught.value
    message = str(error)
    assert str(staging.root) in message and "free of" in message and "cannot help" in message
    assert "staged files there take" in message and f"{RUN_SPACE}x" in message
    assert error.folder == str(staging.root) and error.free > 0
    assert error.retryable is False and error.exit_code == 1
    copy = pickle.loads(pickle.dumps(error))  # crosses worker processes whole
    assert (type(copy), str(copy), copy.folder) == (DiskFullError, message, error.folder)


def test_other_write_errors_stay_what_they_are(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(pq, "write_table", denied)
    with pytest.raises(PermissionError):
        write_parquet(tmp_path / "a.parquet", rejects_table(["x"]), "rejects", "r1", FP)


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (root only); skipped where it cannot be mounted."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_really_full_disk_stops_the_run_with_a_disk_full_error(small_disk):
    output = Output.open(small_disk / "out")
    staging = Staging(output, "r1", FP)
    staging.start({"run_id": "r1"})
    big = rows("raw", doc_ids(*range(64)), "r1")
    big = big.set_column(
        big.schema.get_field_index("content"),
        "content",
        pa.array([os.urandom(64 * 1024) for _ in range(64)], pa.binary()),
    )
    with pytest.raises(DiskFullError, match=str(staging.root)):
        for key in range(10):
            staging.stage("raw", big, f"b{key}")
