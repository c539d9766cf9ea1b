"""Paging, field-type mapping, row building and the incremental machinery of the Webflow source.

No dlt resources here (they are in `__init__.py`); the classes and functions below run inside them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import dlt
from dlt.common import logger
from dlt.common.normalizers.naming.snake_case import NamingConvention
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
    FILE_FIELD_TYPES,
    ITEM_META_COLUMNS,
    LIVE,
    PAGE_LIMIT,
    RESERVED_TABLES,
    SERVER_CLOCK_SKEW_SECONDS,
    STAGED,
)

_SAFE_LITERAL = re.compile(r"[A-Za-z0-9_.:-]+")
DOWNLOAD_THREADS = 6  # concurrent downloads of the files one page of items points at
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


def short_hash(item: Mapping[str, Any]) -> str:
    """40-bit content hash of an item (its id included): what the overlap de-duplication keeps."""
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
    for slug, value in field_data.items():
        clean = without_surrogates(value)
        if clean != value:
            # lone surrogates (text that was not valid UTF-8) cannot be stored or sent again
            logger.warning(
                f"webflow: collection {collection_id} item {item.get('id')} field {slug}: "
                "text is not valid UTF-8 (lone surrogates); replaced by U+FFFD"
            )
            field_data[slug] = clean
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


def _column_value(field: Mapping[str, Any], value: Any) -> Any:
    """A field value for its typed column; json-typed values pass through as they are.

    A value the column type cannot hold (a DateTime that is not ISO-8601, a Number that is
    text) is NULL in the typed column: dlt would otherwise add a variant column per bad value.
    `field_data` keeps it as it is, so the migration reports it against the field.
    """
    if value is None:
        return None
    data_type = FIELD_TYPE_TO_DATA_TYPE.get(str(field.get("type")), "json")
    if data_type == "double" and (isinstance(value, bool) or not isinstance(value, int | float)):
        return None
    if data_type == "timestamp":
        try:
            return parse_ts(value) if isinstance(value, str) else None
        except ValueError:
            return None
    if data_type == "bool" and not isinstance(value, bool):
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


@dataclass
class StreamResult:
    """What one (locale, state) stream saw; the live side feeds the staged side."""

    changed_ids: set[str] = dataclasses.field(default_factory=set)
    removed_ids: set[str] = dataclasses.field(default_factory=set)
    since: str | None = None


class ItemStream:
    """One (collection, locale, state) list: probe, incremental read, deletion check.

    State (in the collection resource's state, key `<cmsLocaleId>:<state>`):
    `cursor` (newest lastUpdated/lastPublished loaded), `watermark` (where the next read starts:
    the server's time when this read started, from its `Date` header, minus
    `SERVER_CLOCK_SKEW_SECONDS`), `ids` (ids present at the last check) and `boundary` (short
    content hashes of items at or after the watermark, so re-read rows are not loaded again).

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
        locale: Mapping[str, Any],
        kind: str,
        resource_state: dict[str, Any],
    ) -> None:
        self.ctx = ctx
        self.collection = collection
        self.fields = fields
        self.table_name = table_name
        self.locale_id = str(locale["cms_locale_id"])
        self.locale_tag = locale.get("tag")
        self.kind = kind
        self.cursor_field = cursor_field(kind)
        self.state: dict[str, Any] = resource_state.setdefault(f"{self.locale_id}:{kind}", {})
        self.path = f"/collections/{collection['id']}/items" + ("/live" if kind == LIVE else "")
        self.operation = "list-collection-items" + ("-live" if kind == LIVE else "")
        self.result = StreamResult(since=self._start())
        self._started: datetime | None = None  # server time of this run's first request
        self._emitted: set[str] = set()
        self._read: list[Mapping[str, Any]] = []
        self._loaded: dict[str, str] = {}  # short hash -> cursor value, of rows known loaded
        self._last_total: int | None = None

    def sync(self, live: StreamResult) -> Iterator[TDataItems]:
        """Yields changed rows, then tombstones; updates the stream state at the end."""
        known = set(self.state.get("ids") or [])
        cursor = self.state.get("cursor")
        forced = bool(live.changed_ids or live.removed_ids)
        total: int | None = None
        if cursor is not None or known:
            total, newest = self._probe()
            unchanged = newest is None or (cursor is not None and newest <= cursor)
            if not forced and total == len(known) and unchanged:
                return
        yield from self._read_since(self._start())
        if cursor is None:
            total = self._last_total  # an unfiltered read counted everything
        if self.kind == STAGED and live.changed_ids and live.since:
            # publishing does not have to bump lastUpdated: re-read what was published
            yield from self._read_since(live.since, "lastPublished", live.changed_ids)
        current = known | {str(i["id"]) for i in self._read}
        if total is None or total != len(current) or (self.kind == STAGED and live.removed_ids):
            current = yield from self._full_scan(known, live.removed_ids)
        removed = known - current
        if removed:
            yield from tombstones(self.table_name, sorted(removed), self.locale_id, self.kind)
        self.result.removed_ids = removed
        self._save(current)

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

    def _probe(self) -> tuple[int | None, str | None]:
        """`limit=1` newest-first: the total and the newest cursor in one request."""
        params = {**self._base(), "limit": 1, "offset": 0}
        params.update(sortBy=self.cursor_field, sortOrder="desc")
        try:
            body = self._get(params) or {}
        except WebflowNotFoundError:
            return 0, None
        items = body.get("items") or []
        total = (body.get("pagination") or {}).get("total")
        newest = items[0].get(self.cursor_field) if items else None
        return (int(total) if total is not None else None), newest

    def _base(self) -> dict[str, Any]:
        return {"cmsLocaleId": self.locale_id}

    def _read_since(
        self, start: str | None, by: str | None = None, only: set[str] | None = None
    ) -> Iterator[TDataItems]:
        """Items with `by >= start` (`_start()`), oldest first; yields new content (of `only`)."""
        by = by or self.cursor_field
        boundary = set(self.state.get("boundary") or [])
        for items in self._keyset_pages(by, start):
            rows = []
            for item in items:
                self._read.append(self._seen(item))
                item_id, digest = str(item["id"]), short_hash(item)
                if digest in boundary:
                    self._loaded[digest] = item.get(self.cursor_field) or ""
                if item_id in self._emitted or digest in boundary:
                    continue
                if only is not None and item_id not in only:
                    continue
                self._emitted.add(item_id)
                self._loaded[digest] = item.get(self.cursor_field) or ""
                self.result.changed_ids.add(item_id)
                rows.append(self._row(item))
            if rows:
                yield rows
                yield from self._file_rows(items)

    def _keyset_pages(self, by: str, start: str | None) -> Iterator[list[dict[str, Any]]]:
        """Pages sorted on `by`, each anchored at the last value seen (`by[gte]`, offset = ties).

        Unlike deep offsets, an item edited (moved to the end) or deleted while we page does not
        shift later items past us.
        """
        anchor, ties, first = start, 0, True
        while True:
            params = self._base()
            params.update(sortBy=by, sortOrder="asc", offset=ties, limit=PAGE_LIMIT)
            if anchor is not None:
                params[f"{by}[gte]"] = anchor
            try:
                body = self._get(params) or {}
            except WebflowNotFoundError:
                return
            items = list(body.get("items") or [])
            total = (body.get("pagination") or {}).get("total")
            if first and start is None:
                self._last_total = total
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

    def _full_scan(self, known: set[str], refresh: set[str]) -> Iterator[TDataItems]:
        """Every id (counts disagreed); loads items never seen and those in `refresh`."""
        current: set[str] = set()
        for items in self._keyset_pages("createdOn", None):
            rows = []
            for item in items:
                item_id = str(item["id"])
                current.add(item_id)
                if item_id in self._emitted or (item_id in known and item_id not in refresh):
                    continue
                self._read.append(self._seen(item))
                self._emitted.add(item_id)
                self._loaded[short_hash(item)] = item.get(self.cursor_field) or ""
                self.result.changed_ids.add(item_id)
                rows.append(self._row(item))
            if rows:
                yield rows
                yield from self._file_rows(items)
        return current

    def _seen(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """What `_read` keeps of an item read (not the whole item: memory)."""
        return {"id": item["id"], self.cursor_field: item.get(self.cursor_field)}

    def _row(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return item_row(
            item,
            state=self.kind,
            locale_tag=self.locale_tag,
            collection_id=self.collection["id"],
            fields=self.fields,
        )

    def _file_rows(self, items: Sequence[Mapping[str, Any]]) -> Iterator[TDataItems]:
        refs = [
            (item, ref)
            for item in items
            for ref in file_refs(item.get("fieldData") or {}, self.fields)
        ]
        fetched = prefetch_files(self.ctx, [ref.url for _, ref in refs])
        rows = []
        for item, ref in refs:
            row = fetch_file(self.ctx, ref, self.collection["id"], item, self.locale_id, fetched)
            if row is not None:
                rows.append(row)
        if rows:
            yield dlt.mark.with_table_name(rows, CMS_FILES_TABLE)

    def _save(self, current: set[str]) -> None:
        cursor = self.state.get("cursor")
        for item in self._read:
            value = item.get(self.cursor_field)
            if value and (cursor is None or value > cursor):
                cursor = value
        self.state["cursor"] = cursor
        self.state["ids"] = sorted(current)
        if self._started is not None:
            skew = timedelta(seconds=SERVER_CLOCK_SKEW_SECONDS)
            self.state["watermark"] = format_ts(self._started - skew)
        else:
            self.state.pop("watermark", None)
        if cursor is not None:
            floor = self.state.get("watermark") or minus_seconds(cursor, self.ctx.overlap_seconds)
            # only content known to be loaded may be skipped next time
            boundary = sorted(digest for digest, value in self._loaded.items() if value >= floor)
            if boundary or self._read:
                self.state["boundary"] = boundary


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


def prefetch_files(ctx: Context, urls: Sequence[str]) -> dict[str, dict[str, Any] | None]:
    """Downloads, a few at a time, the files of `urls` that `fetch_file` would download (not
    in the index yet, or missing from the store); url -> what `download` returned.

    Each item's copy of a file has its own url, so a page of items points at many files that
    only their bytes show to be equal: fetched one by one they were most of the extract's time.
    """
    if not ctx.download_files:
        return {}
    index: dict[str, Any] = dlt.current.source_state().setdefault("files", {})
    wanted: list[str] = []
    for raw in urls:
        url = ctx.client.absolute_url(raw)
        entry = index.get(url)
        if url not in wanted and (entry is None or ("md5" in entry and not stored(ctx, entry))):
            wanted.append(url)
    if len(wanted) < 2:
        return {}
    with ThreadPoolExecutor(max_workers=DOWNLOAD_THREADS) as pool:
        return dict(zip(wanted, pool.map(lambda u: download(ctx, u), wanted), strict=True))


def fetch_file(
    ctx: Context,
    ref: FileRef,
    collection_id: str,
    item: Mapping[str, Any],
    locale_id: str,
    fetched: Mapping[str, dict[str, Any] | None] | None = None,
) -> dict[str, Any] | None:
    """Downloads a referenced file once; returns its `cms_files` row the first time it is seen.

    `fetched`: downloads already made for this url (`prefetch_files`), used instead of a new one.
    """
    url = ctx.client.absolute_url(ref.url)
    index: dict[str, Any] = dlt.current.source_state().setdefault("files", {})
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
        "file_id": ref.file_id,
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
    return {
        "md5": got.md5,
        "size": got.size,
        "content_type": got.content_type,
        "local_path": got.path.relative_to(ctx.asset_store).as_posix(),
    }


def stored(ctx: Context, entry: Mapping[str, Any]) -> bool:
    """True when an index entry's file is still in the store."""
    path = entry.get("local_path")
    return bool(path) and (ctx.asset_store / str(path)).is_file()


def repair_store(ctx: Context) -> int:
    """Downloads again every indexed file missing from the store (it was wiped or moved)."""
    if not ctx.download_files:
        return 0
    index: dict[str, Any] = dlt.current.source_state().setdefault("files", {})
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
    index: dict[str, Any] = dlt.current.source_state().setdefault("files", {})
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
