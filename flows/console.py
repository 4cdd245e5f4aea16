"""Console output of the CLI: Prefect's log lines without tracebacks (the Prefect API keeps them)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator

SHOW_TRACEBACKS_ENV = "PROSEFLOW_TRACEBACKS"


def plural(n: int, noun: str) -> str:
    """'1 document', '2 documents'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


class WithoutTraceback(logging.Formatter):
    """Formats a record with the wrapped formatter, leaving out its traceback and stack."""

    def __init__(self, inner: logging.Formatter):
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            return self.inner.format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


def hide_tracebacks() -> None:
    """Keep tracebacks off the terminal; set PROSEFLOW_TRACEBACKS=1 to see them."""
    if os.environ.get(SHOW_TRACEBACKS_ENV) == "1":
        return
    for handler in console_handlers():
        if not isinstance(handler.formatter, WithoutTraceback):
            handler.setFormatter(WithoutTraceback(handler.formatter or logging.Formatter()))


def silence_when(condition: Callable[[], bool]) -> Silenced:
    """Drop Prefect's console lines whenever CONDITION() holds (the API still receives them).

    A stopped run says so in one line of its own; what Prefect logs while it stops would bury it.
    """
    quiet = Silenced(condition)
    for handler in console_handlers():
        handler.addFilter(quiet)
    return quiet


@contextlib.contextmanager
def silenced_while(condition: Callable[[], bool]) -> Iterator[None]:
    """silence_when(CONDITION) for the block only."""
    quiet = silence_when(condition)
    try:
        yield
    finally:
        for handler in console_handlers():
            handler.removeFilter(quiet)


class Silenced(logging.Filter):
    """Lets a record through unless its condition holds."""

    def __init__(self, condition: Callable[[], bool]):
        super().__init__()
        self.condition = condition

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.condition()


def console_handlers() -> Iterator[logging.Handler]:
    """Prefect's console handlers, on whichever loggers its logging setup put them."""
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    ensure_logging_setup()
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, PrefectConsoleHandler):
                yield handler
