"""A full disk: a write that finds no space (ENOSPC, EDQUOT) becomes a DiskFullError saying where,
how much is free and what a run needs."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from proseflow.tasks.errors import DiskFullError
from proseflow.tasks.store.layout import CONTROL_DIR

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
RUN_SPACE = 1.25  # free space a run needs, times its output: staging peaked at 1.23x on BBC


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
