"""Paging, field-type mapping, row building and the incremental machinery of the Webflow source.

No dlt resources here (they are in `__init__.py`); the classes and functions below run inside them.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import math
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
from dlt.common import logger
from dlt.common.json import json as dlt_json
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.common.normalizers.utils import generate_dlt_ids
from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns
from dlt.common.typing import TDataItems

from .client import (
    DownloadRefusedError,
    WebflowApiError,
    WebflowClient,
    WebflowNotFoundError,
    WebflowTransientError,
)
from .settings import (
    CMS_FILES_TABLE,
    ECOMMERCE_COLLECTIONS,
    FIELD_TYPE_TO_DATA_TYPE,
    ITEM_META_COLUMNS,
    LIVE,
    PAGE_LIMIT,
    RESERVED_TABLES,
    SERVER_CLOCK_SKEW_SECONDS,
    STAGED,
)

_SAFE_LITERAL = re.compile(r"[A-Za-z0-9_.:-]+")
DOWNLOAD_THREADS = 6  # concurrent downloads of the RichText images of one page of items
ITEM_TABLE_ROWS = 5_000  # item rows per arrow table handed to dlt (see `flush_tables`)
_NAMING = NamingConvention()


# names


def normalize(name: str) -> str:
    """dlt's default (snake_case) identifier for `name`."""
    return _NAMING.normalize_identifier(name)


def items_table_name(collection_slug: str) -> str:
    """Table of a collection: its slug, snake-cased; `_items` appended if it hits a source table."""
    name = _NAMING.normalize_table_identifier(collection_slug)
    return f"{name}_items" if name in RESERVED_TABLES or name.startswith("_dlt") else name


@functools.lru_cache(maxsize=4096)
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


def short_hash(item: Mapping[str, Any]) -> str:
    """40-bit content hash of an item (its id included): what the overlap de-duplication keeps.

    orjson with sorted keys: 2 µs for a post where `content_hash` takes 29 (every item read is
    hashed).
    Hashes kept by older versions were `content_hash`es: the rows of the first run's overlap
    window are then loaded once more, nothing is missed.
    """
    try:
        return hashlib.md5(dlt_json.dumpb(item, sort_keys=True)).hexdigest()[:10]
    except TypeError:  # lone surrogates, which orjson refuses (the items' text is cleaned later)
        return content_hash(item)[:10]


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
        "validations": field.get("validations"),
        "column_name": field_column_name(str(field.get("slug") or field["id"])),
        "is_deleted": False,
        "deleted_at": None,
    }


FIELD_COLUMNS: TTableSchemaColumns = {
    "collection_id": {"data_type": "text", "nullable": False},
    "id": {"data_type": "text", "nullable": False},
    "options": {"data_type": "json"},
    "validations": {"data_type": "json"},
    # often null in every row: without a type dlt warns and leaves the column out
    "help_text": {"data_type": "text"},
    "reference_collection_id": {"data_type": "text"},
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


# item rows as arrow tables, built column by column. dlt writes an arrow table to parquet as it is
# and DuckDB loads that file, with no per-row work in dlt: dict rows went through dlt's jsonl files
# and its relational normalizer, which (with the row building) was most of a 10k-item extract's
# CPU. The tables have the columns and values the dict rows had (json columns as JSON text,
# `_dlt_load_id` and `_dlt_id` too), so tables loaded by older versions are merged into unchanged.

TIMESTAMP = pa.timestamp("us", tz="UTC")
ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "double": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": TIMESTAMP,
    "json": pa.string(),  # JSON text: arrow has no json type, the column hint keeps it JSON
}
DLT_COLUMNS = ("_dlt_load_id", "_dlt_id")


class ItemTables:
    """Arrow tables of one collection's items read in one state (staged or live)."""

    def __init__(
        self,
        collection_id: str,
        fields: Sequence[Mapping[str, Any]],
        kind: str,
        tags: Mapping[str, str | None],
        primary_locale: str,
    ) -> None:
        self.collection_id = collection_id
        self.kind = kind
        self.tags = tags
        self.primary_locale = primary_locale
        self._load_id: str | None = None  # of the package being extracted, read once
        columns = item_columns(fields)
        # column -> (field slug, data type); a later field wins a clash, as in a dict row
        self.fields = {
            field_column_name(slug): (slug, columns[field_column_name(slug)]["data_type"])
            for slug in (str(f.get("slug") or f["id"]) for f in fields)
        }
        self.schema = pa.schema(
            [
                pa.field(name, ARROW_TYPES[str(c["data_type"])], c.get("nullable", True))
                for name, c in columns.items()
            ]
            + [pa.field(name, pa.string(), False) for name in DLT_COLUMNS]
        )

    def table(self, items: Sequence[Mapping[str, Any]]) -> pa.Table:
        """One row per item: metadata, `field_data` (JSON text) and one typed column per field."""
        n = len(items)
        if self._load_id is None:
            self._load_id = dlt.current.load_package_state()["load_id"]
        locales = [str(item.get("cmsLocaleId") or self.primary_locale) for item in items]
        data, data_json = zip(*(self._field_data(item) for item in items), strict=True)
        columns: dict[str, Any] = {
            "id": [item["id"] for item in items],
            "cms_locale_id": locales,
            "locale": [self.tags.get(loc) for loc in locales],
            "state": [self.kind] * n,
            "collection_id": [self.collection_id] * n,
            "is_draft": _bools([item.get("isDraft") for item in items]),
            "is_archived": _bools([item.get("isArchived") for item in items]),
            "created_on": _timestamps([item.get("createdOn") for item in items]),
            "last_updated": _timestamps([item.get("lastUpdated") for item in items]),
            "last_published": _timestamps([item.get("lastPublished") for item in items]),
            "is_deleted": [False] * n,
            "deleted_at": [None] * n,
            "field_data": data_json,
            "_dlt_load_id": [self._load_id] * n,
            "_dlt_id": generate_dlt_ids(n),
        }
        for name, (slug, data_type) in self.fields.items():
            columns[name] = CONVERTERS[data_type]([d.get(slug) for d in data])
        arrays = [_array(columns[f.name], f.type) for f in self.schema]
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def _field_data(self, item: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
        """`fieldData` verbatim and as JSON text; lone surrogates (text that was not valid
        UTF-8, which JSON cannot hold) are replaced by U+FFFD, with a warning per field."""
        data = item.get("fieldData") or {}
        try:
            return data, dlt_json.dumps(data)
        except TypeError:  # orjson refuses lone surrogates: find and replace them
            clean = {slug: without_surrogates(value) for slug, value in data.items()}
            changed = [slug for slug, value in data.items() if clean[slug] != value]
            if not changed:
                raise
            for slug in changed:
                logger.warning(
                    f"webflow: collection {self.collection_id} item {item.get('id')} field "
                    f"{slug}: text is not valid UTF-8 (lone surrogates); replaced by U+FFFD"
                )
            return clean, dlt_json.dumps(clean)


_SURROGATES = re.compile("[\ud800-\udfff]")


def without_surrogates(value: Any) -> Any:
    """`value` with lone surrogates in its strings replaced by U+FFFD (they are not UTF-8)."""
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if isinstance(value, list):
        return [without_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {k: without_surrogates(v) for k, v in value.items()}
    return value


def _array(values: Any, type_: pa.DataType) -> pa.Array:
    return values if isinstance(values, pa.Array) else pa.array(values, type_)


def _texts(values: list[Any]) -> list[str | None]:
    """Text columns: a value that is not text is kept as its JSON (never a variant column)."""
    return [v if v is None or isinstance(v, str) else json.dumps(v) for v in values]


def _doubles(values: list[Any]) -> list[float | None]:
    """Number columns: NULL for what is not a number (the value stays in `field_data`)."""
    return [
        float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None for v in values
    ]


def _bools(values: list[Any]) -> list[bool | None]:
    return [v if isinstance(v, bool) else None for v in values]


def _jsons(values: list[Any]) -> list[str | None]:
    return [None if v is None else dlt_json.dumps(v) for v in values]


def _timestamps(values: list[Any]) -> pa.Array:
    """ISO-8601 text as UTC timestamps, parsed by arrow; if arrow refuses one, value by value,
    NULL for what is not a timestamp (a DateTime value that is not ISO-8601 stays in
    `field_data` only: dlt would add a variant column per bad value)."""
    texts = [v if isinstance(v, str) else None for v in values]
    try:
        return pa.array(texts, pa.string()).cast(TIMESTAMP)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([_timestamp(v) for v in texts], TIMESTAMP)


def _timestamp(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = parse_ts(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


CONVERTERS: dict[str, Callable[[list[Any]], Any]] = {
    "text": _texts,
    "double": _doubles,
    "bool": _bools,
    "timestamp": _timestamps,
    "json": _jsons,
}


class _KeptJsonHints(logging.Filter):
    """dlt warns on every arrow table whose json columns come as text (arrow has no json type)
    that it kept the resource's json hints. Keeping them is what the item tables rely on: the
    warning, one per table, is dropped for the item resources (`quiet_json_hints`)."""

    def __init__(self) -> None:
        super().__init__()
        self.resources: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if "when merging arrow schema with dlt schema" not in message:
            return True
        return message.removeprefix("In resource: ").split(",", 1)[0] not in self.resources


_KEPT_JSON_HINTS = _KeptJsonHints()


def quiet_json_hints(resource_name: str) -> None:
    """Drops dlt's warning about kept json hints for the arrow tables of `resource_name`."""
    _KEPT_JSON_HINTS.resources.add(resource_name)
    if logger.LOGGER is not None and _KEPT_JSON_HINTS not in logger.LOGGER.filters:
        logger.LOGGER.addFilter(_KEPT_JSON_HINTS)


def cursor_field(state: str) -> str:
    """Staged items move on `lastUpdated`; live copies change only when published."""
    return "lastPublished" if state == LIVE else "lastUpdated"


# files referenced by items


# one attribute of a start tag: name, then an optional value (quoted, or unquoted up to a space)
_ATTR = r"""([^\s/>"'=][^\s/>=]*)(?:\s*=\s*("[^"]*"|'[^']*'|(?!["'])[^>\s]*))?"""
_START_TAG = re.compile(rf"""<([a-zA-Z][^\s/>]*)((?:\s+|/|{_ATTR})*+)>""")
_ATTRIBUTE = re.compile(_ATTR)
# what a browser does not show as tags: comments, and the text of script and style elements
_NOT_MARKUP = re.compile(r"<!--.*?-->|<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def img_sources(html: str) -> list[str]:
    """`src` of every `<img>` in a RichText value (entities decoded, spaces stripped).

    Start tags are matched whole (quoted values included), so that an `<img` inside another
    tag's attribute is not taken for one; comments, scripts and styles are left out. It finds
    what `html.parser` finds (tests/source/test_rich_text.py) in a quarter of the time: 10
    instead of 42 µs for a post body, every RichText value with an `<img` is scanned.
    """
    lowered = html.lower()
    if "<!--" in html or "<script" in lowered or "<style" in lowered:
        html = _NOT_MARKUP.sub("", html)
    sources = []
    for tag in _START_TAG.finditer(html):
        if tag.group(1).lower() != "img":
            continue
        for name, value in _ATTRIBUTE.findall(tag.group(2)):
            if value[:1] in ("'", '"'):
                value = value[1:-1]
            if name.lower() == "src" and value:
                sources.append(unescape(value).strip())
    return sources


@dataclass(frozen=True)
class FileRef:
    """A file a RichText value shows (`<img src>`)."""

    url: str
    field_slug: str


def rich_text_slugs(fields: Iterable[Mapping[str, Any]]) -> list[str]:
    """Slugs of the RichText fields: the only field values whose files the source downloads."""
    return [str(f.get("slug") or "") for f in fields if f.get("type") == "RichText"]


def rich_text_images(field_data: Mapping[str, Any], slugs: Iterable[str]) -> Iterator[FileRef]:
    """`<img src>` of the RichText values (`slugs`, see `rich_text_slugs`), `data:` URIs left out.

    Image, MultiImage and File values are not files of ours: a target is written their source
    URL and Webflow downloads and re-hosts it (WEBFLOW_API.md 4.7). Webflow does not re-host a
    RichText image, so those are downloaded here and uploaded by the destination.
    """
    for slug in slugs:
        value = field_data.get(slug)
        if isinstance(value, str) and "<img" in value.lower():
            for src in img_sources(value):
                if not src.startswith("data:"):
                    yield FileRef(src, slug)


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


# sync machinery shared by the resources


@dataclass
class Context:
    """What every resource of one source instance shares."""

    client: WebflowClient
    site_id: str
    asset_store: Path
    max_asset_bytes: int
    overlap_seconds: float
    download_files: bool
    locales: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # store paths seen in the store during this run: a 10k-item extract asked ~90,000 times
    present: set[str] = dataclasses.field(default_factory=set)


def choose_collections(
    listed: Sequence[Mapping[str, Any]], only: Sequence[str] | None
) -> list[Mapping[str, Any]]:
    """Collections to extract: not e-commerce, and among `only` when given."""
    chosen = []
    for collection in listed:
        if is_ecommerce(collection):
            logger.warning(
                f"webflow: skipping e-commerce collection {collection.get('displayName')!r}"
                f" ({collection.get('slug')})"
            )
            continue
        if only is not None and collection.get("slug") not in only:
            continue
        chosen.append(collection)
    return chosen


def cached_schemas() -> dict[str, Any]:
    """Collection details kept by the last run (read-only here; written by `collections`)."""
    try:
        state = dlt.current.source_state()
    except Exception:  # no active pipeline, no source section: no cache
        return {}
    return dict(state.get("schemas") or {})


def collection_schema(
    client: WebflowClient, collection: Mapping[str, Any], cached: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Collection with fields: from the cache while `lastUpdated` has not moved."""
    if cached and cached.get("lastUpdated") == collection.get("lastUpdated"):
        details = cached["collection"]
    else:
        details = client.get(f"/collections/{collection['id']}", operation="collection-details")
    merged = {**details, **{k: v for k, v in collection.items() if v is not None}}
    merged.setdefault("fields", details.get("fields") or [])
    return {
        "lastUpdated": collection.get("lastUpdated"),
        "collection": merged,
        "table_name": items_table_name(str(merged.get("slug") or merged["id"])),
    }


def has_changed(state: dict[str, Any], key: str, value: Any) -> bool:
    """True (and remembers it) when `value` differs from what was loaded last time."""
    digest = content_hash(value)
    hashes = state.setdefault("hashes", {})
    if hashes.get(key) == digest:
        return False
    hashes[key] = digest
    return True


Key = tuple[str, str]
"""An item entry of a list: (item id, cmsLocaleId)."""


def stream_state(resource_state: dict[str, Any], kind: str) -> dict[str, Any]:
    """The state of a collection's `kind` stream (key `staged` or `live`).

    A state of the older per-locale layout (keys `<cmsLocaleId>:<state>`) is merged into it
    once: its ids are kept, and the earliest cursor and watermark, so that nothing is skipped.
    """
    old_keys = [k for k in resource_state if isinstance(k, str) and k.endswith(f":{kind}")]
    state = resource_state.get(kind)
    if not isinstance(state, dict):
        state = {}
        olds = {k.split(":", 1)[0]: resource_state[k] for k in old_keys}
        olds = {loc: s for loc, s in olds.items() if isinstance(s, dict)}
        if olds:
            state["ids"] = {loc: list(s.get("ids") or []) for loc, s in olds.items()}
            cursors = [s["cursor"] for s in olds.values() if s.get("cursor")]
            marks = [s.get("watermark") for s in olds.values() if s.get("cursor")]
            if cursors:
                state["cursor"] = min(cursors)
            if marks and all(marks):
                state["watermark"] = min(marks)  # type: ignore[type-var]
            state["boundary"] = sorted({d for s in olds.values() for d in s.get("boundary") or []})
        resource_state[kind] = state
    for key in old_keys:
        resource_state.pop(key, None)
    return state


def _count(entries: Mapping[str, set[str]]) -> int:
    return sum(len(ids) for ids in entries.values())


class ItemStream:
    """One (collection, state) list over every locale at once (`cmsLocaleId=<a>,<b>`).

    State (in the collection resource's state, key `staged` or `live`): `ids` (cmsLocaleId ->
    item ids present at the last check), `cursor` (newest lastUpdated/lastPublished loaded),
    `watermark` (where the next read starts: the server's time when this read started, from its
    `Date` header, minus `SERVER_CLOCK_SKEW_SECONDS`) and `boundary` (short content hashes of
    entries at or after the watermark, so re-read entries are not loaded again).

    A run reads newest first, unfiltered, until it passes the watermark: the first page's
    `pagination.total` is the deletion check, so an unchanged collection costs one request.
    Items changed during or after a read are read again next time and nothing is missed; items
    written long before it (a bulk import) are not. A state without a watermark (older state,
    or a server without `Date`) reads from `cursor - overlap_seconds`.
    """

    def __init__(
        self,
        ctx: Context,
        collection: Mapping[str, Any],
        fields: Sequence[Mapping[str, Any]],
        table_name: str,
        kind: str,
        resource_state: dict[str, Any],
    ) -> None:
        self.ctx = ctx
        self.collection = collection
        self.fields = fields
        self.rich_text = rich_text_slugs(fields)
        self.table_name = table_name
        self.kind = kind
        self.cursor_field = cursor_field(kind)
        with_ids = [loc for loc in ctx.locales if loc.get("cms_locale_id")]
        self.locale_ids = [str(loc["cms_locale_id"]) for loc in with_ids]
        self.tags = {str(loc["cms_locale_id"]): loc.get("tag") for loc in with_ids}
        primaries = [str(loc["cms_locale_id"]) for loc in with_ids if loc.get("is_primary")]
        self.primary = (primaries or self.locale_ids or [""])[0]
        self.tables = ItemTables(collection["id"], fields, kind, self.tags, self.primary)
        self.state = stream_state(resource_state, kind)
        ids = self.state.get("ids") or {}
        self.known: dict[str, set[str]] = {loc: set(ids.get(loc) or []) for loc in self.locale_ids}
        self.path = f"/collections/{collection['id']}/items" + ("/live" if kind == LIVE else "")
        self.operation = "list-collection-items" + ("-live" if kind == LIVE else "")
        self.since = self._start()
        self.total: int | None = None  # entries in the list, from the first unfiltered page
        self.seen: dict[str, set[str]] = {loc: set() for loc in self.locale_ids}  # read now
        self.emitted: set[Key] = set()
        self._cursor: str | None = self.state.get("cursor")
        self._read_any = False
        self._started: datetime | None = None  # server time of this run's first request
        self._loaded: dict[str, str] = {}  # short hash -> cursor value, of rows known loaded
        # download threads kept for the whole collection (set by `sync_collection`): threads made
        # per page started ~2,000 threads and as many HTTP connections in a 10k-item extract
        self.downloads: ThreadPoolExecutor | None = None
        # arrow tables of emitted pages not handed to dlt yet (shared by the collection's two
        # streams, see `flush_tables`)
        self.pending: list[pa.Table] = []

    # reads

    def read_changed(self) -> Iterator[TDataItems]:
        """Entries at or after the watermark (everything on the first run), newest first."""
        boundary = set(self.state.get("boundary") or [])
        for items in self._pages(self.cursor_field, "desc", None, self.locale_ids, counts=True):
            fresh, digests = [], []
            for item in items:
                value = item.get(self.cursor_field) or ""
                if self.since is not None and value < self.since:
                    continue
                key = self._key(item)
                self._note(key, value)
                digest = short_hash(item)
                if digest in boundary:
                    self._loaded[digest] = value
                elif key not in self.emitted:
                    fresh.append(item)
                    digests.append(digest)
            yield from self._emit(fresh, digests)
            last = items[-1].get(self.cursor_field) if items else None
            if self.since is not None and (last is None or last < self.since):
                return  # past the watermark: the rest is older

    def read_published(self, since: str, keys: set[Key]) -> Iterator[TDataItems]:
        """Staged copies of entries published since `since` (publishing does not have to bump
        lastUpdated, but it changes `isDraft` and `lastPublished`)."""
        keys = keys - self.emitted
        if not keys:
            return
        for items in self._pages("lastPublished", "asc", since, self.locale_ids):
            fresh = [i for i in items if self._key(i) in keys and self._key(i) not in self.emitted]
            for item in fresh:
                self._note(self._key(item), item.get(self.cursor_field) or "")
            yield from self._emit(fresh)

    def refresh(self, keys: set[Key]) -> Iterator[TDataItems]:
        """Reads these entries again: one `Get-Item` each, or one scan when that is cheaper."""
        keys = {k for k in keys if k not in self.emitted and k[1] in self.known}
        if not keys:
            return
        if len(keys) > math.ceil(_count(self.known) / PAGE_LIMIT):
            yield from self._scan(self.locale_ids, keys)
            return
        fresh = []
        for item_id, locale_id in sorted(keys):
            path = f"/collections/{self.collection['id']}/items/{item_id}"
            try:
                item = self.ctx.client.get(path, {"cmsLocaleId": locale_id}, operation="Get-Item")
            except WebflowNotFoundError:
                continue  # deleted meanwhile: the next run's count check finds it
            if item:
                self._note(self._key(item), item.get(self.cursor_field) or "")
                fresh.append(item)
        yield from self._emit(fresh)

    def reconcile(
        self, gone: Mapping[str, set[str]]
    ) -> Generator[TDataItems, None, dict[str, set[str]]]:
        """The entries there now: the known ones, those read, minus `gone` (found by the other
        side), checked against `total`. When that does not add up the staged side lists the
        primary locale's ids (a primary-locale delete removes every locale), and only if that
        does not add up either, every locale's."""
        current = {
            loc: (self.known[loc] | self.seen[loc]) - gone.get(loc, set())
            for loc in self.locale_ids
        }
        if self.total is not None and self.total == _count(current):
            return current
        if self.kind == STAGED and len(self.locale_ids) > 1 and self.total is not None:
            primary = (yield from self._scan([self.primary], set()))[self.primary]
            removed = current[self.primary] - primary
            estimate = {
                loc: primary if loc == self.primary else current[loc] - removed
                for loc in self.locale_ids
            }
            if self.total == _count(estimate):
                return estimate
        return (yield from self._scan(self.locale_ids, set()))

    def finish(self, current: Mapping[str, set[str]]) -> Iterator[TDataItems]:
        """Tombstones of the entries that vanished; saves the stream state."""
        for loc in self.locale_ids:
            removed = self.known[loc] - current.get(loc, set())
            if removed:
                yield from tombstones(self.table_name, sorted(removed), loc, self.kind)
        self._save(current)

    def removed(self, current: Mapping[str, set[str]]) -> dict[str, set[str]]:
        return {loc: self.known[loc] - current.get(loc, set()) for loc in self.locale_ids}

    # paging

    def _start(self) -> str | None:
        """Where an incremental read starts (None: read everything)."""
        watermark = self.state.get("watermark")
        if watermark:
            return str(watermark)
        cursor = self.state.get("cursor")
        return minus_seconds(cursor, self.ctx.overlap_seconds) if cursor else None

    def _get(self, params: Mapping[str, Any]) -> Any:
        """One list request; the first one of the run fixes the server time of its start."""
        body = self.ctx.client.get(self.path, params, operation=self.operation)
        if self._started is None:
            last = getattr(self.ctx.client, "last_server_time", None)
            self._started = last() if last is not None else None
        return body

    def _pages(
        self,
        by: str,
        order: str,
        start: str | None,
        locales: Sequence[str],
        counts: bool = False,
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages sorted on `by`, each anchored at the last value seen (`by[gte]`, or `by[lte]`
        newest first; offset = ties). Unlike deep offsets, an item edited (moved to the end) or
        deleted while we page does not shift later items past us. `counts`: the first page
        (unfiltered) sets `total`."""
        bound = "gte" if order == "asc" else "lte"
        anchor, ties, first = start, 0, True
        while True:
            params: dict[str, Any] = {"cmsLocaleId": ",".join(locales)}
            params.update(sortBy=by, sortOrder=order, offset=ties, limit=PAGE_LIMIT)
            if anchor is not None:
                params[f"{by}[{bound}]"] = anchor
            try:
                body = self._get(params) or {}
            except WebflowNotFoundError:
                if first and counts:
                    self.total = 0
                return
            items = list(body.get("items") or [])
            total = (body.get("pagination") or {}).get("total")
            if first and counts:
                self.total = int(total) if total is not None else None
            first = False
            if items:
                yield items
            # `total` counts the matches of this query (or the whole collection, which is more)
            if len(items) < PAGE_LIMIT or (total is not None and ties + len(items) >= total):
                return
            last = items[-1].get(by)
            if last is None:
                return  # cannot anchor on a missing value: stop rather than loop
            same = sum(1 for i in items if i.get(by) == last)
            ties = ties + len(items) if last == anchor else same
            anchor = last

    def _scan(
        self, locales: Sequence[str], refresh: set[Key]
    ) -> Generator[TDataItems, None, dict[str, set[str]]]:
        """Every id of `locales`; loads entries never seen and those in `refresh`."""
        current: dict[str, set[str]] = {loc: set() for loc in locales}
        for items in self._pages("createdOn", "asc", None, locales):
            fresh = []
            for item in items:
                key = self._key(item)
                current.setdefault(key[1], set()).add(key[0])
                if key in self.emitted:
                    continue
                if key[0] in self.known.get(key[1], ()) and key not in refresh:
                    continue
                self._note(key, item.get(self.cursor_field) or "")
                fresh.append(item)
            yield from self._emit(fresh)
        return current

    # rows

    def _key(self, item: Mapping[str, Any]) -> Key:
        return str(item["id"]), str(item.get("cmsLocaleId") or self.primary)

    def _note(self, key: Key, value: str) -> None:
        """An entry read now: it is there, and its cursor value counts for the next run."""
        self.seen.setdefault(key[1], set()).add(key[0])
        self._read_any = True
        if value and (self._cursor is None or value > self._cursor):
            self._cursor = value

    def _emit(
        self, items: Sequence[Mapping[str, Any]], digests: Sequence[str] | None = None
    ) -> Iterator[TDataItems]:
        """Rows of new content (one arrow table), then the `cms_files` rows of their RichText
        images. `digests`: the items' `short_hash`, when the caller has them."""
        if not items:
            return
        if digests is None:
            digests = [short_hash(item) for item in items]
        for item, digest in zip(items, digests, strict=True):
            self.emitted.add(self._key(item))
            self._loaded[digest] = item.get(self.cursor_field) or ""
        self.pending.append(self.tables.table(items))
        if sum(table.num_rows for table in self.pending) >= ITEM_TABLE_ROWS:
            yield from flush_tables(self.pending)
        yield from self._file_rows(items)

    def _file_rows(self, items: Sequence[Mapping[str, Any]]) -> Iterator[TDataItems]:
        """`cms_files` rows of the RichText images of `items` not indexed yet."""
        if not self.rich_text:
            return
        refs = [
            (item, ref)
            for item in items
            for ref in rich_text_images(item.get("fieldData") or {}, self.rich_text)
        ]
        if not refs:
            return
        assert self.downloads is not None  # set by `sync_collection`
        index = file_index()
        fetched = prefetch_files(self.ctx, [ref.url for _, ref in refs], self.downloads, index)
        rows = []
        for item, ref in refs:
            locale_id = self._key(item)[1]
            row = fetch_file(self.ctx, ref, self.collection["id"], item, locale_id, fetched, index)
            if row is not None:
                rows.append(row)
        if rows:
            yield dlt.mark.with_table_name(rows, CMS_FILES_TABLE)

    def _save(self, current: Mapping[str, set[str]]) -> None:
        self.state["cursor"] = self._cursor
        self.state["ids"] = {loc: sorted(current.get(loc, set())) for loc in self.locale_ids}
        if self._started is not None:
            skew = timedelta(seconds=SERVER_CLOCK_SKEW_SECONDS)
            self.state["watermark"] = format_ts(self._started - skew)
        else:
            self.state.pop("watermark", None)
        if self._cursor is not None:
            floor = self.state.get("watermark") or minus_seconds(
                self._cursor, self.ctx.overlap_seconds
            )
            # only content known to be loaded may be skipped next time
            boundary = sorted(digest for digest, value in self._loaded.items() if value >= floor)
            if boundary or self._read_any:
                self.state["boundary"] = boundary


def sync_collection(
    ctx: Context,
    collection: Mapping[str, Any],
    fields: Sequence[Mapping[str, Any]],
    table_name: str,
    resource_state: dict[str, Any],
) -> Iterator[TDataItems]:
    """Both states of one collection, every locale per request; deletions and unpublications.

    Order: live changes (`lastPublished`), staged changes (`lastUpdated`), staged copies of what
    was published (publishing need not bump lastUpdated), the staged deletion check, then the
    live one: a live copy disappears when its staged entry is deleted (known from the staged
    check) or when it is unpublished; only copies that neither explains cost a live id scan,
    and their staged entries (now `isDraft`, no `lastPublished`, same `lastUpdated`) are read
    again.
    """
    live = ItemStream(ctx, collection, fields, table_name, LIVE, resource_state)
    staged = ItemStream(ctx, collection, fields, table_name, STAGED, resource_state)
    if not live.locale_ids:
        return
    with ThreadPoolExecutor(DOWNLOAD_THREADS, thread_name_prefix="webflow-download") as pool:
        live.downloads = staged.downloads = pool
        live.pending = staged.pending = []
        yield from _sync_streams(live, staged)
        yield from flush_tables(live.pending)


def flush_tables(pending: list[pa.Table]) -> Iterator[pa.Table]:
    """The pending item tables as one: dlt computes and validates a resource's table hints once
    per arrow table it is given (a third of the extract's own CPU when given one per page)."""
    if pending:
        table = pa.concat_tables(pending)
        pending.clear()
        yield table


def _sync_streams(live: ItemStream, staged: ItemStream) -> Iterator[TDataItems]:
    """The body of `sync_collection` (see there)."""
    yield from live.read_changed()
    yield from staged.read_changed()
    if live.since is not None:
        published = {key for key in live.emitted if key[0] not in staged.seen.get(key[1], ())}
        yield from staged.read_published(live.since, published)
    staged_now = yield from staged.reconcile({})
    staged_gone = staged.removed(staged_now)
    live_now = yield from live.reconcile(staged_gone)
    unpublished = {
        (item_id, loc)
        for loc, ids in live.removed(live_now).items()
        for item_id in ids
        if item_id in staged_now.get(loc, set())
    }
    yield from staged.refresh(unpublished)
    yield from live.finish(live_now)
    yield from staged.finish(staged_now)


def tombstones(
    table_name: str, ids: Sequence[str], locale_id: str, kind: str
) -> Iterator[TDataItems]:
    """Rows of deleted items: the last loaded values with `is_deleted` and `deleted_at` set.

    A merge replaces whole rows, so the last known values are read back from the destination;
    when that is impossible only the key columns are kept (and a warning is logged).
    """
    deleted_at = utc_now()
    last_known = last_known_rows(table_name, "id", ids, {"cms_locale_id": locale_id, "state": kind})
    rows = []
    for item_id in ids:
        row = last_known.get(item_id) or {"id": item_id, "cms_locale_id": locale_id, "state": kind}
        rows.append({**row, "is_deleted": True, "deleted_at": deleted_at})
    if rows:
        yield rows


def last_known_rows(
    table_name: str, key: str, keys: Sequence[str], where: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """Current rows of `table_name` from the pipeline's destination, by `key`."""
    literals = [*keys, *where.values()]
    if not keys or not all(_SAFE_LITERAL.fullmatch(v) for v in literals):
        return {}
    try:
        pipeline = dlt.current.pipeline()
        schema = dlt.current.source_schema()
        json_columns = {
            name
            for name, col in schema.get_table_columns(table_name).items()
            if col.get("data_type") == "json"
        }
        in_list = ", ".join(f"'{k}'" for k in keys)
        conditions = [f"{key} IN ({in_list})", *(f"{c} = '{v}'" for c, v in where.items())]
        with pipeline.sql_client() as sql:
            table = sql.make_qualified_table_name(table_name)
            query = f"SELECT * FROM {table} WHERE {' AND '.join(conditions)}"
            with sql.execute_query(query) as cursor:
                names = [d[0] for d in cursor.description]
                records = cursor.fetchall()
    except Exception as exc:
        logger.warning(f"webflow: last known rows of {table_name} unavailable ({exc!r})")
        return {}
    rows: dict[str, dict[str, Any]] = {}
    for record in records:
        row = {
            name: (json.loads(value) if name in json_columns and isinstance(value, str) else value)
            for name, value in zip(names, record, strict=True)
            if not name.startswith("_dlt")
        }
        rows[str(row[key])] = row
    return rows


# files

FILES_LAYOUT = 2
"""Layout of the source state's file index (`files`: url -> md5/size/local_path or error, and
`cms` when the url has its `cms_files` row). Layout 1 (no `files_layout` key) also held one
entry per item copy of every Image/MultiImage/File value (17,000 at 10k items)."""


def file_index() -> dict[str, Any]:
    """The file index in source state, an older layout compacted first (once)."""
    state = dlt.current.source_state()
    index: dict[str, Any] = state.setdefault("files", {})
    if state.get("files_layout") != FILES_LAYOUT:
        index = state["files"] = compact_file_index(index)
        state["files_layout"] = FILES_LAYOUT
    return index


def compact_file_index(index: Mapping[str, Any]) -> dict[str, Any]:
    """An index of layout 1 with one `cms` entry per stored file (md5) instead of one per url.

    Layout 1 indexed each item's copy of a field file under its own url; those urls are never
    downloaded again, and one url per md5 is enough to repair the store (`repair_store`).
    Entries of Assets-panel files only (`cms` false) are all kept. An entry dropped costs at
    most one download (and its `cms_files` row written again) should its url be met again.
    """
    entries = [(url, e) for url, e in index.items() if isinstance(e, Mapping)]
    kept = {url: entry for url, entry in entries if not entry.get("cms")}
    md5s = {entry.get("md5") for entry in kept.values()}
    for url, entry in entries:
        md5 = entry.get("md5")
        if entry.get("cms") and md5 is not None and md5 not in md5s:
            kept[url] = entry
            md5s.add(md5)
    return kept


def prefetch_files(
    ctx: Context, urls: Sequence[str], pool: ThreadPoolExecutor, index: Mapping[str, Any]
) -> dict[str, dict[str, Any] | None]:
    """Downloads on `pool`, a few at a time, the files of `urls` that `fetch_file` would download
    (not in the file `index` yet, or missing from the store); url -> what `download` returned.

    A page of items can show many RichText images (each a url of its own): fetched one by one
    they would be most of a page's time.
    """
    if not ctx.download_files:
        return {}
    wanted: list[str] = []
    for raw in urls:
        url = ctx.client.absolute_url(raw)
        entry = index.get(url)
        if url not in wanted and (entry is None or ("md5" in entry and not stored(ctx, entry))):
            wanted.append(url)
    if len(wanted) < 2:
        return {}
    return dict(zip(wanted, pool.map(lambda u: download(ctx, u), wanted), strict=True))


def fetch_file(
    ctx: Context,
    ref: FileRef,
    collection_id: str,
    item: Mapping[str, Any],
    locale_id: str,
    fetched: Mapping[str, dict[str, Any] | None] | None,
    index: dict[str, Any],
) -> dict[str, Any] | None:
    """Downloads a RichText image once; returns its `cms_files` row the first time it is seen.

    `fetched`: downloads already made for this url (`prefetch_files`), used instead of a new one.
    `index`: the file index (`file_index`), updated in place.
    """
    url = ctx.client.absolute_url(ref.url)
    entry = index.get(url)

    def get(url: str) -> dict[str, Any] | None:
        return fetched[url] if fetched is not None and url in fetched else download(ctx, url)

    if entry is not None and "md5" in entry and not stored(ctx, entry):
        fresh = get(url)  # the store was wiped: fetch the file again
        if fresh is not None:
            entry = index[url] = {**fresh, "cms": entry.get("cms", False)}
    if entry is not None and entry.get("cms"):
        return None  # already in cms_files
    if entry is None:
        entry = get(url)
        if entry is None:
            return None  # transient failure: try again next run
    index[url] = {**entry, "cms": True}
    return {
        "url": url,
        "file_id": None,  # a RichText image has no fileId (the column is kept for SQL)
        "md5": entry.get("md5"),
        "size": entry.get("size"),
        "content_type": entry.get("content_type"),
        "local_path": entry.get("local_path"),
        "download_error": entry.get("error"),
        "first_seen_collection_id": collection_id,
        "first_seen_item_id": item.get("id"),
        "first_seen_cms_locale_id": locale_id,
        "first_seen_field": ref.field_slug,
        "first_seen_at": utc_now(),
    }


def download(ctx: Context, url: str) -> dict[str, Any] | None:
    """Index entry of a file: md5/size/path, or a permanent error; None on transient failure."""
    if not ctx.download_files:
        return {"error": "downloads disabled"}
    try:
        got = ctx.client.download(url, ctx.asset_store, ctx.max_asset_bytes)
    except DownloadRefusedError as exc:
        logger.warning(f"webflow: {exc}")
        return {"error": exc.reason}
    except WebflowTransientError as exc:
        logger.warning(f"webflow: download failed, will retry next run: {exc}")
        return None
    except WebflowApiError as exc:
        logger.warning(f"webflow: download failed: {exc}")
        return {"error": f"HTTP {exc.status}"}
    local_path = got.path.relative_to(ctx.asset_store).as_posix()
    ctx.present.add(local_path)
    return {
        "md5": got.md5,
        "size": got.size,
        "content_type": got.content_type,
        "local_path": local_path,
    }


def stored(ctx: Context, entry: Mapping[str, Any]) -> bool:
    """True when an index entry's file is still in the store."""
    path = entry.get("local_path")
    if not path:
        return False
    if path in ctx.present:
        return True
    if (ctx.asset_store / str(path)).is_file():
        ctx.present.add(str(path))
        return True
    return False


def repair_store(ctx: Context) -> int:
    """Downloads again every indexed file missing from the store (it was wiped or moved)."""
    if not ctx.download_files:
        return 0
    index = file_index()
    repaired = 0
    for url, entry in list(index.items()):
        if "md5" in entry and not stored(ctx, entry):
            fresh = download(ctx, url)
            if fresh is not None:
                index[url] = {**entry, **fresh}
                repaired += 1
    if repaired:
        logger.warning(f"webflow: {repaired} files were missing from the store and were fetched")
    return repaired


def attach_file(ctx: Context, row: dict[str, Any]) -> dict[str, Any]:
    """Fills md5/local_path of an asset row from the file index, downloading when needed."""
    url = row.get("hosted_url")
    if not url:
        return row
    url = ctx.client.absolute_url(str(url))
    index = file_index()
    entry = index.get(url)
    if entry is None or ("md5" in entry and not stored(ctx, entry)):
        fresh = download(ctx, url)
        if fresh is not None:
            entry = index[url] = {**fresh, "cms": (entry or {}).get("cms", False)}
    if entry:
        row["md5"] = entry.get("md5")
        row["local_path"] = entry.get("local_path")
        row["download_error"] = entry.get("error")
    return row


def changed_and_removed(
    state: dict[str, Any],
    table_name: str,
    objects: Sequence[Mapping[str, Any]],
    to_row: Any,
    finish: Any,
) -> Iterator[TDataItems]:
    """Rows of new or changed objects (by content hash), then tombstones of vanished ones."""
    known: dict[str, str] = state.setdefault("hashes", {})
    rows = []
    current = {}
    for obj in objects:
        digest = content_hash(obj)
        current[str(obj["id"])] = digest
        if known.get(str(obj["id"])) != digest:
            row = to_row(obj)
            rows.append(finish(row) if finish else row)
    removed = sorted(set(known) - set(current))
    if rows:
        yield rows
    if removed:
        last = last_known_rows(table_name, "id", removed, {})
        deleted_at = utc_now()
        yield [
            {**(last.get(i) or {"id": i}), "is_deleted": True, "deleted_at": deleted_at}
            for i in removed
        ]
    state["hashes"] = current
