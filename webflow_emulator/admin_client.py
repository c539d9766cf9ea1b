"""Python client for the emulator's admin interface (`/_emulator/...`, see README.md)."""

from __future__ import annotations

from typing import Any

import requests


class AdminError(RuntimeError):
    """The admin interface refused a request."""


class AdminClient:
    """Creates sites and tokens, configures rate limits/faults, reads stats, exports, seeds."""

    def __init__(self, root_url: str, timeout: float = 60.0) -> None:
        self.root_url = root_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        r = self.session.request(
            method, f"{self.root_url}/_emulator{path}", json=body, timeout=self.timeout
        )
        if r.status_code >= 400:
            raise AdminError(f"{method} /_emulator{path} -> {r.status_code}: {r.text[:500]}")
        return r.json() if r.content else None

    def create_site(
        self,
        display_name: str,
        locales: list[tuple[str, str]] | list[dict[str, Any]] | None = None,
        short_name: str | None = None,
    ) -> dict[str, Any]:
        """locales: [(tag, displayName), ...] or dicts; the first one is primary."""
        body: dict[str, Any] = {"displayName": display_name}
        if short_name:
            body["shortName"] = short_name
        if locales:
            body["locales"] = [
                loc if isinstance(loc, dict) else {"tag": loc[0], "displayName": loc[1]}
                for loc in locales
            ]
        return self._call("POST", "/sites", body)

    def mint_token(
        self,
        site_ids: list[str],
        scopes: list[str] | None = None,
        rate_limit: int | None = None,
    ) -> str:
        """The new token."""
        body: dict[str, Any] = {"siteIds": list(site_ids)}
        if scopes is not None:
            body["scopes"] = list(scopes)
        if rate_limit is not None:
            body["rateLimit"] = rate_limit
        return str(self._call("POST", "/tokens", body)["token"])

    def configure(self, **config: Any) -> dict[str, Any]:
        """configure(rateLimit=60, timeScale=60.0, faults={...}) -> the whole config."""
        return self._call("PATCH", "/config", config)

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/config")

    def pause_state(self) -> dict[str, Any]:
        """{"paused", "operation", "counted", "pauseAfterRequests", "pauseOperation"}."""
        return self._call("GET", "/pause")

    def release(self, apply: bool = True, land_before: str | None = None) -> bool:
        """Lets the request held by `pauseAfterRequests` go on (applied or dropped); with
        `land_before` it is applied just before the next request of that operation."""
        body: dict[str, Any] = {"apply": apply}
        if land_before is not None:
            body["landBefore"] = land_before
        return bool(self._call("POST", "/pause/release", body)["released"])

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats")

    def reset_stats(self) -> None:
        self._call("POST", "/stats/reset")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def export_site(self, site_id: str) -> dict[str, Any]:
        return self._call("GET", f"/sites/{site_id}/export")

    def seed(self, name: str, **options: Any) -> dict[str, Any]:
        return self._call("POST", "/seed", {"name": name, **options})
