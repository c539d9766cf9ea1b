"""The one module that knows the source's staging layout in DuckDB (sources/webflow).

Everything else works on `model.SourceSite`; when the staging layout changes only this module
changes. Tables read (dataset `webflow` by default, snake_case columns, JSON columns come back as
strings): `site`, `locales`, `collections`, `collection_fields`, `asset_folders`, `assets`,
`cms_files` and one table per collection (`collections.table_name`) with one row per
(`id`, `cms_locale_id`, `state` = staged|live) and the verbatim `field_data`. Rows with
`is_deleted` are tombstones and are left out.

The file is opened read-write (the default configuration) and closed before returning: in one
process DuckDB refuses a read-only connection next to a read-write one (DLT_NOTES trap 8).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

try:  # dlt's own JSON parser (a dependency of dlt on CPython), several times faster
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover
    _fast_loads = json.loads

from .errors import StagingError
from .model import Asset, Collection, Field, Folder, Item, ItemVersion, Locale, SourceSite


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return _fast_loads(value)
        except ValueError:  # what orjson refuses (NaN, huge ints) is still read as json reads it
            try:
                return json.loads(value)
            except ValueError:
                return value
    return value


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _find_dataset(con: duckdb.DuckDBPyConnection, dataset: str | None) -> str:
    schemas = [
        r[0]
        for r in con.execute(
            "select table_schema from information_schema.tables "
            "where table_name = 'collection_fields' group by table_schema"
        ).fetchall()
    ]
    if dataset:
        if dataset not in schemas:
            raise StagingError(f"dataset {dataset!r} not found in staging (have: {schemas})")
        return dataset
    schemas = [s for s in schemas if not s.endswith("_staging")]
    if not schemas:
        raise StagingError(
            "the staging database holds no extracted Webflow site (no collection_fields "
            "table): run the extraction first, or check the path"
        )
    if len(schemas) != 1:
        raise StagingError(f"pass dataset_name: staging has datasets {schemas}")
    return schemas[0]


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    }


def _not_deleted(cols: set[str]) -> str:
    return " where coalesce(is_deleted, false) = false" if "is_deleted" in cols else ""


def load_source(
    staging_path: str | Path,
    source_site_id: str | None = None,
    *,
    dataset_name: str | None = None,
    collections: Sequence[str] | None = None,
    asset_store_path: str | Path | None = None,
) -> SourceSite:
    """Reads the staged source site. `collections` limits items to these slugs (schema stays
    complete, so references into other collections can still be resolved by the ledger)."""
    path = Path(staging_path)
    if not path.exists():
        raise StagingError(f"staging database {path} does not exist: run the extraction first")
    con = duckdb.connect(str(path))
    paths: dict[str, str] = {}
    try:
        ds = _find_dataset(con, dataset_name)
        q = f'"{ds}"'
        site_rows = _rows(con, f"select id from {q}.site")
        site_id = str(site_rows[0]["id"]) if site_rows else (source_site_id or "")
        if source_site_id and site_rows and site_id != source_site_id:
            raise StagingError(f"staging holds site {site_id}, not {source_site_id}")
        locales = [
            Locale(tag=r["tag"], cms_locale_id=r["cms_locale_id"], is_primary=bool(r["is_primary"]))
            for r in _rows(con, f"select * from {q}.locales")
            if r.get("cms_locale_id")
        ]
        locales.sort(key=lambda loc: not loc.is_primary)
        coll_cols = _columns(con, ds, "collections")
        coll_rows = _rows(con, f"select * from {q}.collections{_not_deleted(coll_cols)}")
        field_cols = _columns(con, ds, "collection_fields")
        field_rows = _rows(con, f"select * from {q}.collection_fields{_not_deleted(field_cols)}")
        fields_by_coll: dict[str, list[Field]] = {}
        for r in field_rows:
            options = _json(r.get("options")) or []
            fields_by_coll.setdefault(r["collection_id"], []).append(
                Field(
                    id=r["id"],
                    slug=r["slug"],
                    display_name=r["display_name"],
                    type=r["type"],
                    is_required=bool(r.get("is_required")),
                    help_text=r.get("help_text"),
                    options={o["id"]: o["name"] for o in options if o.get("id")},
                    reference_collection_id=r.get("reference_collection_id"),
                )
            )
        colls: list[Collection] = []
        tables: dict[str, str] = {}
        for r in sorted(coll_rows, key=lambda r: str(r.get("created_on") or "")):
            colls.append(
                Collection(
                    id=r["id"],
                    slug=r["slug"],
                    display_name=r["display_name"],
                    singular_name=r.get("singular_name") or r["display_name"],
                    fields=fields_by_coll.get(r["id"], []),
                )
            )
            tables[r["id"]] = r["table_name"]
        existing = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = ?", [ds]
            ).fetchall()
        }
        items: dict[str, list[Item]] = {}
        for c in colls:
            if collections is not None and c.slug not in collections:
                continue
            table = tables[c.id]
            if table not in existing:
                items[c.id] = []
                continue
            cols = _columns(con, ds, table)
            rows = con.execute(
                f"select id, locale, cms_locale_id, state, is_draft, is_archived, field_data "
                f'from {q}."{table}"{_not_deleted(cols)} order by created_on, id'
            ).fetchall()
            items[c.id] = _items(c.id, rows, locales)
        folder_cols = _columns(con, ds, "asset_folders") if "asset_folders" in existing else set()
        folders = [
            Folder(id=r["id"], name=r["display_name"], parent_id=r.get("parent_folder"))
            for r in (
                _rows(con, f"select * from {q}.asset_folders{_not_deleted(folder_cols)}")
                if folder_cols
                else []
            )
        ]
        store = Path(asset_store_path) if asset_store_path else None
        assets: list[Asset] = []
        md5_by_url: dict[str, str] = {}
        if "assets" in existing:
            cols = _columns(con, ds, "assets")
            for r in _rows(con, f"select * from {q}.assets{_not_deleted(cols)}"):
                local = r.get("local_path")
                assets.append(
                    Asset(
                        id=r["id"],
                        md5=r.get("md5"),
                        file_name=r.get("original_file_name") or r["id"],
                        url=r.get("hosted_url") or "",
                        alt_text=r.get("alt_text"),
                        display_name=r.get("display_name"),
                        folder_id=r.get("folder_id"),
                        content_type=r.get("content_type"),
                        size=r.get("size"),
                        local_path=str(store / local) if (store and local) else None,
                        download_error=r.get("download_error"),
                    )
                )
                if r.get("md5") and r.get("hosted_url"):
                    md5_by_url[r["hosted_url"]] = r["md5"]
        paths: dict[str, str] = {a.md5: a.local_path for a in assets if a.md5 and a.local_path}
        if "cms_files" in existing:
            cols = _columns(con, ds, "cms_files")
            # dlt adds a column with its first non-null value: md5/local_path may not exist
            picked = ", ".join(
                f'"{c}"' if c in cols else "null" for c in ("url", "md5", "local_path")
            )
            for url, md5, local in con.execute(f"select {picked} from {q}.cms_files").fetchall():
                if md5:
                    md5_by_url[url] = md5
                    if store and local and md5 not in paths:  # each locale's url, one file
                        paths[md5] = str(store / local)
    finally:
        con.close()
    if not locales:
        raise StagingError("staging has no locales: was the source extracted?")
    return SourceSite(
        site_id=site_id,
        locales=locales,
        collections=colls,
        folders=_parents_first(folders),
        assets=assets,
        items=items,
        file_md5_by_url=md5_by_url,
        file_paths=paths,
    )


def _items(collection_id: str, rows: list[tuple[Any, ...]], locales: list[Locale]) -> list[Item]:
    """Groups (id, locale, cms_locale_id, state, is_draft, is_archived, field_data) rows into
    items with one version per locale. A live copy whose JSON is the staged copy's (an item
    published without changes since) shares its values: parsed, compared and hashed once."""
    tag_by_cms = {loc.cms_locale_id: loc.tag for loc in locales}
    by_id: dict[str, Item] = {}
    staged: dict[tuple[str, str], Any] = {}
    live: dict[tuple[str, str], Any] = {}
    for item_id, locale, cms_locale_id, state, is_draft, is_archived, field_data in rows:
        tag = tag_by_cms.get(cms_locale_id) or locale
        if tag is None:
            continue
        if state == "live":
            live[(item_id, tag)] = field_data
            continue
        item = by_id.get(item_id)
        if item is None:
            item = by_id[item_id] = Item(id=item_id, collection_id=collection_id)
        staged[(item_id, tag)] = field_data
        item.versions[tag] = ItemVersion(
            field_data=_json(field_data) or {},
            is_draft=bool(is_draft),
            is_archived=bool(is_archived),
        )
    for (item_id, tag), raw in live.items():
        item = by_id.get(item_id)
        if item and tag in item.versions:
            v = item.versions[tag]
            same = isinstance(raw, str) and raw == staged[(item_id, tag)]
            v.live_field_data = v.field_data if same else _json(raw) or {}
    return list(by_id.values())


def _parents_first(folders: list[Folder]) -> list[Folder]:
    """Folders ordered so every parent comes before its children."""
    by_id = {f.id: f for f in folders}
    out: list[Folder] = []
    seen: set[str] = set()

    def visit(f: Folder) -> None:
        if f.id in seen:
            return
        seen.add(f.id)
        if f.parent_id and f.parent_id in by_id:
            visit(by_id[f.parent_id])
        out.append(f)

    for f in sorted(folders, key=lambda f: f.name):
        visit(f)
    return out
