"""The README's promises: the demo command migrates and verifies, and every query of
"Inspect the staged data" runs against the demo's staging database and returns rows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_queries() -> list[str]:
    section = README[README.index("## Inspect the staged data") :]
    return re.findall(r"```sql\n(.*?)```", section, re.S)


@pytest.fixture(scope="module")
def demo_staging(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs the quick start's demo (emulator, migrate, verify) as a user would, once."""
    staging = tmp_path_factory.mktemp("demo") / "staging.duckdb"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "pipelines" / "migrate.py"),
            "--demo",
            "--staging",
            str(staging),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path_factory.getbasetemp(),  # not the repo root: the CLI must find its own config
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "OK: target matches source" in result.stdout
    return staging


def test_the_readme_has_queries() -> None:
    assert len(readme_queries()) >= 8


@pytest.mark.parametrize("number", range(len(readme_queries())))
def test_readme_query_runs_on_the_demo(demo_staging: Path, number: int) -> None:
    query = readme_queries()[number]
    # the audit query is for the migration's ledger, which sits beside the staging file
    path = demo_staging.with_suffix(".ledger.duckdb") if "FROM audit" in query else demo_staging
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(query).fetchall()
    assert rows, f"query {number} returned nothing:\n{query}"


def test_ci_runs_the_readme_test_command() -> None:
    """`.ci/run` extracts the command after the marker; the marker must sit before it."""
    marker = README.index("<!-- test-command -->")
    command = README[marker:].split("```bash\n", 1)[1].split("\n", 1)[0]
    assert "pytest" in command and "pip install" in command
