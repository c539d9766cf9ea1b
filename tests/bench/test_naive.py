"""The naive baseline copies a small generated site completely (compared by slug)."""

from __future__ import annotations

from bench import emu
from bench.generate import generate_site
from bench.naive import MIGRATED_FOLDER, migrate
from bench.shape import canonical, diff
from webflow_emulator import EmulatorServer


def test_naive_migrates_a_small_site_completely(emulator: EmulatorServer) -> None:
    gen = generate_site(emulator.base_url, emulator.admin, 40, seed=5)
    report = migrate(
        emulator.base_url,
        gen.source_site_id,
        gen.source_token,
        gen.target_site_id,
        gen.target_token,
    )
    assert report.failures == []
    assert report.items_created == gen.total_items
    source = canonical(emu.export_site(emulator.base_url, gen.source_site_id))
    target = canonical(emu.export_site(emulator.base_url, gen.target_site_id))
    assert diff(source["collections"], target["collections"]) == []
    assert source["locales"] == target["locales"]
    assert set(target["folders"]) == set(source["folders"]) | {MIGRATED_FOLDER}
    # the panel's assets are all there; the per-item uploads sit in the extra folder
    assert set(source["assets"]) <= set(target["assets"])
    extra = [a for a in target["assets"] if a[0] == MIGRATED_FOLDER]
    assert len(extra) == report.external["s3-upload"] - len(source["assets"])
    # one request per item: a create per item, at least as many uploads as file references
    assert report.requests["create-items"] == gen.total_items
    assert report.rate_limited == 0
