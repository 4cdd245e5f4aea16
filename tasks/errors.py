"""The one exception root of proseflow. Messages name the thing, what was expected and what to do."""

from __future__ import annotations


class ProseflowError(Exception):
    """Root of every error proseflow raises on purpose; the CLI prints it as one line."""

    exit_code = 1


class UsageError(ProseflowError):
    """A command-line argument or configuration value is wrong."""

    exit_code = 2


class SourceError(UsageError):
    """A SOURCE does not exist or matches no input."""


class OutputLockedError(ProseflowError):
    """Another live run holds the output's lock."""

    exit_code = 3


class OutputError(ProseflowError):
    """The output folder is missing, unreadable or not a proseflow output."""

    exit_code = 2
