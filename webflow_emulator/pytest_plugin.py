"""pytest fixtures: `emulator_server` (one per session) and `emulator` (reset per test).

Register with `pytest_plugins = ["webflow_emulator.pytest_plugin"]`. Set
WEBFLOW_EMULATOR_VALIDATE=0 to skip spec validation of every exchange.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from . import EmulatorServer


@pytest.fixture(scope="session")
def emulator_server(request: pytest.FixtureRequest) -> Iterator[EmulatorServer]:
    """One emulator for the whole session; conftest checks its violations at the end."""
    server = EmulatorServer(validate=os.environ.get("WEBFLOW_EMULATOR_VALIDATE", "1") == "1")
    server.start()
    request.config._webflow_emulator_server = server  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> EmulatorServer:
    """The session's emulator, reset to empty (sites, tokens, files, stats, config)."""
    emulator_server.admin.reset()
    return emulator_server
