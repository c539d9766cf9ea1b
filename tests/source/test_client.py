"""WebflowClient: read-only guard, typed errors, downloads (allowlist, cap, safe paths), pacing,
and the token never leaking (reprs, errors, logs, the DuckDB file, pipeline state)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import pytest

from sources.webflow.client import (
    DownloadRefusedError,
    RateLimitPacer,
    ReadOnlyClientError,
    WebflowAuthError,
    WebflowClient,
    WebflowNotFoundError,
    WebflowTransientError,
    WebflowValidationError,
    redact,
    safe_extension,
    store_path,
)

from .conftest import Extractor
from .site_factory import FactorySite


def _client(site: FactorySite, token: str | None = None, **kw: Any) -> WebflowClient:
    kw.setdefault("read_only", True)
    kw.setdefault("requests_per_minute", None)
    kw.setdefault("backoff_base", 0.001)
    return WebflowClient(token or site.read_token, site.base_url, **kw)


@pytest.mark.parametrize("method", ["post", "patch", "delete"])
def test_read_only_client_refuses_writes(emulator: Any, site: FactorySite, method: str) -> None:
    client = _client(site, site.write_token)
    emulator.admin.reset_stats()
    with pytest.raises(ReadOnlyClientError):
        getattr(client, method)(f"/sites/{site.site_id}/asset_folders", {"displayName": "x"})
    with pytest.raises(ReadOnlyClientError):
        client.request("PUT", "/anything")
    assert emulator.admin.stats()["total"] == 0  # nothing was sent


def test_read_write_client_writes(emulator: Any, site: FactorySite) -> None:
    client = _client(site, site.write_token, read_only=False)
    folder = client.post(
        f"/sites/{site.site_id}/asset_folders", {"displayName": "Made"}, operation="create-folder"
    )
    assert folder["displayName"] == "Made"
    assert client.stats.snapshot()["by_method"] == {"POST": 1}


def test_errors_are_typed_and_not_retried(emulator: Any, site: FactorySite) -> None:
    client = _client(site)
    emulator.admin.reset_stats()
    with pytest.raises(WebflowNotFoundError) as not_found:
        client.get("/collections/0123456789abcdef01234567", operation="collection-details")
    assert not_found.value.status == 404 and not_found.value.operation == "collection-details"
    writer = _client(site, site.write_token, read_only=False)
    duplicate = {"fieldData": {"name": "Tag 0", "slug": "tag-0"}}  # the slug is taken
    with pytest.raises(WebflowValidationError) as invalid:
        writer.post(f"/collections/{site.collection_id('tags')}/items", duplicate)
    assert invalid.value.status == 400 and invalid.value.code == "validation_error"
    assert any("slug" in str(d) for d in invalid.value.details)
    assert emulator.admin.stats()["total"] == 2  # 4xx: exactly one request each
    assert client.stats.retries == 0 and writer.stats.retries == 0


def test_auth_errors_name_the_missing_scope(emulator: Any, site: FactorySite) -> None:
    cms_only = emulator.admin.mint_token([site.site_id], scopes=["cms:read"])
    with pytest.raises(WebflowAuthError) as forbidden:
        _client(site, cms_only).get(f"/sites/{site.site_id}/assets", operation="list-assets")
    assert forbidden.value.status == 403
    assert forbidden.value.missing_scopes == ["assets:read"]
    assert "assets:read" in str(forbidden.value)
    with pytest.raises(WebflowAuthError) as unauthorized:
        _client(site, "f" * 64).get(f"/sites/{site.site_id}")
    assert unauthorized.value.status == 401
    assert "f" * 64 not in str(unauthorized.value)


def test_connection_errors_become_transient_after_retries(site: FactorySite) -> None:
    client = WebflowClient(
        "secret-token-123",
        "http://127.0.0.1:9/v2",
        read_only=True,
        max_attempts=3,
        backoff_base=0.001,
        requests_per_minute=None,
        timeout=1,
    )
    with pytest.raises(WebflowTransientError) as err:
        client.get("/sites", operation="list-sites")
    assert client.stats.requests == 3 and client.stats.retries == 2
    assert "secret-token-123" not in str(err.value)


def test_repr_and_redact_hide_the_token(site: FactorySite) -> None:
    client = _client(site)
    assert site.read_token not in repr(client)
    assert site.read_token not in repr(client._auth)
    assert client.redact(f"x {site.read_token} y") == "x *** y"
    assert redact(f"a{site.read_token}", [site.read_token]) == "a***"
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(client)


def test_download_store_is_content_addressed(site: FactorySite, tmp_path: Path) -> None:
    client = _client(site)
    asset = site.assets[0]
    got = client.download(asset["hostedUrl"], tmp_path, max_bytes=1_000_000)
    assert got.path == tmp_path / got.md5[:2] / f"{got.md5}.png"
    again = client.download(asset["hostedUrl"], tmp_path, max_bytes=1_000_000)
    assert again.path == got.path
    assert client.stats.downloads == 2 and client.stats.requests == 0  # not API calls
    assert not list(tmp_path.rglob(".part-*"))


def test_download_refusals(site: FactorySite, tmp_path: Path) -> None:
    client = _client(site)
    asset = site.assets[0]
    for url in (
        "https://evil.example.com/image.png",
        "http://cdn.prod.website-files.com/x.png",  # Webflow's CDN, but not https
        "file:///etc/passwd",
        "https://website-files.com.evil.example/x.png",
    ):
        with pytest.raises(DownloadRefusedError):
            client.download(url, tmp_path, max_bytes=1_000_000)
    with pytest.raises(DownloadRefusedError, match="cap"):
        client.download(asset["hostedUrl"], tmp_path, max_bytes=10)
    assert list(tmp_path.rglob("*")) == []
    assert client.is_download_allowed("https://cdn.prod.website-files.com/a/b.png")
    assert client.is_download_allowed("https://assets-global.website-files.com/a/b.png")
    assert client.is_download_allowed("https://uploads-ssl.webflow.com/a/b.png")


def test_remote_names_never_become_paths(tmp_path: Path) -> None:
    assert safe_extension("https://x/a/../../etc/passwd.png?x=1") == ".png"
    assert safe_extension("https://x/a/evil.p/ng") == ""
    assert safe_extension("https://x/a/file.tar.gz%2F..") == ""
    assert safe_extension("https://x/a/noext") == ""
    md5 = "0123456789abcdef0123456789abcdef"
    assert store_path(tmp_path, md5, "/../x") == tmp_path / "01" / md5
    with pytest.raises(ValueError):
        store_path(tmp_path, "../../etc/passwd", ".png")


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _headers(limit: int, remaining: int) -> dict[str, str]:
    return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining)}


def test_pacer_waits_for_the_window_to_end() -> None:
    t = FakeTime()
    pacer = RateLimitPacer(None, 60.0, clock=t.clock, sleep=t.sleep)
    for remaining in (2, 1, 0):  # limit 3: the first answer opens the window at t=1000
        assert pacer.acquire() == 0.0
        t.now += 1
        pacer.release(_headers(3, remaining))
    waited = pacer.acquire()
    assert waited == pytest.approx(60.0 - 3 + 1 + 0.001, abs=0.01)  # until 1001 + 60
    assert t.now >= 1061.0
    pacer.release(_headers(3, 2))  # the first answer of the next window
    assert pacer.acquire() == 0.0


def test_pacer_paces_under_a_lower_configured_limit() -> None:
    t = FakeTime()
    pacer = RateLimitPacer(2, 10.0, clock=t.clock, sleep=t.sleep)
    pacer.acquire()
    pacer.release(_headers(120, 119))  # the token allows 120, we were told 2
    pacer.acquire()
    pacer.release(_headers(120, 118))
    assert pacer.acquire() > 0
    assert t.slept


def test_pacer_without_headers_counts_its_own_requests() -> None:
    t = FakeTime()
    pacer = RateLimitPacer(3, 60.0, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        assert pacer.acquire() == 0.0
        pacer.release(None)
    assert pacer.acquire() == pytest.approx(60.001)


def test_pacer_after_429_waits_retry_after() -> None:
    t = FakeTime()
    pacer = RateLimitPacer(None, 60.0, clock=t.clock, sleep=t.sleep)
    pacer.acquire()
    pacer.rate_limited(12.5)
    assert pacer.acquire() == pytest.approx(12.501)


def test_token_never_reaches_duckdb_state_or_logs(
    site: FactorySite, extractor: Extractor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    extractor.run()
    extractor.run()
    token = site.read_token.encode()
    assert token not in extractor.db_path.read_bytes()
    for path in extractor.pipelines_dir.rglob("*"):
        if path.is_file():
            assert token not in path.read_bytes(), path
    assert site.read_token not in caplog.text


def test_client_is_shared_safely_by_threads(emulator: Any, site: FactorySite) -> None:
    from concurrent.futures import ThreadPoolExecutor

    emulator.admin.configure(rateLimit=10, timeScale=600.0)  # 10 requests per 0.1 s
    client = _client(site, window_seconds=0.1, requests_per_minute=10)
    emulator.admin.reset_stats()
    with ThreadPoolExecutor(max_workers=8) as pool:
        sites = list(pool.map(lambda _: client.get(f"/sites/{site.site_id}")["id"], range(40)))
    assert sites == [site.site_id] * 40
    stats = client.stats.snapshot()
    assert stats["requests"] == emulator.admin.stats()["total"] == 40 + stats["rate_limited"]
    assert stats["rate_limited"] <= 2, stats  # paced by one shared window, not by 429s


def test_upload_form_goes_through_the_shared_client(
    emulator: Any, site: FactorySite, tmp_path: Path
) -> None:
    """The S3 POST is counted, never carries the token, and a read-only client cannot send it."""

    data = b"%PDF-1.4 upload through the shared client\n"
    writer = _client(site, site.write_token, read_only=False)
    created = writer.post(
        f"/sites/{site.site_id}/assets",
        {"fileName": "shared.pdf", "fileHash": hashlib.md5(data).hexdigest()},
        operation="create-asset",
    )
    fields = [(k, str(v)) for k, v in created["uploadDetails"].items()]
    with pytest.raises(ReadOnlyClientError):
        _client(site).upload_form(created["uploadUrl"], fields, "shared.pdf", data)
    answer = writer.upload_form(created["uploadUrl"], fields, "shared.pdf", data, "application/pdf")
    assert answer.status_code == 201
    assert writer.stats.snapshot()["uploads"] == 1
    assert "create-asset" in writer.stats.snapshot()["by_operation"]
    assert site.write_token not in (answer.request.headers.get("Authorization") or "")
    stored = writer.download(created["hostedUrl"], tmp_path, 1 << 20)
    assert stored.md5 == hashlib.md5(data).hexdigest()
