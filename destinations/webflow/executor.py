"""Executes one planned op against the target: the body of the dlt destination callback.

Idempotency, since dlt delivers a batch at least once (DLT_NOTES section 1, trap 4):
1. the ledger is checked first: objects it already maps are never written again;
2. before a create is sent, an intent is stored in the ledger (DuckDB, durable) and in the load
   package's destination state (committed); when the op comes again with its intent still
   in flight, the response was lost, and the objects are first looked up by natural key in the
   target (collection/field slug, folder name + parent, file name + MD5, item slug);
3. updates, publishes and deletes are idempotent by nature and are simply sent again.

Errors: a 400 on a bulk request is narrowed to the offending entries (from `details`, or by
splitting the batch) which are recorded in the audit table; the rest is sent again, so the loop
always shrinks and a 400 is never retried as is. 401/403 stop the run (MissingScopeError). 5xx
and lost connections surface as transient errors: dlt retries the op, and step 2 recovers.
"""

from __future__ import annotations

import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
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
from .schema import field_body
from .target import parse_collection, parse_field
from .transform import Lookups, transform

_INDEX = re.compile(r"(?:items|fieldData)\[(\d+)\]")


class Executor:
    """Runs ops for one target site; thread-safe (one op at a time)."""

    def __init__(
        self,
        client: WebflowClient,
        ledger: Ledger,
        site_id: str,
        run_id: str,
        *,
        upload_session: requests.Session | None = None,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.site = site_id
        self.run_id = run_id
        self.uploads = 0
        self._upload = upload_session or requests.Session()  # presigned: never the token
        self._lock = threading.Lock()
        self._phase = ""
        self._audit_rows: list[dict[str, Any]] = []

    # plumbing

    def run(self, row: dict[str, Any], state: dict[str, Any] | None = None) -> None:
        """Executes one op row; `state` is the load package's destination state (or None)."""
        handler: Callable[[str, dict[str, Any]], None] = getattr(self, f"_op_{row['kind']}")
        with self._lock:
            self._phase = row.get("phase") or ""
            self._state = state
            self._key = row["op_key"]
            try:
                handler(row.get("collection") or "", row.get("payload") or {})
            except WebflowAuthError as exc:
                raise MissingScopeError(exc.message, exc.missing_scopes) from exc
            except WebflowTransientError as exc:
                raise TargetWriteError(str(exc)) from exc
            finally:
                self._flush_audit()

    def _begin(self, kind: str, collection: str, payload: Any) -> bool:
        """Records the intent; returns True when an earlier attempt may have written already."""
        earlier = self.ledger.op_status(self.site, self._key) == "in_flight"
        if self._state is not None:
            earlier = earlier or self._state.get(self._key) == "in_flight"
        self.ledger.begin(self.site, self._key, kind, collection, payload)
        if self._state is not None:
            self._state[self._key] = "in_flight"
            _commit_state()
        return earlier

    def _finish(self) -> None:
        self.ledger.finish(self.site, self._key)
        if self._state is not None:
            self._state[self._key] = "done"
            _commit_state()

    def _audit(self, operation: str, status: str, **kw: Any) -> None:
        """Buffers an audit row; `run` writes the op's rows in one statement."""
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
        )

    # schema

    def _op_map_schema(self, _c: str, p: dict[str, Any]) -> None:
        for tag, src, tgt, primary in p.get("locales", []):
            self.ledger.put_locale(self.site, tag, src, tgt, primary)
        for cid, tid, slug in p.get("collections", []):
            self.ledger.put_collection(self.site, cid, tid, slug)
        self.ledger.put_fields(self.site, [tuple(r) for r in p.get("fields", [])])
        self.ledger.put_options(self.site, [tuple(r) for r in p.get("options", [])])

    def _record_collection(self, cid: str, source_specs: list[dict[str, Any]], body: dict) -> None:
        coll = parse_collection(body)
        if any(f.type == "Option" and not f.options for f in coll.fields):
            coll = parse_collection(
                self.client.get(f"/collections/{coll.id}", operation="collection-details")
            )
        self.ledger.put_collection(self.site, cid, coll.id, coll.slug)
        self._record_fields(cid, coll.fields, source_specs)

    def _record_fields(self, cid: str, target_fields: list[Any], specs: list[dict]) -> None:
        by_slug = {f.slug: f for f in target_fields}
        by_name = {(f.display_name, f.type): f for f in target_fields}
        rows, options = [], []
        for s in ("name", "slug"):
            if s in by_slug:
                rows.append((cid, s, s, by_slug[s].id, by_slug[s].type))
        for spec in specs:
            tf = by_slug.get(spec["slug"]) or by_name.get((spec["displayName"], spec["type"]))
            if tf is None:
                continue
            rows.append((cid, spec["slug"], tf.slug, tf.id, tf.type))
            names = {name: oid for oid, name in tf.options.items()}
            options.extend(
                (cid, spec["slug"], n, names[n]) for n in spec.get("options") or [] if n in names
            )
        self.ledger.put_fields(self.site, rows)
        self.ledger.put_options(self.site, options)

    def _op_create_collection(self, cid: str, p: dict[str, Any]) -> None:
        if cid in self.ledger.collections(self.site):
            return
        earlier = self._begin("create_collection", cid, {"slug": p["slug"]})
        if earlier and self._recover_collection(cid, p):
            self._finish()
            return
        targets = self.ledger.collections(self.site)
        body = {
            "displayName": p["displayName"],
            "singularName": p["singularName"],
            "slug": p["slug"],
            "fields": [field_body(s, targets) for s in p["fields"]],
        }
        try:
            created = self.client.post(
                f"/sites/{self.site}/collections", body, operation="create-collection"
            )
        except WebflowConflictError:
            if not self._recover_collection(cid, p):
                raise
            self._finish()
            return
        self._record_collection(cid, p["fields"], created)
        self._audit(
            "create-collection", "ok", collection=cid, source_id=cid, target_id=created["id"]
        )
        self._finish()

    def _recover_collection(self, cid: str, p: dict[str, Any]) -> bool:
        listed = self.client.get(f"/sites/{self.site}/collections", operation="list-collections")
        for c in (listed or {}).get("collections") or []:
            if c.get("slug") == p["slug"] or c.get("displayName") == p["displayName"]:
                details = self.client.get(f"/collections/{c['id']}", operation="collection-details")
                self._record_collection(cid, p["fields"], details)
                self._audit("create-collection", "recovered", collection=cid, target_id=c["id"])
                return True
        return False

    def _op_create_field(self, cid: str, p: dict[str, Any]) -> None:
        spec = p["field"]
        if spec["slug"] in self.ledger.fields(self.site).get(cid, {}):
            return
        tcid = self.ledger.collections(self.site)[cid]
        earlier = self._begin("create_field", cid, {"slug": spec["slug"]})
        if earlier and self._recover_field(cid, tcid, spec):
            self._finish()
            return
        body = field_body(spec, self.ledger.collections(self.site))
        try:
            created = self.client.post(
                f"/collections/{tcid}/fields", body, operation="create-field"
            )
        except WebflowConflictError:
            if not self._recover_field(cid, tcid, spec):
                raise
            self._finish()
            return
        field = parse_field(created)
        if field.type == "Option" and not field.options:
            self._recover_field(cid, tcid, spec)
        else:
            self._record_fields(cid, [field], [spec])
        self._audit(
            "create-field", "ok", collection=cid, source_id=spec["slug"], target_id=field.id
        )
        self._finish()

    def _recover_field(self, cid: str, tcid: str, spec: dict[str, Any]) -> bool:
        coll = parse_collection(
            self.client.get(f"/collections/{tcid}", operation="collection-details")
        )
        before = len(self.ledger.fields(self.site).get(cid, {}))
        self._record_fields(cid, coll.fields, [spec])
        return len(self.ledger.fields(self.site).get(cid, {})) > before

    # assets

    def _op_map_folders(self, _c: str, p: dict[str, Any]) -> None:
        for src, tgt, name in p["rows"]:
            self.ledger.put_folder(self.site, src, tgt, name)

    def _op_create_folder(self, _c: str, p: dict[str, Any]) -> None:
        folders = self.ledger.folders(self.site)
        if p["id"] in folders:
            return
        parent = folders.get(p["parent"]) if p.get("parent") else None
        body: dict[str, Any] = {"displayName": p["name"]}
        if parent:
            body["parentFolder"] = parent
        earlier = self._begin("create_folder", "", p)
        if earlier and self._recover_folder(p, parent):
            self._finish()
            return
        try:
            made = self.client.post(
                f"/sites/{self.site}/asset_folders", body, operation="create-asset-folder"
            )
        except WebflowValidationError:
            if not self._recover_folder(p, parent):
                raise
            self._finish()
            return
        self.ledger.put_folder(self.site, p["id"], made["id"], p["name"])
        self._audit("create-asset-folder", "ok", source_id=p["id"], target_id=made["id"])
        self._finish()

    def _recover_folder(self, p: dict[str, Any], parent: str | None) -> bool:
        for page in self.client.paginate(
            f"/sites/{self.site}/asset_folders",
            None,
            "assetFolders",
            operation="list-asset-folders",
        ):
            for f in page.items:
                if f.get("displayName") == p["name"] and (f.get("parentFolder") or None) == parent:
                    self.ledger.put_folder(self.site, p["id"], f["id"], p["name"])
                    return True
        return False

    def _op_map_asset(self, _c: str, p: dict[str, Any]) -> None:
        a = p["asset"]
        self.ledger.put_asset(self.site, p["md5"], a["id"], a.get("hostedUrl") or "", a["fileName"])
        self.ledger.put_asset_sources(self.site, [(k, p["md5"]) for k in p["keys"]])

    def _op_map_asset_sources(self, _c: str, p: dict[str, Any]) -> None:
        self.ledger.put_asset_sources(self.site, [tuple(r) for r in p["rows"]])

    def _file_bytes(self, p: dict[str, Any]) -> bytes:
        path = p.get("local_path")
        if path and Path(path).is_file():
            data = Path(path).read_bytes()
            if _md5(data) == p["md5"]:
                return data
        with tempfile.TemporaryDirectory() as tmp:
            got = self.client.download(p["url"], tmp, 10 * 1024 * 1024 * 4)
            return got.path.read_bytes()

    def _op_upload_asset(self, _c: str, p: dict[str, Any]) -> None:
        md5 = p["md5"]
        keys = [(k, md5) for k in p["keys"]]
        if md5 in self.ledger.assets(self.site):
            self.ledger.put_asset_sources(self.site, keys)
            return
        earlier = self._begin("upload_asset", "", {"md5": md5, "file_name": p["file_name"]})
        if earlier and self._recover_asset(p):
            self.ledger.put_asset_sources(self.site, keys)
            self._finish()
            return
        data = self._file_bytes(p)
        body: dict[str, Any] = {"fileName": p["file_name"], "fileHash": md5}
        folder = self.ledger.folders(self.site).get(p.get("folder") or "")
        if folder:
            body["parentFolder"] = folder
        created = self.client.post(f"/sites/{self.site}/assets", body, operation="create-asset")
        form = [(k, str(v)) for k, v in (created.get("uploadDetails") or {}).items()]
        content_type = (created.get("uploadDetails") or {}).get("content-type")
        answer = self._upload.post(
            created["uploadUrl"],
            data=form,
            files={"file": (p["file_name"], data, content_type or "application/octet-stream")},
            timeout=120,
        )
        self.uploads += 1
        if answer.status_code != 201:
            self._audit(
                "upload-asset",
                "error",
                source_id=p["keys"][0] if p["keys"] else md5,
                http_status=answer.status_code,
                error=answer.text[:300],
            )
            if answer.status_code >= 500:
                raise TargetWriteError(f"S3 upload of {p['file_name']} -> {answer.status_code}")
            return
        hosted = created.get("hostedUrl") or ""
        patch: dict[str, Any] = {}
        if p.get("alt_text"):
            patch["altText"] = p["alt_text"]
        if p.get("display_name") and p["display_name"] != p["file_name"]:
            patch["displayName"] = p["display_name"]
        if patch:
            patched = self.client.patch(f"/assets/{created['id']}", patch, operation="patch-asset")
            hosted = (patched or {}).get("hostedUrl") or hosted
        self.ledger.put_asset(
            self.site,
            md5,
            created["id"],
            hosted,
            p["file_name"],
            p.get("alt_text"),
            p.get("display_name"),
        )
        self.ledger.put_asset_sources(self.site, keys)
        self._audit("create-asset", "ok", source_id=md5, target_id=created["id"])
        self._finish()

    def _recover_asset(self, p: dict[str, Any]) -> bool:
        for page in self.client.paginate(
            f"/sites/{self.site}/assets", None, "assets", operation="list-assets"
        ):
            for a in page.items:
                if a.get("originalFileName") != p["file_name"]:
                    continue
                with tempfile.TemporaryDirectory() as tmp:
                    try:
                        got = self.client.download(a["hostedUrl"], tmp, 40 * 1024 * 1024)
                    except WebflowApiError:
                        continue
                if got.md5 == p["md5"]:
                    self.ledger.put_asset(
                        self.site, p["md5"], a["id"], a["hostedUrl"], p["file_name"]
                    )
                    self._audit("create-asset", "recovered", source_id=p["md5"], target_id=a["id"])
                    return True
        return False

    # items

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
        lookups = self.lookups()
        prepared = []
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

        for batch, answer in self._isolate(prepared, send, cid, "create-items"):
            by_slug = {
                (it.get("fieldData") or {}).get("slug"): it["id"]
                for it in (answer or {}).get("items") or []
            }
            rows = []
            for e, fd in batch:
                tid = by_slug.get(fd.get("slug"))
                if tid is None:
                    continue
                rows.extend(
                    (cid, e["id"], t, tid, fd.get("slug"), None, False) for t in p["locales"]
                )
                self._audit("create-items", "ok", collection=cid, source_id=e["id"], target_id=tid)
            self.ledger.put_items(self.site, rows)
        self._finish()

    def _recover_items(
        self, cid: str, tcid: str, todo: list[dict[str, Any]], tags: list[str]
    ) -> list[dict[str, Any]]:
        """Maps items a lost create wrote (by slug); returns those still to create."""
        wanted = {e["field_data"].get("slug"): e for e in todo}
        found: dict[str, str] = {}
        for page in self.client.paginate(
            f"/collections/{tcid}/items", None, "items", operation="list-collection-items"
        ):
            for it in page.items:
                slug = (it.get("fieldData") or {}).get("slug")
                if slug in wanted:
                    found[slug] = it["id"]
        rows = []
        for slug, tid in found.items():
            e = wanted[slug]
            rows.extend((cid, e["id"], t, tid, slug, None, False) for t in tags)
            self._audit(
                "create-items", "recovered", collection=cid, source_id=e["id"], target_id=tid
            )
        self.ledger.put_items(self.site, rows)
        return [e for s, e in wanted.items() if s not in found]

    def _entry_bodies(
        self, cid: str, p: dict[str, Any], operation: str
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        mapped = self.ledger.target_item_ids(self.site)
        locales = self.ledger.locales(self.site)
        lookups = self.lookups()
        out = []
        for e in p["entries"]:
            tid = mapped.get(e["id"])
            if tid is None:
                self._audit(
                    operation,
                    "skipped",
                    collection=cid,
                    source_id=e["id"],
                    locale=e["locale"],
                    error="item was not created in the target",
                )
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
            if "is_draft" in e:
                body["isDraft"] = e["is_draft"]
            if "is_archived" in e:
                body["isArchived"] = e["is_archived"]
            if len(body) > 2:
                out.append((e, body))
        return out

    def _op_update_items(self, cid: str, p: dict[str, Any]) -> None:
        tcid = self.ledger.collections(self.site)[cid]
        prepared = self._entry_bodies(cid, p, "update-items")
        if not prepared:
            return

        def send(batch: list[tuple[dict[str, Any], dict[str, Any]]]) -> Any:
            return self.client.patch(
                f"/collections/{tcid}/items",
                {"items": [b for _e, b in batch]},
                operation="update-items",
            )

        slugs = []
        for batch, _answer in self._isolate(prepared, send, cid, "update-items"):
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

    def _targets(self, cid: str, p: dict[str, Any], operation: str) -> list[tuple[dict, dict]]:
        mapped = self.ledger.target_item_ids(self.site)
        locales = self.ledger.locales(self.site)
        out = []
        for e in p["items"]:
            tid = mapped.get(e["id"])
            if tid is None:
                self._audit(
                    operation,
                    "skipped",
                    collection=cid,
                    source_id=e["id"],
                    error="item was not created in the target",
                )
                continue
            body: dict[str, Any] = {"id": tid}
            if e.get("locales"):
                body["cmsLocaleIds"] = [locales[t] for t in e["locales"]]
            out.append((e, body))
        return out

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

    # 400 isolation

    def _isolate(
        self,
        prepared: list[tuple[dict[str, Any], dict[str, Any]]],
        send: Callable[[list[tuple[dict[str, Any], dict[str, Any]]]], Any],
        cid: str,
        operation: str,
        not_found_ok: bool = False,
    ) -> list[tuple[list[tuple[dict[str, Any], dict[str, Any]]], Any]]:
        """Sends `prepared` in one request; on a 400 drops the entries it names and sends the
        rest again. Every 400 removes or splits something, so this ends."""
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
                        field, reason = _reason(exc, b)
                        self._audit(
                            operation,
                            "rejected",
                            collection=cid,
                            source_id=e["id"],
                            target_id=b.get("id"),
                            locale=e.get("locale"),
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


def _md5(data: bytes) -> str:
    import hashlib

    return hashlib.md5(data).hexdigest()


def _commit_state() -> None:
    try:
        from dlt.common.storages.load_package import commit_load_package_state

        commit_load_package_state()
    except Exception:
        pass
