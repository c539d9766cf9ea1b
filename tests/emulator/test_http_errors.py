"""Auth, scopes, routing, malformed requests, limits: the error paths every client meets."""

from __future__ import annotations

import requests

from webflow_emulator import EmulatorServer
from webflow_emulator.server import EXPECT_INVALID_HEADER as EXPECT_INVALID

from .conftest import Api, World

MISSING = "0123456789abcdef01234567"


def test_missing_malformed_and_unknown_tokens_are_401(world: World) -> None:
    base = world.emu.base_url
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Token abc"},
        {"Authorization": "Bearer nope"},
    ):
        r = requests.get(base + "/sites", headers=headers, timeout=5)
        assert r.status_code == 401
        assert r.json() == {
            "code": "not_authorized",
            "message": "Request not authorized",
            "externalReference": None,
            "details": [],
        }


def test_missing_scope_is_403_naming_the_scope(world: World) -> None:
    token = world.emu.admin.mint_token([world.site_id], scopes=["sites:read"])
    api = Api(world.emu.base_url, token)
    assert api.get("/sites").status_code == 200
    r = api.get(f"/sites/{world.site_id}/collections")
    assert r.status_code == 403
    assert r.json()["code"] == "missing_scopes"
    assert r.json()["message"] == "OAuthForbidden: You are missing the following scopes - cms:read"
    r = api.post(f"/sites/{world.site_id}/assets", json={"fileName": "a.png", "fileHash": "0" * 32})
    assert r.json()["message"].endswith("assets:write")


def test_token_of_another_site_is_403_forbidden(world: World) -> None:
    other = world.emu.admin.create_site("Other")
    coll = world.collection()
    api = Api(world.emu.base_url, world.emu.admin.mint_token([other["id"]]))
    for path in (
        f"/sites/{world.site_id}",
        f"/collections/{coll['id']}",
        f"/collections/{coll['id']}/items",
    ):
        r = api.get(path)
        assert r.status_code == 403 and r.json()["code"] == "forbidden", path
    assert [s["id"] for s in api.ok("GET", "/sites")["sites"]] == [other["id"]]


def test_unknown_ids_paths_and_methods(api: Api, world: World) -> None:
    for path in (
        f"/sites/{MISSING}",
        f"/collections/{MISSING}",
        f"/assets/{MISSING}",
        f"/asset_folders/{MISSING}",
    ):
        r = api.get(path)
        assert r.status_code == 404, path
        assert r.json()["code"] == "resource_not_found"
        assert r.json()["message"].startswith("Requested resource not found")
    coll = world.collection()
    r = api.get(f"/collections/{coll['id']}/items/{MISSING}")
    assert r.status_code == 404 and r.json()["code"] == "resource_not_found"
    r = api.get("/collections/not-an-id")
    assert r.status_code == 400 and r.json()["code"] == "validation_error"
    assert api.get("/nowhere", invalid=True).status_code == 404
    assert api.request("PUT", f"/sites/{world.site_id}", invalid=True).status_code == 405
    assert requests.get(world.emu.root_url + "/elsewhere", timeout=5).status_code == 404


def test_malformed_json_and_wrong_body_shape_are_bad_request(api: Api, world: World) -> None:
    path = f"/sites/{world.site_id}/collections"
    r = api.request(
        "POST", path, invalid=True, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json() == {
        "code": "bad_request",
        "message": "Bad Request: Request is malformed",
        "externalReference": None,
        "details": [],
    }
    assert api.post(path, json=[1, 2], invalid=True).json()["code"] == "bad_request"
    assert api.post(path, invalid=True).status_code == 400
    r = api.post(
        path,
        data=b'{"displayName": "A", "singularName": "A"}',
        invalid=True,
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 400 and r.json()["code"] == "bad_request"


def test_list_limit_over_100_and_bulk_over_100_are_rejected(api: Api, world: World) -> None:
    coll = world.collection()
    r = api.get(f"/collections/{coll['id']}/items", params={"limit": 101})
    assert r.status_code == 400 and r.json()["code"] == "validation_error"
    assert r.json()["details"][0]["param"] == "limit"
    assert api.get(f"/collections/{coll['id']}/items", params={"limit": 100}).status_code == 200
    assert api.get(f"/sites/{world.site_id}/assets", params={"limit": 500}).status_code == 400
    items = [{"fieldData": {"name": f"n{i}", "slug": f"s{i}"}} for i in range(101)]
    r = api.post(f"/collections/{coll['id']}/items", json={"items": items})
    assert r.status_code == 400 and r.json()["details"][0]["param"] == "items"
    r = api.post(
        f"/collections/{coll['id']}/items/bulk", json={"fieldData": [i["fieldData"] for i in items]}
    )
    assert r.status_code == 400
    r = api.patch(f"/collections/{coll['id']}/items", json={"items": [{"id": MISSING}] * 101})
    assert r.status_code == 400
    assert api.ok("GET", f"/collections/{coll['id']}/items")["pagination"]["total"] == 0


def test_introspect(api: Api, world: World) -> None:
    body = api.ok("GET", "/token/introspect")
    assert body["authorization"]["authorizedTo"]["siteIds"] == [world.site_id]
    assert "cms:write" in body["authorization"]["scope"]


def test_keep_alive_connection_is_reused(emulator: EmulatorServer, world: World) -> None:
    session = world.api.session
    for _ in range(20):
        assert world.api.get("/sites").status_code == 200
    assert len(session.adapters["http://"].poolmanager.pools) == 1


def test_trailing_slash_is_not_a_route(world: World) -> None:
    """The spec has no paths with a trailing slash; a client building one must find out here."""
    response = requests.get(
        f"{world.emu.base_url}/sites/{world.site_id}/",
        headers={"Authorization": f"Bearer {world.token}", EXPECT_INVALID: "1"},
        timeout=10,
    )
    assert response.status_code == 404
    assert response.json()["code"] == "resource_not_found"


def test_options_gets_a_json_error_not_html(world: World) -> None:
    response = requests.options(
        f"{world.emu.base_url}/sites/{world.site_id}",
        headers={"Authorization": f"Bearer {world.token}", EXPECT_INVALID: "1"},
        timeout=10,
    )
    assert response.status_code == 405
    assert set(response.json()) >= {"code", "message", "externalReference", "details"}
