"""`pauseAfterRequests`: the N-th /v2 request is held until released, applied or dropped, so a
crash test can SIGKILL its client at an exact request."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests

from .conftest import Api, World


def _wait_paused(world: World) -> dict[str, Any]:
    for _ in range(500):
        state = world.emu.admin.pause_state()
        if state["paused"]:
            return state
        time.sleep(0.01)
    raise AssertionError("no request was held")


@pytest.mark.parametrize("apply", [True, False])
def test_nth_request_of_an_operation_is_held_then_released(
    api: Api, world: World, apply: bool
) -> None:
    coll = world.collection()
    world.emu.admin.configure(pauseAfterRequests=2, pauseOperation="create-items")
    body = {"cmsLocaleIds": [world.en], "fieldData": {"name": "A", "slug": "a"}}
    assert api.post(f"/collections/{coll['id']}/items/bulk", json=body).status_code == 202
    assert api.get(f"/collections/{coll['id']}/items").status_code == 200  # not counted
    answers: list[Any] = []
    second = {"cmsLocaleIds": [world.en], "fieldData": {"name": "B", "slug": "b"}}

    def call() -> None:
        try:
            answers.append(api.post(f"/collections/{coll['id']}/items/bulk", json=second))
        except requests.ConnectionError as exc:
            answers.append(exc)

    t = threading.Thread(target=call)
    t.start()
    state = _wait_paused(world)
    assert state["operation"] == "create-items" and state["counted"] == 2
    assert world.emu.admin.release(apply=apply)
    t.join(10)
    slugs = {
        it["fieldData"]["slug"] for it in api.ok("GET", f"/collections/{coll['id']}/items")["items"]
    }
    if apply:
        assert answers[0].status_code == 202 and slugs == {"a", "b"}
    else:
        assert isinstance(answers[0], requests.ConnectionError) and slugs == {"a"}
    assert not world.emu.admin.pause_state()["paused"]
    # one-shot: later requests pass
    third = {"cmsLocaleIds": [world.en], "fieldData": {"name": "C", "slug": "c"}}
    assert api.post(f"/collections/{coll['id']}/items/bulk", json=third).status_code == 202


def test_pause_settings_are_validated_and_reset(world: World) -> None:
    bad = requests.patch(
        world.emu.root_url + "/_emulator/config", json={"pauseAfterRequests": 0}, timeout=5
    )
    assert bad.status_code == 400
    cfg = world.emu.admin.configure(pauseAfterRequests=3)
    assert cfg["pauseAfterRequests"] == 3 and cfg["pauseOperation"] is None
    world.emu.admin.reset()
    assert world.emu.admin.config()["pauseAfterRequests"] is None
    assert world.emu.admin.release() is False


def test_held_write_lands_late_just_before_the_next_request_of_an_operation(
    api: Api, world: World
) -> None:
    """`landBefore`: the held write stays held through other requests (a read sees nothing),
    then lands first when the cue operation arrives, which then sees it (here: slug taken)."""
    coll = world.collection()
    world.emu.admin.configure(pauseAfterRequests=1, pauseOperation="create-items")
    path = f"/collections/{coll['id']}/items"
    late = {"cmsLocaleIds": [world.en], "fieldData": {"name": "Late", "slug": "late"}}
    answers: list[Any] = []

    def call() -> None:
        try:
            answers.append(api.post(path + "/bulk", json=late))
        except requests.ConnectionError as exc:
            answers.append(exc)

    t = threading.Thread(target=call)
    t.start()
    _wait_paused(world)
    assert world.emu.admin.release(apply=True, land_before="create-items")
    assert api.ok("GET", path)["items"] == []  # still held: the read does not see it
    again = api.post(path + "/bulk", json=late)  # the cue: the held one lands first
    t.join(10)
    assert answers[0].status_code == 202
    assert again.status_code == 400 and "Unique value" in again.text
    assert [it["fieldData"]["slug"] for it in api.ok("GET", path)["items"]] == ["late"]
    assert not world.emu.admin.pause_state()["paused"]
