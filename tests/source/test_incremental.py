"""Incremental runs: nothing changed costs one request per (collection, state), every locale at
once; changes are staged exactly (edits, creates, deletes, publish, unpublish, archive,
translations, new field)."""

from __future__ import annotations

import time
from typing import Any

from sources.webflow import helpers

from .compare import Key, compare_all, export_items
from .conftest import Extractor
from .site_factory import FactorySite, add_items

COLLECTIONS = 3  # tags, blog-posts, notes (the e-commerce one is skipped)
LOCALES = 2


def _site_items(export: dict[str, Any], slug: str) -> dict[Key, dict[str, Any]]:
    collection = next(c for c in export["collections"] if c["slug"] == slug)
    return export_items(collection)


def _loaded_keys(ex: Extractor, table: str, load_id: str) -> set[Key]:
    rows = ex.query(
        f"select id, cms_locale_id, state from webflow.{table} where _dlt_load_id = '{load_id}'"
    )
    return {tuple(r) for r in rows}  # type: ignore[misc]


def test_unchanged_site_costs_one_request_per_stream(
    site: FactorySite, extractor: Extractor, monkeypatch: Any
) -> None:
    # the site is built just before the first run: without the margin below the watermark
    # the second run would page through it once more (skipping every row by content hash)
    monkeypatch.setattr(helpers, "SERVER_CLOCK_SKEW_SECONDS", 0.0)
    time.sleep(1.1)  # `Date` has whole seconds: the site was built in an earlier one
    extractor.run()
    second = extractor.run()
    assert second.data_rows() == {}
    ops = second.emulator_stats["byOperation"]
    assert ops["list-collection-items"] == COLLECTIONS
    assert ops["list-collection-items-live"] == COLLECTIONS
    assert "collection-details" not in ops
    assert second.emulator_stats["total"] == 2 + 2 * COLLECTIONS + 2
    # the client counts what the server saw
    assert second.client_stats["requests"] == second.emulator_stats["total"]
    assert second.client_stats["by_operation"] == ops
    assert second.client_stats["downloads"] == 0


def test_changes_are_staged_exactly(emulator: Any, site: FactorySite, extractor: Extractor) -> None:
    extractor.run()
    before = emulator.admin.export_site(site.site_id)
    b = site.builder
    cid = site.collection_id("blog-posts")
    posts = site.item_ids["blog-posts"]
    en, fr = site.locale_ids
    b.create_field(cid, {"type": "PlainText", "displayName": "Subtitle", "slug": "subtitle"})
    b.update_items(
        cid, [{"id": posts["post-1"], "fieldData": {"summary": "changed", "subtitle": "new"}}]
    )
    add_items(site, "blog-posts", [{"name": f"New {n}", "slug": f"new-{n}"} for n in range(2)])
    b.call(
        "DELETE",
        f"/collections/{cid}/items",
        json={"items": [{"id": posts["post-4"], "cmsLocaleIds": [en, fr]}]},
    )
    b.publish(cid, [posts["post-2"]])  # a draft goes live (lastUpdated does not move)
    b.call(
        "DELETE",
        f"/collections/{cid}/items/live",
        json={"items": [{"id": posts["post-0"], "cmsLocaleIds": [en]}]},
    )  # unpublished in English only
    b.update_items(cid, [{"id": posts["post-3"], "isArchived": True}])
    b.update_items(cid, [{"id": posts["post-6"], "fieldData": {"name": "Six"}}], locale=fr)
    logo_copy = next(a for a in site.assets if a["originalFileName"] == "logo-copy.png")
    b.call("DELETE", f"/assets/{logo_copy['id']}")
    after = emulator.admin.export_site(site.site_id)

    result = extractor.run()

    old, new = _site_items(before, "blog-posts"), _site_items(after, "blog-posts")
    changed = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
    assert len(changed) >= 17
    assert _loaded_keys(extractor, "blog_posts", result.load_id) == changed
    assert result.row_counts["blog_posts"] == len(changed)
    assert result.data_rows().keys() == {
        "blog_posts",
        "collections",
        "collection_fields",
        "assets",
        "site",
    } - ({"site"} if before["site"] == after["site"] else set())
    assert result.row_counts["collection_fields"] == 1
    assert result.row_counts["assets"] == 1
    # the staging equals the site again; what vanished is marked, not dropped
    assert compare_all(extractor, after) == []
    deleted = extractor.rows("blog_posts", f"id = '{posts['post-4']}'")
    assert len(deleted) == 4 and all(r["is_deleted"] and r["deleted_at"] for r in deleted)
    # last known values are kept
    assert {(r["cms_locale_id"], r["name"]) for r in deleted} == {(en, "Post 4"), (fr, "Article 4")}
    (unpublished,) = extractor.rows(
        "blog_posts", f"id = '{posts['post-0']}' and cms_locale_id = '{en}' and state = 'live'"
    )
    assert unpublished["is_deleted"] and unpublished["name"] == "Post 0"
    (gone,) = extractor.rows("assets", f"id = '{logo_copy['id']}'")
    assert gone["is_deleted"] and gone["md5"] == logo_copy_md5(before, logo_copy["id"])
    columns = {
        r[0]
        for r in extractor.query(
            "select column_name from information_schema.columns where table_name = 'blog_posts'"
        )
    }
    assert "subtitle" in columns

    # and the run after that is quiet again
    assert extractor.run().data_rows() == {}


def logo_copy_md5(export: dict[str, Any], asset_id: str) -> str:
    return next(a["md5"] for a in export["assets"] if a["id"] == asset_id)


def test_publish_without_edit_and_new_items_in_big_collection(
    emulator: Any, site: FactorySite, extractor: Extractor
) -> None:
    extractor.run()
    cid = site.collection_id("notes")
    notes = site.item_ids["notes"]
    before = emulator.admin.export_site(site.site_id)
    site.builder.publish(cid, [notes["note-1"], notes["note-129"]])  # republish + first publish
    add_items(site, "notes", [{"name": f"Late {n}", "slug": f"late-{n}"} for n in range(120)])
    after = emulator.admin.export_site(site.site_id)

    result = extractor.run()

    old, new = _site_items(before, "notes"), _site_items(after, "notes")
    changed = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
    assert _loaded_keys(extractor, "notes", result.load_id) == changed
    assert result.data_rows() == {"notes": len(changed)}
    assert compare_all(extractor, after) == []


def test_collections_argument_limits_the_extract(site: FactorySite, extractor: Extractor) -> None:
    result = extractor.run(collections=["tags"])
    assert "blog_posts" not in extractor.tables()
    assert result.row_counts["tags"] == 6 * 2 * 2
    assert {r["slug"] for r in extractor.rows("collections")} == {"tags"}


def test_deleted_collection_and_field_are_marked(
    emulator: Any, site: FactorySite, extractor: Extractor
) -> None:
    extractor.run()
    notes = site.collection_id("notes")
    tags = site.builder.collection(site.collection_id("tags"))
    weight = next(f for f in tags["fields"] if f["slug"] == "weight")
    site.builder.call("DELETE", f"/collections/{tags['id']}/fields/{weight['id']}")
    site.builder.call("DELETE", f"/collections/{notes}")

    result = extractor.run()

    (collection,) = extractor.rows("collections", f"id = '{notes}'")
    assert collection["is_deleted"] and collection["deleted_at"]
    assert {r["is_deleted"] for r in extractor.rows("notes")} == {True}
    assert result.row_counts["notes"] == 130 * 2 + 65 * 2
    fields = extractor.rows("collection_fields", f"is_deleted and collection_id = '{tags['id']}'")
    assert [f["slug"] for f in fields] == ["weight"]
    assert {f["collection_id"] for f in extractor.rows("collection_fields", "is_deleted")} == {
        notes,
        tags["id"],
    }
    # and it stays quiet afterwards
    assert extractor.run().data_rows() == {}


def test_wiped_asset_store_is_filled_again(site: FactorySite, extractor: Extractor) -> None:
    import shutil

    extractor.run()
    files = sorted(p.relative_to(extractor.asset_store) for p in extractor.asset_store.rglob("*.*"))
    shutil.rmtree(extractor.asset_store)
    result = extractor.run()
    again = sorted(p.relative_to(extractor.asset_store) for p in extractor.asset_store.rglob("*.*"))
    assert again == files
    assert result.data_rows() == {}  # same files, same md5: nothing to load


def test_bulk_import_before_the_read_is_not_read_again(
    site: FactorySite, extractor: Extractor, monkeypatch: Any
) -> None:
    """The next read starts at the server time (`Date`) the last one started at, not at the
    newest lastUpdated minus an overlap: items written before the read are not read again."""
    monkeypatch.setattr(helpers, "SERVER_CLOCK_SKEW_SECONDS", 0.0)
    time.sleep(1.1)  # `Date` has whole seconds: the site was built in an earlier one
    extractor.run()
    cid = site.collection_id("notes")
    site.builder.update_items(
        cid, [{"id": site.item_ids["notes"]["note-120"], "fieldData": {"text": "edited"}}]
    )
    result = extractor.run()
    ops = result.emulator_stats["byOperation"]
    # one newest-first page per (collection, state): it holds the edit and the totals
    assert ops["list-collection-items"] == COLLECTIONS
    assert ops["list-collection-items-live"] == COLLECTIONS
    assert result.data_rows() == {"notes": 1}


def test_deletes_and_unpublishes_without_an_id_scan_where_counts_explain_them(
    emulator: Any, site: FactorySite, extractor: Extractor, monkeypatch: Any
) -> None:
    """A primary-locale delete removes every locale and the live copies: one primary-locale id
    scan finds it, no live scan. A secondary-locale delete and an unpublish (which moves
    neither lastUpdated nor lastPublished of anything still listed) are found by the counts;
    the unpublished entry's staged copy is read again (isDraft, lastPublished)."""
    monkeypatch.setattr(helpers, "SERVER_CLOCK_SKEW_SECONDS", 0.0)  # no re-read of the build
    time.sleep(1.1)
    extractor.run()
    b = site.builder
    cid = site.collection_id("notes")
    en, fr = site.locale_ids
    live_ids = {
        i["id"]
        for i in b.call("GET", f"/collections/{cid}/items/live", params={"limit": 100})["items"]
    }
    deleted, fr_only, unpublished = sorted(live_ids)[:3]
    b.call("DELETE", f"/collections/{cid}/items", json={"items": [{"id": deleted}]})
    result = extractor.run()
    ops = result.emulator_stats["byOperation"]
    # notes: one page per state, plus the primary-locale id scan (130 items: 2 pages)
    assert ops["list-collection-items"] == COLLECTIONS + 2
    assert ops["list-collection-items-live"] == COLLECTIONS
    assert compare_all(extractor, emulator.admin.export_site(site.site_id)) == []
    rows = extractor.rows("notes", f"id = '{deleted}'")
    assert len(rows) == 4 and all(r["is_deleted"] for r in rows)

    b.call(
        "DELETE",
        f"/collections/{cid}/items",
        json={"items": [{"id": fr_only, "cmsLocaleIds": [fr]}]},
    )
    b.call(
        "DELETE",
        f"/collections/{cid}/items/live",
        json={"items": [{"id": unpublished, "cmsLocaleIds": [en]}]},
    )  # unpublished in English only
    result = extractor.run()
    assert compare_all(extractor, emulator.admin.export_site(site.site_id)) == []
    gone = {
        (r["cms_locale_id"], r["state"])
        for r in extractor.rows("notes", f"id = '{fr_only}' and is_deleted")
    }
    assert gone == {(fr, "staged"), (fr, "live")}
    (staged,) = extractor.rows(
        "notes", f"id = '{unpublished}' and state = 'staged' and cms_locale_id = '{en}'"
    )
    assert staged["is_draft"] and staged["last_published"] is None and not staged["is_deleted"]
    live = extractor.rows("notes", f"id = '{unpublished}' and state = 'live'")
    assert {(r["cms_locale_id"], r["is_deleted"]) for r in live} == {(en, True), (fr, False)}
    # two fr tombstones, the unpublished entry's staged copy (Get-Item), its live tombstone
    assert result.data_rows() == {"notes": 4}
    assert result.emulator_stats["byOperation"].get("Get-Item") == 1
    assert extractor.run().data_rows() == {}


def test_file_index_of_an_older_version_is_compacted(
    site: FactorySite, extractor: Extractor
) -> None:
    extractor.run()
    with extractor.pipeline.managed_state() as state:
        source = state["sources"]["webflow"]
        index = source["files"]
        files = {url: dict(entry) for url, entry in index.items()}
        # layout 1: an entry per item copy of every field file too
        del source["files_layout"]
        for n, (url, entry) in enumerate(files.items()):
            if "md5" in entry:
                index[f"{url}?copy={n}"] = {**entry, "cms": True}
    assert len(extractor.pipeline.state["sources"]["webflow"]["files"]) > len(files)

    result = extractor.run()

    assert result.data_rows() == {} and result.client_stats["downloads"] == 0
    source = extractor.pipeline.state["sources"]["webflow"]
    assert source["files_layout"] == helpers.FILES_LAYOUT
    assert source["files"] == files  # the copies are gone, the files are all there
