"""A planned write: what the destination receives as one row and executes as (usually) one request.

Ops refer to the source's ids only ("create the items whose source ids are X in the target
collection mapped from source collection C"); target ids are looked up in the ledger when the op
runs. That is what lets a plan be computed before anything exists, and a re-sent op (dlt delivers
at least once) be checked against the ledger before writing again.
"""

from __future__ import annotations

import hashlib
import json as stdjson
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pyarrow as pa
from dlt.common import json


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
            stdjson.dumps(
                [self.phase, self.kind, self.collection, self.payload],
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()
        return f"{self.phase}:{self.kind}:{digest[:20]}"


def op_table(ops: Sequence[Op]) -> pa.Table:
    """The rows the destination receives for `ops` (in plan order), as one Arrow table.

    dlt writes an Arrow table to parquet as it is, instead of inferring types row by row and
    gzipping typed JSON lines twice (extract and normalize); the payload travels as one JSON
    string, so it arrives exactly as planned (DLT_NOTES trap 6)."""
    return pa.table(
        {
            "op_key": pa.array([op.key for op in ops], pa.string()),
            "seq": pa.array(range(len(ops)), pa.int64()),
            "phase": pa.array([op.phase for op in ops], pa.string()),
            "kind": pa.array([op.kind for op in ops], pa.string()),
            "collection": pa.array([op.collection or "" for op in ops], pa.string()),
            "payload": pa.array([json.dumps(op.payload) for op in ops], pa.string()),
        }
    )


def op_rows(items: Any) -> list[dict[str, Any]]:
    """The op rows of a dlt batch, payloads decoded: a record batch of `op_table`, or dicts
    (payload already a dict) from a typed-jsonl package an earlier version left pending."""
    rows: list[dict[str, Any]] = items.to_pylist() if hasattr(items, "to_pylist") else list(items)
    for row in rows:
        if isinstance(row.get("payload"), str):
            row["payload"] = json.loads(row["payload"])
    return rows


def chunks(values: list[Any], size: int) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]
