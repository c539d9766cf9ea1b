"""Asset folders and files: recreated in the target once per distinct file (MD5).

- Folders: parents first; an existing target folder with the same name under the same (mapped)
  parent is reused.
- Files of the source's Assets panel: one upload per distinct MD5: `create-asset` (fileName,
  fileHash, parentFolder), then the S3-style multipart POST to `uploadUrl` with every
  `uploadDetails` field and the file last (201 expected), then `patch-asset` when alt text or
  display name must be kept. A file the ledger knows is never uploaded again; a target asset with
  the same name and size whose bytes have the same MD5 is reused (recovers lost responses).
- Files that Image/File/MultiImage values use but that are not in the Assets panel (CMS files)
  are NOT uploaded: their values keep the source URL and Webflow fetches and re-hosts them while
  writing the item, which costs no request and keeps them out of the target's Assets panel, as
  in the source. Only a value whose url is exactly an Assets-panel file's url points at the
  migrated asset (`transform._file_value`); the bytes of these files are never downloaded.
- Files that only rich text shows (`<img src>`, links) and that are not in the Assets panel are
  uploaded once per MD5 (root folder): rich-text urls are not re-hosted by Webflow, and would
  otherwise keep pointing at the source site.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from dlt.common import logger

from sources.webflow.client import (
    DownloadRefusedError,
    WebflowApiError,
    WebflowAuthError,
    WebflowTransientError,
    WebflowValidationError,
)

from .context import OpContext, md5_hex
from .errors import TargetWriteError
from .model import Asset, SourceSite, TargetSite
from .ops import Op
from .settings import PHASE_ASSETS
from .target import list_folders
from .transform import file_urls


@dataclass
class AssetPlan:
    ops: list[Op] = field(default_factory=list)
    uploads: int = 0
    reused: int = 0
    folders_created: int = 0


def plan_assets(
    source: SourceSite,
    target: TargetSite,
    ledger_folders: dict[str, str],
    ledger_assets: dict[str, dict[str, Any]],
    ledger_sources: dict[str, dict[str, Any]],
    md5_of_target: Callable[[dict[str, Any]], str | None] | None = None,
) -> AssetPlan:
    """Plans folder creates and uploads; `md5_of_target` downloads a target asset to hash it."""
    plan = AssetPlan()
    target_folder_ids = {f.id for f in target.folders}
    by_name_parent = {(f.name, f.parent_id): f.id for f in target.folders}
    known: dict[str, str | None] = {
        s: t for s, t in ledger_folders.items() if t in target_folder_ids
    }
    map_rows: list[list[Any]] = []
    for folder in source.folders:
        if folder.id in known:
            continue
        parent = known.get(folder.parent_id) if folder.parent_id else None
        existing = (
            by_name_parent.get((folder.name, parent)) if (not folder.parent_id or parent) else None
        )
        if existing:
            known[folder.id] = existing
            map_rows.append([folder.id, existing, folder.name])
            continue
        plan.ops.append(
            Op(
                PHASE_ASSETS,
                "create_folder",
                None,
                {"id": folder.id, "name": folder.name, "parent": folder.parent_id},
                count=1,
            )
        )
        plan.folders_created += 1
        known[folder.id] = None  # created by the op above
    if map_rows:
        plan.ops.insert(0, Op(PHASE_ASSETS, "map_folders", None, {"rows": map_rows}, requests=0))

    by_md5: dict[str, list[Asset]] = {}
    unreadable: list[dict[str, Any]] = []
    for a in source.assets:
        if a.md5:
            by_md5.setdefault(a.md5, []).append(a)
        elif a.id not in ledger_sources:
            unreadable.append(
                {
                    "id": a.id,
                    "file_name": a.file_name,
                    "reason": f"file {a.file_name!r} could not be read from the source "
                    f"({a.download_error or 'not downloaded'}); it is not migrated",
                }
            )
    if unreadable:
        plan.ops.append(Op(PHASE_ASSETS, "reject_assets", None, {"assets": unreadable}, requests=0))
    source_rows: list[list[str]] = []
    for md5, group in by_md5.items():
        keys = sorted({k for a in group for k in (a.id, a.url) if k})
        if md5 in ledger_assets:
            missing = [k for k in keys if k not in ledger_sources]
            if missing:
                source_rows.extend([k, md5] for k in missing)
            continue
        first = group[0]
        match = _find_in_target(first, target, md5_of_target) if md5_of_target else None
        if match is not None:
            # e.g. uploaded by a run killed before its patch-asset: alt text / name still due
            fix = _asset_patch(first.alt_text, first.display_name, first.file_name, match)
            plan.reused += 1
            plan.ops.append(
                Op(
                    PHASE_ASSETS,
                    "map_asset",
                    None,
                    {"md5": md5, "asset": match, "keys": keys, "patch": fix},
                    requests=1 if fix else 0,
                )
            )
            continue
        patch = bool(first.alt_text) or bool(
            first.display_name and first.display_name != first.file_name
        )
        plan.uploads += 1
        plan.ops.append(
            _upload_op(
                {
                    "md5": md5,
                    "asset_id": first.id,
                    "file_name": first.file_name,
                    "folder": first.folder_id,
                    "alt_text": first.alt_text,
                    "display_name": first.display_name,
                    "local_path": first.local_path,
                    "url": first.url,
                    "size": first.size,
                    "keys": keys,
                },
                patch,
            )
        )
    for md5, url in _inline_files(source, set(by_md5)).items():
        if md5 in ledger_assets:
            continue
        plan.uploads += 1
        name = _file_name(url)
        plan.ops.append(
            _upload_op(
                {
                    "md5": md5,
                    "file_name": name,
                    "folder": None,
                    "alt_text": None,
                    "display_name": None,
                    "local_path": source.file_paths.get(md5),
                    "url": url,
                    "size": None,
                    "keys": [url],
                },
                patch=False,
            )
        )
    if source_rows:
        plan.ops.append(
            Op(PHASE_ASSETS, "map_asset_sources", None, {"rows": source_rows}, requests=0)
        )
    return plan


def _upload_op(payload: dict[str, Any], patch: bool) -> Op:
    """One file to upload: create-asset and its S3 upload, plus a patch-asset when alt text or
    a display name must be set."""
    return Op(
        PHASE_ASSETS, "upload_asset", None, payload, requests=2 if patch else 1, uploads=1, count=1
    )


def _inline_files(source: SourceSite, panel: set[str]) -> dict[str, str]:
    """MD5 -> a source url of files that rich text shows (`<img src>`, links) but that are
    not in the Assets panel: Webflow does not re-host rich-text urls, so these are uploaded
    (once per MD5) instead of being left on the source site's CDN."""
    rich = {(c.id, f.slug) for c in source.collections for f in c.fields if f.type == "RichText"}
    out: dict[str, str] = {}
    for cid, items in source.items.items():
        slugs = [s for c, s in rich if c == cid]
        if not slugs:
            continue
        for item in items:
            for v in item.versions.values():
                for data in (v.field_data, v.live_field_data or {}):
                    for slug in slugs:
                        for url in file_urls(data.get(slug), "RichText"):
                            md5 = source.file_md5_by_url.get(url)
                            if md5 and md5 not in panel:
                                out.setdefault(md5, url)
    return out


def _file_name(url: str) -> str:
    """`.../<fileId>_<name>.png` -> `<name>.png` (what the file was called when uploaded)."""
    base = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or "file"
    head, sep, rest = base.partition("_")
    if sep and len(head) == 24 and all(ch in "0123456789abcdef" for ch in head):
        base = rest
    return safe_file_name(base)


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")


def safe_file_name(name: str) -> str:
    """A file name without directories (`../`, absolute paths, backslashes) or control
    characters, at most 99 characters (Webflow's limit), keeping the extension."""
    base = _UNSAFE_NAME.sub("", name.replace("\\", "/")).rsplit("/", 1)[-1].strip()
    base = base.lstrip(".") or "file"
    if len(base) > 99:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 98 - len(ext)] + dot + ext) if dot and len(ext) < 10 else base[:99]
    return base


def _find_in_target(
    a: Asset, target: TargetSite, md5_of: Callable[[dict[str, Any]], str | None]
) -> dict[str, Any] | None:
    """A target asset with the same name and size whose bytes hash to the same MD5."""
    for t in target.assets:
        if t.get("originalFileName") != a.file_name:
            continue
        if a.size is not None and t.get("size") not in (None, a.size):
            continue
        if md5_of(t) == a.md5:
            return {
                "id": t["id"],
                "hostedUrl": t.get("hostedUrl"),
                "fileName": a.file_name,
                "altText": t.get("altText"),
                "displayName": t.get("displayName"),
            }
    return None


def _asset_patch(
    alt_text: str | None, display_name: str | None, file_name: str, current: dict[str, Any]
) -> dict[str, Any]:
    """The patch-asset body that gives an existing target asset the source's alt text and
    display name (empty when it already has them)."""
    patch: dict[str, Any] = {}
    if alt_text and alt_text != current.get("altText"):
        patch["altText"] = alt_text
    want = display_name if display_name and display_name != file_name else None
    if want and want != current.get("displayName"):
        patch["displayName"] = want
    return patch


class AssetOps(OpContext):
    """Executes folder and file ops: create, upload, map, with recovery."""

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
        for f in list_folders(self.client, self.site):
            if f.get("displayName") == p["name"] and (f.get("parentFolder") or None) == parent:
                self.ledger.put_folder(self.site, p["id"], f["id"], p["name"])
                return True
        return False

    def _op_map_asset(self, _c: str, p: dict[str, Any]) -> None:
        a = p["asset"]
        if p.get("patch"):
            self.client.patch(f"/assets/{a['id']}", p["patch"], operation="patch-asset")
        self.ledger.put_asset(self.site, p["md5"], a["id"], a.get("hostedUrl") or "", a["fileName"])
        self.ledger.put_asset_sources(self.site, [(k, p["md5"]) for k in p["keys"]])

    def _op_map_asset_sources(self, _c: str, p: dict[str, Any]) -> None:
        self.ledger.put_asset_sources(self.site, [tuple(r) for r in p["rows"]])

    def _file_bytes(self, p: dict[str, Any]) -> bytes:
        """The file's bytes: the local copy when its MD5 is right, else downloaded again from
        the source. Raises _BadFile when no copy has the MD5 the source declared."""
        path = p.get("local_path")
        if path and Path(path).is_file():
            data = Path(path).read_bytes()
            if md5_hex(data) == p["md5"]:
                return data
            logger.warning(
                f"webflow: local copy {path} of {p['file_name']!r} does not match its MD5 "
                f"{p['md5']} (corrupted store?); downloading it again from the source"
            )
        with tempfile.TemporaryDirectory() as tmp:
            try:
                got = self.client.download(p["url"], tmp, 10 * 1024 * 1024 * 4)
            except (WebflowApiError, DownloadRefusedError) as exc:
                raise _BadFile("file", f"no usable copy of {p['file_name']!r}: {exc}") from exc
            if got.md5 != p["md5"]:
                raise _BadFile(
                    "fileHash",
                    f"bytes of {p['file_name']!r} do not match the MD5 {p['md5']} the source "
                    f"declared (got {got.md5}); not uploaded",
                )
            return got.path.read_bytes()

    def _op_reject_assets(self, _c: str, p: dict[str, Any]) -> None:
        for a in p["assets"]:
            self._audit(
                "create-asset", "rejected", source_id=a["id"], field="file", error=a["reason"]
            )

    def _ops_upload_asset(self, rows: list[dict[str, Any]]) -> None:
        """The uploads of one dlt batch: their intents in one commit before the first request,
        then the uploads, then their results in one write per table (about 5 ledger statements
        and a commit per upload before). A file the ledger knows is only mapped; an intent still
        in flight from an earlier attempt is recovered by name and MD5 first. An upload that
        raises (5xx, lost connection) is raised after the others are recorded: its intent stays
        in flight, and dlt's retry of the batch recovers or uploads it."""
        known = set(self.ledger.assets(self.site))
        todo: dict[str, dict[str, Any]] = {}
        sources: list[tuple[str, str]] = []
        for r in rows:
            md5 = r["payload"]["md5"]
            if md5 in known:  # uploaded already (or by an op before it in the batch)
                sources.extend((k, md5) for k in r["payload"]["keys"])
            else:
                todo[r["op_key"]] = r["payload"]
                known.add(md5)
        if not todo:
            self.ledger.put_asset_sources(self.site, sources)
            return
        earlier = self._begin_many(
            [
                (key, "upload_asset", "", {"md5": p["md5"], "file_name": p["file_name"]})
                for key, p in todo.items()
            ]
        )
        done = self._recover_assets({k: todo[k] for k in earlier}) if earlier else []
        recovered = {u.key for u in done}
        folders = self.ledger.folders(self.site)
        uploads = [(k, p) for k, p in todo.items() if k not in recovered]
        uploaded, error = self._upload_all(uploads, folders)
        self._record_uploads(done + uploaded, sources)
        if error is not None:
            raise error

    def _upload_all(
        self, uploads: list[tuple[str, dict[str, Any]]], folders: dict[str, str]
    ) -> tuple[list[_Upload], Exception | None]:
        """Runs `_upload` for each (op key, payload), in order; returns the outcomes of those that
        ended and the first error raised. The files are independent, so one that fails (a 5xx,
        a lost connection) does not stop the others; a refused token does (it refuses them all).
        """
        outcomes: list[_Upload] = []
        error: Exception | None = None
        for key, p in uploads:
            try:
                outcomes.append(self._upload(key, p, folders))
            except Exception as exc:  # raised by the caller once the others are recorded
                error = error or exc
                if isinstance(exc, WebflowAuthError):
                    break
        return outcomes, error

    def _upload(self, key: str, p: dict[str, Any], folders: dict[str, str]) -> _Upload:
        """One file: create-asset, its S3 upload, then patch-asset when alt text or a display
        name must be set. Writes no ledger row itself: the caller records the uploads together.
        """
        md5 = p["md5"]
        try:
            data = self._file_bytes(p)
        except _BadFile as exc:
            return self._reject_asset(key, p, exc.field, exc.reason)
        name = safe_file_name(p["file_name"])
        if name != p["file_name"]:
            self._audit(
                "create-asset",
                "warning",
                source_id=p.get("asset_id") or md5,
                field="fileName",
                error=f"unsafe file name {p['file_name']!r} uploaded as {name!r}",
            )
        body: dict[str, Any] = {"fileName": name, "fileHash": md5}
        folder = folders.get(p.get("folder") or "")
        if folder:
            body["parentFolder"] = folder
        try:
            created = self.client.post(f"/sites/{self.site}/assets", body, operation="create-asset")
        except WebflowValidationError as exc:
            # e.g. a file type the target does not take: this file only, the run goes on
            field, reason = _first_detail(exc)
            return self._reject_asset(
                key,
                p,
                field,
                f"target refused {p['file_name']!r}: {reason}",
                http_status=exc.status,
            )
        details = created.get("uploadDetails") or {}
        form = [(k, str(v)) for k, v in details.items()]
        try:
            answer = self.client.upload_form(
                created["uploadUrl"], form, name, data, details.get("content-type")
            )
        except WebflowTransientError as exc:  # 5xx or broken connections, after retries
            raise TargetWriteError(f"S3 upload of {name}: {exc}") from exc
        if answer.status_code != 201:
            return self._reject_asset(
                key,
                p,
                "file",
                f"target's file storage refused {p['file_name']!r} ({len(data)} bytes): "
                f"{_s3_error(answer.text)}",
                http_status=answer.status_code,
            )
        hosted = created.get("hostedUrl") or ""
        patch: dict[str, Any] = {}
        if p.get("alt_text"):
            patch["altText"] = p["alt_text"]
        if p.get("display_name") and p["display_name"] != p["file_name"]:
            patch["displayName"] = p["display_name"]
        if patch:
            patched = self.client.patch(f"/assets/{created['id']}", patch, operation="patch-asset")
            hosted = (patched or {}).get("hostedUrl") or hosted
        self._audit("create-asset", "ok", source_id=md5, target_id=created["id"])
        return _Upload(
            key, p, (md5, created["id"], hosted, name, p.get("alt_text"), p.get("display_name"))
        )

    def _reject_asset(
        self, key: str, p: dict[str, Any], field: str | None, reason: str, **kw: Any
    ) -> _Upload:
        self._audit(
            "create-asset",
            "rejected",
            source_id=p.get("asset_id") or (p["keys"][0] if p["keys"] else p["md5"]),
            field=field,
            error=reason,
            **kw,
        )
        logger.warning(f"webflow: asset {p.get('asset_id') or p['md5']} rejected: {reason}")
        return _Upload(key, p, None)

    def _record_uploads(self, outcomes: list[_Upload], sources: list[tuple[str, str]]) -> None:
        """Writes what the uploads (and recoveries) ended with, one statement per table, and
        marks their intents done."""
        assets = [u.asset for u in outcomes if u.asset is not None]
        self.ledger.put_assets(self.site, assets)
        self.ledger.put_asset_sources(
            self.site,
            sources
            + [
                (k, u.payload["md5"])
                for u in outcomes
                if u.asset is not None
                for k in u.payload["keys"]
            ],
        )
        self._finish_many([u.key for u in outcomes])

    def _recover_assets(self, wanted: dict[str, dict[str, Any]]) -> list[_Upload]:
        """Uploads whose answer an earlier attempt may have lost: a target asset with the file's
        name whose bytes have its MD5 is mapped (and given the alt text and display name the
        lost write was to set). One listing of the target's assets for the whole batch, read
        until every file is found."""
        by_name: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for key, p in wanted.items():
            by_name.setdefault(p["file_name"], []).append((key, p))
        found: list[_Upload] = []
        for page in self.client.paginate(
            f"/sites/{self.site}/assets", None, "assets", operation="list-assets"
        ):
            for a in page.items:
                candidates = by_name.get(a.get("originalFileName") or "")
                if candidates:
                    found += self._recovered(a, candidates)
            if len(found) == len(wanted):
                break
        return found

    def _recovered(
        self, a: dict[str, Any], candidates: list[tuple[str, dict[str, Any]]]
    ) -> list[_Upload]:
        """The candidate uploads (same file name, not found yet) target asset `a` holds, by
        MD5 (removed from `candidates`)."""
        with tempfile.TemporaryDirectory() as tmp:
            try:
                got = self.client.download(a["hostedUrl"], tmp, 40 * 1024 * 1024)
            except WebflowApiError:
                return []
        out = []
        for key, p in [c for c in candidates if c[1]["md5"] == got.md5]:
            candidates.remove((key, p))
            fix = _asset_patch(p.get("alt_text"), p.get("display_name"), p["file_name"], a)
            if fix:  # the lost write may have been the create, before the patch
                self.client.patch(f"/assets/{a['id']}", fix, operation="patch-asset")
            self._audit("create-asset", "recovered", source_id=p["md5"], target_id=a["id"])
            out.append(
                _Upload(key, p, (p["md5"], a["id"], a["hostedUrl"], p["file_name"], None, None))
            )
        return out


@dataclass
class _Upload:
    """What one upload (or recovery) of an op ended with: the asset_map row of the target asset
    (md5, id, url, file name, alt text, display name), or None when the file was refused."""

    key: str
    payload: dict[str, Any]
    asset: tuple[str, str, str, str, str | None, str | None] | None


class _BadFile(Exception):
    """No copy of a file has the bytes the source declared."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _first_detail(exc: WebflowApiError) -> tuple[str | None, str]:
    for d in exc.details:
        if isinstance(d, dict):
            param = d.get("param") or d.get("field")
            return (str(param) if param else None), str(
                d.get("description") or d.get("message") or exc.message
            )
    return None, str(exc.details[0] if exc.details else exc.message)


def _s3_error(text: str) -> str:
    """`Code: Message` of an S3 XML error body (or its first characters)."""
    code = re.search(r"<Code>(.*?)</Code>", text or "")
    message = re.search(r"<Message>(.*?)</Message>", text or "")
    if code or message:
        return ": ".join(m.group(1) for m in (code, message) if m)
    return (text or "")[:200]
