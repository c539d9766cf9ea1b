"""Paging, field-type mapping and row building of the Webflow source (no dlt resources here)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns

from .settings import (
    ECOMMERCE_COLLECTIONS,
    FIELD_TYPE_TO_DATA_TYPE,
    FILE_FIELD_TYPES,
    ITEM_META_COLUMNS,
    LIVE,
    RESERVED_TABLES,
)

_NAMING = NamingConvention()


# names


def normalize(name: str) -> str:
    """dlt's default (snake_case) identifier for `name`."""
    return _NAMING.normalize_identifier(name)


def items_table_name(collection_slug: str) -> str:
    """Table of a collection: its slug, snake-cased; `_items` appended if it hits a source table."""
    name = _NAMING.normalize_table_identifier(collection_slug)
    return f"{name}_items" if name in RESERVED_TABLES or name.startswith("_dlt") else name


def field_column_name(field_slug: str) -> str:
    """Column of a field: its slug, snake-cased; `field_` prepended if it hits a metadata column."""
    name = normalize(field_slug)
    return f"field_{name}" if name in ITEM_META_COLUMNS or name.startswith("_dlt") else name


def is_ecommerce(collection: Mapping[str, Any]) -> bool:
    """Products, SKUs and Categories of Webflow e-commerce (slug and displayName both match)."""
    expected = ECOMMERCE_COLLECTIONS.get(str(collection.get("slug") or ""))
    return expected is not None and collection.get("displayName") == expected


# time


def parse_ts(value: str) -> datetime:
    """Webflow's ISO-8601 timestamp (`...Z`) as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def format_ts(value: datetime) -> str:
    """An aware datetime in Webflow's format: milliseconds and `Z`."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def minus_seconds(value: str, seconds: float) -> str:
    """`value` moved back by `seconds` (the overlap window), in Webflow's format."""
    return format_ts(parse_ts(value) - timedelta(seconds=seconds))


def utc_now() -> datetime:
    return datetime.now(UTC)


def content_hash(value: Any) -> str:
    """Stable hash of a JSON-like value (detects changes that do not bump a timestamp)."""
    return hashlib.md5(
        json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


# fields


def field_options(field: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """Option choices (`validations.options` on read, `metadata.options` on write)."""
    for holder in ("validations", "metadata"):
        options = (field.get(holder) or {}).get("options")
        if options is not None:
            return [{"id": o.get("id"), "name": o.get("name")} for o in options]
    return None


def reference_collection_id(field: Mapping[str, Any]) -> str | None:
    """Target collection of a Reference/MultiReference field."""
    for holder in ("validations", "metadata"):
        target = (field.get(holder) or {}).get("collectionId")
        if target:
            return str(target)
    return None


def field_row(collection: Mapping[str, Any], field: Mapping[str, Any]) -> dict[str, Any]:
    """One `collection_fields` row."""
    validations = field.get("validations")
    return {
        "collection_id": collection["id"],
        "collection_slug": collection.get("slug"),
        "id": field["id"],
        "slug": field.get("slug"),
        "display_name": field.get("displayName"),
        "type": field.get("type"),
        "is_required": bool(field.get("isRequired")),
        "is_editable": field.get("isEditable"),
        "help_text": field.get("helpText"),
        "options": field_options(field),
        "reference_collection_id": reference_collection_id(field),
        "validations": json.dumps(validations) if validations is not None else None,
        "column_name": field_column_name(str(field.get("slug") or field["id"])),
        "is_deleted": False,
        "deleted_at": None,
    }


FIELD_COLUMNS: TTableSchemaColumns = {
    "collection_id": {"data_type": "text", "nullable": False},
    "id": {"data_type": "text", "nullable": False},
    "options": {"data_type": "json"},
    "validations": {"data_type": "json"},
    "is_deleted": {"data_type": "bool"},
    "deleted_at": {"data_type": "timestamp"},
}


def item_columns(fields: Sequence[Mapping[str, Any]]) -> TTableSchemaColumns:
    """Column hints of a collection's table: metadata columns plus one typed column per field."""
    columns: TTableSchemaColumns = {
        "id": {"data_type": "text", "nullable": False},
        "cms_locale_id": {"data_type": "text", "nullable": False},
        "locale": {"data_type": "text"},
        "state": {"data_type": "text", "nullable": False},
        "collection_id": {"data_type": "text"},
        "is_draft": {"data_type": "bool"},
        "is_archived": {"data_type": "bool"},
        "created_on": {"data_type": "timestamp"},
        "last_updated": {"data_type": "timestamp"},
        "last_published": {"data_type": "timestamp"},
        "is_deleted": {"data_type": "bool"},
        "deleted_at": {"data_type": "timestamp"},
        "field_data": {"data_type": "json"},
    }
    for field in fields:
        data_type = FIELD_TYPE_TO_DATA_TYPE.get(str(field.get("type")), "json")
        column: TColumnSchema = {"data_type": data_type, "nullable": True}  # type: ignore[typeddict-item]
        if field.get("helpText") or field.get("displayName"):
            column["description"] = str(field.get("displayName") or field.get("helpText"))
        columns[field_column_name(str(field.get("slug") or field["id"]))] = column
    return columns


def item_row(
    item: Mapping[str, Any],
    *,
    state: str,
    locale_tag: str | None,
    collection_id: str,
    fields: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """One row of a collection table: metadata, one column per field, and the raw `field_data`.

    `field_data` is kept verbatim (key order and all, unknown keys too): it is the faithful copy
    a target is written from. The typed columns are for SQL.
    """
    field_data = dict(item.get("fieldData") or {})
    row: dict[str, Any] = {
        "id": item["id"],
        "cms_locale_id": item.get("cmsLocaleId"),
        "locale": locale_tag,
        "state": state,
        "collection_id": collection_id,
        "is_draft": item.get("isDraft"),
        "is_archived": item.get("isArchived"),
        "created_on": item.get("createdOn"),
        "last_updated": item.get("lastUpdated"),
        "last_published": item.get("lastPublished"),
        "is_deleted": False,
        "deleted_at": None,
        "field_data": field_data,
    }
    for field in fields:
        slug = str(field.get("slug") or field["id"])
        row[field_column_name(slug)] = _column_value(field, field_data.get(slug))
    return row


def _column_value(field: Mapping[str, Any], value: Any) -> Any:
    """A field value for its typed column; json-typed values pass through as they are."""
    if value is None:
        return None
    data_type = FIELD_TYPE_TO_DATA_TYPE.get(str(field.get("type")), "json")
    if data_type == "double" and isinstance(value, bool):
        return None
    if data_type == "double" and isinstance(value, int):
        return float(value)
    if data_type == "text" and not isinstance(value, str):
        return json.dumps(value)
    return value


def cursor_field(state: str) -> str:
    """Staged items move on `lastUpdated`; live copies change only when published."""
    return "lastPublished" if state == LIVE else "lastUpdated"


# files referenced by items


class _ImgSrcParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.lower() == "img":
            for name, value in attrs:
                if name.lower() == "src" and value:
                    self.sources.append(value.strip())


def img_sources(html: str) -> list[str]:
    """`src` of every `<img>` in a RichText value."""
    parser = _ImgSrcParser()
    parser.feed(html)
    parser.close()
    return parser.sources


@dataclass(frozen=True)
class FileRef:
    """A file an item points at."""

    url: str
    field_slug: str
    file_id: str | None


def file_refs(
    field_data: Mapping[str, Any], fields: Iterable[Mapping[str, Any]]
) -> Iterator[FileRef]:
    """Files of Image, MultiImage and File values and `<img src>` of RichText values."""
    for field in fields:
        slug = str(field.get("slug") or "")
        value = field_data.get(slug)
        if value is None:
            continue
        ftype = field.get("type")
        if ftype in FILE_FIELD_TYPES:
            for entry in value if isinstance(value, list) else [value]:
                if isinstance(entry, Mapping) and entry.get("url"):
                    yield FileRef(str(entry["url"]), slug, entry.get("fileId"))
        elif ftype == "RichText" and isinstance(value, str) and "<img" in value.lower():
            for src in img_sources(value):
                if not src.startswith("data:"):
                    yield FileRef(src, slug, None)


# assets


def asset_row(asset: Mapping[str, Any]) -> dict[str, Any]:
    """One `assets` row (file columns are filled in after the download)."""
    return {
        "id": asset["id"],
        "content_type": asset.get("contentType"),
        "size": asset.get("size"),
        "site_id": asset.get("siteId"),
        "hosted_url": asset.get("hostedUrl"),
        "original_file_name": asset.get("originalFileName"),
        "display_name": asset.get("displayName"),
        "alt_text": asset.get("altText"),
        "folder_id": asset.get("folderId") or asset.get("parentFolder"),
        "variants": asset.get("variants"),
        "created_on": asset.get("createdOn"),
        "last_updated": asset.get("lastUpdated"),
        "md5": None,
        "local_path": None,
        "download_error": None,
        "is_deleted": False,
        "deleted_at": None,
    }


ASSET_COLUMNS: TTableSchemaColumns = {
    "id": {"data_type": "text", "nullable": False},
    "size": {"data_type": "bigint"},
    "alt_text": {"data_type": "text"},
    "folder_id": {"data_type": "text"},
    "variants": {"data_type": "json"},
    "created_on": {"data_type": "timestamp"},
    "last_updated": {"data_type": "timestamp"},
    "md5": {"data_type": "text"},
    "local_path": {"data_type": "text"},
    "download_error": {"data_type": "text"},
    "is_deleted": {"data_type": "bool"},
    "deleted_at": {"data_type": "timestamp"},
}

FOLDER_COLUMNS: TTableSchemaColumns = {
    "id": {"data_type": "text", "nullable": False},
    "parent_folder": {"data_type": "text"},
    "assets": {"data_type": "json"},
    "created_on": {"data_type": "timestamp"},
    "last_updated": {"data_type": "timestamp"},
    "is_deleted": {"data_type": "bool"},
    "deleted_at": {"data_type": "timestamp"},
}

CMS_FILE_COLUMNS: TTableSchemaColumns = {
    "url": {"data_type": "text", "nullable": False},
    "file_id": {"data_type": "text"},
    "md5": {"data_type": "text"},
    "size": {"data_type": "bigint"},
    "content_type": {"data_type": "text"},
    "local_path": {"data_type": "text"},
    "download_error": {"data_type": "text"},
    "first_seen_collection_id": {"data_type": "text"},
    "first_seen_item_id": {"data_type": "text"},
    "first_seen_cms_locale_id": {"data_type": "text"},
    "first_seen_field": {"data_type": "text"},
    "first_seen_at": {"data_type": "timestamp"},
}

SITE_COLUMNS: TTableSchemaColumns = {
    "id": {"data_type": "text", "nullable": False},
    "created_on": {"data_type": "timestamp"},
    "last_published": {"data_type": "timestamp"},
    "last_updated": {"data_type": "timestamp"},
    "parent_folder_id": {"data_type": "text"},
    "custom_domains": {"data_type": "json"},
    "locales": {"data_type": "json"},
}

COLLECTION_COLUMNS: TTableSchemaColumns = {
    "id": {"data_type": "text", "nullable": False},
    "created_on": {"data_type": "timestamp"},
    "last_updated": {"data_type": "timestamp"},
    "is_deleted": {"data_type": "bool"},
    "deleted_at": {"data_type": "timestamp"},
}


def folder_row(folder: Mapping[str, Any]) -> dict[str, Any]:
    """One `asset_folders` row."""
    return {
        "id": folder["id"],
        "display_name": folder.get("displayName"),
        "parent_folder": folder.get("parentFolder"),
        "assets": folder.get("assets") or [],
        "site_id": folder.get("siteId"),
        "created_on": folder.get("createdOn"),
        "last_updated": folder.get("lastUpdated"),
        "is_deleted": False,
        "deleted_at": None,
    }


def collection_row(
    collection: Mapping[str, Any], table_name: str, field_count: int
) -> dict[str, Any]:
    """One `collections` row."""
    return {
        "id": collection["id"],
        "slug": collection.get("slug"),
        "display_name": collection.get("displayName"),
        "singular_name": collection.get("singularName"),
        "created_on": collection.get("createdOn"),
        "last_updated": collection.get("lastUpdated"),
        "table_name": table_name,
        "field_count": field_count,
        "is_deleted": False,
        "deleted_at": None,
    }


def locale_rows(site: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The site's locales, primary first (CMS endpoints take `cms_locale_id`)."""
    locales = site.get("locales") or {}
    rows = []
    entries = [(True, locales.get("primary"))] + [
        (False, s) for s in locales.get("secondary") or []
    ]
    for primary, locale in entries:
        if not locale:
            continue
        rows.append(
            {
                "id": locale.get("id"),
                "cms_locale_id": locale.get("cmsLocaleId"),
                "tag": locale.get("tag"),
                "display_name": locale.get("displayName"),
                "subdirectory": locale.get("subdirectory"),
                "enabled": locale.get("enabled"),
                "is_primary": primary,
            }
        )
    return rows
