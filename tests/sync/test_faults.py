"""The CLI under faults: 5xx, resets, lost responses and 429 storms; a 400 is not retried in a
loop; a refused token stops the run at once, naming the scope. The source is only read."""

from __future__ import annotations

import threading
from typing import Any

from .conftest import World, assert_source_only_read, duplicates

FAULTS: dict[str, Any] = {
    "seed": 11,
    "errorRate": 0.1,
    "resetRate": 0.05,
    "lostResponseRate": 0.05,
    "statuses": [500, 502, 503],
}
RATE_LIMIT = 30
"""Requests per (compressed) minute per token; with timeScale 60 a minute is one second."""


def _storms(world: World, stop: threading.Event, flips: list[int]) -> None:
    """Drops the rate limit to 4 every few tenths of a second: windows the client learned
    with a budget of 30 suddenly allow 4, so answers 429 come in bursts (storms)."""
    while not stop.wait(0.3):
        world.emu.admin.configure(rateLimit=4)
        flips[0] += 1
        if stop.wait(0.15):
            break
        world.emu.admin.configure(rateLimit=RATE_LIMIT)


def test_migration_completes_under_faults_and_429_storms(demo_world: World) -> None:
    w = demo_world
    w.emu.admin.configure(rateLimit=RATE_LIMIT, timeScale=60.0, faults=FAULTS)
    paced = {
        "SOURCES__WEBFLOW__REQUESTS_PER_MINUTE": str(RATE_LIMIT),
        "DESTINATION__WEBFLOW__REQUESTS_PER_MINUTE": str(RATE_LIMIT),
        "SOURCES__WEBFLOW__RATE_LIMIT_WINDOW_SECONDS": "1.0",
        "DESTINATION__WEBFLOW__RATE_LIMIT_WINDOW_SECONDS": "1.0",
    }
    stop, flips = threading.Event(), [0]
    storm = threading.Thread(target=_storms, args=(w, stop, flips), daemon=True)
    storm.start()
    try:
        done = w.cli(**paced)
    finally:
        stop.set()
        storm.join()
    stats = w.emu.admin.stats()
    w.emu.admin.configure(
        rateLimit=None, faults={"errorRate": 0.0, "resetRate": 0.0, "lostResponseRate": 0.0}
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(
        f"faults: requests {stats['total']}, 429 {stats['rateLimited']}, storms {flips[0]}, "
        f"injected {stats['faults']}, by status {stats['byStatus']}"
    )
    assert sum(stats["faults"].values()) > 0 and flips[0] > 0
    # the client paces itself from X-RateLimit-Remaining: 429s only where the limit dropped
    assert stats["rateLimited"] <= 0.1 * stats["total"], stats
    report = w.verify()
    assert report.ok, report.format_differences(limit=20)
    assert duplicates(w.emu.admin.export_site(w.target_id)) == []
    assert_source_only_read(w)
    w.emu.admin.reset_stats()
    again = w.cli()
    assert again.returncode == 0 and w.target_writes() == 0, w.stats(w.target_id)


def test_steady_rate_limit_gives_almost_no_429(demo_world: World) -> None:
    """Without storms the pacing alone keeps a run at a small limit (10 per compressed minute)
    nearly free of 429s; the rest of the run is the same."""
    w = demo_world
    w.emu.admin.configure(rateLimit=10, timeScale=60.0)
    done = w.cli(
        SOURCES__WEBFLOW__REQUESTS_PER_MINUTE="10",
        DESTINATION__WEBFLOW__REQUESTS_PER_MINUTE="10",
        SOURCES__WEBFLOW__RATE_LIMIT_WINDOW_SECONDS="1.0",
        DESTINATION__WEBFLOW__RATE_LIMIT_WINDOW_SECONDS="1.0",
    )
    stats = w.emu.admin.stats()
    w.emu.admin.configure(rateLimit=None)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"steady: requests {stats['total']}, 429 {stats['rateLimited']}")
    assert stats["rateLimited"] <= 0.02 * stats["total"], stats
    assert w.verify().ok
    assert_source_only_read(w)


def test_a_400_is_recorded_not_retried_in_a_loop(demo_world: World) -> None:
    """The target's categories require a description that a new source category lacks: the
    bulk create gets a 400, that item is recorded, the rest goes in one more request; a rerun
    tries the bad item once more, never in a loop."""
    w = demo_world
    src = w.emu.admin.export_site(w.source_id)
    b = w.builder(w.source_id)
    cats = next(c for c in src["collections"] if c["slug"] == "categories")
    b.create_items(cats["id"], [{"name": "Misc", "slug": "misc"}])
    w.builder(w.target_id).create_collection(
        "Categories",
        "Category",
        "categories",
        [
            {"type": "PlainText", "displayName": "Description", "slug": "description"}
            | {"isRequired": True},
            {"type": "Color", "displayName": "Colour", "slug": "colour"},
        ],
    )
    w.emu.admin.reset_stats()
    done = w.cli()
    assert done.returncode == 1, done.stdout[-2000:]
    assert "misc" in done.stdout or "description" in done.stdout
    ops = w.stats(w.target_id)["byOperation"]
    statuses = w.emu.admin.stats()["byStatus"]
    assert statuses.get("400") == 1, statuses
    assert ops["create-items"] == 4  # categories: 400 + the rest; authors; posts
    w.emu.admin.reset_stats()
    again = w.cli()
    assert again.returncode == 1
    assert w.emu.admin.stats()["byStatus"].get("400") == 1  # once per run, never in a loop
    assert_source_only_read(w)


def test_missing_scope_stops_the_cli_at_once(demo_world: World) -> None:
    w = demo_world
    w.target_token = w.emu.admin.mint_token(
        [w.target_id], scopes=["sites:read", "cms:read", "cms:write", "assets:read"]
    )
    w.emu.admin.reset_stats()
    done = w.cli()
    assert done.returncode == 3, done.stdout[-2000:] + done.stderr[-2000:]
    assert "assets:write" in done.stderr
    statuses = w.emu.admin.stats()["byStatus"]
    assert statuses.get("403") == 1, statuses  # stopped at the first refusal
    assert_source_only_read(w)
