"""Plain-HTTP access to the emulator's admin interface (`/_emulator/...`), from an API base URL.

The benchmark needs only a few admin calls (config, stats, export). Calling them over HTTP from
the `/v2` base URL keeps the bench independent of the Python `AdminClient`'s method names, and
works against an emulator running in another process.
"""

from __future__ import annotations

from typing import Any

import requests


def admin_root(base_url: str) -> str:
    """`http://127.0.0.1:PORT/v2` -> `http://127.0.0.1:PORT/_emulator`."""
    root = base_url.rstrip("/")
    if root.endswith("/v2"):
        root = root[: -len("/v2")]
    return root + "/_emulator"


def _call(base_url: str, method: str, path: str, json: Any = None) -> Any:
    response = requests.request(method, admin_root(base_url) + path, json=json, timeout=600)
    response.raise_for_status()
    return response.json() if response.content else None


def get_config(base_url: str) -> dict[str, Any]:
    return _call(base_url, "GET", "/config")


def set_config(base_url: str, **changes: Any) -> dict[str, Any]:
    """PATCH /config with e.g. rateLimit=120, timeScale=60 (None turns the rate limit off)."""
    return _call(base_url, "PATCH", "/config", json=changes)


def stats(base_url: str) -> dict[str, Any]:
    return _call(base_url, "GET", "/stats")


def reset_stats(base_url: str) -> None:
    _call(base_url, "POST", "/stats/reset")


def export_site(base_url: str, site_id: str) -> dict[str, Any]:
    """The site's whole state; never counted in stats nor rate limited."""
    return _call(base_url, "GET", f"/sites/{site_id}/export")


def create_site(base_url: str, name: str, locales: list[tuple[str, str]]) -> dict[str, Any]:
    body = {"displayName": name, "locales": [{"tag": t, "displayName": d} for t, d in locales]}
    return _call(base_url, "POST", "/sites", json=body)


def mint_token(base_url: str, site_ids: list[str], scopes: list[str] | None = None) -> str:
    body: dict[str, Any] = {"siteIds": site_ids}
    if scopes is not None:
        body["scopes"] = scopes
    return _call(base_url, "POST", "/tokens", json=body)["token"]


def site_stats(all_stats: dict[str, Any], site_id: str) -> dict[str, int]:
    """Requests by operation for one site (stats' `bySite`)."""
    return dict((all_stats.get("bySite") or {}).get(site_id, {}).get("byOperation") or {})
