"""Downloads into the content-addressed store: small bodies (held in memory until their md5 is
known) and large ones (streamed to a temp file), fresh and already stored, over real HTTP."""

from __future__ import annotations

import hashlib
import http.server
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sources.webflow.client import _IN_MEMORY_BYTES, WebflowClient
from tests.local_http import serve

SMALL = b"small file " * 100
LARGE = bytes(range(256)) * ((_IN_MEMORY_BYTES * 3 // 2) // 256)  # over the in-memory limit


class _Files(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the pool reuses connections

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = LARGE if self.path.startswith("/large") else SMALL
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def file_server() -> Iterator[str]:
    with serve(_Files) as url:
        yield url


@pytest.mark.parametrize(("name", "body"), [("small", SMALL), ("large", LARGE)])
def test_download_small_and_large_bodies(
    file_server: str, tmp_path: Path, name: str, body: bytes
) -> None:
    client = WebflowClient("t0ken", file_server + "/v2", read_only=True, requests_per_minute=None)
    md5 = hashlib.md5(body).hexdigest()
    first = client.download(f"{file_server}/{name}/a.bin", tmp_path, max_bytes=10 << 20)
    # another url with the same bytes: found in the store, nothing written again
    second = client.download(f"{file_server}/{name}/b.bin", tmp_path, max_bytes=10 << 20)
    assert first.md5 == second.md5 == md5 and first.size == second.size == len(body)
    assert first.path == second.path == tmp_path / md5[:2] / f"{md5}.bin"
    assert first.path.read_bytes() == body
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [first.path]  # no .part-* left
    assert client.stats.downloads == 2


def test_download_over_the_cap_leaves_nothing(file_server: str, tmp_path: Path) -> None:
    client = WebflowClient("t0ken", file_server + "/v2", read_only=True, requests_per_minute=None)
    with pytest.raises(Exception, match="over the cap"):
        client.download(f"{file_server}/large/a.bin", tmp_path, max_bytes=_IN_MEMORY_BYTES)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
