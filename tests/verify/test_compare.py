"""The comparison rules of verify as pure functions over API-shaped dicts (no HTTP)."""

from __future__ import annotations

import hashlib
from typing import Any

from pipelines.verify import (
    FileHasher,
    SiteSnapshot,
    _list_items,
    build_index,
    compare_snapshots,
    excerpt_pair,
    match_fields,
    normalise_rich_text,
    normalise_value,
)

FILES = {
    "https://cdn.prod.website-files.com/a.png": b"A",
    "https://cdn.prod.website-files.com/b.png": b"B",
}


def hasher(files: dict[str, bytes] = FILES) -> FileHasher:
    def md5(url: str) -> str:
        return hashlib.md5(files[url]).hexdigest()

    return FileHasher(md5, lambda url: url.startswith("https://cdn.prod.website-files.com/"))


def snapshot(items: list[dict[str, Any]], live: list[dict[str, Any]] | None = None) -> SiteSnapshot:
    site = {"locales": {"primary": {"cmsLocaleId": "L1", "tag": "en-US"}, "secondary": []}}
    fields = [
        {
            "id": "f1",
            "slug": "name",
            "type": "PlainText",
            "displayName": "Name",
            "isRequired": True,
        },
        {
            "id": "f2",
            "slug": "slug",
            "type": "PlainText",
            "displayName": "Slug",
            "isRequired": True,
        },
        {"id": "f3", "slug": "when", "type": "DateTime", "displayName": "When"},
        {"id": "f4", "slug": "n", "type": "Number", "displayName": "N"},
    ]
    col = {"id": "c1", "slug": "things", "displayName": "Things", "fields": fields}
    return SiteSnapshot(site=site, collections=[col], staged={"c1": items}, live={"c1": live or []})


def item(slug: str, **data: Any) -> dict[str, Any]:
    return {
        "id": f"id-{slug}",
        "cmsLocaleId": "L1",
        "fieldData": {"name": slug, "slug": slug, **data},
    }


def test_datetime_compared_as_instant_and_numbers_as_values() -> None:
    src = snapshot([item("a", when="2025-01-01T09:30:00.000Z", n=3)])
    tgt = snapshot([item("a", when="2025-01-01T10:30:00+01:00", n=3.0)])
    assert compare_snapshots(src, tgt, hasher(), hasher(), assets=False).ok


def test_empty_values_are_equal() -> None:
    src = snapshot([item("a", n=None)])
    tgt = snapshot([item("a", when="")])
    assert compare_snapshots(src, tgt, hasher(), hasher(), assets=False).ok


def test_files_compared_by_md5_not_url() -> None:
    index = build_index(snapshot([]), hasher())
    image = {"type": "Image"}
    a = normalise_value(
        image,
        {"fileId": "x", "url": "https://cdn.prod.website-files.com/a.png", "alt": ""},
        index,
        "en-US",
    )
    assert a == {"file": "md5:" + hashlib.md5(b"A").hexdigest(), "alt": None}


def test_rich_text_file_urls_replaced_other_links_kept() -> None:
    files = hasher()
    html = (
        '<img src="https://cdn.prod.website-files.com/a.png"><a href="https://example.com/">x</a>'
    )
    out = normalise_rich_text(html, files)
    assert hashlib.md5(b"A").hexdigest() in out and 'href="https://example.com/"' in out


def test_hasher_fetches_each_url_once_and_records_failures() -> None:
    calls: list[str] = []

    def md5(url: str) -> str:
        calls.append(url)
        if "missing" in url:
            raise FileNotFoundError(url)
        return "0" * 32

    files = FileHasher(md5, lambda url: True)
    files.prefetch(["u1", "u1", "u2", "missing"])
    assert files.md5("u1") == "md5:" + "0" * 32
    assert files.md5("missing") == "unavailable:FileNotFoundError:missing"
    assert sorted(calls) == ["missing", "u1", "u2"] and files.downloads == 3
    assert len(files.failures) == 1


def test_fields_matched_by_slug_then_display_name_and_type() -> None:
    src = [{"slug": "body", "displayName": "Body", "type": "RichText"}]
    tgt = [{"slug": "body-1", "displayName": "Body", "type": "RichText"}]
    pairs, missing, extra = match_fields(src, tgt)
    assert len(pairs) == 1 and not missing and not extra


def test_excerpt_shows_the_first_difference() -> None:
    a = "x" * 500 + "AAA" + "y" * 500
    b = "x" * 500 + "BBB" + "y" * 500
    sa, sb = excerpt_pair(a, b, 60)
    assert "AAA" in sa and "BBB" in sb and len(sa) < 80


class PagingClient:
    """A fake client listing 150 items in 2 locales, paging by entry or by item."""

    def __init__(self, by_item: bool) -> None:
        self.by_item = by_item
        self.calls = 0
        self.entries = [
            {"id": f"i{n}", "cmsLocaleId": loc, "fieldData": {"slug": f"s{n}"}}
            for n in range(150)
            for loc in ("L1", "L2")
        ]

    def get(self, path: str, params: dict[str, Any], operation: str) -> dict[str, Any]:
        self.calls += 1
        assert params["cmsLocaleId"] == "L1,L2" and params["limit"] == 100
        off, lim = params["offset"], params["limit"]
        if self.by_item:  # offset/limit count items; a page holds every locale of them
            page = self.entries[2 * off : 2 * (off + lim)]
            return {"items": page, "pagination": {"offset": off, "limit": lim, "total": 150}}
        page = self.entries[off : off + lim]
        return {"items": page, "pagination": {"offset": off, "limit": lim, "total": 300}}


def test_one_listing_for_all_locales_whatever_offset_counts() -> None:
    for by_item, calls in ((False, 3), (True, 2)):
        client = PagingClient(by_item)
        items = _list_items(client, "c1", False, ["L1", "L2"])
        assert [(i["id"], i["cmsLocaleId"]) for i in items] == [
            (e["id"], e["cmsLocaleId"]) for e in client.entries
        ]
        assert client.calls == calls


def test_missing_locale_reported_once_not_per_item() -> None:
    src = snapshot([item("a"), {**item("a"), "cmsLocaleId": "L2"}])
    src.site["locales"]["secondary"] = [{"cmsLocaleId": "L2", "tag": "fr-FR"}]
    tgt = snapshot([item("a")])
    report = compare_snapshots(src, tgt, hasher(), hasher(), assets=False)
    assert [(d.kind, d.what, d.locale) for d in report.differences] == [
        ("locale", "missing", "fr-FR")
    ]
