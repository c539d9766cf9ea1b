"""Items: validation, locales, the status model of WEBFLOW_API.md 4.2, listing."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import pytest

from webflow_emulator.util import iso_ms

from .conftest import Api, World

MISSING = "0123456789abcdef01234567"


@pytest.fixture
def posts(world: World) -> dict[str, Any]:
    authors = world.collection("Authors")
    author = world.api.ok(
        "POST",
        f"/collections/{authors['id']}/items",
        json={"fieldData": {"name": "Ann", "slug": "ann"}},
        status=202,
    )
    coll = world.collection(
        "Posts",
        [
            {"type": "PlainText", "displayName": "Summary"},
            {"type": "Email", "displayName": "Contact"},
            {"type": "Color", "displayName": "Tint"},
            {"type": "Number", "displayName": "Score"},
            {"type": "Switch", "displayName": "Featured"},
            {"type": "DateTime", "displayName": "Date"},
            {"type": "Link", "displayName": "Website"},
            {
                "type": "Option",
                "displayName": "Kind",
                "metadata": {"options": [{"name": "A"}, {"name": "B"}]},
            },
            {
                "type": "Reference",
                "displayName": "Author",
                "metadata": {"collectionId": authors["id"]},
            },
            {
                "type": "MultiReference",
                "displayName": "Others",
                "metadata": {"collectionId": authors["id"]},
            },
        ],
    )
    kind = next(f for f in coll["fields"] if f["slug"] == "kind")
    return {
        "id": coll["id"],
        "path": f"/collections/{coll['id']}/items",
        "options": {o["name"]: o["id"] for o in kind["validations"]["options"]},
        "author": author["id"],
        "authors": authors["id"],
    }


def create(api: Api, posts: dict[str, Any], **field_data: Any) -> dict[str, Any]:
    return api.ok("POST", posts["path"], json={"fieldData": field_data}, status=202)


def test_create_item_shape_and_values(api: Api, posts: dict[str, Any], world: World) -> None:
    item = create(
        api,
        posts,
        name="Hello",
        slug="hello",
        summary="s",
        contact="a@b.co",
        tint="#ff0000",
        score=4.5,
        featured=True,
        date="2024-05-01T10:00:00+02:00",
        website="https://x.io",
        kind=posts["options"]["A"],
        author=posts["author"],
        others=[posts["author"]],
    )
    assert set(item) == {
        "id",
        "cmsLocaleId",
        "lastPublished",
        "lastUpdated",
        "createdOn",
        "isArchived",
        "isDraft",
        "fieldData",
    }
    assert item["cmsLocaleId"] == world.en
    assert item["isDraft"] is True and item["isArchived"] is False
    assert item["lastPublished"] is None
    assert item["createdOn"].endswith("Z") and len(item["createdOn"]) == 24
    assert item["fieldData"]["date"] == "2024-05-01T08:00:00.000Z"
    got = api.ok("GET", f"{posts['path']}/{item['id']}")
    assert got == item


@pytest.mark.parametrize(
    ("field_data", "param"),
    [
        ({"summary": 5}, "summary"),
        ({"contact": "not-an-email"}, "contact"),
        ({"tint": "reddish"}, "tint"),
        ({"score": "4"}, "score"),
        ({"featured": "yes"}, "featured"),
        ({"date": "yesterday"}, "date"),
        ({"website": "x.io"}, "website"),
        ({"kind": "0123456789abcdef01234567"}, "kind"),
        ({"author": MISSING}, "author"),
        ({"others": [MISSING]}, "others"),
        ({"nonexistent": 1}, "nonexistent"),
        ({"slug": "Has Spaces"}, "slug"),
    ],
)
def test_invalid_values_name_the_field(
    api: Api, posts: dict[str, Any], field_data: dict[str, Any], param: str
) -> None:
    r = api.post(posts["path"], json={"fieldData": {"name": "n", "slug": "n", **field_data}})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "validation_error"
    assert param in [d["param"] for d in body["details"]]
    assert api.ok("GET", posts["path"])["pagination"]["total"] == 0


def test_required_fields_and_duplicate_slug(api: Api, posts: dict[str, Any], world: World) -> None:
    r = api.post(posts["path"], json={"fieldData": {"name": "n"}}, invalid=True)
    assert r.status_code == 400 and r.json()["details"][0]["param"] == "slug"
    fields = api.ok(
        "PATCH",
        f"/collections/{posts['id']}/fields/"
        + next(
            f["id"]
            for f in api.ok("GET", f"/collections/{posts['id']}")["fields"]
            if f["slug"] == "summary"
        ),
        json={"isRequired": True},
    )
    assert fields["isRequired"] is True
    r = api.post(posts["path"], json={"fieldData": {"name": "n", "slug": "n"}})
    assert r.status_code == 400 and r.json()["details"][0]["param"] == "summary"
    create(api, posts, name="A", slug="dup", summary="x")
    r = api.post(posts["path"], json={"fieldData": {"name": "B", "slug": "dup", "summary": "y"}})
    assert r.status_code == 400
    assert r.json()["details"] == [
        {"param": "slug", "description": "Unique value is already in database: 'dup'"}
    ]
    # slugs are unique per locale: the same slug is fine in French
    fr = api.post(
        posts["path"],
        json={"cmsLocaleId": world.fr, "fieldData": {"name": "B", "slug": "dup", "summary": "y"}},
    )
    assert fr.status_code == 202 and fr.json()["cmsLocaleId"] == world.fr


def test_patch_repeating_the_current_slug_fails(api: Api, posts: dict[str, Any]) -> None:
    item = create(api, posts, name="A", slug="a")
    r = api.patch(f"{posts['path']}/{item['id']}", json={"fieldData": {"slug": "a"}})
    assert r.status_code == 400 and r.json()["details"][0]["param"] == "slug"
    ok = api.patch(f"{posts['path']}/{item['id']}", json={"fieldData": {"slug": "a2"}})
    assert ok.status_code == 200 and ok.json()["fieldData"]["slug"] == "a2"
    assert create(api, posts, name="B", slug="a")["fieldData"]["slug"] == "a"  # old slug freed


def test_null_clears_optional_field(api: Api, posts: dict[str, Any]) -> None:
    item = create(api, posts, name="A", slug="a", summary="x")
    updated = api.ok(
        "PATCH", f"{posts['path']}/{item['id']}", json={"fieldData": {"summary": None}}
    )
    assert "summary" not in updated["fieldData"]
    r = api.patch(f"{posts['path']}/{item['id']}", json={"fieldData": {"name": None}}, invalid=True)
    assert r.status_code == 400


def test_bulk_create_in_two_locales(api: Api, posts: dict[str, Any], world: World) -> None:
    body = {
        "cmsLocaleIds": [world.en, world.fr],
        "fieldData": [{"name": "One", "slug": "one"}, {"name": "Two", "slug": "two"}],
    }
    made = api.ok("POST", f"{posts['path']}/bulk", json=body, status=202)["items"]
    assert len(made) == 4
    assert made[0]["id"] == made[1]["id"] and made[0]["cmsLocaleId"] != made[1]["cmsLocaleId"]
    assert made[0]["cmsLocaleIds"] == [world.en, world.fr]
    one = made[0]["id"]
    api.ok(
        "PATCH",
        posts["path"],
        json={"items": [{"id": one, "cmsLocaleId": world.fr, "fieldData": {"name": "Un"}}]},
    )
    en = api.ok("GET", f"{posts['path']}/{one}")
    fr = api.ok("GET", f"{posts['path']}/{one}", params={"cmsLocaleId": world.fr})
    assert (en["fieldData"]["name"], fr["fieldData"]["name"]) == ("One", "Un")
    both = api.ok("GET", posts["path"], params={"cmsLocaleId": f"{world.en},{world.fr}"})
    assert both["pagination"]["total"] == 4
    # an item created in one locale exists only there
    solo = api.ok(
        "POST",
        posts["path"],
        status=202,
        json={"cmsLocaleId": world.fr, "fieldData": {"name": "S", "slug": "s"}},
    )
    assert api.get(f"{posts['path']}/{solo['id']}").status_code == 404
    assert api.ok("GET", posts["path"])["pagination"]["total"] == 2
    # deleting the secondary copy keeps the primary; deleting the primary removes the item
    api.ok("DELETE", f"{posts['path']}/{one}", params={"cmsLocaleId": world.fr}, status=204)
    assert api.get(f"{posts['path']}/{one}").status_code == 200
    api.ok("DELETE", posts["path"], json={"items": [{"id": made[2]["id"]}]}, status=204)
    assert (
        api.get(f"{posts['path']}/{made[2]['id']}", params={"cmsLocaleId": world.fr}).status_code
        == 404
    )


def test_status_model_transitions(api: Api, posts: dict[str, Any]) -> None:
    path = posts["path"]
    draft = create(api, posts, name="D", slug="d")
    assert (draft["isDraft"], draft["lastPublished"]) == (True, None)  # Draft
    queued = api.ok(
        "POST", path, status=202, json={"isDraft": False, "fieldData": {"name": "Q", "slug": "q"}}
    )
    assert (queued["isDraft"], queued["lastPublished"]) == (False, None)  # Queued to publish
    # live PATCH on never-published -> 409 conflict
    r = api.patch(f"{path}/{draft['id']}/live", json={"fieldData": {"name": "x"}})
    assert r.status_code == 409 and r.json()["code"] == "conflict"
    r = api.patch(f"{path}/live", json={"items": [{"id": queued["id"], "fieldData": {}}]})
    assert r.status_code == 409
    assert api.get(f"{path}/{draft['id']}/live").status_code == 404
    # publish (partial success)
    res = api.ok(
        "POST",
        f"{path}/publish",
        status=202,
        json={"itemIds": [draft["id"], queued["id"], MISSING]},
    )
    assert res["publishedItemIds"] == [draft["id"], queued["id"]]
    assert res["errors"] == [f"Staging item ID {MISSING} not found."]
    pub = api.ok("GET", f"{path}/{draft['id']}")
    assert pub["isDraft"] is False and pub["lastPublished"] is not None  # Published
    assert pub["lastPublished"] >= pub["lastUpdated"]
    live = api.ok("GET", f"{path}/{draft['id']}/live")
    assert live["fieldData"]["name"] == "D"
    # staged edit: live copy unchanged, lastUpdated moves past lastPublished
    time.sleep(0.002)
    edited = api.ok("PATCH", f"{path}/{draft['id']}", json={"fieldData": {"name": "D2"}})
    assert edited["lastUpdated"] > edited["lastPublished"]
    assert api.ok("GET", f"{path}/{draft['id']}/live")["fieldData"]["name"] == "D"
    # isDraft true on a live item: Changes in draft, still live
    changes = api.ok("PATCH", f"{path}/{draft['id']}", json={"isDraft": True})
    assert changes["isDraft"] is True and changes["lastPublished"] is not None
    assert api.get(f"{path}/{draft['id']}/live").status_code == 200
    # live PATCH publishes in one step
    lp = api.ok("PATCH", f"{path}/{draft['id']}/live", json={"fieldData": {"name": "D3"}})
    assert lp["fieldData"]["name"] == "D3"
    staged = api.ok("GET", f"{path}/{draft['id']}")
    assert staged["fieldData"]["name"] == "D3" and staged["isDraft"] is False
    # archived: not publishable
    api.ok("PATCH", f"{path}/{queued['id']}", json={"isArchived": True})
    res = api.ok("POST", f"{path}/publish", status=202, json={"items": [{"id": queued["id"]}]})
    assert res["publishedItemIds"] == [] and "Archived" in res["errors"][0]
    # unpublish: isDraft true, lastPublished null, live copy gone
    api.ok("DELETE", f"{path}/{draft['id']}/live", status=204)
    un = api.ok("GET", f"{path}/{draft['id']}")
    assert (un["isDraft"], un["lastPublished"]) == (True, None)
    assert api.get(f"{path}/{draft['id']}/live").status_code == 404
    assert api.ok("GET", f"{path}/live")["pagination"]["total"] == 1  # queued's old live copy
    assert api.delete(f"{path}/{draft['id']}/live").status_code == 404


def test_create_item_live_and_bulk_live_ops(api: Api, posts: dict[str, Any]) -> None:
    path = posts["path"]
    made = api.ok(
        "POST",
        f"{path}/live",
        status=202,
        json={"items": [{"fieldData": {"name": f"L{i}", "slug": f"l{i}"}} for i in range(3)]},
    )["items"]
    assert all(m["isDraft"] is False and m["lastPublished"] for m in made)
    assert api.ok("GET", f"{path}/live")["pagination"]["total"] == 3
    upd = api.ok(
        "PATCH",
        f"{path}/live",
        json={"items": [{"id": made[0]["id"], "fieldData": {"name": "L0b"}}]},
    )["items"]
    assert upd[0]["fieldData"]["name"] == "L0b"
    api.ok(
        "DELETE", f"{path}/live", json={"items": [{"id": m["id"]} for m in made[:2]]}, status=204
    )
    assert api.ok("GET", f"{path}/live")["pagination"]["total"] == 1
    assert api.ok("GET", path)["pagination"]["total"] == 3
    api.ok("DELETE", f"{path}/{made[2]['id']}", status=204)
    assert api.ok("GET", f"{path}/live")["pagination"]["total"] == 0


def test_bulk_update_is_atomic(api: Api, posts: dict[str, Any]) -> None:
    a = create(api, posts, name="A", slug="a")
    b = create(api, posts, name="B", slug="b")
    r = api.patch(
        posts["path"],
        json={
            "items": [
                {"id": a["id"], "fieldData": {"name": "A2"}},
                {"id": b["id"], "fieldData": {"slug": "a"}},
            ]
        },
    )
    assert r.status_code == 400 and r.json()["details"][0]["param"] == "slug"
    assert api.ok("GET", f"{posts['path']}/{a['id']}")["fieldData"]["name"] == "A"
    r = api.patch(posts["path"], json={"items": [{"id": MISSING, "fieldData": {"name": "x"}}]})
    assert r.status_code == 404


def test_pagination_filters_and_sorting(api: Api, posts: dict[str, Any]) -> None:
    path = posts["path"]
    for start in range(0, 250, 100):
        batch = [
            {"fieldData": {"name": f"Item {i:03d}", "slug": f"item-{i:03d}"}}
            for i in range(start, min(start + 100, 250))
        ]
        api.ok("POST", path, json={"items": batch}, status=202)
    seen = []
    offset = 0
    while True:
        page = api.ok("GET", path, params={"offset": offset, "limit": 100})
        assert page["pagination"]["total"] == 250 and page["pagination"]["limit"] == 100
        seen += [i["fieldData"]["slug"] for i in page["items"]]
        offset += 100
        if offset >= 250:
            break
    assert seen == [f"item-{i:03d}" for i in range(250)]  # creation order
    assert api.ok("GET", path)["pagination"]["limit"] == 100
    desc = api.ok("GET", path, params={"sortBy": "name", "sortOrder": "desc", "limit": 3})
    assert [i["fieldData"]["name"] for i in desc["items"]] == ["Item 249", "Item 248", "Item 247"]
    one = api.ok("GET", path, params={"slug": "item-007"})
    assert one["pagination"]["total"] == 1 and one["items"][0]["fieldData"]["name"] == "Item 007"
    assert api.ok("GET", path, params={"name": "Item 008"})["items"][0]["fieldData"]["slug"] == (
        "item-008"
    )
    # lastUpdated watermark: touch 3 items, then filter
    time.sleep(0.01)
    newest = {"limit": 1, "sortBy": "lastUpdated", "sortOrder": "desc"}
    mark = api.ok("GET", path, params=newest)["items"][0]["lastUpdated"]
    time.sleep(0.01)
    ids = [i["id"] for i in api.ok("GET", path, params={"limit": 3, "offset": 10})["items"]]
    for item_id in ids:
        api.ok("PATCH", f"{path}/{item_id}", json={"fieldData": {"name": f"changed {item_id}"}})
    recent = api.ok(
        "GET", path, params={"lastUpdated[gt]": mark, "sortBy": "lastUpdated", "sortOrder": "asc"}
    )
    assert [i["id"] for i in recent["items"]] == ids and recent["pagination"]["total"] == 3
    assert api.ok("GET", path, params={"lastUpdated[lte]": mark})["pagination"]["total"] == 247
    r = api.get(path, params={"lastUpdated[eq]": mark}, invalid=True)
    assert r.status_code == 400
    assert api.get(path, params={"sortBy": "color"}, invalid=True).status_code == 400
    assert api.ok("GET", path, params={"lastPublished[gte]": mark})["pagination"]["total"] == 0


def test_list_is_fast_on_many_items(api: Api, posts: dict[str, Any], world: World) -> None:
    coll = world.emu.state.collections[posts["id"]]
    start = time.monotonic()
    for start_i in range(0, 3000, 100):
        api.ok(
            "POST",
            f"{posts['path']}/bulk",
            status=202,
            json={
                "fieldData": [
                    {"name": f"n{i}", "slug": f"s{i}"} for i in range(start_i, start_i + 100)
                ]
            },
        )
    for offset in range(0, 3000, 100):
        api.ok("GET", posts["path"], params={"offset": offset})
    assert len(coll.items) == 3000
    assert time.monotonic() - start < 10


def _ms(iso: str | None) -> int | None:
    return None if iso is None else int(datetime.fromisoformat(iso).timestamp() * 1000)


def _expected(
    entries: list[dict[str, Any]], ranges: list[tuple[str, str, int]], sort: tuple[str, str]
) -> list[tuple[str, str]]:
    """What a ranged, sorted listing must give, from the unfiltered listing in creation order:
    filter, then a stable sort (items without the sort date first when ascending)."""
    ops = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
    kept = [
        e
        for e in entries
        if all(_ms(e[f]) is not None and ops[op](_ms(e[f]), ms) for f, op, ms in ranges)
    ]
    by, order = sort
    kept.sort(key=lambda e: _ms(e[by]) if e[by] is not None else -1, reverse=order == "desc")
    return [(e["id"], e["cmsLocaleId"]) for e in kept]


@pytest.mark.parametrize("live", [False, True])
def test_ranged_sorted_listing_pages_match_filter_then_sort(
    api: Api, posts: dict[str, Any], world: World, live: bool
) -> None:
    """A keyset-style walk (a date range that moves, sorted by that date or another, both
    locales): every page is the stable sort of the matching entries, ties and missing dates
    included, whether or not the answer is computed from a cached view."""
    path = posts["path"]
    for start in range(0, 60, 20):
        api.ok(
            "POST",
            f"{path}/bulk",
            status=202,
            json={
                "cmsLocaleIds": [world.en, world.fr],
                "fieldData": [{"name": f"n{i}", "slug": f"s{i}"} for i in range(start, start + 20)],
            },
        )
    listed = api.ok("GET", path, params={"cmsLocaleId": world.en})["items"]
    for first in (0, 1):  # two publishes: live copies with different lastPublished dates
        ids = [i["id"] for i in listed[first::5]]
        api.ok("POST", f"{path}/publish", status=202, json={"itemIds": ids})
    for item in listed[::4]:
        api.ok("PATCH", f"{path}/{item['id']}", json={"fieldData": {"name": f"x{item['id']}"}})
    suffix = "/live" if live else ""
    both = {"cmsLocaleId": f"{world.en},{world.fr}"}
    entries = api.ok("GET", path + suffix, params=both)["items"]
    entries += api.ok("GET", path + suffix, params={**both, "offset": 100})["items"]
    assert entries and len(entries) == len({(e["id"], e["cmsLocaleId"]) for e in entries})
    fields = ("createdOn", "lastPublished", "lastUpdated")
    marks = sorted({_ms(e[f]) for e in entries for f in fields if e[f] is not None})
    assert len(marks) >= 3  # creates, publishes and patches ran at different milliseconds
    cuts = [marks[0] - 1, marks[0], marks[len(marks) // 2], marks[-1], marks[-1] + 1]
    cases = [
        (by, order, on, op)
        for by in fields
        for order in ("asc", "desc")
        for on in fields
        for op in ("gt", "gte", "lt", "lte")
    ]
    for n, (by, order, on, op) in enumerate(cases):
        ranges = [(on, op, cuts[n % len(cuts)])]
        if on != "createdOn":
            ranges.append(("createdOn", "gte", marks[0]))
        params = {**both, "sortBy": by, "sortOrder": order, "limit": 7}
        for f, o, ms in ranges:
            params[f"{f}[{o}]"] = iso_ms(ms)
        want = _expected(entries, ranges, (by, order))
        for offset in (0, 7) if n % 2 else (max(len(want) - 3, 0),):
            page = api.ok("GET", path + suffix, params={**params, "offset": offset})
            got = [(i["id"], i["cmsLocaleId"]) for i in page["items"]]
            assert got == want[offset : offset + 7], (by, order, ranges, offset)
            assert page["pagination"]["total"] == len(want)


def _expected_answer(world: World, posts: dict[str, Any], item_id: str, locale: str, live: bool):
    """The item as the model's dict rendering shows it (what answers were encoded from)."""
    item = world.emu.state.collections[posts["id"]].items[item_id]
    loc = item.locales[locale]
    return item.live_dict(loc) if live else item.staged_dict(loc)


def test_item_answers_carry_the_current_field_data_after_every_change(
    api: Api, posts: dict[str, Any], world: World
) -> None:
    """Answers reuse each copy's encoded field data: after a create in two locales, an update of
    one locale, a publish, a staged edit of a published item, a live update and a field's
    deletion, every get/list answer is byte for byte json.dumps of the item as it now is."""
    path = posts["path"]
    odd = {"summary": 'Caf\u00e9 \u2603 \U0001f600 \u2028 tab\t nl\n ctl\x01 del\x7f "q" \\'}
    both = [world.en, world.fr]
    created = api.post(
        f"{path}/bulk",
        json={
            "cmsLocaleIds": both,
            "fieldData": [
                {"name": "N\u00e9", "slug": "ne", "score": 1.5e-05, **odd},
                {"name": "Big", "slug": "big", "score": 12345678901234567890, "featured": True},
            ],
        },
    )
    made = created.json()["items"]
    ids = list(dict.fromkeys(m["id"] for m in made))
    assert created.status_code == 202
    expected = [
        {**_expected_answer(world, posts, m["id"], m["cmsLocaleId"], False), "cmsLocaleIds": both}
        for m in made
    ]
    assert created.content == json.dumps({"items": expected}).encode()

    def check() -> None:
        for item_id in ids:
            for locale in (world.en, world.fr):
                for live in (False, True):
                    r = api.get(
                        f"{path}/{item_id}{'/live' if live else ''}", params={"cmsLocaleId": locale}
                    )
                    if r.status_code == 404:
                        continue
                    want = _expected_answer(world, posts, item_id, locale, live)
                    assert r.content == json.dumps(want).encode(), (item_id, locale, live)
        body = api.get(path, params={"cmsLocaleId": f"{world.en},{world.fr}"}).content
        assert json.loads(body)["pagination"]["total"] == 4
        assert [i["fieldData"] for i in json.loads(body)["items"]] == [
            _expected_answer(world, posts, item_id, locale, False)["fieldData"]
            for item_id in ids
            for locale in (world.en, world.fr)
        ]

    check()
    fr = {"id": ids[0], "cmsLocaleId": world.fr, "fieldData": {"name": "Un", "score": 2.5}}
    api.ok("PATCH", path, json={"items": [fr]})
    check()
    api.ok(
        "POST",
        f"{path}/publish",
        status=202,
        json={"items": [{"id": i, "cmsLocaleIds": [world.en, world.fr]} for i in ids]},
    )
    check()
    api.ok("PATCH", f"{path}/{ids[1]}", json={"fieldData": {"summary": "edited"}})
    api.ok("PATCH", f"{path}/{ids[0]}/live", json={"fieldData": {"name": "Live"}})
    check()
    score = next(
        f for f in api.ok("GET", f"/collections/{posts['id']}")["fields"] if f["slug"] == "score"
    )
    api.ok("DELETE", f"/collections/{posts['id']}/fields/{score['id']}", status=204)
    check()
    got = api.ok("GET", f"{path}/{ids[0]}/live")["fieldData"]
    assert got["name"] == "Live" and "score" not in got
