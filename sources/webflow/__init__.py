"""Webflow CMS source: a whole site (collections, fields, items per locale and state, assets).

API notes (Webflow Data API v2, https://developers.webflow.com/data/reference; see also
`shared/notes/WEBFLOW_API.md`):
- `get-site` gives the locales; CMS endpoints take the locale's `cmsLocaleId`, asset endpoints
  its site locale `id`.
- `list-collections` has no fields; `collection-details` has them. Its `lastUpdated` is the cheap
  schema-drift signal: details are read again only when it moves (cached in source state).
- `list-collection-items` (staged) and `list-collection-items-live` page with offset/limit <= 100,
  filter/sort on `lastUpdated`/`lastPublished` and take every locale at once
  (`cmsLocaleId=<a>,<b>`: one entry per item x locale), so each (collection, state) is one list.
- There is no "deleted since" feed: each run reads newest first, unfiltered, down to the
  watermark, and the first page's `pagination.total` is the deletion check. When it disagrees,
  the staged side lists the primary locale's ids (a primary-locale delete removes every locale);
  the live side needs no scan when the staged deletions explain the missing live copies.
- Publishing may not bump `lastUpdated`: live copies are read on `lastPublished`, and the staged
  copies of what was published are re-read (`lastPublished[gte]`). An unpublish moves no cursor:
  it shows as a live copy missing from the live total that no staged delete explains; then the
  live ids are listed and the unpublished entries' staged copies re-read (`Get-Item`).
- Rate limit: fixed 60 s window per token (60 or 120 requests), paced by `WebflowClient`.
- E-commerce collections (Products, SKUs, Categories) are skipped with a log line.

Incremental state lives in dlt resource state, not `dlt.sources.incremental`: each collection
resource keeps one cursor per state on a different field (lastUpdated / lastPublished),
yields tombstones whose cursor is old (an incremental would filter them out), re-reads an overlap
window below the cursor against clock skew and skips its unchanged rows by content hash (with
`lag` an incremental would turn boundary de-duplication off and reload them). Pages are
keyset-anchored (`<cursor>[lte]=<last value seen>` newest first, offset = ties) so that edits
made while a run pages cannot shift items past it (they move above the anchor, after the
watermark: the next run reads them). Deleted rows are re-written from the destination's last
copy with `is_deleted`/`deleted_at` (a merge replaces whole rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import dlt
from dlt.common.typing import TDataItems
from dlt.sources import DltResource

from .client import WebflowClient
from .helpers import (
    ASSET_COLUMNS,
    CMS_FILE_COLUMNS,
    COLLECTION_COLUMNS,
    FIELD_COLUMNS,
    FOLDER_COLUMNS,
    SITE_COLUMNS,
    Context,
    asset_row,
    attach_file,
    cached_schemas,
    changed_and_removed,
    choose_collections,
    collection_row,
    collection_schema,
    field_row,
    folder_row,
    has_changed,
    item_columns,
    locale_rows,
    quiet_json_hints,
    repair_store,
    sync_collection,
    tombstones,
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
    RATE_LIMIT_WINDOW_SECONDS,
    SITE_TABLE,
    STAGED,
)

__all__ = ["WebflowClient", "webflow_source"]

ITEM_PRIMARY_KEY = ("id", "cms_locale_id", "state")
# the tables with many rows (items, cms_files, assets) are loaded from parquet: DuckDB loads a
# file with one statement, where dlt's default for DuckDB (insert_values: SQL text of every row)
# took a third of a 10k-item extract and half a gigabyte more memory (1.3 s for 1,000 assets)
LOADER_FILE_FORMAT = "parquet"


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
        download_files (bool): download Assets-panel files and RichText images (False:
            metadata only). Image/MultiImage/File values are never downloaded: a target is
            written their URL and Webflow re-hosts the file itself.
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
    ctx = Context(
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
    chosen = choose_collections(listed.get("collections") or [], collections)
    cache = cached_schemas()
    schemas = {c["id"]: collection_schema(client, c, cache.get(c["id"])) for c in chosen}
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


# site, locales, collections, fields


def _site_resource(site: Mapping[str, Any]) -> DltResource:
    @dlt.resource(
        name=SITE_TABLE, primary_key="id", write_disposition="merge", columns=SITE_COLUMNS
    )
    def site_rows() -> Iterator[TDataItems]:
        """The site (`get-site`), loaded when it changed."""
        if has_changed(dlt.current.resource_state(), site["id"], site):
            yield dict(site)

    return site_rows


def _locales_resource(locales: list[dict[str, Any]]) -> DltResource:
    @dlt.resource(name=LOCALES_TABLE, primary_key="id", write_disposition="merge")
    def locale_rows_() -> Iterator[TDataItems]:
        """Locales of the site: tag, site locale id and CMS locale id."""
        state = dlt.current.resource_state()
        changed = [row for row in locales if has_changed(state, str(row["id"]), row)]
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
            if has_changed(state, collection["id"], row):
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
            if has_changed(state, key, row):
                rows.append(row)
        deleted_at = utc_now()
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


def _items_resource(ctx: Context, schema: Mapping[str, Any]) -> DltResource:
    collection = schema["collection"]
    table_name = schema["table_name"]
    fields = list(collection["fields"])

    def collection_items() -> Iterator[TDataItems]:
        """Items of one collection, every locale in each request, live and staged: arrow
        tables (`ItemTables`, `flush_tables`), tombstones and `cms_files` rows as dicts."""
        quiet_json_hints(table_name)
        state = dlt.current.resource_state()
        yield from sync_collection(ctx, collection, fields, table_name, state)

    resource = dlt.resource(collection_items, name=table_name)
    # cms_files rows are dispatched from here too: a table variant with its own hints, set
    # before the item hints so that it does not inherit the item columns
    resource.apply_hints(
        table_name=CMS_FILES_TABLE,
        primary_key="url",
        write_disposition="merge",
        columns=CMS_FILE_COLUMNS,
        # one row per RichText image url: parquet like the item rows
        file_format=LOADER_FILE_FORMAT,
        create_table_variant=True,
    )
    resource.apply_hints(
        table_name=table_name,
        primary_key=ITEM_PRIMARY_KEY,
        write_disposition="merge",
        columns=item_columns(fields),
        file_format=LOADER_FILE_FORMAT,
        additional_table_hints={
            "x-webflow-collection-id": collection["id"],
            "x-webflow-collection-slug": collection.get("slug"),
        },
    )
    return resource


def _retired_items_resource(entry: Mapping[str, Any]) -> DltResource:
    table_name = entry["table_name"]

    def retired_items() -> Iterator[TDataItems]:
        """A collection that was deleted: every item it had is marked deleted."""
        state = dlt.current.resource_state()
        for key, stream in list(state.items()):
            if not isinstance(stream, dict):
                continue
            if key in (STAGED, LIVE):  # {cmsLocaleId: ids}
                by_locale = dict(stream.get("ids") or {})
                kind = key
            elif ":" in key:  # the older per-locale layout
                locale_id, kind = key.split(":", 1)
                by_locale = {locale_id: stream.get("ids") or []}
            else:
                continue
            for locale_id, ids in by_locale.items():
                if ids:
                    yield from tombstones(table_name, sorted(ids), locale_id, kind)
            state.pop(key, None)

    return dlt.resource(
        retired_items,
        name=table_name,
        table_name=table_name,
        primary_key=ITEM_PRIMARY_KEY,
        write_disposition="merge",
    )


# assets


def _asset_folders_resource(ctx: Context) -> DltResource:
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
        op = "list-asset-folders"
        # the spec declares no paging parameters here: ask plainly, page only if told to
        body = ctx.client.get(path, operation=op) or {}
        folders = list(body.get("assetFolders") or [])
        total = (body.get("pagination") or {}).get("total") or 0
        if total > len(folders):
            for page in ctx.client.paginate(
                path, None, "assetFolders", operation=op, start_offset=len(folders)
            ):
                folders.extend(page.items)
        yield from changed_and_removed(state, ASSET_FOLDERS_TABLE, folders, folder_row, None)

    return asset_folders


def _assets_resource(ctx: Context) -> DltResource:
    @dlt.resource(
        name=ASSETS_TABLE,
        primary_key="id",
        write_disposition="merge",
        columns=ASSET_COLUMNS,
        file_format=LOADER_FILE_FORMAT,
    )
    def assets() -> Iterator[TDataItems]:
        """Assets-panel assets: metadata of changed ones, their files downloaded once by URL."""
        state = dlt.current.resource_state()
        path = f"/sites/{ctx.site_id}/assets"
        listed = []
        for page in ctx.client.paginate(path, None, "assets", operation="list-assets"):
            listed.extend(page.items)
        yield from changed_and_removed(
            state, ASSETS_TABLE, listed, asset_row, lambda row: attach_file(ctx, row)
        )
        repair_store(ctx)

    return assets
