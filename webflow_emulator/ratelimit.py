"""Per-token fixed-window rate limiter in emulated time (WEBFLOW_API.md section 6)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_EMULATED_SECONDS = 60.0


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: str | None = None

    def headers(self) -> dict[str, str]:
        out = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining)}
        if self.retry_after is not None:
            out["Retry-After"] = self.retry_after
        return out


class RateLimiter:
    """A window of 60 emulated seconds (60/timeScale real seconds) per key, starting at the
    first request after the previous window ended (deviations: ratelimit-window)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window end, count)
        self._clock = clock

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def check(self, key: str, limit: int, time_scale: float) -> Decision:
        """Counts one request; a rejected one (429) is not counted."""
        now = self._clock()
        length = WINDOW_EMULATED_SECONDS / time_scale
        with self._lock:
            end, count = self._windows.get(key, (0.0, 0))
            if now >= end:
                end, count = now + length, 0
            if count >= limit:
                self._windows[key] = (end, count)
                wait = max(end - now, 0.0)
                # deviations: retry-after-fractional
                retry = str(max(1, math.ceil(wait))) if time_scale == 1 else f"{wait:.3f}"
                return Decision(False, limit, 0, retry)
            count += 1
            self._windows[key] = (end, count)
            return Decision(True, limit, limit - count)
