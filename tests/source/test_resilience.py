"""Rate limits and faults: the extract completes and is complete (time compressed, never slept)."""

from __future__ import annotations

from typing import Any

from .compare import compare_all
from .conftest import Extractor
from .site_factory import FactorySite

TIME_SCALE = 600.0  # one emulated minute lasts 0.1 s


def test_pacing_keeps_under_the_limit_without_429(
    emulator: Any, site: FactorySite, extractor: Extractor
) -> None:
    # 3 requests per 0.2 s: the five discovery requests alone need pacing
    emulator.admin.configure(rateLimit=3, timeScale=300.0)
    client = extractor.client(requests_per_minute=60, window_seconds=60.0 / 300.0)
    result = extractor.run(client)
    assert result.emulator_stats["rateLimited"] == 0
    assert result.client_stats["rate_limited"] == 0
    assert result.client_stats["paced_seconds"] > 0  # it did wait for windows to end
    assert compare_all(extractor, emulator.admin.export_site(site.site_id)) == []


def test_429_storm_is_waited_out(emulator: Any, site: FactorySite, extractor: Extractor) -> None:
    # 2 requests per 0.2 s: an extract is a few dozen requests (every locale in one request)
    emulator.admin.configure(rateLimit=2, timeScale=300.0)
    # a client that believes windows are 100x shorter than they are: every window overflows
    client = extractor.client(window_seconds=0.002, max_rate_limit_retries=100)
    result = extractor.run(client)
    assert result.emulator_stats["rateLimited"] >= 3
    assert result.client_stats["rate_limited"] == result.emulator_stats["rateLimited"]
    assert compare_all(extractor, emulator.admin.export_site(site.site_id)) == []
    # the next run, paced on the real window, sees nothing new
    assert extractor.run(extractor.client(window_seconds=0.2)).data_rows() == {}


def test_5xx_resets_and_lost_responses_are_retried(
    emulator: Any, site: FactorySite, extractor: Extractor
) -> None:
    emulator.admin.configure(
        timeScale=TIME_SCALE,
        faults={
            "seed": 7,
            "errorRate": 0.2,
            "resetRate": 0.1,
            "lostResponseRate": 0.05,
            "latencyMs": 20,
            "statuses": [500, 502, 503, 504],
        },
    )
    result = extractor.run(extractor.client(max_attempts=12))
    faults = result.emulator_stats["faults"]
    assert faults["error"] > 0 and faults["reset"] + faults["lost"] > 0
    assert result.client_stats["retries"] >= faults["error"] + faults["reset"] + faults["lost"]
    emulator.admin.configure(faults={"errorRate": 0, "resetRate": 0, "lostResponseRate": 0})
    assert compare_all(extractor, emulator.admin.export_site(site.site_id)) == []
    assert extractor.run().data_rows() == {}


def test_faults_on_an_incremental_run(
    emulator: Any, site: FactorySite, extractor: Extractor
) -> None:
    extractor.run()
    cid = site.collection_id("blog-posts")
    posts = site.item_ids["blog-posts"]
    site.builder.update_items(cid, [{"id": posts["post-7"], "fieldData": {"summary": "x"}}])
    site.builder.publish(cid, [posts["post-8"]])
    emulator.admin.configure(
        timeScale=TIME_SCALE, faults={"seed": 3, "errorRate": 0.3, "resetRate": 0.1}
    )
    result = extractor.run(extractor.client(max_attempts=12))
    assert result.emulator_stats["faults"]["error"] > 0
    emulator.admin.configure(faults={"errorRate": 0, "resetRate": 0})
    assert compare_all(extractor, emulator.admin.export_site(site.site_id)) == []
