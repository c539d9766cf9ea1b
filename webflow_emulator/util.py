"""Ids and timestamps in Webflow's formats; JSON text with parts encoded ahead of time."""

from __future__ import annotations

import functools
import json
import os
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
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


@functools.lru_cache(maxsize=4096)
def _iso_second(seconds: int) -> str:
    """`2023-03-17T18:47:35.` for epoch seconds: cached, as a list page's or a batch's dates
    share a handful of seconds (formatting each one was a tenth of a list page's CPU)."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")


def iso_ms(ms: int | None) -> str | None:
    """Epoch ms -> `2023-03-17T18:47:35.560Z` (or None)."""
    if ms is None:
        return None
    return f"{_iso_second(ms // 1000)}{ms % 1000:03d}Z"


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


class RawJSON:
    """A value's JSON text, exactly as `json.dumps` encodes that value, for `dumps` to splice in
    as it is (kept item field data is not encoded again for every answer that shows it). Not a
    str: `json.dumps` refuses it (TypeError) rather than quoting it where `dumps` does not look."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def dumps(value: Any) -> str:
    """`json.dumps(value)` for an answer that may carry RawJSON parts: at its top, as a value of
    its top dict, or in a list there (items, as answers carry them). Answers without any go to
    `json.dumps` whole, faster for them than composing."""
    if carries_raw(value):
        return to_json(value)
    return json.dumps(value)


def carries_raw(value: Any) -> bool:
    """Whether an answer has RawJSON parts where `dumps` looks for them."""
    if type(value) is RawJSON:
        return True
    if type(value) is not dict:
        return False
    for v in value.values():
        if type(v) is RawJSON or (type(v) is list and any(type(x) is RawJSON for x in v)):
            return True
    return False


def to_json(value: Any) -> str:
    """`json.dumps(value)` (default settings), where dicts and lists may hold RawJSON parts.

    Dicts with str keys and lists are composed here with json's separators (`, ` and `: `) and
    its string escaping, which is what `json.dumps` writes for them; other values, and dicts with
    other keys, go to `json.dumps` itself (floats, NaN, big ints, errors: all as it does them).
    """
    kind = type(value)
    if kind is RawJSON:
        return value.text
    if kind is str:
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return int.__repr__(value)
    if kind is dict and all(type(k) is str for k in value):
        items = [f"{encode_basestring_ascii(k)}: {to_json(v)}" for k, v in value.items()]
        return "{" + ", ".join(items) + "}"
    if kind is list:
        return "[" + ", ".join([to_json(v) for v in value]) + "]"
    return json.dumps(value)
