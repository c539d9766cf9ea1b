"""Admin interface: export, seed, config, reset; the CLI entry point."""

from __future__ import annotations

import subprocess
import sys

import requests

from webflow_emulator import EmulatorServer
from webflow_emulator.deviations import BY_KEY, DEVIATIONS

from .conftest import Api, World


def test_export_has_items_per_locale_staged_and_live(api: Api, world: World) -> None:
    coll = world.collection()
    made = api.ok(
        "POST",
        f"/collections/{coll['id']}/items/bulk",
        status=202,
        json={"cmsLocaleIds": [world.en, world.fr], "fieldData": {"name": "A", "slug": "a"}},
    )["items"]
    api.ok(
        "POST",
        f"/collections/{coll['id']}/items/publish",
        status=202,
        json={"items": [{"id": made[0]["id"], "cmsLocaleIds": [world.fr]}]},
    )
    export = world.emu.admin.export_site(world.site_id)
    item = export["collections"][0]["items"][0]
    assert set(item["locales"]) == {world.en, world.fr}
    assert item["locales"][world.en]["live"] is None
    assert item["locales"][world.fr]["live"]["fieldData"]["slug"] == "a"


def test_seed_minimal(emulator: EmulatorServer) -> None:
    out = emulator.admin.seed("minimal")
    assert emulator.admin.stats()["total"] == 0  # the seed's own traffic is not counted
    site = out["sites"][0]
    api = Api(emulator.base_url, site["token"])
    coll = out["collectionIds"][0]
    assert api.ok("GET", f"/collections/{coll}/items")["pagination"]["total"] == 2
    assert api.ok("GET", f"/collections/{coll}/items/live")["pagination"]["total"] == 1
    r = requests.post(emulator.root_url + "/_emulator/seed", json={"name": "../etc"}, timeout=5)
    assert r.status_code == 404


def test_config_roundtrip_and_reset(world: World) -> None:
    cfg = world.emu.admin.configure(rateLimit=60, timeScale=2.0, faults={"errorRate": 0.1})
    assert cfg["rateLimit"] == 60 and cfg["timeScale"] == 2.0
    assert cfg["faults"]["errorRate"] == 0.1 and cfg["faults"]["statuses"] == [500, 502, 503]
    bad = requests.patch(world.emu.root_url + "/_emulator/config", json={"timeScale": 0}, timeout=5)
    assert bad.status_code == 400
    world.emu.admin.reset()
    assert world.emu.admin.config()["rateLimit"] is None
    assert world.api.get("/sites").status_code == 401  # tokens are gone too


def test_deviations_are_documented() -> None:
    assert len(BY_KEY) == len(DEVIATIONS)
    assert all(d.text and d.source for d in DEVIATIONS)


def test_cli_serves_and_seeds() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "webflow_emulator", "--port", "0", "--seed", "minimal"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("webflow emulator serving http://127.0.0.1:")
        base = first.split()[-1]
        lines = []
        while not (lines and lines[-1] == "}\n"):
            lines.append(proc.stdout.readline())
        import json

        seeded = json.loads("".join(lines))
        assert seeded["baseUrl"] == base
        r = requests.get(
            base + "/sites",
            timeout=5,
            headers={"Authorization": f"Bearer {seeded['sites'][0]['token']}"},
        )
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
