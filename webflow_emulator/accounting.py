"""Request accounting: per operationId, method, status and site; 429s and faults; CDN/S3 apart."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Accounting:
    """Counters behind GET /_emulator/stats."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.by_operation: Counter[str] = Counter()
            self.by_method: Counter[str] = Counter()
            self.by_status: Counter[str] = Counter()
            self.rate_limited = 0
            self.faults: Counter[str] = Counter({"error": 0, "reset": 0, "lost": 0})
            self.by_site: dict[str, dict[str, Counter[str]]] = {}
            self.external: Counter[str] = Counter({"cdn-download": 0, "s3-upload": 0})

    def record(
        self,
        operation: str,
        method: str,
        status: int | None,
        site_id: str | None,
        fault: str | None = None,
    ) -> None:
        """One /v2 request; status None when the connection was dropped without an answer."""
        with self._lock:
            self.total += 1
            self.by_operation[operation] += 1
            self.by_method[method] += 1
            if status is not None:
                self.by_status[str(status)] += 1
            if status == 429:
                self.rate_limited += 1
            if fault:
                self.faults[fault] += 1
            if site_id:
                site = self.by_site.get(site_id)
                if site is None:
                    site = self.by_site[site_id] = {"byMethod": Counter(), "byOperation": Counter()}
                site["byMethod"][method] += 1
                site["byOperation"][operation] += 1

    def record_external(self, kind: str) -> None:
        """cdn-download / s3-upload: counted apart from /v2 traffic."""
        with self._lock:
            self.external[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "byOperation": dict(self.by_operation),
                "byMethod": dict(self.by_method),
                "byStatus": dict(self.by_status),
                "rateLimited": self.rate_limited,
                "faults": dict(self.faults),
                "bySite": {
                    sid: {"byMethod": dict(v["byMethod"]), "byOperation": dict(v["byOperation"])}
                    for sid, v in self.by_site.items()
                },
                "external": dict(self.external),
            }
