"""A planned write: what the destination receives as one row and executes as (usually) one request.

Ops refer to the source's ids only ("create the items whose source ids are X in the target
collection mapped from source collection C"); target ids are looked up in the ledger when the op
runs. That is what lets a plan be computed before anything exists, and a re-sent op (dlt delivers
at least once) be checked against the ledger before writing again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any


@dataclass
class Op:
    phase: str
    kind: str
    collection: str | None
    """Source collection id (None for folders and files)."""
    payload: dict[str, Any]
    requests: int = 1
    """Webflow API requests the op takes when nothing goes wrong."""
    uploads: int = 0
    """S3-style file uploads (not API requests, not rate limited)."""
    count: int = 0
    """Objects the op writes (items, entries, fields, files)."""

    @cached_property
    def key(self) -> str:
        """Names the op by its content (computed when first asked: the planner builds and
        discards the ops of every collection order it tries)."""
        digest = hashlib.sha1(
            json.dumps(
                [self.phase, self.kind, self.collection, self.payload],
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()
        return f"{self.phase}:{self.kind}:{digest[:20]}"

    def row(self, seq: int) -> dict[str, Any]:
        """The row the destination receives (payload in one json column: DLT_NOTES trap 6)."""
        return {
            "op_key": self.key,
            "seq": seq,
            "phase": self.phase,
            "kind": self.kind,
            "collection": self.collection or "",
            "payload": self.payload,
        }


def chunks(values: list[Any], size: int) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]
