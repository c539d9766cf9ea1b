"""Reads what the planner needs of the target site, with GETs only (a dry run stays read-only).

What the ledger already knows is not read again (`read_target`): an incremental run reads
list-collections, and collection details only where a collection's lastUpdated moved. Item lists
are read only for collections that existed before and have source items the ledger does not
know: that is where a slug can already be taken (natural-key recovery or a conflict). A rerun
with nothing new therefore reads list-collections and no items.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sources.webflow.client import WebflowClient

from .ledger import Ledger
from .model import Collection, Field, Folder, Locale, SourceSite, TargetItem, TargetSite


def parse_field(f: dict[str, Any]) -> Field:
    validations = f.get("validations") or {}
    metadata = f.get("metadata") or {}
    options = validations.get("options") or metadata.get("options") or []
    return Field(
        id=f["id"],
        slug=f.get("slug") or "",
        display_name=f.get("displayName") or "",
        type=f.get("type") or "",
        is_required=bool(f.get("isRequired")),
        help_text=f.get("helpText"),
        options={o["id"]: o["name"] for o in options if o.get("id")},
        reference_collection_id=validations.get("collectionId") or metadata.get("collectionId"),
    )


def parse_collection(c: dict[str, Any]) -> Collection:
    return Collection(
        id=c["id"],
        slug=c.get("slug") or "",
        display_name=c.get("displayName") or "",
        singular_name=c.get("singularName") or "",
        fields=[parse_field(f) for f in c.get("fields") or []],
    )


def read_locales(site: dict[str, Any]) -> list[Locale]:
    locales = site.get("locales") or {}
    out = []
    if locales.get("primary"):
        p = locales["primary"]
        out.append(Locale(p.get("tag"), p.get("cmsLocaleId"), True))
    for s in locales.get("secondary") or []:
        out.append(Locale(s.get("tag"), s.get("cmsLocaleId"), False))
    return out


def read_target(
    client: WebflowClient,
    site_id: str,
    ledger: Ledger | None = None,
    source: SourceSite | None = None,
) -> TargetSite:
    """Site locales, collections with fields, and asset folders.

    With the ledger, what it already knows is not read again (an incremental run reads only
    list-collections): the locales when every source locale is mapped; a collection's details
    while list-collections shows the lastUpdated they were read at (field changes move it);
    the folders when every source folder is mapped (the API cannot delete or rename folders).
    """
    target = TargetSite(site_id=site_id, locales=_known_locales(ledger, source, site_id))
    if not target.locales:
        site = client.get(f"/sites/{site_id}", operation="get-site")
        target.locales = read_locales(site)
    listed = client.get(f"/sites/{site_id}/collections", operation="list-collections") or {}
    cached = ledger.target_schema(site_id) if ledger is not None else {}
    fresh: list[tuple[str, str, dict[str, Any]]] = []
    for c in listed.get("collections") or []:
        hit = cached.get(c["id"])
        if hit is not None and c.get("lastUpdated") and hit[0] == c["lastUpdated"]:
            details = hit[1]
        else:
            details = client.get(f"/collections/{c['id']}", operation="collection-details")
            if c.get("lastUpdated") and isinstance(details, dict):
                fresh.append((c["id"], c["lastUpdated"], details))
        target.collections.append(parse_collection({**c, **details}))
    if ledger is not None and fresh:
        ledger.put_target_schema(site_id, fresh)
    mapped = ledger.folder_rows(site_id) if ledger is not None else []
    if source is not None and {f.id for f in source.folders} <= {s for s, _t, _n in mapped}:
        by_source = {s: t for s, t, _n in mapped}
        parents = {f.id: f.parent_id for f in source.folders}
        target.folders.extend(
            Folder(t, name, by_source.get(parents.get(s) or "")) for s, t, name in mapped
        )
    else:
        target.folders.extend(
            Folder(f["id"], f.get("displayName") or "", f.get("parentFolder"))
            for f in list_folders(client, site_id)
        )
    return target


def _known_locales(ledger: Ledger | None, source: SourceSite | None, site_id: str) -> list[Locale]:
    """The target's locales as the ledger mapped them, when it mapped every source locale and
    the primary (else [] and get-site is read)."""
    if ledger is None or source is None:
        return []
    rows = ledger.locale_rows(site_id)
    if not any(primary for _t, _c, primary in rows):
        return []
    if not {loc.tag for loc in source.locales} <= {t for t, _c, _p in rows}:
        return []
    return [Locale(tag, cms_id, primary) for tag, cms_id, primary in rows]


def count_assets(client: WebflowClient, site_id: str) -> int | None:
    """The target's number of assets (`pagination.total` of a limit=1 list), or None."""
    body = client.get(
        f"/sites/{site_id}/assets", {"offset": 0, "limit": 1}, operation="list-assets"
    )
    total = ((body or {}).get("pagination") or {}).get("total")
    return total if isinstance(total, int) else None


def list_folders(client: WebflowClient, site_id: str) -> list[dict[str, Any]]:
    """Every asset folder; the spec declares no paging parameters for list-asset-folders, so
    ask plainly and page only when the answer says there is more."""
    path, op = f"/sites/{site_id}/asset_folders", "list-asset-folders"
    body = client.get(path, operation=op) or {}
    folders = list(body.get("assetFolders") or [])
    total = (body.get("pagination") or {}).get("total") or 0
    if total > len(folders):
        for page in client.paginate(
            path, None, "assetFolders", operation=op, start_offset=len(folders)
        ):
            folders.extend(page.items)
    return folders


def read_assets(client: WebflowClient, site_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in client.paginate(
        f"/sites/{site_id}/assets", None, "assets", operation="list-assets"
    ):
        out.extend(page.items)
    return out


def read_items_by_slug(
    client: WebflowClient, collection_ids: Iterable[str], locales: list[Locale]
) -> dict[str, dict[str, TargetItem]]:
    """Target collection id -> primary-locale slug -> item, with its slug in every locale
    (one listing for all locales: `cmsLocaleId` takes a comma-separated list)."""
    out: dict[str, dict[str, TargetItem]] = {}
    tags = {loc.cms_locale_id: loc.tag for loc in locales}
    primary = next((loc.cms_locale_id for loc in locales if loc.is_primary), None)
    params = {"cmsLocaleId": ",".join(tags)} if len(tags) > 1 else None
    for cid in collection_ids:
        slugs: dict[str, dict[str, str]] = {}
        primary_copy: dict[str, dict[str, Any]] = {}
        for page in client.paginate(
            f"/collections/{cid}/items", params, "items", operation="list-collection-items"
        ):
            for it in page.items:
                data = it.get("fieldData") or {}
                loc = it.get("cmsLocaleId") or primary
                slugs.setdefault(it["id"], {})[tags.get(loc, "")] = data.get("slug")
                if loc == primary or params is None:
                    primary_copy[it["id"]] = data
        by_slug: dict[str, TargetItem] = {}
        for item_id, data in primary_copy.items():
            if data.get("slug"):
                by_slug[data["slug"]] = TargetItem(item_id, data["slug"], data, slugs[item_id])
        out[cid] = by_slug
    return out
