"""The one exception root of proseflow. Messages name the thing, what was expected and what to do."""

from __future__ import annotations


class ProseflowError(Exception):
    """Root of every error proseflow raises on purpose; the CLI prints it as one line.

    `retryable`: whether a task that raised it may succeed when run again (a flaky disk or network);
    the flow retries only those.
    """

    exit_code = 1
    retryable = True


class UsageError(ProseflowError):
    """A command-line argument or configuration value is wrong: the same call fails again."""

    exit_code = 2
    retryable = False


class SourceError(UsageError):
    """A SOURCE does not exist or matches no input."""


class OutputLockedError(ProseflowError):
    """Another live run holds the output's lock."""

    exit_code = 3


class OutputError(ProseflowError):
    """The output folder is missing, unreadable or not a proseflow output."""

    exit_code = 2


class DiskFullError(ProseflowError):
    """A write into staging or the output failed because its disk is full (or the quota is used up).

    Retrying cannot help: the same write fails again until space is freed, so the flow must not
    retry a task that raised it (`retryable = False`). The message names the folder, the free space
    and what the run needs.
    """

    exit_code = 1
    retryable = False

    def __init__(self, message: str, *, folder: str | None = None, free: int | None = None):
        super().__init__(message)  # only the message in args: pickles across worker processes
        self.folder = folder
        self.free = free
