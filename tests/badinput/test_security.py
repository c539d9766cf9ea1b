"""Secrets and the source site stay safe through whole CLI runs, failed ones included.

- neither token appears in stdout/stderr at DEBUG log level, in exceptions, in dlt's working
  directory (traces, load packages, state; gzip files opened), in the staging or ledger DuckDB
  files (raw bytes, and every text value through SQL), or in the audit table;
- the migration never writes to the source site (emulator stats by site and method);
- downloads: a redirect to a host that is not allowed is refused, and a file streamed past the
  cap without Content-Length leaves nothing behind (the rest is in tests/source/test_client.py).
"""

from __future__ import annotations

import gzip
import http.server
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sources.webflow.client import DownloadRefusedError, WebflowClient
from tests.destination.conftest import build_small
from tests.local_http import serve

from .conftest import poke_item

ROOT = Path(__file__).resolve().parents[2]


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / "migrate.py"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(ROOT),
    )


def _file_texts(root: Path) -> Iterator[tuple[Path, bytes]]:
    """Every file under `root` as bytes, gzip files decompressed as well."""
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        yield path, data
        if data[:2] == b"\x1f\x8b":
            yield path, gzip.decompress(data)


def _duckdb_texts(path: Path) -> Iterator[str]:
    """Every value of every table of a DuckDB file, as text (compressed strings included)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
        for schema, table in tables:
            for row in con.execute(f'select * from "{schema}"."{table}"').fetchall():
                yield repr(row)
    finally:
        con.close()


def test_tokens_never_leave_a_trace(emulator: Any, tmp_path: Path) -> None:
    """Three CLI runs at DEBUG: one refused mid-load (a target token without assets:write, a
    package left pending), one that completes with a rejected item, and verify."""
    m = build_small(emulator, tmp_path / "fixture")
    posts = next(
        c
        for c in emulator.admin.export_site(m.sites.source_id)["collections"]
        if c["slug"] == "posts"
    )
    poke_item(emulator, posts["id"], posts["items"][0]["id"], name="")  # rejected by the target
    weak = emulator.admin.mint_token(
        [m.sites.target_id], scopes=["sites:read", "cms:read", "cms:write", "assets:read"]
    )
    tokens = [m.sites.source_token, m.sites.target_token, weak]
    work = tmp_path / "work"
    env = {
        "RUNTIME__LOG_LEVEL": "DEBUG",
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DLT_DATA_DIR": str(tmp_path / "dlt-data"),
        "SOURCES__WEBFLOW__BASE_URL": m.sites.base_url,
        "DESTINATION__WEBFLOW__BASE_URL": m.sites.base_url,
        "SOURCES__WEBFLOW__API_TOKEN": m.sites.source_token,
        "DESTINATION__WEBFLOW__API_TOKEN": weak,
        "SOURCES__WEBFLOW__REQUESTS_PER_MINUTE": "0",
        "DESTINATION__WEBFLOW__REQUESTS_PER_MINUTE": "0",
    }
    sites = [
        "--source-site",
        m.sites.source_id,
        "--target-site",
        m.sites.target_id,
        "--staging",
        str(work / "staging.duckdb"),
    ]
    emulator.admin.reset_stats()
    runs = [_cli(sites, env)]
    assert runs[0].returncode == 3, runs[0].stderr[-2000:]
    assert "missing scope: assets:write" in runs[0].stderr
    env["DESTINATION__WEBFLOW__API_TOKEN"] = m.sites.target_token
    runs.append(_cli(sites, env))
    assert runs[1].returncode == 1, runs[1].stderr[-2000:]
    failed = [x for x in runs[1].stdout.splitlines() if x.startswith("FAILED")]
    assert failed and all("collection posts item" in x and "field name" in x for x in failed)
    runs.append(_cli(["verify", *sites], env))
    assert runs[2].returncode == 1  # the rejected item is missing
    assert "DEBUG" in runs[1].stderr + runs[1].stdout  # the log level took effect

    for run in runs:
        for token in tokens:
            assert token not in run.stdout and token not in run.stderr
    files = list(_file_texts(work)) + list(_file_texts(tmp_path / "dlt-data"))
    assert any(p.name.endswith(".duckdb") for p, _ in files)
    assert any("pipelines" in p.parts for p, _ in files)
    for path, data in files:
        for token in tokens:
            assert token.encode() not in data, path
    for db in (work / "staging.duckdb", work / "staging.ledger.duckdb"):
        text = "\n".join(_duckdb_texts(db))
        assert "webflow" in text or "rejected" in text
        for token in tokens:
            assert token not in text, db
    audit = "\n".join(_duckdb_texts(work / "staging.ledger.duckdb"))
    assert "rejected" in audit

    # the source was only ever read
    by_site = emulator.admin.stats()["bySite"]
    assert set(by_site[m.sites.source_id]["byMethod"]) == {"GET"}
    assert set(by_site[m.sites.target_id]["byMethod"]) >= {"POST", "PATCH"}


class _Files(http.server.BaseHTTPRequestHandler):
    """/redirect -> a host that is not allowed; /endless -> bytes without Content-Length."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/redirect.png":
            self.send_response(302)
            self.send_header("Location", "http://evil.example/x.png")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()  # no Content-Length: the cap must hold while streaming
        try:
            for _ in range(64):
                self.wfile.write(b"\0" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


@pytest.fixture
def file_server() -> Iterator[str]:
    with serve(_Files) as url:
        yield url


def test_download_redirect_to_another_host_is_refused(file_server: str, tmp_path: Path) -> None:
    client = WebflowClient("t0ken", file_server + "/v2", read_only=True, requests_per_minute=None)
    with pytest.raises(DownloadRefusedError, match=r"evil\.example.*not on the allowlist"):
        client.download(file_server + "/redirect.png", tmp_path, max_bytes=1_000_000)
    assert list(tmp_path.rglob("*")) == []


def test_download_cap_holds_without_content_length(file_server: str, tmp_path: Path) -> None:
    client = WebflowClient("t0ken", file_server + "/v2", read_only=True, requests_per_minute=None)
    with pytest.raises(DownloadRefusedError, match="larger than the cap of 100000 bytes"):
        client.download(file_server + "/endless.png", tmp_path, max_bytes=100_000)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_api_errors_never_carry_the_token(emulator: Any) -> None:
    site = emulator.admin.create_site("Secret")
    token = emulator.admin.mint_token([site["id"]])
    client = WebflowClient(token, emulator.base_url, read_only=True, requests_per_minute=None)
    client._session.headers["X-Emulator-Expect-Invalid-Request"] = "1"  # an unknown path
    with pytest.raises(Exception) as info:
        client.get(f"/sites/{site['id']}/{token}")  # a 404 whose path holds the token
    assert token not in str(info.value) and token not in repr(info.value)
