"""The demo world migrated end to end over HTTP: same content, floor request count, idempotent."""

from __future__ import annotations

from typing import Any

import duckdb

from pipelines.verify import SiteRef, verify_sites

from .compare import canonical, differences
from .conftest import Migrator

# Fewest write requests the API allows for the demo world (destinations/webflow/README.md):
# 3 create-collection + 2 create-field (the self-reference and one side of the cycle) +
# 5 create-asset-folder + 13 create-asset + 8 patch-asset (alt text / display name) +
# 3 create-items + 3 update-items before publishing (translations, references) +
# 3 publish-item + 1 update-items after publishing (staged edits, archived)
DEMO_FLOOR = {
    "create-collection": 3,
    "create-field": 2,
    "create-asset-folder": 5,
    "create-asset": 13,
    "patch-asset": 8,
    "create-items": 3,
    "update-items": 4,
    "publish-item": 3,
}


def _writes_by_operation(stats: dict[str, Any]) -> dict[str, int]:
    reads = {
        "get-site",
        "list-collections",
        "collection-details",
        "list-asset-folders",
        "list-assets",
        "list-collection-items",
        "list-collection-items-live",
        "get-asset",
    }
    return {op: n for op, n in stats["byOperation"].items() if op not in reads}


def test_demo_migrates_everything_at_the_floor(demo: Migrator) -> None:
    report = demo.migrate()
    assert report.ok, report.summary()
    src = demo.emulator.admin.export_site(demo.sites.source_id)
    tgt = demo.emulator.admin.export_site(demo.sites.target_id)
    assert differences(src, tgt) == []
    # the same cover image used by many posts was uploaded once: one create-asset per MD5
    stats = demo.target_stats()
    assert stats["byOperation"]["create-asset"] == len({a["md5"] for a in src["assets"]})
    assert _writes_by_operation(stats) == DEMO_FLOOR
    assert demo.emulator.admin.stats()["external"]["s3-upload"] == 13
    # the run's own counts agree with the emulator's
    assert report.write_requests == sum(DEMO_FLOOR.values())
    # every item of every locale, staged and live, is there
    c = canonical(tgt)["collections"]
    assert len(c["blog-posts"]["items"]) == 36
    assert all(set(v) == {"en-US", "fr-FR"} for v in c["blog-posts"]["items"].values())


def test_verify_agrees(demo: Migrator) -> None:
    demo.migrate()
    s = demo.sites
    report = verify_sites(
        SiteRef(s.base_url, s.source_token, s.source_id),
        SiteRef(s.base_url, s.target_token, s.target_id),
        requests_per_minute=None,
    )
    assert report.ok, [d.to_dict() for d in report.differences[:10]]


def test_rerun_writes_nothing(demo: Migrator) -> None:
    demo.migrate()
    demo.emulator.admin.reset_stats()
    again = demo.migrate()
    assert demo.writes() == 0
    assert again.write_requests == 0
    assert all(c.unchanged == c.source_items and c.created == 0 for c in again.collections)


def test_rerun_without_pipeline_dir_writes_nothing(demo: Migrator) -> None:
    """The ledger, not dlt's working directory, is what makes a rerun idempotent."""
    demo.migrate()
    import shutil

    shutil.rmtree(demo.tmp_path / "pipelines" / f"webflow_migrate_{demo.sites.target_id}")
    demo.emulator.admin.reset_stats()
    demo.migrate()
    assert demo.writes() == 0


def test_ledger_holds_lookups_and_audit(demo: Migrator) -> None:
    report = demo.migrate()
    con = duckdb.connect(report.ledger_path)
    try:
        count = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        assert count("select count(*) from collection_map") == 3
        assert count("select count(*) from locale_map") == 2
        assert count("select count(distinct source_item_id) from item_map") == 45
        assert count("select count(*) from item_map where applied_hash is null") == 0
        assert count("select count(*) from asset_map") == 13
        assert count("select count(*) from option_map") == 3
        assert count("select count(*) from audit where status = 'ok'") > 0
        assert count("select count(*) from audit where status <> 'ok'") == 0
    finally:
        con.close()


def test_incremental_change_is_applied(demo: Migrator) -> None:
    """A source edit after the first migration is carried over with a handful of requests."""
    demo.migrate()
    src = demo.emulator.admin.export_site(demo.sites.source_id)
    posts = next(c for c in src["collections"] if c["slug"] == "blog-posts")
    item = posts["items"][0]
    from webflow_emulator.seeds.builder import SiteBuilder

    writer = demo.emulator.admin.mint_token([demo.sites.source_id])
    b = SiteBuilder(demo.sites.base_url, writer, src["site"])
    b.update_items(posts["id"], [{"id": item["id"], "fieldData": {"summary": "Changed!"}}])
    demo.extract()
    demo.emulator.admin.reset_stats()
    report = demo.migrate()
    assert report.ok
    assert 1 <= demo.writes() <= 3
    tgt = demo.emulator.admin.export_site(demo.sites.target_id)
    src = demo.emulator.admin.export_site(demo.sites.source_id)
    assert differences(src, tgt) == []


def test_lost_ledger_is_rebuilt_by_natural_keys(demo: Migrator) -> None:
    """With the ledger file gone, collections map by slug, folders by name, files by name + MD5
    and items by slug: nothing is created twice."""
    report = demo.migrate()
    (demo.tmp_path / "staging.ledger.duckdb").unlink()
    demo.emulator.admin.reset_stats()
    again = demo.migrate()
    assert again.ok, again.summary()
    ops = demo.target_stats()["byOperation"]
    for create in (
        "create-collection",
        "create-field",
        "create-asset-folder",
        "create-asset",
        "create-items",
    ):
        assert create not in ops
    src = demo.emulator.admin.export_site(demo.sites.source_id)
    tgt = demo.emulator.admin.export_site(demo.sites.target_id)
    assert differences(src, tgt) == []
    assert report.ok
