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


def test_bad_fault_settings_are_refused(world: World) -> None:
    url = world.emu.root_url + "/_emulator/config"
    for faults in ({"errorRate": 2}, {"statuses": [404]}, {"bogus": 1}, {"operations": "x"}):
        assert requests.patch(url, json={"faults": faults}, timeout=5).status_code == 400


def test_validator_hook_sees_every_v2_exchange() -> None:
    seen: list[tuple[str, str, int]] = []

    class Recorder:
        def check(
            self,
            method: str,
            path: str,
            query: str,
            headers: dict[str, str],
            body: bytes,
            status: int,
            response_headers: dict[str, str],
            response_body: bytes,
        ) -> list[str]:
            seen.append((method, path, status))
            return ["response: made up"] if status == 404 else []

    with EmulatorServer() as emu:
        emu.httpd.validator = Recorder()
        site = emu.admin.create_site("S")
        api = Api(emu.base_url, emu.admin.mint_token([site["id"]]))
        api.get("/sites")
        api.get("/collections/0123456789abcdef01234567")
        assert emu.httpd.wait_validations()  # each exchange is judged after its answer is sent
        assert seen[0] == ("GET", "/v2/sites", 200)
        assert emu.validated_count == 2
        assert emu.violations == [
            {
                "operation": "collection-details",
                "method": "GET",
                "path": "/v2/collections/0123456789abcdef01234567",
                "status": 404,
                "violations": ["response: made up"],
            }
        ]
    assert emu.validated_count == 2  # still readable after stop()


def test_deviations_are_documented_and_cited() -> None:
    """Every `deviations: <key>` comment names a listed deviation, and every one is cited."""
    import pathlib
    import re

    assert len(BY_KEY) == len(DEVIATIONS)
    assert all(d.text and d.source for d in DEVIATIONS)
    package = pathlib.Path(__file__).parents[2] / "webflow_emulator"
    cited = set()
    for path in package.glob("*.py"):
        cited |= set(re.findall(r"deviations: ([a-z0-9-]+)", path.read_text()))
    assert cited == set(BY_KEY)


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
