"""Sites, collections and fields: shapes, metadata/validations asymmetry, uniqueness, limits."""

from __future__ import annotations

from .conftest import Api, World

OPTION = {
    "type": "Option",
    "displayName": "Category",
    "metadata": {"options": [{"name": "News"}, {"name": "Guide"}]},
}


def test_site_shape_and_locales(api: Api, world: World) -> None:
    site = api.ok("GET", f"/sites/{world.site_id}")
    assert site["id"] == world.site_id
    primary, secondary = site["locales"]["primary"], site["locales"]["secondary"]
    assert primary["tag"] == "en-US" and primary["subdirectory"] == ""
    assert secondary[0]["tag"] == "fr-FR" and secondary[0]["subdirectory"] == "fr-fr"
    for loc in (primary, secondary[0]):
        assert set(loc) == {
            "id",
            "cmsLocaleId",
            "enabled",
            "displayName",
            "displayImageId",
            "redirect",
            "subdirectory",
            "tag",
        }
        assert loc["id"] != loc["cmsLocaleId"]
    assert api.ok("GET", "/sites")["sites"][0]["id"] == world.site_id


def test_create_collection_with_fields(api: Api, world: World) -> None:
    authors = world.collection("Authors")
    coll = world.collection(
        "Posts",
        [
            {"type": "PlainText", "displayName": "Summary", "helpText": "Short"},
            {"type": "Number", "displayName": "Reading Time", "isRequired": True},
            OPTION,
            {
                "type": "Reference",
                "displayName": "Author",
                "metadata": {"collectionId": authors["id"]},
            },
            {
                "type": "MultiReference",
                "displayName": "Co Authors",
                "metadata": {"collectionId": authors["id"]},
            },
        ],
    )
    assert coll["slug"] == "posts" and coll["singularName"] == "Post"
    by_slug = {f["slug"]: f for f in coll["fields"]}
    assert list(by_slug) == [
        "name",
        "slug",
        "summary",
        "reading-time",
        "category",
        "author",
        "co-authors",
    ]
    for sys in ("name", "slug"):
        assert by_slug[sys]["isRequired"] and by_slug[sys]["isEditable"]
        assert by_slug[sys]["type"] == "PlainText"
    assert by_slug["summary"]["helpText"] == "Short" and by_slug["summary"]["validations"] is None
    assert by_slug["reading-time"]["isRequired"] is True
    options = by_slug["category"]["validations"]["options"]
    assert [o["name"] for o in options] == ["News", "Guide"]
    assert all(len(o["id"]) == 24 for o in options)
    assert by_slug["author"]["validations"] == {"collectionId": authors["id"]}
    details = api.ok("GET", f"/collections/{coll['id']}")
    assert details == coll
    listed = api.ok("GET", f"/sites/{world.site_id}/collections")["collections"]
    assert [c["displayName"] for c in listed] == ["Authors", "Posts"]
    assert "fields" not in listed[0]


def test_duplicate_collection_is_409(api: Api, world: World) -> None:
    world.collection("Posts")
    path = f"/sites/{world.site_id}/collections"
    for body in (
        {"displayName": "Posts", "singularName": "Post"},
        {"displayName": "Other", "singularName": "X", "slug": "posts"},
    ):
        r = api.post(path, json=body)
        assert r.status_code == 409
        assert r.json()["code"] == "duplicate_collection"


def test_bad_field_definitions_are_rejected(api: Api, world: World) -> None:
    path = f"/sites/{world.site_id}/collections"
    bad = [
        {"type": "User", "displayName": "X"},
        {"type": "Option", "displayName": "X", "metadata": {"options": []}},
        {
            "type": "Option",
            "displayName": "X",
            "metadata": {"options": [{"name": f"o{i}"} for i in range(101)]},
        },
        {
            "type": "Reference",
            "displayName": "X",
            "metadata": {"collectionId": "0123456789abcdef01234567"},
        },
    ]
    for field in bad:
        r = api.post(
            path, json={"displayName": "C", "singularName": "C", "fields": [field]}, invalid=True
        )
        assert r.status_code == 400, field
        assert r.json()["code"] == "validation_error"
    too_many = [{"type": "PlainText", "displayName": f"F{i}"} for i in range(59)]
    r = api.post(path, json={"displayName": "C", "singularName": "C", "fields": too_many})
    assert r.status_code == 400
    ok = api.post(path, json={"displayName": "C", "singularName": "C", "fields": too_many[:58]})
    assert ok.status_code == 200 and len(ok.json()["fields"]) == 60


def test_field_crud_and_slug_rules(api: Api, world: World) -> None:
    coll = world.collection()
    path = f"/collections/{coll['id']}/fields"
    made = api.ok("POST", path, json=OPTION)
    assert made["slug"] == "category" and made["type"] == "Option"
    assert [o["name"] for o in made["metadata"]["options"]] == ["News", "Guide"]
    assert "validations" not in made
    r = api.post(path, json={"type": "PlainText", "displayName": "Category"})
    assert r.status_code == 409
    twin = api.ok("POST", path, json={"type": "PlainText", "displayName": "My Field"})
    assert twin["slug"] == "my-field"
    twin2 = api.ok("POST", path, json={"type": "PlainText", "displayName": "my_field"})
    assert twin2["slug"] == "my-field-1"
    assert (
        api.post(path, json={"type": "Switch", "displayName": "x", "slug": "my-field"}).status_code
        == 409
    )
    api.ok("DELETE", f"{path}/{twin['id']}", status=204)
    again = api.ok("POST", path, json={"type": "PlainText", "displayName": "My Field"})
    assert again["slug"] == "my-field-2"  # deleted slugs stay taken
    updated = api.ok(
        "PATCH",
        f"{path}/{again['id']}",
        json={"displayName": "Renamed", "isRequired": True, "helpText": "h"},
    )
    assert (updated["displayName"], updated["isRequired"], updated["helpText"]) == (
        "Renamed",
        True,
        "h",
    )
    assert updated["slug"] == "my-field-2"
    r = api.patch(f"{path}/{again['id']}", json={"type": "Number"}, invalid=True)
    assert r.status_code == 400
    name_field = coll["fields"][0]
    assert api.delete(f"{path}/{name_field['id']}").status_code == 400
    assert api.delete(f"{path}/0123456789abcdef01234567").status_code == 404
    details = api.ok("GET", f"/collections/{coll['id']}")
    assert [f["slug"] for f in details["fields"]] == [
        "name",
        "slug",
        "category",
        "my-field-1",
        "my-field-2",
    ]


def test_delete_collection(api: Api, world: World) -> None:
    coll = world.collection()
    api.ok("DELETE", f"/collections/{coll['id']}", status=204)
    assert api.get(f"/collections/{coll['id']}").status_code == 404
    assert api.ok("GET", f"/sites/{world.site_id}/collections")["collections"] == []
