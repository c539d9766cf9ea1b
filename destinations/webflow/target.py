"""Reads what the planner needs of the target site, with GETs only (a dry run stays read-only).

Item lists are read only for collections that existed before and have source items the ledger
does not know: that is where a slug can already be taken (natural-key recovery or a conflict).
A rerun with nothing new therefore reads the schema and folders, and no items.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sources.webflow.client import WebflowClient

from .model import Collection, Field, Folder, Locale, TargetItem, TargetSite


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


def read_target(client: WebflowClient, site_id: str) -> TargetSite:
    """Site locales, collections with fields, and asset folders."""
    site = client.get(f"/sites/{site_id}", operation="get-site")
    target = TargetSite(site_id=site_id, locales=read_locales(site))
    listed = client.get(f"/sites/{site_id}/collections", operation="list-collections") or {}
    for c in listed.get("collections") or []:
        details = client.get(f"/collections/{c['id']}", operation="collection-details")
        target.collections.append(parse_collection({**c, **details}))
    target.folders.extend(
        Folder(f["id"], f.get("displayName") or "", f.get("parentFolder"))
        for f in list_folders(client, site_id)
    )
    return target


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
