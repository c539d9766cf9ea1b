"""Incremental sync: a rerun applies exactly the source's changes to the target.

Runs in process (real HTTP, DuckDB, dlt) with a client that records its PATCH bodies, so the
test can check that an edited item is sent only the fields that changed. The source is only
read (its request counts hold GETs alone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
import pytest

from destinations.webflow import MigrationReport, migrate
from sources.webflow import webflow_source
from sources.webflow.client import WebflowClient
from webflow_emulator.seeds.builder import png_bytes

from .conftest import World, assert_source_only_read, duplicates


class RecordingClient(WebflowClient):
    """The shared client, keeping every PATCH body (what the target was asked to change)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.patches: list[tuple[str, Any]] = []

    def patch(self, path: str, json: Any = None, **kw: Any) -> Any:
        self.patches.append((path, json))
        return super().patch(path, json, **kw)


@dataclass
class Sync:
    """Extract + migrate in process for one world; `last` is the last run's client."""

    w: World
    clients: list[RecordingClient] = field(default_factory=list)

    def extract(self) -> None:
        pipeline = dlt.pipeline(
            pipeline_name="sync_source",
            pipelines_dir=str(self.w.tmp_path / "pipelines"),
            destination=dlt.destinations.duckdb(str(self.w.staging)),
            dataset_name="webflow",
        )
        pipeline.run(
            webflow_source(
                site_id=self.w.source_id,
                api_token=self.w.source_token,
                base_url=self.w.emu.base_url,
                requests_per_minute=None,
                asset_store_path=str(self.w.tmp_path / "assets"),
            )
        )

    def migrate(self, **kw: Any) -> MigrationReport:
        client = RecordingClient(
            self.w.target_token,
            self.w.emu.base_url,
            read_only=False,
            requests_per_minute=None,
            backoff_base=0.01,
            backoff_max=0.05,
        )
        self.clients.append(client)
        return migrate(
            self.w.staging,
            self.w.source_id,
            self.w.target_id,
            self.w.target_token,
            self.w.emu.base_url,
            pipelines_dir=str(self.w.tmp_path / "pipelines"),
            asset_store_path=self.w.tmp_path / "assets",
            requests_per_minute=None,
            client=client,
            **kw,
        )

    def sync(self, **kw: Any) -> MigrationReport:
        self.extract()
        self.w.emu.admin.reset_stats()
        return self.migrate(**kw)

    def item_patches(self) -> list[dict[str, Any]]:
        """Every entry of the last run's update-items bodies."""
        return [
            e
            for path, body in self.clients[-1].patches
            if path.endswith("/items")
            for e in body["items"]
        ]


def _items_by_slug(export: dict[str, Any], coll_slug: str) -> tuple[str, dict[str, Any]]:
    coll = next(c for c in export["collections"] if c["slug"] == coll_slug)
    primary = export["site"]["locales"]["primary"]["cmsLocaleId"]
    return coll["id"], {
        it["locales"][primary]["staged"]["fieldData"]["slug"]: it for it in coll["items"]
    }


def _target_copy(w: World, coll_slug: str, slug: str, live: bool = False) -> dict[str, Any] | None:
    export = w.emu.admin.export_site(w.target_id)
    primary = export["site"]["locales"]["primary"]["cmsLocaleId"]
    _cid, items = _items_by_slug(export, coll_slug)
    copy = items[slug]["locales"][primary]
    return copy["live"] if live else copy["staged"]


@pytest.fixture
def synced(demo_world: World) -> Sync:
    s = Sync(demo_world)
    s.extract()
    assert s.migrate().ok
    return s


def test_rerun_without_changes_writes_nothing(synced: Sync) -> None:
    report = synced.sync()
    assert report.ok and synced.w.target_writes() == 0
    reads = synced.w.stats(synced.w.target_id)["byOperation"]
    assert "list-collection-items" not in reads  # nothing to update: no conflict reads
    assert_source_only_read(synced.w)


def test_source_changes_are_applied_exactly(synced: Sync) -> None:
    w = synced.w
    b = w.builder(w.source_id)
    fr = b.locale_ids[1]
    src = w.emu.admin.export_site(w.source_id)
    posts_id, posts = _items_by_slug(src, "blog-posts")
    cats_id, _cats = _items_by_slug(src, "categories")
    _aid, authors = _items_by_slug(src, "authors")
    slugs = list(posts)
    pid = {s: posts[s]["id"] for s in slugs}
    draft, live_edit, unpub, to_publish = slugs[5], slugs[1], slugs[3], slugs[14]
    to_archive, to_unarchive, to_draft, to_delete, relinked = (
        slugs[6],
        slugs[15],
        slugs[7],
        slugs[10],
        slugs[9],
    )
    # new field, new asset, new category, new collection
    b.create_field(posts_id, {"type": "PlainText", "displayName": "Subtitle", "slug": "subtitle"})
    new_cover = b.upload_asset("new-cover.png", png_bytes(8, 8, 999), alt="New cover")
    new_cat = b.create_items(cats_id, [{"name": "Research", "slug": "research"}])["research"]
    b.publish(cats_id, [new_cat])
    tags = b.create_collection(
        "Tags", "Tag", "tags", [{"type": "PlainText", "displayName": "Note", "slug": "note"}]
    )
    tag_ids = b.create_items(tags["id"], [{"name": "Alpha", "slug": "alpha", "note": "first"}])
    b.publish(tags["id"], tag_ids.values())
    new_post = b.create_items(
        posts_id,
        [
            {
                "name": "Brand new",
                "slug": "brand-new",
                "categories": [new_cat],
                "author": authors["grace-hopper"]["id"],
            }
        ],
    )["brand-new"]
    # edits: one field of a draft; a live item edited and published again (with the new cover)
    b.update_items(posts_id, [{"id": pid[draft], "fieldData": {"summary": "Only this."}}])
    b.update_items(
        posts_id,
        [
            {
                "id": pid[live_edit],
                "fieldData": {
                    "name": "Renamed",
                    "subtitle": "Sub",
                    "cover": {"url": new_cover["hostedUrl"], "alt": "New cover"},
                },
            }
        ],
    )
    b.publish(posts_id, [pid[live_edit], pid[to_publish]])
    # states: unpublish, archive, un-archive, back to draft; delete + re-link its referrer
    b.call("DELETE", f"/collections/{posts_id}/items/live", json={"items": [{"id": pid[unpub]}]})
    b.update_items(
        posts_id,
        [
            {"id": pid[to_archive], "isArchived": True},
            {"id": pid[to_unarchive], "isArchived": False},
            {"id": pid[to_draft], "isDraft": True},
            {"id": pid[relinked], "fieldData": {"related-posts": [new_post]}},
        ],
    )
    b.update_items(posts_id, [{"id": pid[draft], "fieldData": {"name": "[FR] nouveau"}}], fr)
    b.call("DELETE", f"/collections/{posts_id}/items", json={"items": [{"id": pid[to_delete]}]})

    report = synced.sync()
    assert report.ok, report.summary()
    ops = w.stats(w.target_id)["byOperation"]
    print(f"incremental: {dict(sorted(ops.items()))}")
    assert ops.get("create-asset") == 1 and ops.get("create-collection") == 1
    assert ops.get("create-field") == 1  # subtitle
    assert ops.get("delete-items") == 1 and ops.get("delete-items-live", 0) >= 2
    verify = w.verify()
    assert verify.ok, verify.format_differences(limit=20)
    assert duplicates(w.emu.admin.export_site(w.target_id)) == []

    # only the changed fields were sent for edited items
    target_ids = {
        s: it["id"]
        for s, it in _items_by_slug(w.emu.admin.export_site(w.target_id), "blog-posts")[1].items()
    }
    sent: dict[tuple[str, str], set[str]] = {}
    for e in synced.item_patches():
        sent.setdefault((e["id"], e.get("cmsLocaleId", "")), set()).update(e.get("fieldData") or {})
    by_item: dict[str, set[str]] = {}
    for (tid, _loc), keys in sent.items():
        by_item.setdefault(tid, set()).update(keys)
    assert by_item[target_ids[draft]] == {"summary", "name"}  # en summary, fr name
    assert by_item[target_ids[live_edit]] == {"name", "subtitle", "cover"}
    assert by_item.get(target_ids[to_archive], set()) == set()  # flag only
    assert by_item[target_ids[relinked]] == {"related-posts"}
    untouched = target_ids[slugs[20]]
    assert untouched not in by_item
    assert_source_only_read(w)

    # and the next run writes nothing
    again = synced.sync()
    assert again.ok and w.target_writes() == 0, w.stats(w.target_id)


@pytest.mark.parametrize("mode", ["archive", "keep"])
def test_on_delete_archive_or_keep(synced: Sync, mode: str) -> None:
    w = synced.w
    b = w.builder(w.source_id)
    src = w.emu.admin.export_site(w.source_id)
    cats_id, cats = _items_by_slug(src, "categories")
    b.call(
        "DELETE", f"/collections/{cats_id}/items", json={"items": [{"id": cats["culture"]["id"]}]}
    )
    report = synced.sync(on_delete=mode)
    assert report.ok
    staged = _target_copy(w, "categories", "culture")
    assert staged is not None
    live = _target_copy(w, "categories", "culture", live=True)
    if mode == "archive":
        assert staged["isArchived"] is True and live is None
    else:
        assert staged["isArchived"] is False and live is not None
        assert w.target_writes() == 0
    again = synced.sync(on_delete=mode)
    assert again.ok and w.target_writes() == 0
    assert_source_only_read(w)


def test_target_edits_are_conflicts_unless_overwritten(synced: Sync) -> None:
    w = synced.w
    src_b, tgt_b = w.builder(w.source_id), w.builder(w.target_id)
    cats_id, cats = _items_by_slug(w.emu.admin.export_site(w.source_id), "categories")
    tcats_id, tcats = _items_by_slug(w.emu.admin.export_site(w.target_id), "categories")
    # edited in both: conflict; edited in the source only: updated
    tgt_b.update_items(tcats_id, [{"id": tcats["design"]["id"], "fieldData": {"description": "T"}}])
    src_b.update_items(
        cats_id,
        [
            {"id": cats["design"]["id"], "fieldData": {"description": "S"}},
            {"id": cats["product"]["id"], "fieldData": {"description": "S2"}},
        ],
    )
    dry = None
    synced.extract()
    w.emu.admin.reset_stats()
    dry = synced.migrate(dry_run=True)
    conflict_reads = w.stats(w.target_id)["byOperation"].get("list-collection-items", 0)
    assert conflict_reads == 1  # categories only: the one collection with updates
    assert dry.plan.read_requests == sum(w.stats(w.target_id)["byMethod"].values())
    assert any("categories/design (en-US)" in line for line in dry.plan.conflict_lines())

    w.emu.admin.reset_stats()
    report = synced.migrate()
    assert report.ok
    assert "CONFLICT categories/design (en-US)" in report.summary()
    assert _target_copy(w, "categories", "design")["fieldData"]["description"] == "T"
    assert _target_copy(w, "categories", "product")["fieldData"]["description"] == "S2"
    from destinations.webflow.ledger import close_ledger, open_ledger

    ledger_path = w.staging.with_name("staging.ledger.duckdb")
    rows = [
        r for r in open_ledger(ledger_path).audit_rows(w.target_id) if r["status"] == "conflict"
    ]
    close_ledger(ledger_path)
    assert rows and rows[-1]["locale"] == "en-US"

    # still a conflict next time; --overwrite-target-edits writes the source's value
    assert "CONFLICT" in synced.sync().summary()
    report = synced.sync(overwrite_target_edits=True)
    assert report.ok and "CONFLICT" not in report.summary()
    assert _target_copy(w, "categories", "design")["fieldData"]["description"] == "S"
    assert w.verify().ok
    assert_source_only_read(w)


def test_cli_options_exist(demo_world: World, tmp_path: Path) -> None:
    out = demo_world.cli("--help")
    assert "--on-delete" in out.stdout and "--overwrite-target-edits" in out.stdout
