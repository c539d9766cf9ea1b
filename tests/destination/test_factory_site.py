"""The source tests' factory site (more than 100 items in a collection, every field type, the
same file twice in the Assets panel, an e-commerce-looking collection) migrated over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .compare import differences
from .conftest import Migrator, Sites


def test_factory_site_migrates(emulator: Any, tmp_path: Path) -> None:
    from source.site_factory import build_site  # tests/source, on sys.path under pytest

    fs = build_site(emulator)
    target = emulator.admin.create_site(
        "Factory (new)", locales=[("en-US", "English"), ("fr-FR", "French")]
    )
    sites = Sites(
        fs.base_url,
        fs.site_id,
        fs.read_token,
        target["id"],
        emulator.admin.mint_token([target["id"]]),
    )
    m = Migrator(emulator, sites, tmp_path)
    m.extract()
    emulator.admin.reset_stats()
    report = m.migrate()
    assert report.ok, report.summary()
    src = emulator.admin.export_site(fs.site_id)
    src["collections"] = [c for c in src["collections"] if c["slug"] != "product"]
    tgt = emulator.admin.export_site(target["id"])
    diffs = differences(src, tgt)
    # logo.png and logo-copy.png are the same bytes: one file in the target
    assert [d for d in diffs if not d.startswith("assets")] == []
    ops = m.target_stats()["byOperation"]
    assert ops["create-asset"] == len({a["md5"] for a in src["assets"]})
    notes = next(c for c in report.plan.collections if c.slug == "notes")
    assert notes.items.create == 130 and notes.requests["create_items"] == 2
    emulator.admin.reset_stats()
    m.migrate()
    assert m.writes() == 0
