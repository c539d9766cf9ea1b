"""verify over real HTTP: two sites built identically match; each kind of break is reported
exactly, and verify only ever reads."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from verify_world import NOTES, POSTS, BuiltSite, build_site

import pipelines.verify as verify_module
from pipelines.verify import Difference, SiteRef, VerifyReport, main, verify_sites

READ_SCOPES = ["sites:read", "cms:read", "assets:read"]


@pytest.fixture
def sites(emulator: Any) -> tuple[BuiltSite, BuiltSite]:
    """Source and target built the same way: what a perfect migration leaves behind."""
    return build_site(emulator, "Source"), build_site(emulator, "Target")


@pytest.fixture
def reset_after(emulator: Any) -> Iterator[None]:
    """Leaves no rate limit or fault config behind for tests that use the shared server as is."""
    yield
    emulator.admin.reset()


def ref(emulator: Any, site: BuiltSite) -> SiteRef:
    """A read-only-scoped token: verify needs no write scope."""
    token = emulator.admin.mint_token([site.site_id], scopes=READ_SCOPES)
    return SiteRef(base_url=emulator.base_url, token=token, site_id=site.site_id)


def verify(emulator: Any, src: BuiltSite, tgt: BuiltSite, **kwargs: Any) -> VerifyReport:
    return verify_sites(ref(emulator, src), ref(emulator, tgt), requests_per_minute=None, **kwargs)


def keys(report: VerifyReport) -> set[tuple[Any, ...]]:
    """(kind, what, collection, item, locale, field) of every difference."""
    return {(d.kind, d.what, d.collection, d.item, d.locale, d.field) for d in report.differences}


def only(report: VerifyReport) -> Difference:
    assert len(report.differences) == 1, report.format_differences()
    return report.differences[0]


def posts(site: BuiltSite) -> str:
    return site.collections["blog-posts"]


def patch(site: BuiltSite, slug: str, field_data: dict[str, Any], **flags: Any) -> None:
    site.builder.update_items(
        posts(site), [{"id": site.item("blog-posts", slug), "fieldData": field_data, **flags}]
    )


def publish_primary(site: BuiltSite, slug: str) -> None:
    site.builder.call(
        "POST",
        f"/collections/{posts(site)}/items/publish",
        json={"itemIds": [site.item("blog-posts", slug)]},
    )


# -- identical sites ---------------------------------------------------------------------------


def test_identical_sites_match(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    report = verify(emulator, src, tgt)
    assert report.ok, report.format()
    rows = {c.collection: c for c in report.collections}
    assert set(rows) == {"categories", "authors", "blog-posts", "notes"}
    assert rows["blog-posts"].source_items == rows["blog-posts"].target_items == len(POSTS) * 2
    assert rows["notes"].source_items == NOTES * 2
    assert report.source_assets == report.target_assets == 7
    # per site: get-site, list-collections, 4 x collection-details, staged and live listings
    # (notes has 110 item x locale entries: 2 pages each), list-asset-folders, list-assets
    per_site = 1 + 1 + 4 + (3 + 2) * 2 + 1 + 1
    assert report.requests == {"source": per_site, "target": per_site, "total": 2 * per_site}
    ops = report.requests_by_operation["source"]
    assert ops["list-collection-items"] == ops["list-collection-items-live"] == 5
    # every distinct file once: 7 assets + CMS files re-hosted per item value
    assert report.downloads["source"] == report.downloads["target"] > 7
    assert "OK" in report.format()


def test_verify_only_reads(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    src_ref, tgt_ref = ref(emulator, src), ref(emulator, tgt)
    emulator.admin.reset_stats()
    report = verify_sites(src_ref, tgt_ref, requests_per_minute=None)
    stats = emulator.admin.stats()
    assert report.ok
    assert set(stats["byMethod"]) == {"GET"}
    assert stats["total"] == report.requests["total"]
    assert not {op for op in stats["byOperation"] if op.startswith(("create", "update", "delete"))}
    # files are fetched from the CDN once per URL, outside the API's rate limit
    downloads = report.downloads["source"] + report.downloads["target"]
    assert stats["external"]["cdn-download"] == downloads


def test_same_site_against_itself_with_demo_seed(emulator: Any) -> None:
    world = emulator.admin.seed("demo")
    source = SiteRef(emulator.base_url, world["source"]["token"], world["source"]["siteId"])
    report = verify_sites(source, source, requests_per_minute=None)
    assert report.ok, report.format()
    assert sum(c.source_items for c in report.collections) == world["counts"]["itemLocales"]


# -- items ---------------------------------------------------------------------------------------


def test_missing_item(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    tgt.builder.call(
        "DELETE", f"/collections/{posts(tgt)}/items/{tgt.item('blog-posts', 'a-draft')}"
    )
    report = verify(emulator, src, tgt)
    assert keys(report) == {
        ("item", "missing", "blog-posts", "a-draft", "en-US", None),
        ("item", "missing", "blog-posts", "a-draft", "fr-FR", None),
    }
    row = next(c for c in report.collections if c.collection == "blog-posts")
    assert (row.missing, row.extra, row.target_items) == (2, 0, len(POSTS) * 2 - 2)


def test_extra_item(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    tgt.builder.create_items(posts(tgt), [{"name": "Extra", "slug": "extra"}], all_locales=False)
    report = verify(emulator, src, tgt)
    assert keys(report) == {("item", "extra", "blog-posts", "extra", "en-US", None)}


def test_missing_locale_translation(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    item = tgt.item("blog-posts", "published-one")
    tgt.builder.call(
        "DELETE", f"/collections/{posts(tgt)}/items/{item}", params={"cmsLocaleId": tgt.fr}
    )
    report = verify(emulator, src, tgt)
    assert keys(report) == {("item", "missing", "blog-posts", "published-one", "fr-FR", None)}


def test_untranslated_text(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    # the French name left in English, staged and live (update-items-live publishes it)
    tgt.builder.call(
        "PATCH",
        f"/collections/{tgt.collections['categories']}/items/live",
        json={
            "items": [
                {
                    "id": tgt.item("categories", "engineering"),
                    "cmsLocaleId": tgt.fr,
                    "fieldData": {"name": "Engineering"},
                }
            ]
        },
    )
    report = verify(emulator, src, tgt)
    assert keys(report) == {
        ("value", "staged", "categories", "engineering", "fr-FR", "name"),
        ("live-value", "live", "categories", "engineering", "fr-FR", "name"),
    }
    assert {(d.source, d.target) for d in report.differences} == {("Ingénierie", "Engineering")}


def test_staged_edit_of_published_item(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    patch(tgt, "published-two", {"summary": "Edited in the target."})
    report = verify(emulator, src, tgt)
    # the staged value differs, and the target now has unpublished changes the source has not
    assert keys(report) == {
        ("value", "staged", "blog-posts", "published-two", "en-US", "summary"),
        ("state", "publishedWithChanges", "blog-posts", "published-two", "en-US", None),
    }
    row = next(c for c in report.collections if c.collection == "blog-posts")
    assert (row.different_values, row.different_states) == (1, 1)


# -- values --------------------------------------------------------------------------------------


def test_changed_value(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    patch(tgt, "a-draft", {"summary": "Something else."})
    d = only(verify(emulator, src, tgt))
    assert (d.kind, d.item, d.locale, d.field) == ("value", "a-draft", "en-US", "summary")
    assert (d.source, d.target) == ("Summary 2.", "Something else.")


def test_different_option(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    patch(tgt, "a-draft", {"kind": tgt.kinds["Article"]})
    d = only(verify(emulator, src, tgt))
    assert (d.kind, d.item, d.field, d.source, d.target) == (
        "value",
        "a-draft",
        "kind",
        "News",
        "Article",
    )


def test_reference_to_another_item(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    patch(tgt, "a-draft", {"author": tgt.item("authors", "alan")})
    d = only(verify(emulator, src, tgt))
    assert (d.kind, d.item, d.field, d.source, d.target) == (
        "value",
        "a-draft",
        "author",
        "ada",
        "alan",
    )


def test_multireference_order_matters(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    ids = tgt.items["categories"]
    patch(tgt, "another-draft", {"categories": [ids["design"], ids["engineering"]]})
    d = only(verify(emulator, src, tgt))
    assert (d.field, d.source, d.target) == (
        "categories",
        ["engineering", "design"],
        ["design", "engineering"],
    )


def test_image_with_different_bytes(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    patch(tgt, "a-draft", {"cover": {"url": tgt.assets["other.png"]["hostedUrl"], "alt": "C2"}})
    d = only(verify(emulator, src, tgt))
    assert (d.kind, d.item, d.field) == ("value", "a-draft", "cover")
    assert d.source["alt"] == d.target["alt"] == "C2"
    assert d.source["file"] != d.target["file"]
    assert d.source["file"].startswith("md5:")


def test_image_with_different_alt(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    # same bytes (cover-3 re-hosted as a new file of the target): only the alt text differs
    patch(tgt, "a-draft", {"cover": {"url": tgt.assets["cover-3.png"]["hostedUrl"], "alt": "Oops"}})
    d = only(verify(emulator, src, tgt))
    assert (d.field, d.source["alt"], d.target["alt"]) == ("cover", "C2", "Oops")
    assert d.source["file"] == d.target["file"]


def test_rich_text_image_with_different_bytes(
    emulator: Any, sites: tuple[BuiltSite, BuiltSite]
) -> None:
    src, tgt = sites
    item = next(
        i
        for i in tgt.builder.call("GET", f"/collections/{posts(tgt)}/items")["items"]
        if i["fieldData"]["slug"] == "a-draft"
    )
    body = item["fieldData"]["body"].replace(
        tgt.assets["diagram.png"]["hostedUrl"], tgt.assets["other.png"]["hostedUrl"]
    )
    patch(tgt, "a-draft", {"body": body})
    d = only(verify(emulator, src, tgt))
    assert (d.kind, d.item, d.field) == ("value", "a-draft", "body")
    assert "md5:" in d.source and "md5:" in d.target and d.source != d.target
    assert "example.com/x" in d.target  # links that are not files are compared as text


def test_gallery_image_alt(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    gallery = [
        {"url": tgt.assets["cover-2.png"]["hostedUrl"], "alt": "G1"},
        {"url": tgt.assets["cover-3.png"]["hostedUrl"], "alt": "changed"},
    ]
    patch(tgt, "queued-one", {"gallery": gallery})
    d = only(verify(emulator, src, tgt))
    assert (d.item, d.field) == ("queued-one", "gallery")
    assert [g["alt"] for g in d.target] == ["G1", "changed"]


# -- states --------------------------------------------------------------------------------------


def test_draft_published_in_target(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    publish_primary(tgt, "a-draft")
    report = verify(emulator, src, tgt)
    assert keys(report) == {
        ("state", "isDraft", "blog-posts", "a-draft", "en-US", None),
        ("state", "published", "blog-posts", "a-draft", "en-US", None),
    }
    by_what = {d.what: (d.source, d.target) for d in report.differences}
    assert by_what == {"isDraft": (True, False), "published": (False, True)}
    row = next(c for c in report.collections if c.collection == "blog-posts")
    assert (row.different_states, row.different_values) == (1, 0)


def test_archived_in_target(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    patch(tgt, "published-two", {}, isArchived=True)
    d = only(verify(emulator, src, tgt))
    assert (d.kind, d.what, d.item, d.source, d.target) == (
        "state",
        "isArchived",
        "published-two",
        False,
        True,
    )


def test_unpublished_changes_not_reproduced(
    emulator: Any, sites: tuple[BuiltSite, BuiltSite]
) -> None:
    src, tgt = sites
    publish_primary(tgt, "changed-after-publish")  # target's live copy now shows the edit
    report = verify(emulator, src, tgt)
    assert keys(report) == {
        ("live-value", "live", "blog-posts", "changed-after-publish", "en-US", "summary"),
        ("state", "publishedWithChanges", "blog-posts", "changed-after-publish", "en-US", None),
    }
    live = next(d for d in report.differences if d.kind == "live-value")
    assert (live.source, live.target) == ("Summary 4.", "Edited after publishing.")


def test_unpublished_in_target(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    item = tgt.item("blog-posts", "published-one")
    tgt.builder.call("DELETE", f"/collections/{posts(tgt)}/items/{item}/live")
    report = verify(emulator, src, tgt)
    # unpublishing also makes the item a draft (WEBFLOW_API.md 4.2)
    assert keys(report) == {
        ("state", "published", "blog-posts", "published-one", "en-US", None),
        ("state", "isDraft", "blog-posts", "published-one", "en-US", None),
    }


# -- schema --------------------------------------------------------------------------------------


def test_missing_field(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    video = next(f for f in tgt.builder.collection(posts(tgt))["fields"] if f["slug"] == "video")
    tgt.builder.call("DELETE", f"/collections/{posts(tgt)}/fields/{video['id']}")
    d = only(verify(emulator, src, tgt))  # reported once, not once per item
    assert (d.kind, d.what, d.collection, d.field) == ("field", "missing", "blog-posts", "video")


def test_field_required_flag(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    summary = next(
        f for f in tgt.builder.collection(posts(tgt))["fields"] if f["slug"] == "summary"
    )
    tgt.builder.call(
        "PATCH", f"/collections/{posts(tgt)}/fields/{summary['id']}", json={"isRequired": True}
    )
    d = only(verify(emulator, src, tgt))
    assert (d.kind, d.what, d.field, d.source, d.target) == (
        "field",
        "isRequired",
        "summary",
        False,
        True,
    )


def test_missing_collection_and_filter(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    tgt.builder.call("DELETE", f"/collections/{tgt.collections['notes']}")
    report = verify(emulator, src, tgt)
    assert keys(report) == {("collection", "missing", "notes", None, None, None)}
    row = next(c for c in report.collections if c.collection == "notes")
    assert (row.source_items, row.target_items, row.missing) == (NOTES * 2, 0, NOTES * 2)
    # only the wanted collections are read and compared (references still resolve)
    narrow = verify(emulator, src, tgt, collections=["blog-posts"], assets=False)
    assert narrow.ok, narrow.format()
    assert [c.collection for c in narrow.collections] == ["blog-posts"]


# -- assets --------------------------------------------------------------------------------------


def test_missing_asset(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    tgt.builder.call("DELETE", f"/assets/{tgt.assets['logo.png']['id']}")
    report = verify(emulator, src, tgt)
    d = only(report)
    assert (d.kind, d.what, d.item) == ("asset", "missing", "Acme logo")
    assert (report.source_assets, report.target_assets) == (7, 6)


def test_asset_alt_text(emulator: Any, sites: tuple[BuiltSite, BuiltSite]) -> None:
    src, tgt = sites
    tgt.builder.call("PATCH", f"/assets/{tgt.assets['diagram.png']['id']}", json={"altText": "X"})
    d = only(verify(emulator, src, tgt))
    assert (d.kind, d.what, d.item, d.source, d.target) == (
        "asset",
        "altText",
        "diagram.png",
        "Diagram",
        "X",
    )


def test_asset_with_different_bytes(emulator: Any) -> None:
    src = build_site(emulator, "Source")
    tgt = build_site(emulator, "Target", extra_bytes=b"\0")
    report = verify(emulator, src, tgt)
    assert {(d.kind, d.what, d.item) for d in report.differences} == {
        ("asset", "missing", "other.png"),
        ("asset", "extra", "other.png"),
    }


def test_asset_folder_mismatch(emulator: Any) -> None:
    src = build_site(emulator, "Source")
    tgt = build_site(emulator, "Target", logo_folder="Documents")
    tgt.builder.create_folder("Extra", tgt.folders["Images"])
    report = verify(emulator, src, tgt)
    assert {(d.kind, d.what, d.item) for d in report.differences} == {
        ("asset", "folder", "Acme logo"),
        ("folder", "extra", "Images/Extra"),
    }
    moved = next(d for d in report.differences if d.kind == "asset")
    assert (moved.source, moved.target) == ("(root)", "Documents")


# -- command line --------------------------------------------------------------------------------


def test_cli_exit_codes_and_tokens_from_env(
    emulator: Any,
    sites: tuple[BuiltSite, BuiltSite],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    src, tgt = sites
    src_ref, tgt_ref = ref(emulator, src), ref(emulator, tgt)
    monkeypatch.setenv("DLT_PROJECT_DIR", os.getcwd())
    monkeypatch.setenv("SOURCES__WEBFLOW__API_TOKEN", src_ref.token)
    monkeypatch.setenv("DESTINATION__WEBFLOW__API_TOKEN", tgt_ref.token)
    monkeypatch.setenv("SOURCES__WEBFLOW__BASE_URL", emulator.base_url)
    monkeypatch.setenv("DESTINATION__WEBFLOW__BASE_URL", emulator.base_url)
    monkeypatch.setenv("SOURCES__WEBFLOW__REQUESTS_PER_MINUTE", "6000")
    argv = ["--source-site", src.site_id, "--target-site", tgt.site_id]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "blog-posts" in out and "OK" in out and "API requests" in out
    patch(tgt, "a-draft", {"summary": "Changed."})
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "summary" in out and "Changed." in out and "FAILED" in out
    assert src_ref.token not in out and tgt_ref.token not in out
    with pytest.raises(SystemExit):
        main([*argv, "--token", "x"])  # there is no way to pass a token on the command line
    capsys.readouterr()
    # the full report as JSON
    out_file = tmp_path / "report.json"
    assert main([*argv, "--json", str(out_file)]) == 1
    saved = json.loads(out_file.read_text())
    assert saved["ok"] is False and saved["differences"][0]["field"] == "summary"
    assert src_ref.token not in out_file.read_text()
    # exit 2 when verify cannot run: a rejected token (never echoed), or no token at all
    monkeypatch.setenv("DESTINATION__WEBFLOW__API_TOKEN", "not-a-valid-token")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "not-a-valid-token" not in err and "401" in err
    real_secret = verify_module._secret
    monkeypatch.setattr(  # as if neither the env nor .dlt/secrets.toml had a target token
        verify_module,
        "_secret",
        lambda key: None if key.startswith("destination.") else real_secret(key),
    )
    assert main(argv) == 2
    assert "DESTINATION__WEBFLOW__API_TOKEN" in capsys.readouterr().err


# -- robustness ----------------------------------------------------------------------------------


def test_verify_paces_under_the_rate_limit(
    emulator: Any, sites: tuple[BuiltSite, BuiltSite], reset_after: None
) -> None:
    src, tgt = sites
    src_ref, tgt_ref = ref(emulator, src), ref(emulator, tgt)
    # 10 requests per "minute", a minute lasting one real second
    emulator.admin.configure(rateLimit=10, timeScale=60.0)
    emulator.admin.reset_stats()
    report = verify_sites(src_ref, tgt_ref, requests_per_minute=10, window_seconds=1.0)
    assert report.ok, report.format()
    stats = emulator.admin.stats()
    # every 429 (if any) is retried; the report counts what was really sent
    assert stats["total"] == report.requests["total"]
    assert report.requests["total"] - stats["rateLimited"] == 36


def test_verify_survives_server_errors(
    emulator: Any, sites: tuple[BuiltSite, BuiltSite], reset_after: None
) -> None:
    src, tgt = sites
    src_ref, tgt_ref = ref(emulator, src), ref(emulator, tgt)
    emulator.admin.configure(faults={"seed": 7, "errorRate": 0.2, "resetRate": 0.05})
    report = verify_sites(
        src_ref,
        tgt_ref,
        requests_per_minute=None,
        client_options={"backoff_base": 0.01, "backoff_max": 0.05, "max_attempts": 10},
    )
    assert report.ok, report.format()
    assert report.requests["total"] > 36  # the retries are counted


def test_files_that_cannot_be_read_never_match(
    emulator: Any, sites: tuple[BuiltSite, BuiltSite]
) -> None:
    src, tgt = sites
    report = verify(emulator, src, tgt, max_file_bytes=64)  # every file is over the cap
    assert not report.ok
    assert report.warnings and all("refused" in w for w in report.warnings)
    asset = next(d for d in report.differences if d.kind == "asset")
    assert asset.source["file"].startswith("unavailable:DownloadRefusedError")
