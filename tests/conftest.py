"""Shared test setup: the emulator fixtures, and a session-end check that every emulator
response seen during the run conformed to Webflow's official OpenAPI spec."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["webflow_emulator.pytest_plugin"]

# dlt must never phone home from tests, and retries of jobs must fail fast
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("LOAD__RAISE_ON_MAX_RETRIES", "1")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fails the run when the emulator gave (or was sent) anything the spec does not allow."""
    server = getattr(session.config, "_webflow_emulator_server", None)
    if server is None:
        return
    violations = list(getattr(server, "violations", []))
    validated = getattr(server, "validated_count", 0)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"webflow emulator: {validated} request/response exchanges validated against the "
            f"OpenAPI spec, {len(violations)} with violations"
        )
        for v in violations[:20]:
            reporter.write_line(f"  spec violation: {v}")
    if violations and session.exitstatus == 0:
        session.exitstatus = 1
