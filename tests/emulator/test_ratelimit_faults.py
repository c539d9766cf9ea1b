"""Rate limiting (headers, 429, Retry-After, time scale), faults and accounting."""

from __future__ import annotations

import time

import pytest
import requests

from .conftest import Api, World


def test_rate_limit_headers_429_and_recovery_under_time_scale(world: World) -> None:
    world.emu.admin.configure(rateLimit=5, timeScale=120.0)  # a "minute" lasts 0.5 s
    api = world.api
    remaining = []
    for _ in range(5):
        r = api.get("/sites")
        assert r.status_code == 200
        remaining.append(int(r.headers["X-RateLimit-Remaining"]))
        assert r.headers["X-RateLimit-Limit"] == "5"
    assert remaining == [4, 3, 2, 1, 0]
    coll_path = f"/sites/{world.site_id}/collections"
    r = api.post(coll_path, json={"displayName": "Posts", "singularName": "Post"})
    assert r.status_code == 429
    assert r.json()["code"] == "too_many_requests" and r.json()["message"] == "Too many requests"
    assert r.headers["X-RateLimit-Remaining"] == "0"
    retry = float(r.headers["Retry-After"])
    assert 0 < retry <= 0.5 and "." in r.headers["Retry-After"]
    time.sleep(retry + 0.01)
    r = api.get(coll_path)
    assert r.status_code == 200 and r.json()["collections"] == []  # the 429 was not applied
    assert r.headers["X-RateLimit-Remaining"] == "4"
    stats = world.emu.admin.stats()
    assert stats["rateLimited"] == 1 and stats["byStatus"]["429"] == 1


def test_retry_after_is_whole_seconds_at_real_time(world: World) -> None:
    token = world.emu.admin.mint_token([world.site_id], rate_limit=2)
    api = Api(world.emu.base_url, token)
    api.get("/sites")
    api.get("/sites")
    r = api.get("/sites")
    assert r.status_code == 429 and r.headers["Retry-After"] in {str(n) for n in range(55, 61)}
    assert world.api.get("/sites").status_code == 200  # other tokens have their own window


def test_limit_headers_absent_without_limit(api: Api) -> None:
    assert "X-RateLimit-Limit" not in api.get("/sites").headers


def test_error_faults_are_seeded_and_not_applied(world: World) -> None:
    world.emu.admin.configure(faults={"seed": 7, "errorRate": 0.5, "statuses": [500, 503]})
    path = f"/sites/{world.site_id}/collections"

    def run() -> list[int]:
        return [world.api.get(path).status_code for _ in range(30)]

    first = run()
    assert set(first) == {200, 500, 503}
    world.emu.admin.configure(faults={"seed": 7})  # same seed -> same sequence
    assert run() == first
    r = next(r for r in (world.api.get(path) for _ in range(50)) if r.status_code == 500)
    assert r.json()["code"] == "internal_error"
    assert r.json()["message"] == "An Internal Error occurred"
    world.emu.admin.configure(faults={"errorRate": 1.0, "statuses": [500]})
    r = world.api.post(path, json={"displayName": "Posts", "singularName": "Post"})
    assert r.status_code == 500
    world.emu.admin.configure(faults={"errorRate": 0.0})
    assert world.api.ok("GET", path)["collections"] == []
    assert world.emu.admin.stats()["faults"]["error"] >= 31


def test_reset_drops_connection_without_applying(world: World) -> None:
    world.emu.admin.configure(faults={"resetRate": 1.0, "operations": ["create-collection"]})
    path = f"/sites/{world.site_id}/collections"
    with pytest.raises(requests.ConnectionError):
        world.api.post(path, json={"displayName": "Posts", "singularName": "Post"})
    assert world.api.ok("GET", path)["collections"] == []  # other operations unaffected
    assert world.emu.admin.stats()["faults"]["reset"] == 1


def test_lost_response_applies_the_write(world: World) -> None:
    world.emu.admin.configure(faults={"lostResponseRate": 1.0, "operations": ["create-collection"]})
    path = f"/sites/{world.site_id}/collections"
    with pytest.raises(requests.ConnectionError):
        world.api.post(path, json={"displayName": "Posts", "singularName": "Post"})
    names = [c["displayName"] for c in world.api.ok("GET", path)["collections"]]
    assert names == ["Posts"]
    with pytest.raises(requests.ConnectionError):  # refused (409) and the answer lost again
        world.api.post(path, json={"displayName": "Posts", "singularName": "Post"})
    world.emu.admin.configure(faults={"lostResponseRate": 0.0})
    r = world.api.post(path, json={"displayName": "Posts", "singularName": "Post"})
    assert r.status_code == 409 and r.json()["code"] == "duplicate_collection"
    assert world.emu.admin.stats()["faults"]["lost"] == 2


def test_latency_is_scaled(world: World) -> None:
    world.emu.admin.configure(timeScale=10.0, faults={"latencyMs": 1000})
    start = time.monotonic()
    world.api.get("/sites")
    assert 0.09 <= time.monotonic() - start < 0.5


def test_stats_count_operations_methods_sites(world: World) -> None:
    world.emu.admin.reset_stats()
    coll = world.collection()
    world.api.get(f"/collections/{coll['id']}")
    world.api.get("/collections/0123456789abcdef01234567")
    stats = world.emu.admin.stats()
    assert stats["total"] == 3
    assert stats["byOperation"] == {"create-collection": 1, "collection-details": 2}
    assert stats["byMethod"] == {"POST": 1, "GET": 2}
    assert stats["byStatus"] == {"200": 2, "404": 1}
    assert stats["bySite"][world.site_id]["byOperation"] == {
        "create-collection": 1,
        "collection-details": 1,
    }
    world.emu.admin.reset_stats()
    assert world.emu.admin.stats()["total"] == 0


def test_limit_headers_on_error_answers_too(world: World) -> None:
    world.emu.admin.configure(rateLimit=50)
    for r in (
        world.api.get("/collections/0123456789abcdef01234567"),
        world.api.get("/nowhere", invalid=True),
        requests.get(world.emu.base_url + "/sites", timeout=5),
    ):
        assert r.status_code in (401, 404)
        assert r.headers["X-RateLimit-Limit"] == "50"
        assert "X-RateLimit-Remaining" in r.headers


def test_concurrent_writes_are_consistent(world: World) -> None:
    from concurrent.futures import ThreadPoolExecutor

    coll = world.collection()
    path = f"/collections/{coll['id']}/items"

    def make(i: int) -> int:
        api = Api(world.emu.base_url, world.token)
        r = api.post(path, json={"fieldData": {"name": f"n{i % 20}", "slug": f"s{i % 20}"}})
        return r.status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(make, range(60)))
    assert codes.count(202) == 20 and codes.count(400) == 40
    assert world.api.ok("GET", path)["pagination"]["total"] == 20
