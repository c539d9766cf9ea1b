"""The item planner's collection order search, checked against planning every order in full.

`plan_items` prices an order by counting the link entries its deferred references add
(`_LinkCounts`) instead of planning each collection per order; these tests plan every order
of a site with cycles, self-references across create requests, references to items nobody
creates and to items of the ledger, mixed flags and translations, and check that the search
keeps exactly the cheapest plan (same order, same ops)."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest

from destinations.webflow import items as planner
from destinations.webflow.model import (
    Collection,
    Field,
    Item,
    ItemVersion,
    Locale,
    SourceSite,
)
from destinations.webflow.ops import Op

LOCALES = [Locale("en", "cms-en", True), Locale("fr", "cms-fr", False)]
# collection -> (items, [(field slug, type, referenced collection)])
SHAPE: dict[str, tuple[int, list[tuple[str, str, str]]]] = {
    "a": (230, [("parent", "Reference", "a"), ("friends", "MultiReference", "b")]),
    "b": (140, [("a", "Reference", "a"), ("cs", "MultiReference", "c")]),
    "c": (40, [("b", "Reference", "b")]),
    "d": (60, []),
    "e": (50, [("d", "Reference", "d"), ("c", "Reference", "c")]),
}


def _collection(slug: str) -> Collection:
    fields = [
        Field(f"{slug}-name", "name", "Name", "PlainText"),
        Field(f"{slug}-slug", "slug", "Slug", "PlainText"),
    ]
    fields += [
        Field(f"{slug}-{f}", f, f, ftype, reference_collection_id=ref)
        for f, ftype, ref in SHAPE[slug][1]
    ]
    return Collection(slug, slug, slug.upper(), slug, fields)


def _values(rng: random.Random, slug: str, n: int, ids: dict[str, list[str]]) -> dict[str, Any]:
    data: dict[str, Any] = {"name": f"{slug} {n}", "slug": f"{slug}-{n}"}
    for f, ftype, ref in SHAPE[slug][1]:
        pool = ids[ref] + ["ghost-1", "old-1", "old-2"]  # never created / in the ledger
        if rng.random() < 0.3:
            continue
        picked = rng.sample(pool, 2)
        data[f] = picked[0] if ftype == "Reference" else picked
    return data


def _version(rng: random.Random, data: dict[str, Any]) -> ItemVersion:
    state = rng.choice(["live", "live", "changed", "draft", "archived", "queued"])
    if state == "live":
        return ItemVersion(data, False, False, data)
    if state == "changed":
        return ItemVersion({**data, "name": data["name"] + " (edit)"}, False, False, dict(data))
    return ItemVersion(data, state == "draft", state == "archived")


def _site(seed: int) -> SourceSite:
    rng = random.Random(seed)
    colls = [_collection(slug) for slug in SHAPE]
    ids = {slug: [f"{slug}{n:04d}" for n in range(size)] for slug, (size, _) in SHAPE.items()}
    site = SourceSite("site", LOCALES, colls)
    for slug, item_ids in ids.items():
        site.items[slug] = []
        for n, item_id in enumerate(item_ids):
            en = _values(rng, slug, n, ids)
            item = Item(item_id, slug, {"en": _version(rng, en)})
            if rng.random() < 0.7:  # translated, sometimes with other references
                fr = {**en, "name": en["name"] + " (fr)"} if rng.random() < 0.5 else dict(en)
                if rng.random() < 0.2:
                    fr = _values(rng, slug, n, ids)
                item.versions["fr"] = _version(rng, fr)
            site.items[slug].append(item)
    return site


def _ledger() -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """Items migrated earlier and gone from the source since (known ids, deleted now)."""
    row = {"applied_hash": "h", "applied_data": None, "is_live": True, "target_item_id": "t"}
    return {("a", "old-1"): {"en": dict(row)}, ("b", "old-2"): {"en": dict(row)}}


def _requests(ops: list[Op]) -> int:
    return sum(op.requests for op in ops)


def _every_order(
    site: SourceSite, ledger: dict[tuple[str, str], dict[str, dict[str, Any]]]
) -> tuple[list[int], list[str], list[Op]]:
    """Each order's cost, and the first cheapest order with its ops, by planning every order
    in full (each collection with both ways of grouping its creates)."""
    known0 = {i for _c, i in ledger}
    deleted = planner._deleted(
        site.collections, ledger, {(c, i.id) for c, its in site.items.items() for i in its}
    )
    preps = {
        c.id: planner._prepare(
            site,
            planner._Fields.of(c, site.file_md5_by_url),
            ledger,
            {},
            set(),
            deleted.get(c.id, []),
            set(),
            "delete",
        )
        for c in site.collections
    }
    created = {c.id: {x.item.id for x in preps[c.id].creates} for c in site.collections}
    refs = {c.id: {f.reference_collection_id for f in c.fields} for c in site.collections}
    costs, best = [], None
    for order in itertools.permutations(site.collections):
        ops: list[Op] = []
        for pos, c in enumerate(order):
            known = set(known0)
            for d in order[:pos]:
                if d.id in refs[c.id]:
                    known |= created[d.id]
            tried = [planner._emit(preps[c.id], merge, set(known)).ops for merge in (True, False)]
            ops += min(tried, key=_requests)
        costs.append(_requests(ops))
        if best is None or costs[-1] < best[0]:
            best = (costs[-1], [c.id for c in order], ops)
    assert best is not None
    return costs, best[1], best[2]


def _rows(ops: list[Op]) -> list[str]:
    return sorted(
        json.dumps([op.phase, op.kind, op.collection, op.requests, op.payload], sort_keys=True)
        for op in ops
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_search_keeps_the_cheapest_order_and_its_plan(seed: int) -> None:
    site, ledger = _site(seed), _ledger()
    costs, order, ops = _every_order(site, ledger)
    assert len(set(costs)) > 1, "the site must make the order matter"

    plan = planner.plan_items(site, ledger, {})

    assert plan.order == order
    assert plan.requests == min(costs)
    assert _rows(plan.ops) == _rows(ops)
    assert any(op.kind == "delete_items" for op in plan.ops)  # the ledger's items are gone
