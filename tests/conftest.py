"""Shared fixtures: quiet offline Prefect, one session-scoped test harness, sample inputs."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from proseflow.flows.environment import quiet_environment

quiet_environment(os.environ)

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SHARED = REPO.parent / "shared"
BBC = SHARED / "corpora" / "bbc"


@pytest.fixture(scope="session")
def prefect_harness():
    """One embedded Prefect API for every flow-level test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=300):
        yield


@pytest.fixture
def bbc() -> Path:
    """The BBC corpus beside the project; the test is skipped where it is absent."""
    if not BBC.is_dir():
        pytest.skip("../shared/corpora/bbc is not present")
    return BBC


def _is_loopback(address) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes | str) and str(host).startswith("/"):
        return True  # unix socket
    return str(host) in ("localhost", "::1") or str(host).startswith("127.")


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test on any attempt to connect to a non-loopback address."""
    attempts: list = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guard(real):
        def connect(self, address):
            if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
                attempts.append(address)
                raise OSError(f"network access to {address!r} attempted during an offline test")
            return real(self, address)

        return connect

    monkeypatch.setattr(socket.socket, "connect", guard(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guard(real_connect_ex))
    yield attempts
    assert not attempts, f"attempted network connections: {attempts}"
