"""The floor matches a count done by hand for a tiny site built through the API."""

from __future__ import annotations

import time

from bench import emu
from bench.floor import floor_incremental, floor_requests, pages, rate_limited_total
from bench.generate import LOCALES
from webflow_emulator import EmulatorServer
from webflow_emulator.seeds.builder import SiteBuilder, png_bytes


def build_tiny(server: EmulatorServer) -> str:
    """Two collections in a cycle (alphas <-> betas) plus a self MultiReference on alphas;
    one translation, one draft, one published item edited after publishing; two assets in
    nested folders, one with alt text."""
    site = server.admin.create_site("Tiny", locales=LOCALES)
    b = SiteBuilder(server.base_url, server.admin.mint_token([site["id"]]), site)
    pics = b.create_folder("Pics")
    sub = b.create_folder("Sub", pics["id"])
    a1png = b.upload_asset("a1.png", png_bytes(8, 8, 1), sub["id"], alt="A")
    b.upload_asset("a2.png", png_bytes(8, 8, 2))
    alphas = b.create_collection(
        "Alphas", "Alpha", "alphas", [{"type": "Image", "displayName": "Pic", "slug": "pic"}]
    )
    betas = b.create_collection(
        "Betas",
        "Beta",
        "betas",
        [
            {
                "type": "Reference",
                "displayName": "Alpha",
                "slug": "alpha",
                "metadata": {"collectionId": alphas["id"]},
            }
        ],
    )
    for slug, ftype, target in (
        ("buddy", "Reference", betas),
        ("friends", "MultiReference", alphas),
    ):
        b.create_field(
            alphas["id"],
            {
                "type": ftype,
                "displayName": slug.title(),
                "slug": slug,
                "metadata": {"collectionId": target["id"]},
            },
        )
    a = b.create_items(
        alphas["id"],
        [
            {"name": "a1", "slug": "a1"},
            {"name": "a2", "slug": "a2"},
            {"name": "a3", "slug": "a3", "pic": {"url": a1png["hostedUrl"]}},
        ],
    )
    bs = b.create_items(betas["id"], [{"name": "b1", "slug": "b1", "alpha": a["a1"]}])
    bs.update(b.create_items(betas["id"], [{"name": "b2", "slug": "b2"}], is_draft=True))
    for locale in b.locale_ids:
        b.update_items(
            alphas["id"],
            [{"id": a["a1"], "fieldData": {"buddy": bs["b1"], "friends": [a["a2"]]}}],
            locale=locale,
        )
    b.update_items(
        alphas["id"], [{"id": a["a2"], "fieldData": {"name": "[FR] a2"}}], locale=b.locale_ids[1]
    )
    time.sleep(0.01)
    b.publish(alphas["id"], a.values())
    b.publish(betas["id"], [bs["b1"]])
    time.sleep(0.01)
    b.update_items(alphas["id"], [{"id": a["a1"], "fieldData": {"name": "a1 edited"}}])
    return site["id"]


# Counted by hand (see floor_requests' docstring for the rules):
EXPECTED = {
    # source reads: 6 alpha entries and 4 beta entries fit one page each; a1 (en) changed
    # after publishing, so the alphas' live copies are read (one page)
    "get-site": 2,  # source + target
    "list-collections": 1,
    "collection-details": 2,
    "list-collection-items": 2,
    "list-collection-items-live": 1,
    "list-asset-folders": 1,
    "list-assets": 1,
    # schema, order alphas then betas: buddy (-> betas, not yet created) and friends (self)
    # are create-field; betas.alpha goes inline
    "create-collection": 2,
    "create-field": 2,
    # assets: 2 folders, 2 files, a1.png's alt text needs a patch
    "create-asset-folder": 2,
    "create-asset": 2,
    "s3-upload": 2,
    "cdn-download": 2,
    "patch-asset": 1,
    # items: one bulk create per collection (b2 the draft joins b1, which is published anyway);
    # before publishing: a1 en + a1 fr (deferred references) + a2 fr (translation) = 1 request,
    # after: a1 en staged edit = 1 request; one publish per collection
    "create-items": 2,
    "update-items": 2,
    "publish-item": 2,
}


def test_pages() -> None:
    assert [pages(n) for n in (0, 1, 100, 101, 250)] == [1, 1, 1, 2, 3]
    assert pages(0, 0) == 0


def test_floor_matches_hand_count(emulator: EmulatorServer) -> None:
    site_id = build_tiny(emulator)
    floor = floor_requests(emu.export_site(emulator.base_url, site_id))
    assert floor == EXPECTED
    assert rate_limited_total(floor) == sum(EXPECTED.values()) - 4  # s3 + cdn are not API calls


def test_floor_against_a_complete_target_is_reads_only(emulator: EmulatorServer) -> None:
    site_id = build_tiny(emulator)
    export = emu.export_site(emulator.base_url, site_id)
    floor = floor_requests(export, target_state=export)
    assert set(floor) <= {
        "get-site",
        "list-collections",
        "collection-details",
        "list-collection-items",
        "list-collection-items-live",
        "list-asset-folders",
        "list-assets",
    }
    incremental = floor_incremental(export, export, export)
    assert incremental == {
        "list-collections": 1,
        "list-collection-items": 4,  # per collection: the watermark page + the total check
        "list-collection-items-live": 2,
        "list-asset-folders": 1,
        "list-assets": 1,
    }


def test_self_references_need_a_patch_only_on_cycles() -> None:
    from bench.floor import _feedback_vertices, _sccs

    # a -> b -> c -> a is a cycle (one vertex breaks it); d -> a and e -> e (a self loop)
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    comps = sorted(sorted(c) for c in _sccs(edges, set()))
    assert comps == [["a", "b", "c"], ["d"], ["e"]]
    cut = _feedback_vertices(edges)
    assert len(cut) == 2 and "e" in cut and cut & {"a", "b", "c"}
    assert _feedback_vertices({"a": {"b"}, "b": set()}) == set()
