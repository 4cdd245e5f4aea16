"""The run lock: exclusive, names its holder, released when its holder dies."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from proseflow.tasks.errors import OutputLockedError
from proseflow.tasks.store.lock import RunLock, locked
from proseflow.tasks.store.output import Output


def test_lock_is_exclusive_and_names_the_holder(tmp_path):
    output = Output.open(tmp_path / "out")
    with locked(output, "first-run"), pytest.raises(OutputLockedError, match="first-run"):
        RunLock(output.control / "lock").acquire("second-run")
    with locked(output, "third-run"):  # released after the block
        pass


def test_lock_of_a_killed_process_is_released(tmp_path):
    output = Output.open(tmp_path / "out")
    script = textwrap.dedent(
        f"""
        import os, signal
        from proseflow.tasks.store.lock import RunLock
        from proseflow.tasks.store.output import Output
        output = Output.open({str(output.root)!r})
        RunLock(output.control / "lock").acquire("doomed")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9
    with locked(output, "after"):
        pass
