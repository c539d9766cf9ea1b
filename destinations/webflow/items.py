"""Item writes, planned per collection so the number of requests stays near the floor (the ops
are executed by `item_ops.py`).

Per item and locale the target must end with the source's staged copy, its flags and (when the
source's copy is live) its live copy. The cheapest correct sequence, in request counts:

1. items phase: `create-items` (`/items/bulk`, <= 100 per request, every locale of the item at
   once through `cmsLocaleIds`) with the primary locale's values: the LIVE copy when the item is
   live (so that publishing later publishes the right values), else the staged copy. References
   whose item already has a target id are set here; the others are left for step 2.
2. links phase: `update-items` (<= 100 entries per request, locales mixed): per locale whatever
   differs from what step 1 wrote (translations), the references left out (cycles,
   self-references, forward references), and the flags of items that will not be published.
3. publish phase: `publish-item` (<= 100 items, each with the cmsLocaleIds live in the source);
   `delete-items-live` for items the source no longer has live.
4. states phase: `update-items` for items published with unpublished changes (their staged
   copy), "changes in draft" (isDraft) and archived items (archived only after publishing: the
   API refuses to publish an archived item).

Collections are processed in the order (all orders are tried for up to 6 collections) that needs
the fewest requests: a reference into a collection created earlier is set at creation.
Changed items (content hash differs from the one last applied, kept in the ledger) get the same
steps 2-4 with their full values; unchanged ones cost nothing, so a rerun writes nothing.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .model import Collection, Item, ItemVersion, SourceSite, TargetItem
from .ops import Op, chunks
from .settings import (
    BULK_LIMIT,
    MAX_EXHAUSTIVE_COLLECTIONS,
    NOT_WRITABLE_TYPES,
    PHASE_DELETE,
    PHASE_ITEMS,
    PHASE_LINKS,
    PHASE_PUBLISH,
    PHASE_STATES,
    REFERENCE_TYPES,
)
from .transform import collection_context, file_urls, references, source_files

RETIRED = "retired:"
"""applied_hash prefix of items gone from the source but archived/kept in the target."""

SIMPLE_TYPES = frozenset(
    {"PlainText", "Email", "Phone", "Link", "Number", "Switch", "Color", "DateTime", "VideoLink"}
)


@dataclass
class ItemStats:
    source_items: int = 0
    create: int = 0
    update: int = 0
    unchanged: int = 0
    link: int = 0
    publish: int = 0
    unpublish: int = 0
    delete: int = 0
    rejected: int = 0


@dataclass
class ItemsPlan:
    ops: list[Op] = field(default_factory=list)
    stats: dict[str, ItemStats] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    applied: list[tuple[str, str, str, str, bool, str]] = field(default_factory=list)
    """(source coll, source item, locale, content hash, live, version JSON) to mark once the
    run succeeded."""
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    """Updates skipped because the target copy was edited since our last write."""

    @property
    def requests(self) -> int:
        return sum(op.requests for op in self.ops)


@dataclass
class _CollectionResult:
    ops: list[Op]
    stats: ItemStats
    applied: list[tuple[str, str, str, str, bool, str]]
    created_ids: set[str]
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(op.requests for op in self.ops)


def _writable(c: Collection) -> list[str]:
    return [f.slug for f in c.fields if f.type not in NOT_WRITABLE_TYPES]


def _desired(v: ItemVersion) -> dict[str, Any]:
    """What the staged copy must hold before publishing: the live values when live."""
    return v.live_field_data if v.live_field_data is not None else v.field_data


def _canon(value: Any, ftype: str, md5_by_url: dict[str, str]) -> Any:
    """A value as the target will hold it: files by MD5 (each locale's copy of an image has
    its own url in the source, but they are one file in the target)."""
    if value is None or value == [] or value == "":
        return None
    if ftype in ("Image", "File") and isinstance(value, dict):
        url = value.get("url")
        return (md5_by_url.get(url, url), value.get("alt"))
    if ftype == "MultiImage" and isinstance(value, list):
        return [_canon(v, "Image", md5_by_url) for v in value]
    if ftype == "RichText" and isinstance(value, str):
        for url in file_urls(value, ftype):
            if url in md5_by_url:
                value = value.replace(url, md5_by_url[url])
        return value
    return value


def _diff(
    new: dict[str, Any],
    old: dict[str, Any],
    writable: list[str],
    types: dict[str, str],
    md5_by_url: dict[str, str],
) -> dict[str, Any]:
    """Fields whose values (as the target holds them) differ, with the new values."""
    out = {}
    for k in writable:
        a, b = new.get(k), old.get(k)
        if a != b and _canon(a, types[k], md5_by_url) != _canon(b, types[k], md5_by_url):
            out[k] = a
    return out


def version_json(v: ItemVersion) -> str:
    """What the ledger keeps of an applied version, so the next run can diff field by field."""
    return v.content_json()


def _previous(led: dict[str, Any] | None) -> ItemVersion | None:
    data = (led or {}).get("applied_data")
    if not led or not led.get("applied_hash") or not isinstance(data, list) or len(data) != 4:
        return None
    return ItemVersion(data[0] or {}, bool(data[1]), bool(data[2]), data[3])


def changed_locales(item: Item, led: dict[str, dict[str, Any]], tags: list[str]) -> list[str]:
    """Locales of an already migrated item whose content differs from what was last applied."""
    return [
        t
        for t in tags
        if t in item.versions
        and t in led
        and led[t]["applied_hash"] != item.versions[t].content_hash()
    ]


def _md5s(data: dict[str, Any], ctx: dict[str, Any], source: SourceSite) -> dict[str, str]:
    return {
        u: source.file_md5_by_url[u] for u in source_files(data, ctx) if u in source.file_md5_by_url
    }


def _same_content(c: Collection, data: dict[str, Any], existing: TargetItem) -> bool:
    """An item already in the target counts as ours when its plain values are the same."""
    for f in c.fields:
        plain = f.slug == "name" or f.type in SIMPLE_TYPES
        if plain and data.get(f.slug) != existing.field_data.get(f.slug):
            return False
    return True


def _plan_collection(
    source: SourceSite,
    c: Collection,
    items: list[Item],
    known: set[str],
    ledger_items: dict[tuple[str, str], dict[str, dict[str, Any]]],
    target_slugs: dict[str, TargetItem],
    recovering: set[str],
    merge_flags: bool,
    deleted: list[tuple[str, dict[str, dict[str, Any]]]],
    conflicts: set[tuple[str, str]] | None = None,
    on_delete: str = "delete",
    memo: dict[tuple[Any, ...], Any] | None = None,
) -> _CollectionResult:
    primary = source.primary_tag
    tag_order = [loc.tag for loc in source.locales]
    ctx = collection_context(c)
    writable = _writable(c)
    types = {f.slug: f.type for f in c.fields}
    ref_slugs = [f.slug for f in c.fields if f.type in REFERENCE_TYPES]
    stats = ItemStats(source_items=len(items))
    ops: list[Op] = []
    applied: list[tuple[str, str, str, str, bool, str]] = []
    conflicts = conflicts or set()
    skipped: list[dict[str, Any]] = []
    # what does not depend on the collection order tried (`plan_items` tries several): diffs
    # and file MD5s per item and locale, keyed by item id and what they were computed from
    memo = memo if memo is not None else {}
    file_md5 = source.file_md5_by_url

    def once(key: tuple[Any, ...], compute: Callable[..., Any], *args: Any) -> Any:
        if key not in memo:
            memo[key] = compute(*args)
        return memo[key]

    def md5s(key: tuple[Any, ...], data: dict[str, Any]) -> dict[str, str]:
        return once((c.id, *key, frozenset(data)), _md5s, data, ctx, source)

    creates: list[Item] = []
    full: dict[str, list[str]] = {}  # item id -> locales updated with full values
    adopt_rows: list[list[Any]] = []
    adopted_slugs: dict[tuple[str, str], str | None] = {}
    rejects: list[dict[str, Any]] = []
    for item in items:
        led = ledger_items.get((c.id, item.id))
        if led:
            changed = changed_locales(item, led, tag_order)
            for t in [t for t in changed if (item.id, t) in conflicts]:
                changed.remove(t)
                skipped.append(
                    {
                        "id": item.id,
                        "locale": t,
                        "slug": led[t].get("slug"),
                        "target_id": led[t].get("target_item_id"),
                    }
                )
            if changed:
                full[item.id] = changed
            else:
                stats.unchanged += 1
            continue
        p = item.versions.get(primary)
        if p is None:
            rejects.append({"id": item.id, "field": None, "reason": "no primary-locale copy"})
            continue
        slug = p.field_data.get("slug")
        existing = target_slugs.get(slug) if slug else None
        if existing is not None:
            if item.id in recovering or _same_content(c, p.field_data, existing):
                tags = [t for t in tag_order if t in item.versions]
                for t in tags:
                    adopted_slugs[(item.id, t)] = existing.slugs.get(t)
                adopt_rows.extend([item.id, t, existing.id, existing.slugs.get(t)] for t in tags)
                full[item.id] = tags
                continue
            rejects.append(
                {
                    "id": item.id,
                    "field": "slug",
                    "reason": f"slug {slug!r} already exists in the target with other content "
                    f"(item {existing.id})",
                }
            )
            continue
        creates.append(item)
    stats.rejected = len(rejects)
    if skipped:
        ops.append(Op(PHASE_ITEMS, "conflict_items", c.id, {"items": skipped}, requests=0))
    if rejects:
        ops.append(Op(PHASE_ITEMS, "reject_items", c.id, {"items": rejects}, requests=0))
    if adopt_rows:
        ops.append(Op(PHASE_ITEMS, "adopt_items", c.id, {"rows": adopt_rows}, requests=0))

    # 1. creates, grouped by locales and creation flags
    def flags0(item: Item) -> tuple[bool, bool]:
        p = item.versions[primary]
        return (False, False) if p.is_live else (p.is_draft, p.is_archived)

    def locales_of(item: Item) -> tuple[str, ...]:
        return tuple(t for t in tag_order if t in item.versions)

    groups: dict[tuple[Any, ...], list[Item]] = {}
    majority: dict[tuple[str, ...], tuple[bool, bool]] = {}
    if merge_flags:
        counts: dict[tuple[str, ...], Counter[tuple[bool, bool]]] = {}
        for item in creates:
            counts.setdefault(locales_of(item), Counter())[flags0(item)] += 1
        majority = {k: v.most_common(1)[0][0] for k, v in counts.items()}
    for item in creates:
        locs = locales_of(item)
        fl = majority[locs] if merge_flags else flags0(item)
        groups.setdefault((locs, fl), []).append(item)
    state: dict[tuple[str, str], dict[str, Any]] = {}
    deferred: dict[str, list[str]] = {}
    created_ids: set[str] = set()
    for (locs, (draft, archived)), group in groups.items():
        for chunk in chunks(group, BULK_LIMIT):
            entries = []
            for item in chunk:
                data0 = _desired(item.versions[primary])
                defer = [
                    s
                    for s in ref_slugs
                    if data0.get(s) and any(r not in known for r in references(data0[s], types[s]))
                ]
                deferred[item.id] = defer
                entry = {
                    "id": item.id,
                    "field_data": data0,
                    "defer": defer,
                    "md5": md5s(("create", item.id), data0),
                }
                if item.id in recovering:
                    # a lost create of an earlier run may still land after our read: a slug
                    # taken at create time is then that item, adopted (`_adopt_taken`)
                    entry["recovering"] = True
                entries.append(entry)
                for t in locs:
                    state[(item.id, t)] = {"data": data0, "draft": draft, "archived": archived}
            ops.append(
                Op(
                    PHASE_ITEMS,
                    "create_items",
                    c.id,
                    {
                        "locales": list(locs),
                        "is_draft": draft,
                        "is_archived": archived,
                        "items": entries,
                        "ctx": ctx,
                    },
                    count=len(chunk),
                )
            )
            ids = {item.id for item in chunk}
            known |= ids
            created_ids |= ids
    stats.create = len(creates)
    stats.update = len(full)

    # 2. links: translations, references left out, flags of items that stay unpublished
    by_id = {item.id: item for item in items}
    touched: list[tuple[Item, list[str]]] = [
        (item, [t for t in tag_order if t in item.versions]) for item in creates
    ]
    touched += [(by_id[i], tags) for i, tags in full.items()]
    link_entries: list[dict[str, Any]] = []
    incremental: set[tuple[str, str]] = set()  # diffed against the version last applied
    republish: set[tuple[str, str]] = set()  # ... whose live copy changed
    for item, tags in touched:
        led = ledger_items.get((c.id, item.id)) or {}
        for t in tags:
            v = item.versions[t]
            d1 = _desired(v)
            st = state.get((item.id, t))
            entry: dict[str, Any] = {"id": item.id, "locale": t}
            pv = _previous(led.get(t)) if st is None else None
            if pv is not None:
                # only what changed since the last run: the target holds pv (staged + live)
                incremental.add((item.id, t))
                new_live = v.is_live and (
                    not pv.is_live
                    or bool(
                        _diff(
                            v.live_field_data or {},
                            pv.live_field_data or {},
                            writable,
                            types,
                            source.file_md5_by_url,
                        )
                    )
                )
                if new_live:  # staged := new live values, publish, then staged edits (4.)
                    republish.add((item.id, t))
                    fd = _diff(d1, pv.field_data, writable, types, source.file_md5_by_url)
                    if pv.is_draft or pv.is_archived:
                        entry.update(is_draft=False, is_archived=False)
                else:
                    fd = _diff(v.field_data, pv.field_data, writable, types, source.file_md5_by_url)
                    if (v.is_draft, v.is_archived) != (pv.is_draft, pv.is_archived):
                        entry.update(is_draft=v.is_draft, is_archived=v.is_archived)
            elif st is None:
                fd = {k: d1.get(k) for k in writable}
                current = (led.get(t) or {}).get("slug") or adopted_slugs.get((item.id, t))
                if fd.get("slug") == current:
                    fd.pop("slug", None)  # an unchanged slug in a PATCH is a 400
                draft, archived = (False, False) if v.is_live else (v.is_draft, v.is_archived)
                entry.update(is_draft=draft, is_archived=archived)
            else:
                key = (c.id, "created", item.id, t)
                fd = dict(once(key, _diff, d1, st["data"], writable, types, file_md5))
                for s in deferred.get(item.id, []):
                    if d1.get(s):
                        fd[s] = d1[s]
                if not v.is_live and (v.is_draft, v.is_archived) != (st["draft"], st["archived"]):
                    entry.update(is_draft=v.is_draft, is_archived=v.is_archived)
            if fd:
                entry["field_data"] = fd
                entry["md5"] = md5s(("link", item.id, t), fd)
            if any(s in fd for s in deferred.get(item.id, [])):
                stats.link += 1
            if "field_data" in entry or "is_draft" in entry:
                link_entries.append(entry)
            applied.append((c.id, item.id, t, v.content_hash(), v.is_live, version_json(v)))
    for chunk in chunks(link_entries, BULK_LIMIT):
        ops.append(
            Op(PHASE_LINKS, "update_items", c.id, {"entries": chunk, "ctx": ctx}, count=len(chunk))
        )

    # 3. publish / unpublish
    publish, unpublish = [], []

    def needs_publish(item: Item, t: str) -> bool:
        key = (item.id, t)
        return item.versions[t].is_live and (key not in incremental or key in republish)

    for item, tags in touched:
        led = ledger_items.get((c.id, item.id)) or {}
        live = [t for t in tags if needs_publish(item, t)]
        if live:
            publish.append({"id": item.id, "locales": live})
        gone = [
            t for t in tags if not item.versions[t].is_live and (led.get(t) or {}).get("is_live")
        ]
        if gone:
            unpublish.append({"id": item.id, "locales": gone})
    stats.publish, stats.unpublish = len(publish), len(unpublish)
    for chunk in chunks(unpublish, BULK_LIMIT):
        ops.append(Op(PHASE_PUBLISH, "unpublish_items", c.id, {"items": chunk}, count=len(chunk)))
    for chunk in chunks(publish, BULK_LIMIT):
        ops.append(Op(PHASE_PUBLISH, "publish_items", c.id, {"items": chunk}, count=len(chunk)))

    # 4. states after publishing: staged changes, drafts, archived
    state_entries: list[dict[str, Any]] = []
    for item, tags in touched:
        for t in tags:
            v = item.versions[t]
            if not needs_publish(item, t):
                continue
            entry = {"id": item.id, "locale": t}
            key = (c.id, "staged", item.id, t)
            fd = once(key, _diff, v.field_data, v.live_field_data or {}, writable, types, file_md5)
            if fd:
                entry["field_data"] = fd
                entry["md5"] = md5s(("staged", item.id, t), fd)
            if v.is_draft:
                entry["is_draft"] = True
            if v.is_archived:
                entry["is_archived"] = True
            if len(entry) > 2:
                state_entries.append(entry)
    for chunk in chunks(state_entries, BULK_LIMIT):
        ops.append(
            Op(PHASE_STATES, "update_items", c.id, {"entries": chunk, "ctx": ctx}, count=len(chunk))
        )

    # 5. items the source no longer has: deleted (default), archived, or kept in the target
    if deleted and on_delete != "delete":
        gone_ids = [i for i, _ in deleted]
        if on_delete == "archive":
            live_gone = [
                {"id": i, "locales": [t for t, r in led.items() if r.get("is_live")]}
                for i, led in deleted
                if any(r.get("is_live") for r in led.values())
            ]
            for chunk in chunks(live_gone, BULK_LIMIT):
                ops.append(
                    Op(PHASE_DELETE, "unpublish_items", c.id, {"items": chunk}, count=len(chunk))
                )
            entries = [
                {"id": i, "locale": t, "is_archived": True} for i, led in deleted for t in led
            ]
            for chunk in chunks(entries, BULK_LIMIT):
                ops.append(
                    Op(
                        PHASE_DELETE,
                        "update_items",
                        c.id,
                        {"entries": chunk, "ctx": ctx},
                        count=len(chunk),
                    )
                )
            stats.delete = len(deleted)
        ops.append(
            Op(PHASE_DELETE, "retire_items", c.id, {"ids": gone_ids, "how": on_delete}, requests=0)
        )
    elif deleted:
        live_gone = [
            {"id": i, "locales": [t for t, r in led.items() if r.get("is_live")]}
            for i, led in deleted
            if any(r.get("is_live") for r in led.values())
        ]
        for chunk in chunks(live_gone, BULK_LIMIT):
            ops.append(
                Op(PHASE_DELETE, "unpublish_items", c.id, {"items": chunk}, count=len(chunk))
            )
        for chunk in chunks([{"id": i} for i, _ in deleted], BULK_LIMIT):
            ops.append(Op(PHASE_DELETE, "delete_items", c.id, {"items": chunk}, count=len(chunk)))
        stats.delete = len(deleted)
    return _CollectionResult(ops, stats, applied, created_ids, skipped)


def plan_items(
    source: SourceSite,
    ledger_items: dict[tuple[str, str], dict[str, dict[str, Any]]],
    target_items_by_slug: dict[str, dict[str, TargetItem]],
    *,
    recovering: set[str] | None = None,
    collections: list[str] | None = None,
    propagate_deletes: bool = True,
    conflicts: set[tuple[str, str, str]] | None = None,
    on_delete: str = "delete",
) -> ItemsPlan:
    """Plans every item write; tries collection orders and keeps the cheapest.

    `target_items_by_slug` is keyed by SOURCE collection id (slug -> existing target item) and
    only holds collections whose target existed before the run. `recovering` are source item ids
    a lost create may have written (adopted by slug without comparing content). `conflicts`
    are (source coll, source item, locale) edited in the target since our last write: their
    updates are skipped and reported. `on_delete`: what happens in the target to items gone
    from the source (`delete`, `archive`, `keep`).
    """
    recovering = recovering or set()
    chosen = [
        c
        for c in source.collections
        if c.id in source.items and (collections is None or c.slug in collections)
    ]
    known0 = {i for (_c, i) in ledger_items}
    present = {(c.id, item.id) for c in chosen for item in source.items[c.id]}
    deleted: dict[str, list[tuple[str, dict[str, dict[str, Any]]]]] = {}
    if propagate_deletes:
        chosen_ids = {c.id for c in chosen}
        for (cid, iid), led in ledger_items.items():
            retired = all(
                str(r.get("applied_hash") or "").startswith(RETIRED) for r in led.values()
            )
            if cid in chosen_ids and (cid, iid) not in present and not retired:
                deleted.setdefault(cid, []).append((iid, led))

    refs_of = {
        c.id: {f.reference_collection_id for f in c.fields if f.type in REFERENCE_TYPES}
        for c in chosen
    }
    memo: dict[tuple[str, frozenset[str]], _CollectionResult] = {}
    shared: dict[tuple[Any, ...], Any] = {}  # `_plan_collection`'s order-independent parts

    def plan_one(c: Collection, before: frozenset[str]) -> _CollectionResult:
        """The cheapest plan of `c` when the collections `before` were created earlier (only
        those it references matter, so results are shared between orders)."""
        key = (c.id, frozenset(before & refs_of[c.id]))
        if key not in memo:
            known = set(known0)
            for d in key[1]:
                known |= plan_one(by_id[d], frozenset()).created_ids
            candidates = [
                _plan_collection(
                    source,
                    c,
                    source.items[c.id],
                    set(known),
                    ledger_items,
                    target_items_by_slug.get(c.id, {}),
                    recovering,
                    merge,
                    deleted.get(c.id, []),
                    {(i, t) for (cc, i, t) in conflicts or set() if cc == c.id},
                    on_delete,
                    shared,
                )
                for merge in (True, False)
            ]
            memo[key] = min(candidates, key=lambda r: r.requests)
        return memo[key]

    by_id = {c.id: c for c in chosen}

    def simulate(order: tuple[Collection, ...]) -> tuple[int, list[_CollectionResult]]:
        results = [plan_one(c, frozenset(d.id for d in order[:i])) for i, c in enumerate(order)]
        return sum(r.requests for r in results), results

    if len(chosen) <= MAX_EXHAUSTIVE_COLLECTIONS:
        orders = list(itertools.permutations(chosen))
    else:
        orders = [tuple(chosen)]
    best_cost, best_results, best_order = None, [], ()
    for order in orders:
        cost, results = simulate(order)
        if best_cost is None or cost < best_cost:
            best_cost, best_results, best_order = cost, results, order
    plan = ItemsPlan(order=[c.id for c in best_order])
    phase_rank = {
        PHASE_ITEMS: 0,
        PHASE_LINKS: 1,
        PHASE_PUBLISH: 2,
        PHASE_STATES: 3,
        PHASE_DELETE: 4,
    }
    all_ops: list[tuple[int, int, Op]] = []
    for pos, (c, r) in enumerate(zip(best_order, best_results, strict=True)):
        plan.stats[c.id] = r.stats
        plan.applied.extend(r.applied)
        plan.conflicts.extend({**x, "collection": c.id} for x in r.conflicts)
        all_ops.extend((phase_rank[op.phase], pos, op) for op in r.ops)
    # stable: by phase, then collection order, then op order
    plan.ops = [op for _rank, _pos, op in sorted(all_ops, key=lambda x: (x[0], x[1]))]
    return plan
