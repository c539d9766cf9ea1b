"""Publishing, unpublishing and deleting items in the target (bulk, <= 100 per request).

`publish-item` reports per-id errors (e.g. an archived item) instead of failing: each is recorded
in the audit table. Unpublish (`delete-items-live`) comes before staged edits of items the
source no longer has live; delete (`delete-items`, primary locale = every locale) after
unpublishing, for items gone from the source.
"""

from __future__ import annotations

from typing import Any

from .context import OpContext


class PublishOps(OpContext):
    """Executes publish, unpublish and delete ops."""

    def _op_publish_items(self, cid: str, p: dict[str, Any]) -> None:
        tcid = self.ledger.collections(self.site)[cid]
        prepared = self._targets(cid, p, "publish-item")
        if not prepared:
            return
        answer = (
            self.client.post(
                f"/collections/{tcid}/items/publish",
                {"items": [b for _e, b in prepared]},
                operation="publish-item",
                idempotent=True,
            )
            or {}
        )
        errors = " ".join(answer.get("errors") or [])
        for e, b in prepared:
            failed = b["id"] in errors
            self._audit(
                "publish-item",
                "rejected" if failed else "ok",
                collection=cid,
                source_id=e["id"],
                target_id=b["id"],
                error=errors if failed else None,
            )

    def _op_unpublish_items(self, cid: str, p: dict[str, Any]) -> None:
        self._delete(cid, p, live=True)

    def _op_delete_items(self, cid: str, p: dict[str, Any]) -> None:
        self._delete(cid, p, live=False)

    def _delete(self, cid: str, p: dict[str, Any], *, live: bool) -> None:
        tcid = self.ledger.collections(self.site)[cid]
        op = "delete-items-live" if live else "delete-items"
        prepared = self._targets(cid, p, op)
        if not prepared:
            return

        def send(batch: list[tuple[dict[str, Any], dict[str, Any]]]) -> Any:
            path = f"/collections/{tcid}/items" + ("/live" if live else "")
            return self.client.delete(path, {"items": [b for _e, b in batch]}, operation=op)

        done = []
        for batch, _answer in self._isolate(prepared, send, cid, op, not_found_ok=True):
            for e, b in batch:
                self._audit(op, "ok", collection=cid, source_id=e["id"], target_id=b["id"])
                done.append((cid, e["id"]))
        if not live:
            self.ledger.forget_items(self.site, done)
