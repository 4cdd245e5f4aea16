"""The settings every proseflow process starts with: added where unset, never overriding a choice."""

from __future__ import annotations

from proseflow.flows.environment import QUIET_ENV, quiet_environment


def test_quiet_settings_fill_an_empty_environment():
    environ: dict[str, str] = {}
    assert quiet_environment(environ) is environ
    assert environ == QUIET_ENV
    assert environ["DO_NOT_TRACK"] == "1" and environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"


def test_settings_already_made_are_kept():
    environ = {"PREFECT_LOGGING_LOG_PRINTS": "true", "DO_NOT_TRACK": "", "PATH": "/bin"}
    quiet_environment(environ)
    assert environ["PREFECT_LOGGING_LOG_PRINTS"] == "true"
    assert environ["DO_NOT_TRACK"] == ""  # set, though empty: still the caller's choice
    assert environ["PATH"] == "/bin"
    assert environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] == "120"
