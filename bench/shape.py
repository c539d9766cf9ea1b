"""A site's shape from the emulator's admin export, and a canonical form that two sites can be
compared in (ids, timestamps and hosted URLs replaced by slugs, option names and file MD5s).

The floor is computed from what the export says is really there; tests and `run.py` compare a
source and a migrated target through `canonical()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

REFERENCE_TYPES = ("Reference", "MultiReference")
FILE_TYPES = ("Image", "File", "MultiImage")
IMG_SRC_RE = re.compile(r"""(<img\b[^>]*?\bsrc=)(["'])(.*?)\2""", re.IGNORECASE)


@dataclass
class Entry:
    """One item in one locale: its staged copy and, when published, its live copy."""

    locale: str  # locale tag, e.g. "fr-FR"
    staged: dict[str, Any]
    live: dict[str, Any] | None


@dataclass
class ItemShape:
    id: str
    slug: str  # the primary locale's staged slug
    entries: dict[str, Entry]  # tag -> entry


@dataclass
class CollectionShape:
    id: str
    slug: str
    fields: list[dict[str, Any]]
    items: list[ItemShape]

    def reference_fields(self) -> list[dict[str, Any]]:
        return [f for f in self.fields if f["type"] in REFERENCE_TYPES]

    def target_of(self, f: dict[str, Any]) -> str | None:
        return (f.get("validations") or {}).get("collectionId")


@dataclass
class SiteShape:
    """The parts of an export a floor or a comparison needs, with lookups."""

    site_id: str
    locales: list[str]  # tags, primary first
    collections: list[CollectionShape]
    folders: list[dict[str, Any]]
    assets: list[dict[str, Any]]
    md5_by_url: dict[str, str] = field(default_factory=dict)
    md5_by_file_id: dict[str, str] = field(default_factory=dict)
    folder_paths: dict[str, str] = field(default_factory=dict)  # folder id -> "A/B/C"
    export: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def primary(self) -> str:
        return self.locales[0]

    def collection_by_id(self) -> dict[str, CollectionShape]:
        return {c.id: c for c in self.collections}


def site_shape(export: dict[str, Any]) -> SiteShape:
    """Parses an admin export (`GET /_emulator/sites/{id}/export`)."""
    site = export["site"]
    locs = site["locales"]
    ordered = [locs["primary"], *(locs.get("secondary") or [])]
    tags = [loc["tag"] for loc in ordered]
    tag_of = {loc["cmsLocaleId"]: loc["tag"] for loc in ordered}
    collections = []
    for coll in export.get("collections", []):
        items = []
        for raw in coll.get("items", []):
            entries = {
                tag_of.get(loc, loc): Entry(tag_of.get(loc, loc), staged, live)
                for loc, staged, live in item_versions(raw)
            }
            primary = entries.get(tags[0]) or next(iter(entries.values()))
            items.append(ItemShape(_item_id(raw), primary.staged["fieldData"]["slug"], entries))
        collections.append(CollectionShape(coll["id"], coll["slug"], coll["fields"], items))
    md5_by_url: dict[str, str] = {}
    md5_by_file_id: dict[str, str] = {}
    for rec in export.get("files", []):
        md5_by_url[rec["url"]] = rec["md5"]
        md5_by_file_id[rec["fileId"]] = rec["md5"]
    for asset in export.get("assets", []):
        md5_by_url[asset["hostedUrl"]] = asset["md5"]
    folders = export.get("assetFolders", [])
    by_id = {f["id"]: f for f in folders}

    def path(fid: str) -> str:
        parts, seen = [], set()
        while fid and fid in by_id and fid not in seen:
            seen.add(fid)
            parts.append(by_id[fid]["displayName"])
            fid = by_id[fid].get("parentFolder")
        return "/".join(reversed(parts))

    return SiteShape(
        site["id"],
        tags,
        collections,
        folders,
        export.get("assets", []),
        md5_by_url,
        md5_by_file_id,
        {f["id"]: path(f["id"]) for f in folders},
        export,
    )


def _item_id(raw: dict[str, Any]) -> str:
    if "id" in raw:
        return raw["id"]
    return item_versions(raw)[0][1]["id"]


def item_versions(raw: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(cmsLocaleId, staged item, live item or None) for each locale of an exported item.

    Accepts the export's per-locale layout (`locales` as a list or a map of
    `{cmsLocaleId?, staged, live}`) and a flat `{staged: [...], live: [...]}` layout.
    """
    out: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    locales = raw.get("locales")
    if isinstance(locales, dict):
        for loc_id, v in locales.items():
            staged = v.get("staged", v)
            out.append((staged.get("cmsLocaleId") or loc_id, staged, v.get("live")))
        return out
    if isinstance(locales, list):
        for v in locales:
            staged = v.get("staged", v)
            out.append((staged.get("cmsLocaleId") or v.get("cmsLocaleId"), staged, v.get("live")))
        return out
    staged_list = raw.get("staged")
    if isinstance(staged_list, list):
        live_by = {x["cmsLocaleId"]: x for x in raw.get("live") or []}
        return [(s["cmsLocaleId"], s, live_by.get(s["cmsLocaleId"])) for s in staged_list]
    if isinstance(staged_list, dict):
        live_by = raw.get("live") or {}
        return [(k, s, live_by.get(k)) for k, s in staged_list.items()]
    raise ValueError(f"unknown export item layout: {sorted(raw)}")


# --- canonical form -------------------------------------------------------------------------------
def canonical(export: dict[str, Any]) -> dict[str, Any]:
    """A site with ids, timestamps and URLs replaced by slugs, option names and MD5s.

    Two sites with the same content (a source and its migrated target, or two builds of one
    seed) have equal canonical forms.
    """
    shape = site_shape(export)
    slug_of: dict[str, tuple[str, str]] = {}
    for coll in shape.collections:
        for item in coll.items:
            slug_of[item.id] = (coll.slug, item.slug)
    coll_slug = {c.id: c.slug for c in shape.collections}
    out_colls: dict[str, Any] = {}
    for coll in shape.collections:
        fields = {f["slug"]: f for f in coll.fields}
        options = {
            f["slug"]: {o["id"]: o["name"] for o in (f.get("validations") or {}).get("options", [])}
            for f in coll.fields
            if f["type"] == "Option"
        }
        schema = {}
        for f in coll.fields:
            extra: Any = None
            if f["type"] in REFERENCE_TYPES:
                extra = coll_slug.get(coll.target_of(f) or "", "?")
            elif f["type"] == "Option":
                extra = sorted(options[f["slug"]].values())
            schema[f["slug"]] = (f["type"], f["displayName"], bool(f.get("isRequired")), extra)

        def norm(fd: dict[str, Any], fields=fields, options=options) -> dict[str, Any]:
            return {
                k: _norm_value(fields.get(k), k, v, options, slug_of, shape)
                for k, v in sorted(fd.items())
                if v is not None and v != []
            }

        items = {}
        for item in coll.items:
            per_locale = {}
            for tag, e in sorted(item.entries.items()):
                per_locale[tag] = {
                    "isDraft": e.staged.get("isDraft"),
                    "isArchived": e.staged.get("isArchived"),
                    "published": e.staged.get("lastPublished") is not None,
                    "fieldData": norm(e.staged.get("fieldData") or {}),
                    "live": None
                    if e.live is None
                    else {
                        "isArchived": e.live.get("isArchived"),
                        "fieldData": norm(e.live.get("fieldData") or {}),
                    },
                }
            items[item.slug] = per_locale
        out_colls[coll.slug] = {"fields": schema, "items": items}
    assets = sorted(
        (
            shape.folder_paths.get(a.get("folderId") or "", ""),
            a["md5"],
            a["originalFileName"],
            a["displayName"],
            a.get("altText"),
        )
        for a in shape.assets
    )
    return {
        "locales": shape.locales,
        "collections": out_colls,
        "folders": sorted(shape.folder_paths.values()),
        "assets": assets,
    }


def _norm_value(
    f: dict[str, Any] | None,
    key: str,
    value: Any,
    options: dict[str, dict[str, str]],
    slug_of: dict[str, tuple[str, str]],
    shape: SiteShape,
) -> Any:
    kind = f["type"] if f else None
    if kind == "Reference":
        return slug_of.get(value, ("?", value))
    if kind == "MultiReference":
        return [slug_of.get(v, ("?", v)) for v in value]
    if kind == "Option":
        return options.get(key, {}).get(value, value)
    if kind in ("Image", "File"):
        return _norm_file(value, shape)
    if kind == "MultiImage":
        return [_norm_file(v, shape) for v in value]
    if kind == "RichText" and isinstance(value, str):
        return IMG_SRC_RE.sub(
            lambda m: (
                f"{m.group(1)}{m.group(2)}md5:{shape.md5_by_url.get(m.group(3), m.group(3))}"
                f"{m.group(2)}"
            ),
            value,
        )
    return value


def _norm_file(value: Any, shape: SiteShape) -> Any:
    if not isinstance(value, dict):
        return value
    md5 = shape.md5_by_file_id.get(value.get("fileId") or "") or shape.md5_by_url.get(
        value.get("url") or "", value.get("url")
    )
    return {"md5": md5, "alt": value.get("alt")}


def inline_image_urls(html: str) -> list[str]:
    """`src` of every `<img>` in a rich-text value."""
    return [m.group(3) for m in IMG_SRC_RE.finditer(html or "")]


def diff(a: Any, b: Any, path: str = "", limit: int = 20) -> list[str]:
    """Human-readable differences between two canonical forms (at most `limit`)."""
    out: list[str] = []

    def walk(x: Any, y: Any, p: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y), key=str):
                if k not in x:
                    out.append(f"{p}/{k}: only in second")
                elif k not in y:
                    out.append(f"{p}/{k}: only in first")
                else:
                    walk(x[k], y[k], f"{p}/{k}")
        elif x != y:
            out.append(f"{p}: {str(x)[:120]} != {str(y)[:120]}")

    walk(a, b, path)
    return out
