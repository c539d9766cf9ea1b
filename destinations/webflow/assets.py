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
  in the source. When such a file has the bytes of an Assets-panel file, the value points at the
  migrated asset instead.
- Files that only rich text shows (`<img src>`, links) and that are not in the Assets panel are
  uploaded once per MD5 (root folder): rich-text urls are not re-hosted by Webflow, and would
  otherwise keep pointing at the source site.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from .model import Asset, SourceSite, TargetSite
from .ops import Op
from .settings import PHASE_ASSETS
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
    for a in source.assets:
        if a.md5:
            by_md5.setdefault(a.md5, []).append(a)
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
            plan.reused += 1
            plan.ops.append(
                Op(
                    PHASE_ASSETS,
                    "map_asset",
                    None,
                    {"md5": md5, "asset": match, "keys": keys},
                    requests=0,
                )
            )
            continue
        patch = bool(first.alt_text) or bool(
            first.display_name and first.display_name != first.file_name
        )
        plan.uploads += 1
        plan.ops.append(
            Op(
                PHASE_ASSETS,
                "upload_asset",
                None,
                {
                    "md5": md5,
                    "file_name": first.file_name,
                    "folder": first.folder_id,
                    "alt_text": first.alt_text,
                    "display_name": first.display_name,
                    "local_path": first.local_path,
                    "url": first.url,
                    "size": first.size,
                    "keys": keys,
                },
                requests=2 if patch else 1,
                uploads=1,
                count=1,
            )
        )
    for md5, url in _inline_files(source, set(by_md5)).items():
        if md5 in ledger_assets:
            continue
        plan.uploads += 1
        name = _file_name(url)
        plan.ops.append(
            Op(
                PHASE_ASSETS,
                "upload_asset",
                None,
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
                requests=1,
                uploads=1,
                count=1,
            )
        )
    if source_rows:
        plan.ops.append(
            Op(PHASE_ASSETS, "map_asset_sources", None, {"rows": source_rows}, requests=0)
        )
    return plan


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
    return base[-99:]


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
            return {"id": t["id"], "hostedUrl": t.get("hostedUrl"), "fileName": a.file_name}
    return None
