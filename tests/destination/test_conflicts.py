"""Incremental runs read the target only where the ledger cannot answer: the conflict check
(watermark per collection, newest changes first, `pagination.total` proves the rest are ours),
the asset count before a list-assets scan, and no get-site / list-asset-folders."""

from __future__ import annotations

import time
from typing import Any

from destinations.webflow.ledger import close_ledger, default_ledger_path, open_ledger
from destinations.webflow.migration import MigrationReport
from webflow_emulator.seeds.builder import SiteBuilder, png_bytes

from .conftest import Migrator, target_builder


def _source_builder(m: Migrator) -> SiteBuilder:
    export = m.emulator.admin.export_site(m.sites.source_id)
    token = m.emulator.admin.mint_token([m.sites.source_id])
    return SiteBuilder(m.sites.base_url, token, export["site"])


def _ids(m: Migrator, site_id: str, coll_slug: str) -> tuple[str, dict[str, str]]:
    """Collection id and primary slug -> item id, from the emulator's export."""
    export = m.emulator.admin.export_site(site_id)
    primary = export["site"]["locales"]["primary"]["cmsLocaleId"]
    coll = next(c for c in export["collections"] if c["slug"] == coll_slug)
    return coll["id"], {
        it["locales"][primary]["staged"]["fieldData"]["slug"]: it["id"] for it in coll["items"]
    }


def _description(m: Migrator, slug: str) -> Any:
    export = m.emulator.admin.export_site(m.sites.target_id)
    primary = export["site"]["locales"]["primary"]["cmsLocaleId"]
    tags = next(c for c in export["collections"] if c["slug"] == "tags")
    for it in tags["items"]:
        staged = it["locales"][primary]["staged"]["fieldData"]
        if staged["slug"] == slug:
            return staged.get("description")
    raise KeyError(slug)


def _sync(m: Migrator, **kw: Any) -> MigrationReport:
    m.extract()
    m.emulator.admin.reset_stats()
    return m.migrate(**kw)


def _reads(m: Migrator, operation: str) -> int:
    return m.target_stats()["byOperation"].get(operation, 0)


def test_an_edit_seen_while_the_item_was_not_updated_is_still_a_conflict(small: Migrator) -> None:
    """The target edit is made after the migration; the next run updates another item of the
    collection (its watermark moves past the edit) and the edit is remembered, so the run that
    finally updates the edited item still reports it."""
    small.migrate()
    src, tgt = _source_builder(small), target_builder(small)
    scid, s = _ids(small, small.sites.source_id, "tags")
    tcid, t = _ids(small, small.sites.target_id, "tags")
    tgt.update_items(tcid, [{"id": t["tag-1"], "fieldData": {"description": "T"}}])
    src.update_items(scid, [{"id": s["tag-2"], "fieldData": {"description": "S2"}}])
    report = _sync(small)
    assert report.ok and report.plan.conflicts == []
    assert _reads(small, "list-collection-items") == 1  # tags only, one page
    assert _reads(small, "get-site") == _reads(small, "list-asset-folders") == 0
    assert _description(small, "tag-2") == "S2"

    src.update_items(scid, [{"id": s["tag-1"], "fieldData": {"description": "S1"}}])
    report = _sync(small)
    assert "CONFLICT tags/tag-1 (en-US)" in report.summary()
    assert _description(small, "tag-1") == "T"
    assert _reads(small, "list-collection-items") == 1

    report = small.migrate(overwrite_target_edits=True)
    assert report.ok and "CONFLICT" not in report.summary()
    assert _description(small, "tag-1") == "S1"
    # our overwrite is later than the edit seen: not a conflict any more
    src.update_items(scid, [{"id": s["tag-1"], "fieldData": {"description": "S1b"}}])
    report = _sync(small)
    assert report.ok and "CONFLICT" not in report.summary()
    assert _description(small, "tag-1") == "S1b"


def test_after_a_bulk_migration_the_check_costs_one_request(small: Migrator) -> None:
    """246 tag entries written by the migration: the newest page holds the target's edit, and
    `pagination.total` shows every other entry is one of ours, so nothing more is listed. When
    answers of ours were lost (no lastUpdated in the ledger) the count proves nothing: the
    listing goes on, and the lost writes are not reported as conflicts."""
    src = _source_builder(small)
    scid, _s = _ids(small, small.sites.source_id, "tags")
    src.create_items(scid, [{"name": f"Extra {n}", "slug": f"extra-{n}"} for n in range(120)])
    small.extract()
    assert small.migrate().ok
    _scid, s = _ids(small, small.sites.source_id, "tags")
    tcid, t = _ids(small, small.sites.target_id, "tags")
    target_builder(small).update_items(
        tcid, [{"id": t["extra-0"], "fieldData": {"description": "T"}}]
    )
    src.update_items(
        scid,
        [{"id": s[x], "fieldData": {"description": f"S {x}"}} for x in ("extra-0", "extra-5")],
    )
    report = _sync(small)
    assert [line.split(":")[0] for line in report.plan.conflict_lines()] == [
        "CONFLICT tags/extra-0 (en-US)"
    ]
    assert _reads(small, "list-collection-items") == 1
    assert _description(small, "extra-0") == "T" and _description(small, "extra-5") == "S extra-5"

    # every tag written again (123 entries after the watermark), then the answers "lost" of
    # all but the one updated next (an item whose answer was lost is not checked at all)
    src.update_items(
        scid, [{"id": i, "fieldData": {"description": f"v2 {x}"}} for x, i in s.items()]
    )
    assert _sync(small, overwrite_target_edits=True).ok
    ledger_path = default_ledger_path(small.staging)
    en = small.emulator.admin.export_site(small.sites.target_id)["site"]["locales"]["primary"]
    open_ledger(ledger_path).forget_target_updated(
        small.sites.target_id,
        [(i, en["cmsLocaleId"]) for x, i in t.items() if x != "extra-50"],
    )
    close_ledger(ledger_path)
    src.update_items(scid, [{"id": s["extra-50"], "fieldData": {"description": "v3"}}])
    report = _sync(small)
    assert report.ok and report.plan.conflicts == []
    assert _reads(small, "list-collection-items") == 2  # the count did not add up: all pages
    assert _description(small, "extra-50") == "v3"


def test_new_asset_counts_the_target_assets_instead_of_listing_them(small: Migrator) -> None:
    """A new source file: one limit=1 list-assets whose total equals the assets the ledger
    knows (nothing to adopt); a file added to the target by hand makes the counts differ and
    the target's assets are listed (a file with the same MD5 would be adopted)."""
    small.migrate()
    src = _source_builder(small)
    src.upload_asset("new.png", png_bytes(14, 10, 3))
    report = _sync(small)
    assert report.ok
    assert _reads(small, "list-assets") == 1 and _reads(small, "create-asset") == 1

    target_builder(small).upload_asset("by-hand.png", png_bytes(16, 10, 4))
    src.upload_asset("newer.png", png_bytes(18, 10, 5))
    report = _sync(small)
    assert report.ok
    assert _reads(small, "list-assets") == 2  # the count, then the scan (one page)
    assert _reads(small, "create-asset") == 1


def test_a_file_already_in_the_target_is_adopted_by_md5(small: Migrator) -> None:
    """The ledger knows nothing of the target's assets: they are listed and a file with the
    same bytes is mapped instead of uploaded again."""
    data = png_bytes(20, 10, 6)
    target_builder(small).upload_asset("same.png", data)
    _source_builder(small).upload_asset("same.png", data)
    small.extract()
    small.emulator.admin.reset_stats()
    report = small.migrate()
    assert report.ok
    assert report.plan.assets.reused == 1


def test_our_update_whose_answer_died_with_the_process_is_no_conflict(small: Migrator) -> None:
    """SIGKILL while our update-items is held by the emulator, then the write lands (its answer
    lost with the process). Neither a dry run (which loads no pending package) nor the next run
    may take our own write for a target edit."""
    small.migrate()
    src = _source_builder(small)
    scid, s = _ids(small, small.sites.source_id, "tags")
    src.update_items(scid, [{"id": s["tag-1"], "fieldData": {"description": "S1"}}])
    small.extract()
    small.kill_while_held("update-items", 1)
    admin = small.emulator.admin
    assert admin.release(apply=True)
    for _ in range(500):  # the held write is applied before anything else is asked
        if not admin.pause_state()["paused"] and _description(small, "tag-1") == "S1":
            break
        time.sleep(0.01)
    admin.configure(pauseAfterRequests=None, pauseOperation=None)
    assert _description(small, "tag-1") == "S1"

    dry = small.migrate(dry_run=True)
    assert dry.plan.conflicts == [], dry.plan.summary()
    report = small.migrate()
    assert report.ok and report.plan.conflicts == [], report.summary()
    assert "CONFLICT" not in report.summary()
