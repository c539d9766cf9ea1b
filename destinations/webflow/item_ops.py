"""Executes the item ops the planner (`items.py`) made: reject, adopt, bulk create with crash
recovery, bulk update."""

from __future__ import annotations

from functools import partial
from typing import Any

from sources.webflow.client import WebflowApiError

from .context import OpContext, slug_taken
from .items import RETIRED
from .ops import chunks
from .settings import BULK_LIMIT, RECOVER_BY_SLUG_MAX
from .transform import Files, Lookups, dropped_files, transform


class ItemOps(OpContext):
    """Executes item ops: reject, adopt, bulk create (with recovery), bulk update."""

    def _op_reject_items(self, cid: str, p: dict[str, Any]) -> None:
        for r in p["items"]:
            self._audit(
                "create-items",
                "rejected",
                collection=cid,
                source_id=r["id"],
                field=r.get("field"),
                error=r["reason"],
            )

    def _op_conflict_items(self, cid: str, p: dict[str, Any]) -> None:
        for r in p["items"]:
            self._audit(
                "update-items",
                "conflict",
                collection=cid,
                source_id=r["id"],
                target_id=r.get("target_id"),
                locale=r["locale"],
                field="slug",
                error=f"{r.get('slug')}: edited in the target since our last write; not "
                "overwritten (--overwrite-target-edits overwrites it)",
            )

    def _op_retire_items(self, cid: str, p: dict[str, Any]) -> None:
        """Items gone from the source that stay (archived or kept) in the target: remembered,
        so later runs neither archive them again nor report them."""
        self.ledger.retire_items(self.site, cid, p["ids"], RETIRED + p["how"])
        for i in p["ids"]:
            self._audit(f"{p['how']}-deleted", "ok", collection=cid, source_id=i)

    def _send_updates(self, tcid: str, batch: list[tuple[dict[str, Any], dict[str, Any]]]) -> Any:
        """One update-items request with the bodies of `batch` ((entry, body) pairs)."""
        return self.client.patch(
            f"/collections/{tcid}/items",
            {"items": [b for _e, b in batch]},
            operation="update-items",
        )

    def _record_updated(self, answer: Any) -> None:
        self.ledger.set_target_updated(
            self.site,
            [
                (it["id"], it.get("cmsLocaleId"), it.get("lastUpdated"))
                for it in answer_items(answer)
                if "id" in it
            ],
        )

    def _item_lookups(self) -> Lookups:
        """`lookups()` plus the source urls of migrated Assets-panel files, the only file
        values pointed at a target asset (others go by url)."""
        lookups = self.lookups()
        lookups.asset_urls = {
            k: a["target_url"]
            for k, a in self.ledger.asset_lookup(self.site).items()
            if a.get("target_url")
        }
        return lookups

    def _warn_dropped(
        self,
        operation: str,
        cid: str,
        e: dict[str, Any],
        files: Files,
        answers: list[dict[str, Any]],
        **kw: Any,
    ) -> None:
        """A warning per field whose file values the written item (any of its locales' copies
        in the answer) came back without: found in the answer we read anyway, no request."""
        if not files:
            return
        found: dict[tuple[str, str], None] = {}
        for it in answers:
            found.update(dict.fromkeys(dropped_files(files, it.get("fieldData") or {})))
        for slug, reason in found:
            self._audit(
                operation,
                "warning",
                collection=cid,
                source_id=e["id"],
                field=slug,
                error=reason,
                **kw,
            )

    def _op_adopt_items(self, cid: str, p: dict[str, Any]) -> None:
        self.ledger.put_items(
            self.site,
            [(cid, src, loc, tgt, slug, None, False) for src, loc, tgt, slug in p["rows"]],
        )
        for src, _loc, tgt, _slug in p["rows"][:1]:
            self._audit("adopt-item", "ok", collection=cid, source_id=src, target_id=tgt)

    def _op_create_items(self, cid: str, p: dict[str, Any]) -> None:
        mapped = self.ledger.target_item_ids(self.site)
        todo = [e for e in p["items"] if e["id"] not in mapped]
        if not todo:
            return
        tcid = self.ledger.collections(self.site)[cid]
        locales = self.ledger.locales(self.site)
        earlier = self._begin("create_items", cid, {"ids": [e["id"] for e in todo]})
        if earlier:
            todo = self._recover_items(cid, tcid, todo, p["locales"])
            if not todo:
                self._finish()
                return
        lookups = self._item_lookups()
        prepared = []
        files: dict[str, Files] = {}
        for e in todo:
            t = transform(
                e["field_data"],
                p["ctx"],
                e.get("md5") or {},
                lookups,
                defer=e.get("defer") or [],
                drop_unresolved=True,
            )
            for slug, reason in t.problems:
                self._audit(
                    "create-items",
                    "warning",
                    collection=cid,
                    source_id=e["id"],
                    field=slug,
                    error=reason,
                )
            prepared.append((e, t.field_data))
            files[e["id"]] = t.files

        def send(batch: list[tuple[dict[str, Any], dict[str, Any]]]) -> Any:
            body = {
                "cmsLocaleIds": [locales[t] for t in p["locales"]],
                "isDraft": p["is_draft"],
                "isArchived": p["is_archived"],
                "fieldData": [fd for _e, fd in batch],
            }
            return self.client.post(
                f"/collections/{tcid}/items/bulk", body, operation="create-items"
            )

        taken: list[tuple[dict[str, Any], dict[str, Any]]] = []

        def divert(e: dict[str, Any], fd: dict[str, Any], exc: WebflowApiError) -> bool:
            if (earlier or e.get("recovering")) and slug_taken(exc):
                taken.append((e, fd))
                return True
            return False

        for batch, answer in self._isolate(prepared, send, cid, "create-items", divert=divert):
            by_slug: dict[Any, list[dict[str, Any]]] = {}
            for it in answer_items(answer):  # one per locale created
                by_slug.setdefault((it.get("fieldData") or {}).get("slug"), []).append(it)
            rows = []
            for e, fd in batch:
                made = by_slug.get(fd.get("slug"))
                if not made:
                    continue
                tid = made[0]["id"]
                rows.extend(
                    (cid, e["id"], t, tid, fd.get("slug"), None, False) for t in p["locales"]
                )
                self._audit("create-items", "ok", collection=cid, source_id=e["id"], target_id=tid)
                self._warn_dropped("create-items", cid, e, files[e["id"]], made, target_id=tid)
            self.ledger.put_items(self.site, rows)
            self._record_updated(answer)
        if taken:
            self._adopt_taken(cid, tcid, taken, p, locales, files)
        self._finish()

    def _adopt_taken(
        self,
        cid: str,
        tcid: str,
        taken: list[tuple[dict[str, Any], dict[str, Any]]],
        p: dict[str, Any],
        locales: dict[str, str],
        files: dict[str, Files],
    ) -> None:
        """Items whose slug was taken when created, while a lost create of theirs may have
        landed after this run read the target: adopted by slug, then given the content and
        flags this create would have written (what the later ops of the plan build on)."""
        todo = [e for e, _fd in taken]
        left = {e["id"] for e in self._recover_items(cid, tcid, todo, p["locales"])}
        mapped = self.ledger.target_item_ids(self.site)
        bodies = []
        sent: dict[tuple[str, str], Files] = {}
        for e, fd in taken:
            if e["id"] in left:
                self._audit(
                    "create-items",
                    "rejected",
                    collection=cid,
                    source_id=e["id"],
                    field="slug",
                    error=f"slug {fd.get('slug')!r} is taken in the target, yet no item has it",
                )
                continue
            rest = {k: v for k, v in fd.items() if k != "slug"}  # the same slug again is a 400
            for t in p["locales"]:
                body = {
                    "id": mapped[e["id"]],
                    "cmsLocaleId": locales[t],
                    "isDraft": p["is_draft"],
                    "isArchived": p["is_archived"],
                }
                if rest:
                    body["fieldData"] = rest
                    sent[(body["id"], body["cmsLocaleId"])] = files[e["id"]]
                bodies.append(({**e, "locale": t}, body))
        send = partial(self._send_updates, tcid)
        for chunk in chunks(bodies, BULK_LIMIT):
            for batch, answer in self._isolate(chunk, send, cid, "update-items"):
                self._record_updated(answer)
                self._warn_dropped_updates(cid, batch, answer, sent)

    def _warn_dropped_updates(
        self,
        cid: str,
        batch: list[tuple[dict[str, Any], dict[str, Any]]],
        answer: Any,
        sent: dict[tuple[str, str], Files],
    ) -> None:
        """`_warn_dropped` for each locale's copy an update-items wrote file values into,
        matched in the answer by item id and cmsLocaleId."""
        if not sent:
            return
        got: dict[tuple[Any, Any], dict[str, Any]] = {
            (it.get("id"), it.get("cmsLocaleId")): it for it in answer_items(answer)
        }
        for e, b in batch:
            key = (b["id"], b["cmsLocaleId"])
            it = got.get(key) or got.get((b["id"], None))
            if key in sent and it is not None:
                self._warn_dropped(
                    "update-items", cid, e, sent[key], [it], target_id=b["id"], locale=e["locale"]
                )

    def _recover_items(
        self, cid: str, tcid: str, todo: list[dict[str, Any]], tags: list[str]
    ) -> list[dict[str, Any]]:
        """Maps items a lost create wrote (by slug); returns those still to create."""
        wanted = {e["field_data"].get("slug"): e for e in todo}
        found = self._find_by_slug(tcid, [s for s in wanted if s])
        rows = []
        for slug, tid in found.items():
            e = wanted[slug]
            rows.extend((cid, e["id"], t, tid, slug, None, False) for t in tags)
            self._audit(
                "create-items", "recovered", collection=cid, source_id=e["id"], target_id=tid
            )
        self.ledger.put_items(self.site, rows)
        return [e for s, e in wanted.items() if s not in found]

    def _find_by_slug(self, tcid: str, slugs: list[str]) -> dict[str, str]:
        """Target item ids by slug: one filtered GET per slug for a few, else one listing."""
        if not slugs:
            return {}
        path = f"/collections/{tcid}/items"
        found: dict[str, str] = {}
        if len(slugs) <= RECOVER_BY_SLUG_MAX:
            for slug in slugs:
                body = self.client.get(path, {"slug": slug}, operation="list-collection-items")
                for it in (body or {}).get("items") or []:
                    if (it.get("fieldData") or {}).get("slug") == slug:
                        found[slug] = it["id"]
            return found
        wanted = set(slugs)
        for page in self.client.paginate(path, None, "items", operation="list-collection-items"):
            for it in page.items:
                slug = (it.get("fieldData") or {}).get("slug")
                if slug in wanted:
                    found[slug] = it["id"]
        return found

    def _entry_bodies(
        self, cid: str, p: dict[str, Any], operation: str
    ) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], dict[tuple[str, str], Files]]:
        """(entry, body) pairs of the update, and the file values each body writes (by target
        item id and cmsLocaleId)."""
        mapped = self.ledger.target_item_ids(self.site)
        locales = self.ledger.locales(self.site)
        lookups = self._item_lookups()
        out = []
        sent: dict[tuple[str, str], Files] = {}
        for e in p["entries"]:
            tid = self._target_id(mapped, cid, e, operation)
            if tid is None:
                continue
            body: dict[str, Any] = {"id": tid, "cmsLocaleId": locales[e["locale"]]}
            if "field_data" in e:
                t = transform(
                    e["field_data"], p["ctx"], e.get("md5") or {}, lookups, drop_unresolved=True
                )
                for slug, reason in t.problems:
                    self._audit(
                        operation,
                        "warning",
                        collection=cid,
                        source_id=e["id"],
                        locale=e["locale"],
                        field=slug,
                        error=reason,
                    )
                if t.field_data:
                    body["fieldData"] = t.field_data
                if t.files:
                    sent[(tid, body["cmsLocaleId"])] = t.files
            if "is_draft" in e:
                body["isDraft"] = e["is_draft"]
            if "is_archived" in e:
                body["isArchived"] = e["is_archived"]
            if len(body) > 2:
                out.append((e, body))
        return out, sent

    def _op_update_items(self, cid: str, p: dict[str, Any]) -> None:
        tcid = self.ledger.collections(self.site)[cid]
        prepared, sent = self._entry_bodies(cid, p, "update-items")
        if not prepared:
            return

        self.ledger.forget_target_updated(
            self.site, [(b["id"], b["cmsLocaleId"]) for _e, b in prepared]
        )
        # durable before the request (the batch's other writes wait for its end): if the answer
        # is lost with the process, no stale lastUpdated of ours is left to look like a target
        # edit to the next conflict check (a dry run's included, which loads no pending package)
        self.ledger.commit()
        send = partial(self._send_updates, tcid)
        slugs = []
        for batch, answer in self._isolate(prepared, send, cid, "update-items"):
            self._record_updated(answer)
            self._warn_dropped_updates(cid, batch, answer, sent)
            for e, b in batch:
                self._audit(
                    "update-items",
                    "ok",
                    collection=cid,
                    source_id=e["id"],
                    target_id=b["id"],
                    locale=e["locale"],
                )
                if (b.get("fieldData") or {}).get("slug"):
                    slugs.append((cid, e["id"], e["locale"], b["fieldData"]["slug"]))
        self.ledger.set_slugs(self.site, slugs)


def answer_items(answer: Any) -> list[dict[str, Any]]:
    """The items a write answered with: `{items: [...]}` (one per locale copy written), or one
    item (create-items' and update-items' 2xx schemas allow both shapes)."""
    if not isinstance(answer, dict):
        return []
    items = answer.get("items")
    if isinstance(items, list):
        return [it for it in items if isinstance(it, dict)]
    return [answer] if "id" in answer else []
