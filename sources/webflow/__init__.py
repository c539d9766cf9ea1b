"""Webflow CMS source: a whole site (collections, fields, items per locale and state, assets).

API notes (Webflow Data API v2, https://developers.webflow.com/data/reference; see also
`shared/notes/WEBFLOW_API.md`):
- `get-site` gives the locales; CMS endpoints take the locale's `cmsLocaleId`, asset endpoints
  its site locale `id`.
- `list-collections` has no fields; `collection-details` has them. Its `lastUpdated` is the cheap
  schema-drift signal: details are read again only when it moves (cached in source state).
- `list-collection-items` (staged) and `list-collection-items-live` page with offset/limit <= 100
  and filter/sort on `lastUpdated`/`lastPublished` (`lastUpdated[gte]=...&sortBy=lastUpdated`).
- There is no "deleted since" feed: a `limit=1` probe per (collection, locale, state) returns
  `pagination.total` and the newest cursor; a full id scan runs only when the counts disagree.
- Publishing may not bump `lastUpdated`: live copies are read on `lastPublished`, and publications
  or unpublications found there make the staged side re-read those items.
- Rate limit: fixed 60 s window per token (60 or 120 requests), paced by `WebflowClient`.
- E-commerce collections (Products, SKUs, Categories) are skipped with a log line.

Incremental state lives in dlt resource state, not `dlt.sources.incremental`: each collection
resource keeps one cursor per (locale, state) on a different field, yields tombstones whose cursor
is old, and skips re-read rows of the overlap window by content hash.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
from dlt.common import logger
from dlt.common.typing import TDataItems
from dlt.sources import DltResource

from .client import (
    DownloadRefusedError,
    WebflowApiError,
    WebflowClient,
    WebflowNotFoundError,
    WebflowTransientError,
)
from .helpers import (
    ASSET_COLUMNS,
    CMS_FILE_COLUMNS,
    COLLECTION_COLUMNS,
    FIELD_COLUMNS,
    FOLDER_COLUMNS,
    SITE_COLUMNS,
    FileRef,
    asset_row,
    collection_row,
    content_hash,
    cursor_field,
    field_row,
    file_refs,
    folder_row,
    format_ts,
    is_ecommerce,
    item_columns,
    item_row,
    items_table_name,
    locale_rows,
    minus_seconds,
    utc_now,
)
from .settings import (
    ASSET_FOLDERS_TABLE,
    ASSETS_TABLE,
    CMS_FILES_TABLE,
    COLLECTIONS_TABLE,
    DEFAULT_ASSET_STORE_PATH,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_ASSET_BYTES,
    DEFAULT_REQUESTS_PER_MINUTE,
    FIELDS_TABLE,
    INCREMENTAL_OVERLAP_SECONDS,
    LIVE,
    LOCALES_TABLE,
    PAGE_LIMIT,
    RATE_LIMIT_WINDOW_SECONDS,
    SITE_TABLE,
    STAGED,
)

__all__ = ["WebflowClient", "webflow_source"]

ITEM_PRIMARY_KEY = ("id", "cms_locale_id", "state")
_SAFE_LITERAL = re.compile(r"[A-Za-z0-9_.:-]+")


@dataclass
class _Context:
    """What every resource of one source instance shares."""

    client: WebflowClient
    site_id: str
    asset_store: Path
    max_asset_bytes: int
    overlap_seconds: float
    download_files: bool
    locales: list[dict[str, Any]] = field(default_factory=list)


@dlt.source(name="webflow", max_table_nesting=0)
def webflow_source(
    site_id: str = dlt.config.value,
    api_token: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    requests_per_minute: int | None = DEFAULT_REQUESTS_PER_MINUTE,
    rate_limit_window_seconds: float = RATE_LIMIT_WINDOW_SECONDS,
    asset_store_path: str = DEFAULT_ASSET_STORE_PATH,
    max_asset_bytes: int = DEFAULT_MAX_ASSET_BYTES,
    collections: Sequence[str] | None = None,
    overlap_seconds: float = INCREMENTAL_OVERLAP_SECONDS,
    download_files: bool = True,
    backoff_base_seconds: float = 1.0,
    client: Any = None,
) -> Iterable[DltResource]:
    """Extracts a Webflow site into one table per collection plus site, schema and asset tables.

    Args:
        site_id (str): the site to extract.
        api_token (str): a token with sites:read, cms:read and assets:read.
        base_url (str): API root (the emulator's `http://127.0.0.1:PORT/v2` in tests).
        requests_per_minute (int | None): pace under this (the token's headers win when lower).
        rate_limit_window_seconds (float): 60 on Webflow; shorter under a time-scaled emulator.
        asset_store_path (str): content-addressed store of downloaded files.
        max_asset_bytes (int): larger files are not downloaded (recorded with an error).
        collections (Sequence[str] | None): limit to these collection slugs.
        overlap_seconds (float): re-read window below each cursor, against clock skew.
        download_files (bool): download asset and CMS files (False: metadata only).
        backoff_base_seconds (float): first retry delay after a 5xx or broken connection.
        client (WebflowClient | None): a read-only client to use instead of building one.

    Returns:
        Iterable[DltResource]: site, locales, collections, collection_fields, one resource per
            collection (table named after its slug), asset_folders and assets.
    """
    if client is None:
        client = WebflowClient(
            api_token,
            base_url,
            read_only=True,
            requests_per_minute=requests_per_minute,
            window_seconds=rate_limit_window_seconds,
            backoff_base=backoff_base_seconds,
        )
    elif not client.read_only:
        raise ValueError("the Webflow source needs a read-only WebflowClient")
    ctx = _Context(
        client=client,
        site_id=site_id,
        asset_store=Path(asset_store_path).absolute(),
        max_asset_bytes=max_asset_bytes,
        overlap_seconds=overlap_seconds,
        download_files=download_files,
    )
    site = client.get(f"/sites/{site_id}", operation="get-site")
    ctx.locales = locale_rows(site)
    listed = client.get(f"/sites/{site_id}/collections", operation="list-collections")
    chosen = _choose_collections(listed.get("collections") or [], collections)
    cache = _cached_schemas()
    schemas = {c["id"]: _collection_schema(client, c, cache.get(c["id"])) for c in chosen}
    gone = {cid: entry for cid, entry in cache.items() if cid not in schemas and not collections}

    resources: list[DltResource] = [
        _site_resource(site),
        _locales_resource(ctx.locales),
        _collections_resource(schemas, gone),
        _fields_resource(schemas, gone),
    ]
    for schema in schemas.values():
        resources.append(_items_resource(ctx, schema))
    for entry in gone.values():
        resources.append(_retired_items_resource(entry))
    resources.append(_asset_folders_resource(ctx))
    resources.append(_assets_resource(ctx))
    return resources


# discovery


def _choose_collections(
    listed: Sequence[Mapping[str, Any]], only: Sequence[str] | None
) -> list[Mapping[str, Any]]:
    """Collections to extract: not e-commerce, and among `only` when given."""
    chosen = []
    for collection in listed:
        if is_ecommerce(collection):
            logger.info(
                f"webflow: skipping e-commerce collection {collection.get('displayName')!r}"
                f" ({collection.get('slug')})"
            )
            continue
        if only is not None and collection.get("slug") not in only:
            continue
        chosen.append(collection)
    return chosen


def _cached_schemas() -> dict[str, Any]:
    """Collection details kept by the last run (read-only here; written by `collections`)."""
    try:
        state = dlt.current.source_state()
    except Exception:  # no active pipeline, no source section: no cache
        return {}
    return dict(state.get("schemas") or {})


def _collection_schema(
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


# site, locales, collections, fields


def _changed(state: dict[str, Any], key: str, value: Any) -> bool:
    """True (and remembers it) when `value` differs from what was loaded last time."""
    digest = content_hash(value)
    hashes = state.setdefault("hashes", {})
    if hashes.get(key) == digest:
        return False
    hashes[key] = digest
    return True


def _site_resource(site: Mapping[str, Any]) -> DltResource:
    @dlt.resource(
        name=SITE_TABLE, primary_key="id", write_disposition="merge", columns=SITE_COLUMNS
    )
    def site_rows() -> Iterator[TDataItems]:
        """The site (`get-site`), loaded when it changed."""
        if _changed(dlt.current.resource_state(), site["id"], site):
            yield dict(site)

    return site_rows


def _locales_resource(locales: list[dict[str, Any]]) -> DltResource:
    @dlt.resource(name=LOCALES_TABLE, primary_key="id", write_disposition="merge")
    def locale_rows_() -> Iterator[TDataItems]:
        """Locales of the site: tag, site locale id and CMS locale id."""
        state = dlt.current.resource_state()
        changed = [row for row in locales if _changed(state, str(row["id"]), row)]
        if changed:
            yield changed

    return locale_rows_


def _collections_resource(
    schemas: Mapping[str, Mapping[str, Any]], gone: Mapping[str, Mapping[str, Any]]
) -> DltResource:
    @dlt.resource(
        name=COLLECTIONS_TABLE,
        primary_key="id",
        write_disposition="merge",
        columns=COLLECTION_COLUMNS,
    )
    def collection_rows() -> Iterator[TDataItems]:
        """Collections; keeps their details in source state for the next run's drift check."""
        state = dlt.current.resource_state()
        rows = []
        for schema in schemas.values():
            collection = schema["collection"]
            row = collection_row(collection, schema["table_name"], len(collection["fields"]))
            if _changed(state, collection["id"], row):
                rows.append(row)
        deleted_at = utc_now()
        for cid, entry in gone.items():
            collection = entry["collection"]
            row = collection_row(collection, entry["table_name"], len(collection["fields"]))
            rows.append({**row, "is_deleted": True, "deleted_at": deleted_at})
            state.get("hashes", {}).pop(cid, None)
        if rows:
            yield rows
        source_state = dlt.current.source_state()
        cache = dict(source_state.get("schemas") or {})
        for cid in gone:
            cache.pop(cid, None)
        cache.update({cid: dict(schema) for cid, schema in schemas.items()})
        source_state["schemas"] = cache

    return collection_rows


def _fields_resource(
    schemas: Mapping[str, Mapping[str, Any]], gone: Mapping[str, Mapping[str, Any]]
) -> DltResource:
    @dlt.resource(
        name=FIELDS_TABLE,
        primary_key=("collection_id", "id"),
        write_disposition="merge",
        columns=FIELD_COLUMNS,
    )
    def field_rows() -> Iterator[TDataItems]:
        """One row per field; deleted fields and fields of deleted collections are marked."""
        state = dlt.current.resource_state()
        known: dict[str, dict[str, Any]] = state.setdefault("fields", {})
        rows = []
        current: dict[str, dict[str, Any]] = {}
        for schema in schemas.values():
            collection = schema["collection"]
            for f in collection["fields"]:
                row = field_row(collection, f)
                current[f"{collection['id']}:{f['id']}"] = row
        for key, row in current.items():
            if _changed(state, key, row):
                rows.append(row)
        deleted_at = format_ts(utc_now())
        for key, row in list(known.items()):
            if key in current:
                continue
            if row["collection_id"] not in schemas and row["collection_id"] not in gone:
                current[key] = row  # a collection left out by `collections=`: keep as it is
                continue
            rows.append({**row, "is_deleted": True, "deleted_at": deleted_at})
            state.get("hashes", {}).pop(key, None)
        state["fields"] = current
        if rows:
            yield rows

    return field_rows


# items


@dataclass
class _StreamResult:
    """What one (locale, state) stream saw; the live side feeds the staged side."""

    changed_ids: set[str] = field(default_factory=set)
    removed_ids: set[str] = field(default_factory=set)
    since: str | None = None


def _items_resource(ctx: _Context, schema: Mapping[str, Any]) -> DltResource:
    collection = schema["collection"]
    table_name = schema["table_name"]
    fields = list(collection["fields"])

    def collection_items() -> Iterator[TDataItems]:
        """Items of one collection, every locale, live then staged, incrementally."""
        state = dlt.current.resource_state()
        for locale in ctx.locales:
            if not locale.get("cms_locale_id"):
                continue
            live = _ItemStream(ctx, collection, fields, table_name, locale, LIVE, state)
            yield from live.sync(_StreamResult())
            staged = _ItemStream(ctx, collection, fields, table_name, locale, STAGED, state)
            yield from staged.sync(live.result)

    resource = dlt.resource(collection_items, name=table_name)
    # cms_files rows are dispatched from here too: a table variant with its own hints, set
    # before the item hints so that it does not inherit the item columns
    resource.apply_hints(
        table_name=CMS_FILES_TABLE,
        primary_key="url",
        write_disposition="merge",
        columns=CMS_FILE_COLUMNS,
        create_table_variant=True,
    )
    resource.apply_hints(
        table_name=table_name,
        primary_key=ITEM_PRIMARY_KEY,
        write_disposition="merge",
        columns=item_columns(fields),
        additional_table_hints={
            "x-webflow-collection-id": collection["id"],
            "x-webflow-collection-slug": collection.get("slug"),
        },
    )
    return resource


class _ItemStream:
    """One (collection, locale, state) list: probe, incremental read, deletion check.

    State (in the collection resource's state, key `<cmsLocaleId>:<state>`):
    `cursor` (newest lastUpdated/lastPublished loaded), `ids` (ids present at the last check)
    and `boundary` (content hash of items within `overlap_seconds` of the cursor, so re-read
    rows of the overlap window are not loaded again).
    """

    def __init__(
        self,
        ctx: _Context,
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
        self.result = _StreamResult(since=self.state.get("cursor"))
        self._emitted: set[str] = set()
        self._read: list[Mapping[str, Any]] = []
        self._last_total: int | None = None

    def sync(self, live: _StreamResult) -> Iterator[TDataItems]:
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
        yield from self._read_since(cursor)
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
            yield from _tombstones(self.table_name, sorted(removed), self.locale_id, self.kind)
        self.result.removed_ids = removed
        self._save(current)

    def _probe(self) -> tuple[int | None, str | None]:
        """`limit=1` newest-first: the total and the newest cursor in one request."""
        params = {**self._base(), "limit": 1, "offset": 0}
        params.update(sortBy=self.cursor_field, sortOrder="desc")
        try:
            body = self.ctx.client.get(self.path, params, operation=self.operation) or {}
        except WebflowNotFoundError:
            return 0, None
        items = body.get("items") or []
        total = (body.get("pagination") or {}).get("total")
        newest = items[0].get(self.cursor_field) if items else None
        return (int(total) if total is not None else None), newest

    def _base(self) -> dict[str, Any]:
        return {"cmsLocaleId": self.locale_id}

    def _read_since(
        self, since: str | None, by: str | None = None, only: set[str] | None = None
    ) -> Iterator[TDataItems]:
        """Items with `by >= since - overlap`, oldest first; yields new content (of `only`)."""
        by = by or self.cursor_field
        start = minus_seconds(since, self.ctx.overlap_seconds) if since else None
        boundary: dict[str, str] = self.state.get("boundary") or {}
        for items in self._keyset_pages(by, start):
            rows = []
            for item in items:
                self._read.append(item)
                item_id = str(item["id"])
                if boundary.get(item_id) == content_hash(item) or item_id in self._emitted:
                    continue
                if only is not None and item_id not in only:
                    continue
                self._emitted.add(item_id)
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
                body = self.ctx.client.get(self.path, params, operation=self.operation) or {}
            except WebflowNotFoundError:
                return
            items = list(body.get("items") or [])
            if first and start is None:
                self._last_total = (body.get("pagination") or {}).get("total")
            first = False
            if items:
                yield items
            if len(items) < PAGE_LIMIT:
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
                self._read.append(item)
                self._emitted.add(item_id)
                rows.append(self._row(item))
            if rows:
                yield rows
                yield from self._file_rows(items)
        return current

    def _row(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return item_row(
            item,
            state=self.kind,
            locale_tag=self.locale_tag,
            collection_id=self.collection["id"],
            fields=self.fields,
        )

    def _file_rows(self, items: Sequence[Mapping[str, Any]]) -> Iterator[TDataItems]:
        rows = []
        for item in items:
            for ref in file_refs(item.get("fieldData") or {}, self.fields):
                row = _fetch_file(self.ctx, ref, self.collection["id"], item, self.locale_id)
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
        if cursor is not None:
            floor = minus_seconds(cursor, self.ctx.overlap_seconds)
            boundary = {
                str(item["id"]): content_hash(item)
                for item in self._read
                if (item.get(self.cursor_field) or "") >= floor
            }
            if boundary or self._read:
                self.state["boundary"] = boundary


def _retired_items_resource(entry: Mapping[str, Any]) -> DltResource:
    table_name = entry["table_name"]

    def retired_items() -> Iterator[TDataItems]:
        """A collection that was deleted: every item it had is marked deleted."""
        state = dlt.current.resource_state()
        for key, stream in list(state.items()):
            if ":" not in key or not isinstance(stream, dict):
                continue
            locale_id, kind = key.split(":", 1)
            ids = sorted(stream.get("ids") or [])
            if ids:
                yield from _tombstones(table_name, ids, locale_id, kind)
            state.pop(key, None)

    return dlt.resource(
        retired_items,
        name=table_name,
        table_name=table_name,
        primary_key=ITEM_PRIMARY_KEY,
        write_disposition="merge",
    )


def _tombstones(
    table_name: str, ids: Sequence[str], locale_id: str, kind: str
) -> Iterator[TDataItems]:
    """Rows of deleted items: the last loaded values with `is_deleted` and `deleted_at` set.

    A merge replaces whole rows, so the last known values are read back from the destination;
    when that is impossible only the key columns are kept (and a warning is logged).
    """
    deleted_at = utc_now()
    last_known = _last_known_rows(
        table_name, "id", ids, {"cms_locale_id": locale_id, "state": kind}
    )
    rows = []
    for item_id in ids:
        row = last_known.get(item_id) or {"id": item_id, "cms_locale_id": locale_id, "state": kind}
        rows.append({**row, "is_deleted": True, "deleted_at": deleted_at})
    if rows:
        yield rows


def _last_known_rows(
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


def _fetch_file(
    ctx: _Context,
    ref: FileRef,
    collection_id: str,
    item: Mapping[str, Any],
    locale_id: str,
) -> dict[str, Any] | None:
    """Downloads a referenced file once; returns its `cms_files` row the first time it is seen."""
    url = ctx.client.absolute_url(ref.url)
    index: dict[str, Any] = dlt.current.source_state().setdefault("files", {})
    entry = index.get(url)
    if entry is not None and "md5" in entry and not _stored(ctx, entry):
        fresh = _download(ctx, url)  # the store was wiped: fetch the file again
        if fresh is not None:
            entry = index[url] = {**fresh, "cms": entry.get("cms", False)}
    if entry is not None and entry.get("cms"):
        return None  # already in cms_files
    if entry is None:
        entry = _download(ctx, url)
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


def _download(ctx: _Context, url: str) -> dict[str, Any] | None:
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


def _stored(ctx: _Context, entry: Mapping[str, Any]) -> bool:
    """True when an index entry's file is still in the store."""
    path = entry.get("local_path")
    return bool(path) and (ctx.asset_store / str(path)).is_file()


# assets


def _asset_folders_resource(ctx: _Context) -> DltResource:
    @dlt.resource(
        name=ASSET_FOLDERS_TABLE,
        primary_key="id",
        write_disposition="merge",
        columns=FOLDER_COLUMNS,
    )
    def asset_folders() -> Iterator[TDataItems]:
        """Asset folders (one request); changed and disappeared folders only."""
        state = dlt.current.resource_state()
        path = f"/sites/{ctx.site_id}/asset_folders"
        folders = []
        for page in ctx.client.paginate(path, None, "assetFolders", operation="list-asset-folders"):
            folders.extend(page.items)
        yield from _changed_and_removed(state, ASSET_FOLDERS_TABLE, folders, folder_row, None)

    return asset_folders


def _assets_resource(ctx: _Context) -> DltResource:
    @dlt.resource(
        name=ASSETS_TABLE, primary_key="id", write_disposition="merge", columns=ASSET_COLUMNS
    )
    def assets() -> Iterator[TDataItems]:
        """Assets-panel assets: metadata of changed ones, their files downloaded once by URL."""
        state = dlt.current.resource_state()
        path = f"/sites/{ctx.site_id}/assets"
        listed = []
        for page in ctx.client.paginate(path, None, "assets", operation="list-assets"):
            listed.extend(page.items)
        yield from _changed_and_removed(
            state, ASSETS_TABLE, listed, asset_row, lambda row: _attach_file(ctx, row)
        )

    return assets


def _attach_file(ctx: _Context, row: dict[str, Any]) -> dict[str, Any]:
    """Fills md5/local_path of an asset row from the file index, downloading when needed."""
    url = row.get("hosted_url")
    if not url:
        return row
    url = ctx.client.absolute_url(str(url))
    index: dict[str, Any] = dlt.current.source_state().setdefault("files", {})
    entry = index.get(url)
    if entry is None or ("md5" in entry and not _stored(ctx, entry)):
        fresh = _download(ctx, url)
        if fresh is not None:
            entry = index[url] = {**fresh, "cms": (entry or {}).get("cms", False)}
    if entry:
        row["md5"] = entry.get("md5")
        row["local_path"] = entry.get("local_path")
        row["download_error"] = entry.get("error")
    return row


def _changed_and_removed(
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
        last = _last_known_rows(table_name, "id", removed, {})
        deleted_at = utc_now()
        yield [
            {**(last.get(i) or {"id": i}), "is_deleted": True, "deleted_at": deleted_at}
            for i in removed
        ]
    state["hashes"] = current
