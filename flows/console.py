"""Console output of the CLI: Prefect's log lines without tracebacks (the Prefect API keeps them)."""

from __future__ import annotations

import logging
import os

SHOW_TRACEBACKS_ENV = "PROSEFLOW_TRACEBACKS"


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
            if isinstance(handler, PrefectConsoleHandler) and not isinstance(
                handler.formatter, WithoutTraceback
            ):
                handler.setFormatter(WithoutTraceback(handler.formatter or logging.Formatter()))
