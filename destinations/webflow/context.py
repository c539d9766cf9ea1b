"""Shared plumbing of the op handlers: intents, audit buffer, lookups, 400 isolation.

The why of it is in `executor.py`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from dlt.common import logger

from sources.webflow.client import (
    WebflowApiError,
    WebflowAuthError,
    WebflowClient,
    WebflowConflictError,
    WebflowNotFoundError,
    WebflowTransientError,
    WebflowValidationError,
)

from .errors import MissingScopeError, TargetWriteError
from .ledger import Ledger
from .transform import Lookups

_INDEX = re.compile(r"(?:items|fieldData)\[(\d+)\]")


class OpContext:
    """What every op handler shares: client, ledger, intents, audit buffer, 400 isolation."""

    def __init__(
        self,
        client: WebflowClient,
        ledger: Ledger,
        site_id: str,
        run_id: str,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.site = site_id
        self.run_id = run_id
        self._lock = threading.RLock()  # held by `batch`: one batch of ops at a time
        self._phase = ""
        self._key = ""
        self._audit_rows: list[dict[str, Any]] = []

    # plumbing

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """The ops run inside share ledger transactions: one commits at each intent (`_begin`,
        before its request goes out) and one when the block ends. The destination wraps each
        dlt batch in it, so the ledger is committed before dlt commits the batch's offset: a
        kill before that re-sends the batch, and every op of it is safe to run again (creates
        are found in the ledger, or recovered by natural key while their intent is in flight;
        updates, publishes and deletes are idempotent). Audit rows are written once, at the end
        (or with the next intent's commit), not once per op."""
        with self._lock, self.ledger.deferred():
            try:
                yield
            finally:
                self._flush_audit()

    def run_batch(self, rows: Sequence[dict[str, Any]]) -> None:
        """Executes a dlt batch of op rows in plan order. Consecutive rows of a kind with a batch
        handler (`_ops_<kind>`, e.g. uploads) go to it together, so their ledger writes are one
        statement each instead of one per op."""
        with self.batch():
            for kind, group in itertools.groupby(rows, key=lambda r: r["kind"]):
                if hasattr(self, f"_ops_{kind}"):
                    self._execute(list(group))
                else:
                    for row in group:
                        self._execute([row])

    def _execute(self, rows: list[dict[str, Any]]) -> None:
        """Runs `rows` (one op, or a group of one kind for its batch handler); maps the client's
        errors to the destination's."""
        first = rows[0]
        self._phase = first.get("phase") or ""
        self._key = first["op_key"]
        try:
            many = getattr(self, f"_ops_{first['kind']}", None)
            if many is not None:
                many(rows)
                return
            handler: Callable[[str, dict[str, Any]], None] = getattr(self, f"_op_{first['kind']}")
            handler(first.get("collection") or "", first.get("payload") or {})
        except WebflowAuthError as exc:
            raise MissingScopeError(exc.message, exc.missing_scopes) from exc
        except WebflowTransientError as exc:
            raise TargetWriteError(str(exc)) from exc

    def _begin(self, kind: str, collection: str, payload: Any) -> bool:
        """Records the intent; returns True when an earlier attempt may have written already.

        The ledger's commit of the intent (which also commits the ops before it in the batch,
        and their audit rows) is the only durable record needed: it is synced before the request
        goes out, and the ledger outlives the load package. (Copying it to the package's
        destination state too cost a state-file write per create and recovered nothing the
        ledger did not.)"""
        return bool(self._begin_many([(self._key, kind, collection, payload)]))

    def _begin_many(self, intents: Sequence[tuple[str, str, str, Any]]) -> set[str]:
        """Records intents of (op key, kind, collection, payload) in one commit; returns the keys
        an earlier attempt may have written already (their intent was still in flight)."""
        earlier = {k for k, *_ in intents if self.ledger.op_status(self.site, k) == "in_flight"}
        self._flush_audit()
        self.ledger.begin_many(self.site, intents)
        return earlier

    def _finish(self) -> None:
        self.ledger.finish(self.site, self._key)

    def _finish_many(self, op_keys: Sequence[str]) -> None:
        self.ledger.finish_many(self.site, op_keys)

    def _audit(self, operation: str, status: str, **kw: Any) -> None:
        """Buffers an audit row; `batch` writes the rows of its ops in one statement."""
        self._audit_rows.append(
            dict(
                run_id=self.run_id,
                site=self.site,
                phase=self._phase,
                operation=operation,
                status=status,
                **kw,
            )
        )

    def _audit_entry(
        self, operation: str, status: str, cid: str, e: dict[str, Any], **kw: Any
    ) -> None:
        """Buffers an audit row about entry `e` (a source item, in its locale if it has one) of
        collection `cid`."""
        self._audit(
            operation, status, collection=cid, source_id=e["id"], locale=e.get("locale"), **kw
        )

    def _flush_audit(self) -> None:
        rows, self._audit_rows = self._audit_rows, []
        self.ledger.audit_many(rows)

    def lookups(self) -> Lookups:
        return Lookups(
            collections=self.ledger.collections(self.site),
            fields=self.ledger.fields(self.site),
            options=self.ledger.options(self.site),
            assets=self.ledger.assets(self.site),
            items=self.ledger.target_item_ids(self.site),
            file_allowed=self.client.is_download_allowed,
        )

    def _target_id(
        self, mapped: dict[str, str], cid: str, e: dict[str, Any], operation: str
    ) -> str | None:
        """The target id of entry `e`'s item; None (audited as skipped) when it was never
        created in the target (rejected, or failed earlier in the run)."""
        tid = mapped.get(e["id"])
        if tid is None:
            self._audit_entry(
                operation, "skipped", cid, e, error="item was not created in the target"
            )
        return tid

    def _targets(self, cid: str, p: dict[str, Any], operation: str) -> list[tuple[dict, dict]]:
        mapped = self.ledger.target_item_ids(self.site)
        locales = self.ledger.locales(self.site)
        out = []
        for e in p["items"]:
            tid = self._target_id(mapped, cid, e, operation)
            if tid is None:
                continue
            body: dict[str, Any] = {"id": tid}
            if e.get("locales"):
                body["cmsLocaleIds"] = [locales[t] for t in e["locales"]]
            out.append((e, body))
        return out

    # 400 isolation

    def _isolate(
        self,
        prepared: list[tuple[dict[str, Any], dict[str, Any]]],
        send: Callable[[list[tuple[dict[str, Any], dict[str, Any]]]], Any],
        cid: str,
        operation: str,
        not_found_ok: bool = False,
        divert: Callable[[dict[str, Any], dict[str, Any], WebflowApiError], bool] | None = None,
    ) -> list[tuple[list[tuple[dict[str, Any], dict[str, Any]]], Any]]:
        """Sends `prepared` in one request; on a 400 drops the entries it names and sends the
        rest again. Every 400 removes or splits something, so this ends. An entry `divert`
        takes (returns True for) is the caller's to report; the others are audited here."""
        done = []
        pending = [prepared]
        while pending:
            batch = pending.pop(0)
            if not batch:
                continue
            try:
                done.append((batch, send(batch)))
            except (WebflowValidationError, WebflowNotFoundError, WebflowConflictError) as exc:
                if isinstance(exc, WebflowNotFoundError) and not_found_ok and len(batch) == 1:
                    done.append((batch, None))
                    continue
                culprits = _culprits(batch, exc.details) if len(batch) > 1 else {0}
                if (culprits and len(culprits) < len(batch)) or len(batch) == 1:
                    for i in sorted(culprits):
                        e, b = batch[i]
                        if divert is not None and divert(e, b, exc):
                            continue
                        field, reason = _reason(exc, b)
                        self._audit_entry(
                            operation,
                            "rejected",
                            cid,
                            e,
                            target_id=b.get("id"),
                            http_status=exc.status,
                            field=field,
                            error=reason,
                        )
                        logger.warning(f"webflow: {operation} rejected {e['id']}: {reason}")
                    pending.insert(0, [x for i, x in enumerate(batch) if i not in culprits])
                else:
                    mid = len(batch) // 2
                    pending[0:0] = [batch[:mid], batch[mid:]]
        return done


def _field_data(body: dict[str, Any]) -> dict[str, Any]:
    return body.get("fieldData") or body


def _culprits(batch: list[tuple[dict[str, Any], dict[str, Any]]], details: list[Any]) -> set[int]:
    """Indexes of the entries a 400's details point at (by index, or by field and value)."""
    found: set[int] = set()
    for d in details:
        param = str(d.get("param") or d.get("field") or "") if isinstance(d, dict) else ""
        text = (
            str(d.get("description") or d.get("message") or "") if isinstance(d, dict) else str(d)
        )
        m = _INDEX.search(param)
        if m and int(m.group(1)) < len(batch):
            found.add(int(m.group(1)))
            continue
        slug = param.split(".")[-1]
        if not slug:
            continue
        hits = set()
        for i, (_e, b) in enumerate(batch):
            fd = _field_data(b)
            value = fd.get(slug)
            missing = "required" in text.lower() and value is None
            if missing or (value is not None and _mentions(text, value)):
                hits.add(i)
        found |= hits
    return found


def _mentions(text: str, value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    for v in values:
        s = v.get("url") if isinstance(v, dict) else v
        if isinstance(s, str) and s and s in text:
            return True
        if not isinstance(s, str) and repr(s) in text:
            return True
    return False


def _reason(exc: WebflowApiError, body: dict[str, Any]) -> tuple[str | None, str]:
    fd = _field_data(body)
    for d in exc.details:
        if isinstance(d, dict):
            param = str(d.get("param") or d.get("field") or "")
            slug = param.split(".")[-1]
            text = str(d.get("description") or d.get("message") or "")
            if slug in fd or "required" in text.lower():
                return slug or None, text
    first = exc.details[0] if exc.details else None
    if isinstance(first, dict):
        return (first.get("param") or None), str(first.get("description") or exc.message)
    return None, str(first or exc.message)


def slug_taken(exc: WebflowApiError) -> bool:
    """A 400 that says the item's slug is already used in the collection."""
    return any(
        isinstance(d, dict)
        and str(d.get("param") or "").split(".")[-1] == "slug"
        and "already in database" in str(d.get("description") or "")
        for d in exc.details
    )


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()
