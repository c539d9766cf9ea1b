"""Item- and file-level bad input: each case ends in a message naming the collection, the item
and the field (audit table + `MigrationReport`), and everything else reaches the target.

All cases share one migration of the hostile world (conftest.py), so each test only reads what
that run left behind."""

from __future__ import annotations

from typing import Any

import pytest

from tests.destination.compare import canonical

from .conftest import DEAD_COVER, EVIL_COVER, EVIL_IMG, GOOD, Hostile

# slug -> (field, status, words of the message)
ITEM_CASES: dict[str, tuple[str, str, str]] = {
    "bad-email": ("email", "rejected", "Expected a valid email address"),
    "bad-color": ("color", "rejected", "Expected a valid color"),
    "bad-link": ("website", "rejected", "Expected a valid URL"),
    "bad-date": ("when", "rejected", "Expected an ISO-8601 date"),
    "number-in-text": ("summary", "rejected", "Expected a string"),
    "text-in-number": ("count", "rejected", "Expected a number"),
    "no-summary": ("summary", "rejected", "Field 'summary' is required"),
    "taken-slug": ("slug", "rejected", "slug 'taken-slug' already exists in the target"),
    "dangling-ref": ("tag", "warning", "referenced items not migrated"),
    "evil-img": ("body", "warning", f"image {EVIL_IMG} is on a host files are not taken from"),
    "evil-cover": ("cover", "warning", f"file {EVIL_COVER} is on a host files are not taken"),
    "dead-cover": ("cover", "warning", "the target could not fetch file"),
}
REJECTED = {s for s, (_f, status, _m) in ITEM_CASES.items() if status == "rejected"}


def _rows_for(h: Hostile, source_id: str) -> list[dict[str, Any]]:
    return [r for r in h.audit() if r["source_id"] == source_id and r["status"] != "ok"]


@pytest.mark.parametrize("slug", sorted(ITEM_CASES))
def test_item_case_names_collection_item_and_field(hostile: Hostile, slug: str) -> None:
    field, status, words = ITEM_CASES[slug]
    rows = _rows_for(hostile, hostile.ids[slug])
    assert [(r["field"], r["status"]) for r in rows] == [(field, status)], rows
    assert words in rows[0]["error"]
    assert rows[0]["collection"] == hostile.collections["posts"]
    # the report the CLI prints names the collection by slug, the item and the field
    line = next(x for x in hostile.report.summary().splitlines() if hostile.ids[slug] in x)
    assert line.startswith("FAILED" if status == "rejected" else "WARNING")
    assert f"collection posts item {hostile.ids[slug]}" in line and f"field {field}:" in line
    listed = hostile.report.failures if status == "rejected" else hostile.report.warnings
    assert hostile.ids[slug] in {r["source_id"] for r in listed}


def test_a_file_the_target_cannot_fetch_is_named_by_its_url(hostile: Hostile) -> None:
    """Found in the create's answer (no download, no request): the url and what became of it."""
    (row,) = _rows_for(hostile, hostile.ids["dead-cover"])
    url = f"{hostile.m.emulator.root_url}/_cdn/{hostile.m.sites.source_id}/{DEAD_COVER}"
    assert row["operation"] == "create-items"
    assert row["error"] == f"the target could not fetch file {url}; the field was left empty"
    assert "cover" not in hostile.target_items("posts")["dead-cover"]


def test_everything_else_reached_the_target(hostile: Hostile) -> None:
    """Every source item is in the target or in the report; good values arrive unchanged."""
    posts = hostile.target_items("posts")
    source_slugs = (
        set(GOOD) | set(ITEM_CASES) | {"archived-ref", "control-chars", "bad-utf8", "huge-rich"}
    )
    assert set(posts) == (source_slugs - REJECTED) | {"taken-slug"}
    assert posts["taken-slug"]["name"] == "Someone else"  # never overwritten
    reported = {r["source_id"] for r in hostile.report.failures}
    assert {hostile.ids[s] for s in REJECTED} <= reported
    src = canonical(hostile.source)
    tgt = canonical(hostile.target)
    for slug in [*GOOD, "archived-ref", "control-chars", "huge-rich"]:
        assert (
            tgt["collections"]["posts"]["items"][slug] == src["collections"]["posts"]["items"][slug]
        ), slug
    assert set(hostile.target_items("tags")) == {"tag-a", "shelved"}
    assert set(hostile.target_items("collections")) == {"clash"}


def test_reference_to_an_archived_item_is_kept(hostile: Hostile) -> None:
    tags = {c["slug"]: c for c in hostile.target["collections"]}["tags"]
    shelved = next(
        i
        for i in tags["items"]
        if next(iter(i["locales"].values()))["staged"]["fieldData"]["slug"] == "shelved"
    )
    assert hostile.target_items("posts")["archived-ref"]["tag"] == shelved["id"]
    assert _rows_for(hostile, hostile.ids["archived-ref"]) == []


def test_control_characters_travel_unchanged(hostile: Hostile) -> None:
    value = hostile.target_items("posts")["control-chars"]["summary"]
    assert value == "bell\x07 nul\x00 esc\x1b[31m end"


def test_text_that_is_not_utf8_is_replaced_and_logged(
    hostile: Hostile, caplog: pytest.LogCaptureFixture
) -> None:
    """Lone surrogates crashed the whole extraction (`str is not valid UTF-8`); now the value
    gets U+FFFD and the source logs the collection, item and field."""
    assert hostile.target_items("posts")["bad-utf8"]["summary"] == "broken \ufffd\ufffd bytes"
    assert f"item {hostile.ids['bad-utf8']} field summary: text is not valid UTF-8" in (
        hostile.extract_log
    )


def test_huge_rich_text_migrates(hostile: Hostile) -> None:
    assert len(hostile.target_items("posts")["huge-rich"]["body"]) > 2_000_000


def test_collection_slug_that_clashes_with_a_staging_table(hostile: Hostile) -> None:
    """`collections` is also a table of the source: its items go to `collections_items`."""
    import duckdb

    con = duckdb.connect(str(hostile.m.staging))
    try:
        (n,) = con.execute("select count(*) from webflow.collections_items").fetchone()
    finally:
        con.close()
    assert n == 1
    assert set(hostile.target_items("collections")) == {"clash"}


# asset name -> (field, status, words)
ASSET_CASES: dict[str, tuple[str, str, str]] = {
    "big.png": ("file", "rejected", "target's file storage refused 'big.png' (5243"),
    "evil.exe": ("fileName", "rejected", "target refused 'evil.exe': Unsupported file type"),
    "gone.png": ("file", "rejected", "'gone.png' could not be read from the source (HTTP 404)"),
    "passwd.png": ("fileName", "warning", "'../../etc/passwd.png' uploaded as 'passwd.png'"),
    "abs.png": ("fileName", "warning", "'/tmp/abs.png' uploaded as 'abs.png'"),
    "shifty.png": ("fileHash", "rejected", "bytes of 'shifty.png' do not match the MD5"),
}


@pytest.mark.parametrize("name", sorted(ASSET_CASES))
def test_asset_case_names_the_file_and_the_reason(hostile: Hostile, name: str) -> None:
    field, status, words = ASSET_CASES[name]
    rows = _rows_for(hostile, hostile.ids[name])
    assert [(r["field"], r["status"]) for r in rows] == [(field, status)], rows
    assert words in rows[0]["error"]
    line = next(x for x in hostile.report.summary().splitlines() if hostile.ids[name] in x)
    assert f"asset {hostile.ids[name]} field {field}:" in line


def test_corrupted_store_file_is_fetched_again_and_uploaded_right(hostile: Hostile) -> None:
    """The local copy's bytes no longer match the MD5: the file is downloaded again from the
    source, and the target gets the right bytes (never the corrupted ones)."""
    src = {a["originalFileName"]: a["md5"] for a in hostile.source["assets"]}
    tgt = {a["originalFileName"]: a["md5"] for a in hostile.target["assets"]}
    assert tgt["corrupt.png"] == src["corrupt.png"]
    assert "corrupt.png' does not match its MD5" in hostile.extract_log + hostile.load_log


def test_good_and_sanitised_assets_reached_the_target(hostile: Hostile) -> None:
    names = sorted(a["originalFileName"] for a in hostile.target["assets"])
    assert names == ["abs.png", "corrupt.png", "good.png", "passwd.png"]
