"""The console: one line per problem, no tracebacks unless asked, quiet while a run stops."""

from __future__ import annotations

import logging
import sys

from proseflow.flows import console


def _record_with_traceback() -> logging.LogRecord:
    try:
        raise ValueError("boom")
    except ValueError:
        return logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "failed: %s", ("it",), sys.exc_info()
        )


def test_without_traceback_keeps_the_message_and_drops_the_traceback():
    record = _record_with_traceback()
    formatter = console.WithoutTraceback(logging.Formatter("%(levelname)s %(message)s"))
    assert formatter.format(record) == "ERROR failed: it"
    assert record.exc_info is not None  # other handlers (the API's) still get the traceback
    assert "Traceback" in logging.Formatter().format(record)


def test_silenced_drops_records_only_while_its_condition_holds():
    stopping = []
    quiet = console.Silenced(lambda: bool(stopping))
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
    assert quiet.filter(record)
    stopping.append(True)
    assert not quiet.filter(record)


def test_hide_tracebacks_is_left_alone_when_asked_to_show_them(monkeypatch):
    monkeypatch.setenv(console.SHOW_TRACEBACKS_ENV, "1")
    before = [h.formatter for h in console.console_handlers()]
    console.hide_tracebacks()
    assert [h.formatter for h in console.console_handlers()] == before


def test_hide_tracebacks_wraps_each_console_handler_once(monkeypatch):
    monkeypatch.delenv(console.SHOW_TRACEBACKS_ENV, raising=False)
    handlers = list(console.console_handlers())
    assert handlers
    for handler in handlers:  # put back as they were when the test ends
        monkeypatch.setattr(handler, "formatter", handler.formatter)
    console.hide_tracebacks()
    console.hide_tracebacks()
    for handler in handlers:
        assert isinstance(handler.formatter, console.WithoutTraceback)
        assert not isinstance(handler.formatter.inner, console.WithoutTraceback)


def test_plural():
    assert [console.plural(n, "document") for n in (0, 1, 2)] == [
        "0 documents",
        "1 document",
        "2 documents",
    ]
