"""Rejected items end in the audit table with their reason; everything else migrates."""

from __future__ import annotations

import duckdb
import pytest

from destinations.webflow import MissingScopeError, SchemaMismatchError

from .compare import canonical, differences
from .conftest import KINDS, Migrator, posts_fields, tags_fields, target_builder


def _audit(m: Migrator, status: str) -> list[dict]:
    con = duckdb.connect(str(m.tmp_path / "staging.ledger.duckdb"))
    try:
        cur = con.execute("select * from audit where status = ?", [status])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def test_small_world_migrates_exactly(small: Migrator) -> None:
    report = small.migrate()
    assert report.ok, report.summary()
    src = small.emulator.admin.export_site(small.sites.source_id)
    tgt = small.emulator.admin.export_site(small.sites.target_id)
    assert differences(src, tgt) == []
    # one shared image, used by every post: one upload per distinct file
    assert small.target_stats()["byOperation"]["create-asset"] == 2


def test_slug_taken_in_target_is_rejected_and_the_rest_migrates(small: Migrator) -> None:
    b = target_builder(small)
    tags = b.create_collection("Tags", "Tag", "tags", tags_fields())
    b.create_items(tags["id"], [{"name": "Someone else", "slug": "tag-2"}])
    report = small.migrate()
    assert not report.ok
    rejected = _audit(small, "rejected")
    assert len(rejected) == 1
    assert rejected[0]["field"] == "slug" and "tag-2" in rejected[0]["error"]
    assert [f["source_id"] for f in report.failures] == [rejected[0]["source_id"]]
    tgt = canonical(small.emulator.admin.export_site(small.sites.target_id))["collections"]
    assert tgt["tags"]["items"]["tag-2"]["en-US"]["staged"]["name"] == "Someone else"
    assert len(tgt["posts"]["items"]) == 8
    assert set(tgt["tags"]["items"]) == {"tag-1", "tag-2", "tag-3"}
    # posts pointing at the rejected tag keep every other value
    assert tgt["posts"]["items"]["post-0"]["en-US"]["staged"]["tag"] == "tag-1"


def test_a_400_in_a_bulk_create_rejects_only_the_offending_item(small: Migrator) -> None:
    """The target requires a description that one source tag lacks: the bulk create gets a 400
    naming the field; that item is recorded, the others are created with one more request."""
    b = target_builder(small)
    fields = [dict(tags_fields()[0], isRequired=True)]
    b.create_collection("Tags", "Tag", "tags", fields)
    report = small.migrate()
    rejected = _audit(small, "rejected")
    assert [(r["field"], r["http_status"]) for r in rejected] == [("description", 400)]
    assert "required" in rejected[0]["error"]
    assert small.target_stats()["byOperation"]["create-items"] == 3  # tags 400 + retry, posts
    tgt = canonical(small.emulator.admin.export_site(small.sites.target_id))["collections"]
    assert set(tgt["tags"]["items"]) == {"tag-1", "tag-3"}
    assert len(tgt["posts"]["items"]) == 8
    assert len(report.failures) == 1


def test_missing_option_is_an_error_before_any_write(small: Migrator) -> None:
    b = target_builder(small)
    tags = b.create_collection("Tags", "Tag", "tags", tags_fields())
    b.create_collection("Posts", "Post", "posts", posts_fields(tags["id"], KINDS[:2]))
    small.emulator.admin.reset_stats()
    with pytest.raises(SchemaMismatchError, match="Gamma"):
        small.migrate()
    assert small.writes() == 0


def test_missing_scope_stops_the_run_naming_it(small: Migrator) -> None:
    token = small.emulator.admin.mint_token(
        [small.sites.target_id], scopes=["sites:read", "cms:read", "cms:write", "assets:read"]
    )
    small.sites.target_token = token
    with pytest.raises(MissingScopeError, match="assets:write"):
        small.migrate()
