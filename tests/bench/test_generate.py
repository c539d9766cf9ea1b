"""The generator is deterministic and builds every shape the benchmark promises."""

from __future__ import annotations

from bench import emu
from bench.floor import floor_incremental, floor_requests
from bench.generate import STATES, changes, collection_sizes, distinct_files, generate_site
from bench.shape import canonical, diff, site_shape
from webflow_emulator import EmulatorServer

ITEMS = 150


def test_two_builds_of_one_seed_are_equal_modulo_ids(emulator: EmulatorServer) -> None:
    first = generate_site(emulator.base_url, emulator.admin, ITEMS, seed=3)
    second = generate_site(emulator.base_url, emulator.admin, ITEMS, seed=3)
    assert first.source_site_id != second.source_site_id
    a = canonical(emu.export_site(emulator.base_url, first.source_site_id))
    b = canonical(emu.export_site(emulator.base_url, second.source_site_id))
    assert diff(a, b) == []
    other = generate_site(emulator.base_url, emulator.admin, ITEMS, seed=4)
    c = canonical(emu.export_site(emulator.base_url, other.source_site_id))
    assert diff(a, c) != []


def test_generated_site_has_every_shape(emulator: EmulatorServer) -> None:
    gen = generate_site(emulator.base_url, emulator.admin, ITEMS, seed=1)
    assert gen.total_items == ITEMS == sum(collection_sizes(ITEMS).values())
    export = emu.export_site(emulator.base_url, gen.source_site_id)
    shape = site_shape(export)
    assert shape.locales == ["en-US", "fr-FR"]
    assert {c.slug: len(c.items) for c in shape.collections} == gen.counts
    # every item exists in both locales, and some are translated
    entries = [e for c in shape.collections for i in c.items for e in i.entries.values()]
    assert len(entries) == 2 * ITEMS
    assert any(e.staged["fieldData"]["name"].startswith("[FR]") for e in entries)
    # every state, as the status model shows it
    assert all(gen.state_counts[s] > 0 for s in STATES)
    posts = next(c for c in shape.collections if c.slug == "posts")
    en = [i.entries["en-US"] for i in posts.items]
    assert any(e.live and e.staged["fieldData"] != e.live["fieldData"] for e in en)
    assert any(e.staged["isDraft"] and e.live is None for e in en)
    assert any(e.staged["isArchived"] for e in en)
    assert any(
        not e.staged["isDraft"] and e.live is None and not e.staged["isArchived"] for e in en
    )
    # references: the cycle, the self MultiReference, files shared by many items
    assert gen.reference_edges["authors.featured-post"] > 0
    assert gen.reference_edges["posts.author"] > 0
    assert gen.reference_edges["posts.related-posts"] > 0
    assert gen.distinct_files == distinct_files(ITEMS) == len(export["assets"])
    assert len({a["md5"] for a in export["assets"]}) == gen.distinct_files
    covers = [e.staged["fieldData"]["cover"]["url"] for e in en]
    assert len(covers) > len({shape.md5_by_url[u] for u in covers})  # shared images
    assert any("<img" in e.staged["fieldData"].get("body", "") for e in en)
    assert any(e.staged["fieldData"].get("gallery") for e in en)
    assert any(e.staged["fieldData"].get("attachment") for e in en)
    assert any("/" in p for p in shape.folder_paths.values())  # nested folders


def test_changes_apply_a_small_change_set(emulator: EmulatorServer) -> None:
    gen = generate_site(emulator.base_url, emulator.admin, ITEMS, seed=1)
    before = emu.export_site(emulator.base_url, gen.source_site_id)
    cs = changes(gen, fraction=0.05)
    after = emu.export_site(emulator.base_url, gen.source_site_id)
    assert cs.edits and cs.creates and cs.deletes and cs.state_changes and cs.new_assets == 1
    assert {c.slug: len(c.items) for c in site_shape(after).collections} == gen.counts
    assert len(after["assets"]) == len(before["assets"]) + 1
    incremental = floor_incremental(before, after)
    full = floor_requests(after)
    assert incremental["create-items"] >= 1
    assert incremental["delete-items"] == 1
    assert incremental["create-asset"] == 1
    assert sum(incremental.values()) < sum(full.values())
