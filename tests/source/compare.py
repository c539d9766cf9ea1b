"""Compares the staged DuckDB with the emulator's own export of a site (the ground truth)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sources.webflow.helpers import (
    field_column_name,
    is_ecommerce,
    items_table_name,
    parse_ts,
    rich_text_images,
    rich_text_slugs,
)

from .conftest import Extractor, as_json

Key = tuple[str, str, str]  # (item id, cmsLocaleId, "staged" | "live")


def export_items(collection: Mapping[str, Any]) -> dict[Key, dict[str, Any]]:
    """(id, locale, state) -> item as the API shows it, from one exported collection.

    The export holds `items: [{id, locales: {cmsLocaleId: {staged, live | None}}}]`.
    """
    out: dict[Key, dict[str, Any]] = {}
    for entry in collection.get("items") or []:
        for locale_id, versions in (entry.get("locales") or {}).items():
            for state in ("staged", "live"):
                if versions.get(state):
                    out[(str(entry["id"]), str(locale_id), state)] = versions[state]
    return out


def _ts(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return parse_ts(str(value))


def compare_items(ex: Extractor, export: Mapping[str, Any]) -> list[str]:
    """Every item of every locale and state, every field value: differences as messages."""
    problems: list[str] = []
    for collection in export["collections"]:
        table = items_table_name(collection["slug"])
        if is_ecommerce(collection):
            if table in ex.tables():
                problems.append(f"e-commerce collection {collection['slug']} was extracted")
            continue
        expected = export_items(collection)
        rows = {(r["id"], r["cms_locale_id"], r["state"]): r for r in ex.rows(table)}
        for key, item in expected.items():
            row = rows.get(key)
            if row is None:
                problems.append(f"{table} {key}: missing")
                continue
            problems.extend(_compare_row(table, key, row, item, collection["fields"]))
        for key, row in rows.items():
            if key not in expected and not row["is_deleted"]:
                problems.append(f"{table} {key}: in staging, not in the site, not marked deleted")
    return problems


def _compare_row(
    table: str, key: Key, row: Mapping[str, Any], item: Mapping[str, Any], fields: list[dict]
) -> list[str]:
    problems = []

    def check(what: str, got: Any, want: Any) -> None:
        if got != want:
            problems.append(f"{table} {key} {what}: staged {got!r} != site {want!r}")

    check("is_deleted", row["is_deleted"], False)
    check("field_data", as_json(row["field_data"]), item.get("fieldData"))
    check("is_draft", row["is_draft"], item.get("isDraft"))
    check("is_archived", row["is_archived"], item.get("isArchived"))
    check("last_updated", _ts(row["last_updated"]), _ts(item.get("lastUpdated")))
    check("last_published", _ts(row["last_published"]), _ts(item.get("lastPublished")))
    check("created_on", _ts(row["created_on"]), _ts(item.get("createdOn")))
    field_data = item.get("fieldData") or {}
    for field in fields:
        column = field_column_name(field["slug"])
        want = field_data.get(field["slug"])
        got = row.get(column)
        if field["type"] in ("Image", "MultiImage", "File", "MultiReference"):
            got = as_json(got)
        elif field["type"] == "DateTime":
            got, want = _ts(got), _ts(want)
        elif field["type"] == "Number" and want is not None:
            want = float(want)
        check(f"column {column}", got, want)
    return problems


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def compare_assets(ex: Extractor, export: Mapping[str, Any]) -> list[str]:
    """Asset metadata and every asset byte (MD5 of the stored file)."""
    problems = []
    rows = {r["id"]: r for r in ex.rows("assets")}
    for asset in export["assets"]:
        row = rows.get(asset["id"])
        if row is None or row["is_deleted"]:
            problems.append(f"asset {asset['id']}: missing")
            continue
        if row["md5"] != asset["md5"]:
            problems.append(f"asset {asset['id']}: md5 {row['md5']} != {asset['md5']}")
        stored = ex.asset_store / row["local_path"]
        if not stored.is_file() or md5_of(stored) != asset["md5"]:
            problems.append(f"asset {asset['id']}: stored file {stored} missing or different")
        if row["original_file_name"] != asset.get("originalFileName"):
            problems.append(f"asset {asset['id']}: originalFileName differs")
    live_ids = {a["id"] for a in export["assets"]}
    for asset_id, row in rows.items():
        if asset_id not in live_ids and not row["is_deleted"]:
            problems.append(f"asset {asset_id}: not in the site, not marked deleted")
    return problems


def rich_text_urls(export: Mapping[str, Any]) -> set[str]:
    """Every `<img src>` of the site's RichText values (the files the source downloads)."""
    urls = set()
    for collection in export["collections"]:
        if is_ecommerce(collection):
            continue
        slugs = rich_text_slugs(collection["fields"])
        for item in export_items(collection).values():
            urls.update(ref.url for ref in rich_text_images(item.get("fieldData") or {}, slugs))
    return urls


def compare_cms_files(ex: Extractor, export: Mapping[str, Any]) -> list[str]:
    """cms_files holds the RichText images, each with the site's MD5 and the bytes in the store,
    and nothing else (Image/MultiImage/File values are re-hosted by Webflow from their URL)."""
    problems = []
    rows = {r["url"]: r for r in ex.rows("cms_files")}
    md5_by_url = {f["url"]: f["md5"] for f in export.get("files") or []}
    md5_by_url.update({a["hostedUrl"]: a["md5"] for a in export["assets"]})
    wanted = rich_text_urls(export)
    for url in wanted:
        row = rows.get(url)
        if row is None:
            problems.append(f"cms file {url}: missing")
            continue
        if url in md5_by_url and row["md5"] != md5_by_url[url]:
            problems.append(f"cms file {url}: md5 {row['md5']} != {md5_by_url[url]}")
        stored = ex.asset_store / str(row["local_path"])
        if not stored.is_file() or md5_of(stored) != row["md5"]:
            problems.append(f"cms file {url}: stored file missing or different")
    problems.extend(f"cms file {url}: not a RichText image" for url in rows.keys() - wanted)
    return problems


def compare_fields(ex: Extractor, export: Mapping[str, Any]) -> list[str]:
    """One collection_fields row per field with its type, options and reference target."""
    problems = []
    rows = {(r["collection_id"], r["id"]): r for r in ex.rows("collection_fields")}
    for collection in export["collections"]:
        if is_ecommerce(collection):
            continue
        for field in collection["fields"]:
            row = rows.get((collection["id"], field["id"]))
            if row is None:
                problems.append(f"field {collection['slug']}.{field['slug']}: missing")
                continue
            if (row["slug"], row["type"], row["is_required"]) != (
                field["slug"],
                field["type"],
                field["isRequired"],
            ):
                problems.append(f"field {collection['slug']}.{field['slug']}: differs")
            validations = field.get("validations") or {}
            if field["type"] == "Option":
                want = [{"id": o["id"], "name": o["name"]} for o in validations["options"]]
                if as_json(row["options"]) != want:
                    problems.append(f"field {field['slug']}: options differ")
            is_reference = field["type"] in ("Reference", "MultiReference")
            if is_reference and row["reference_collection_id"] != validations.get("collectionId"):
                problems.append(f"field {field['slug']}: reference target differs")
    return problems


def compare_all(ex: Extractor, export: Mapping[str, Any]) -> list[str]:
    return (
        compare_items(ex, export)
        + compare_fields(ex, export)
        + compare_assets(ex, export)
        + compare_cms_files(ex, export)
    )
