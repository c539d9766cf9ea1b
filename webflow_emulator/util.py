"""Ids and timestamps in Webflow's formats."""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

OBJECT_ID_RE = re.compile(r"^[0-9a-f]{24}$")

_id_lock = threading.Lock()
_id_counter = int.from_bytes(os.urandom(3), "big")
_id_random = os.urandom(5)


def new_id() -> str:
    """A fresh Mongo-style ObjectId (24 lowercase hex): 4 bytes time, 5 random, 3 counter."""
    global _id_counter
    with _id_lock:
        _id_counter = (_id_counter + 1) & 0xFFFFFF
        counter = _id_counter
    return (int(time.time()).to_bytes(4, "big") + _id_random + counter.to_bytes(3, "big")).hex()


def is_object_id(value: object) -> bool:
    return isinstance(value, str) and bool(OBJECT_ID_RE.match(value))


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds, the resolution Webflow timestamps carry."""
    return time.time_ns() // 1_000_000


def iso_ms(ms: int | None) -> str | None:
    """Epoch ms -> `2023-03-17T18:47:35.560Z` (or None)."""
    if ms is None:
        return None
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_iso(value: str) -> int | None:
    """ISO-8601 date or date-time -> epoch ms (naive = UTC); None when unparsable."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


F = TypeVar("F", bound=Callable[..., Any])


def locked(fn: F) -> F:
    """Runs a World method under the world's re-entrant lock (`self.lock`)."""

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return fn(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
