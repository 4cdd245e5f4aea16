"""The settings every proseflow process starts with: quiet, offline, patient on a busy machine.

The command line, `proseflow server`, the tests and the bench all apply this one definition.
"""

from __future__ import annotations

from collections.abc import MutableMapping

QUIET_ENV = {
    # No usage reports, no promotional toasts in the UI: proseflow runs offline.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
    # Prefect gives a temporary API 20 s to come up; a busy machine can need more. A start that
    # succeeds takes the same time either way.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    # rensa (near-duplicate signatures) would start a thread per CPU in every worker process, which
    # already has a CPU of its own; its values are the same with any number of threads.
    "RAYON_NUM_THREADS": "1",
}


def quiet_environment(environ: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Add QUIET_ENV's settings to ENVIRON where it does not set them already; ENVIRON."""
    for key, value in QUIET_ENV.items():
        environ.setdefault(key, value)
    return environ
