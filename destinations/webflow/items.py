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
the fewest requests: a reference into a collection created earlier is set at creation. Trying an
order does not re-plan anything: what does not depend on the order is worked out once per
collection (`_prepare`), and an order's cost only counts the link entries its deferred references
add (`_LinkCounts`); the cheapest order is then planned once (`_emit`).

Changed items (content hash differs from the one last applied, kept in the ledger) get the same
steps 2-4 with their full values; unchanged ones cost nothing, so a rerun writes nothing.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from .model import Collection, Item, ItemVersion, SourceSite, TargetItem
from .ops import Op, chunks
from .settings import (
    BULK_LIMIT,
    FILE_TYPES,
    MAX_EXHAUSTIVE_COLLECTIONS,
    NOT_WRITABLE_TYPES,
    PHASE_DELETE,
    PHASE_ITEMS,
    PHASE_LINKS,
    PHASE_PUBLISH,
    PHASE_STATES,
    REFERENCE_TYPES,
)
from .transform import collection_context, file_urls, references

RETIRED = "retired:"
"""applied_hash prefix of items gone from the source but archived/kept in the target."""

SIMPLE_TYPES = frozenset(
    {"PlainText", "Email", "Phone", "Link", "Number", "Switch", "Color", "DateTime", "VideoLink"}
)


Applied = tuple[str, str, str, str, bool, str]
Flags = tuple[bool, bool]
"""(isDraft, isArchived)."""
Chunk = tuple[tuple[str, ...], Flags, list["_Create"]]
"""One create-items request: its locales, its creation flags and its items."""


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
    applied: list[Applied] = field(default_factory=list)
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
    applied: list[Applied]
    conflicts: list[dict[str, Any]] = field(default_factory=list)


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
    if new is old:  # (a value differs from itself only when it is a NaN)
        return {k: a for k in writable if (a := new.get(k)) != a}
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


def _same_content(c: Collection, data: dict[str, Any], existing: TargetItem) -> bool:
    """An item already in the target counts as ours when its plain values are the same."""
    for f in c.fields:
        plain = f.slug == "name" or f.type in SIMPLE_TYPES
        if plain and data.get(f.slug) != existing.field_data.get(f.slug):
            return False
    return True


class _Files:
    """The MD5s of the source files a collection's values use (rich text is parsed once per
    distinct text: a locale's staged, live and diffed copies often share it)."""

    def __init__(self, c: Collection, md5_by_url: dict[str, str]) -> None:
        self.types = {
            f.slug: f.type for f in c.fields if f.type in FILE_TYPES or f.type == "RichText"
        }
        self.md5_by_url = md5_by_url
        self._html_urls: dict[str, list[str]] = {}

    def md5s(self, data: dict[str, Any]) -> dict[str, str]:
        out: dict[str, str] = {}
        for slug, value in data.items():
            ftype = self.types.get(slug)
            if ftype is None or not value:
                continue
            if ftype == "RichText" and isinstance(value, str):
                urls = self._html_urls.get(value)
                if urls is None:
                    urls = self._html_urls[value] = file_urls(value, ftype)
            else:
                urls = file_urls(value, ftype)
            for u in urls:
                if u in self.md5_by_url:
                    out[u] = self.md5_by_url[u]
        return out


@dataclass
class _Fields:
    """A collection's schema as the planner uses it."""

    c: Collection
    ctx: dict[str, Any]
    writable: list[str]
    types: dict[str, str]
    ref_slugs: list[str]
    files: _Files

    @classmethod
    def of(cls, c: Collection, md5_by_url: dict[str, str]) -> _Fields:
        return cls(
            c,
            collection_context(c),
            _writable(c),
            {f.slug: f.type for f in c.fields},
            [f.slug for f in c.fields if f.type in REFERENCE_TYPES],
            _Files(c, md5_by_url),
        )

    def diff(self, new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
        return _diff(new, old, self.writable, self.types, self.files.md5_by_url)


@dataclass
class _Sorted:
    """A collection's items by what this run does to them (whatever the collection order)."""

    creates: list[Item] = field(default_factory=list)
    full: dict[str, list[str]] = field(default_factory=dict)
    """Item id -> locales updated with full values (changed or adopted)."""
    adopted_slugs: dict[tuple[str, str], str | None] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)
    """conflict_items / reject_items / adopt_items (no requests)."""
    skipped: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    rejected: int = 0


def _classify(
    fs: _Fields,
    items: list[Item],
    primary: str,
    tag_order: list[str],
    ledger_items: dict[tuple[str, str], dict[str, dict[str, Any]]],
    target_slugs: dict[str, TargetItem],
    recovering: set[str],
    conflicts: set[tuple[str, str]],
) -> _Sorted:
    """Unchanged, changed, adopted (slug already in the target), rejected or to create."""
    c = fs.c
    out = _Sorted()
    adopt_rows: list[list[Any]] = []
    rejects: list[dict[str, Any]] = []
    for item in items:
        led = ledger_items.get((c.id, item.id))
        if led:
            changed = changed_locales(item, led, tag_order)
            for t in [t for t in changed if (item.id, t) in conflicts]:
                changed.remove(t)
                out.skipped.append(
                    {
                        "id": item.id,
                        "locale": t,
                        "slug": led[t].get("slug"),
                        "target_id": led[t].get("target_item_id"),
                    }
                )
            if changed:
                out.full[item.id] = changed
            else:
                out.unchanged += 1
            continue
        p = item.versions.get(primary)
        if p is None:
            rejects.append({"id": item.id, "field": None, "reason": "no primary-locale copy"})
            continue
        slug = p.field_data.get("slug")
        existing = target_slugs.get(slug) if slug else None
        if existing is None:
            out.creates.append(item)
        elif item.id in recovering or _same_content(c, p.field_data, existing):
            tags = [t for t in tag_order if t in item.versions]
            for t in tags:
                out.adopted_slugs[(item.id, t)] = existing.slugs.get(t)
            adopt_rows.extend([item.id, t, existing.id, existing.slugs.get(t)] for t in tags)
            out.full[item.id] = tags
        else:
            rejects.append(
                {
                    "id": item.id,
                    "field": "slug",
                    "reason": f"slug {slug!r} already exists in the target with other content "
                    f"(item {existing.id})",
                }
            )
    out.rejected = len(rejects)
    if out.skipped:
        out.ops.append(Op(PHASE_ITEMS, "conflict_items", c.id, {"items": out.skipped}, requests=0))
    if rejects:
        out.ops.append(Op(PHASE_ITEMS, "reject_items", c.id, {"items": rejects}, requests=0))
    if adopt_rows:
        out.ops.append(Op(PHASE_ITEMS, "adopt_items", c.id, {"rows": adopt_rows}, requests=0))
    return out


@dataclass
class _Locale:
    """One locale of an item to create: its link entry before references are deferred."""

    tag: str
    values: dict[str, Any]
    """The locale's desired values (a deferred reference is set from them)."""
    diff: dict[str, Any]
    """What differs from the primary's values the item is created with."""
    md5: dict[str, str]
    flags: Flags | None
    """(isDraft, isArchived) of a copy that will not be published, else None."""
    refs: list[str]
    """Reference fields set at creation that this locale has a value for."""


@dataclass
class _Create:
    """An item to create, with everything its plan needs that the collection order leaves as
    it is (the order only decides which of `refs` are deferred)."""

    item: Item
    values: dict[str, Any]
    """The primary's desired values, sent at creation."""
    md5: dict[str, str]
    refs: list[tuple[str, list[str]]]
    """(reference field, item ids) of the reference fields with a value."""
    flags: Flags
    locales: tuple[str, ...]
    versions: list[_Locale]
    recovering: bool


def _create_facts(
    fs: _Fields, item: Item, primary_tag: str, tag_order: list[str], recovering: bool
) -> _Create:
    primary = item.versions[primary_tag]
    data0 = _desired(primary)
    refs = [(s, references(data0[s], fs.types[s])) for s in fs.ref_slugs if data0.get(s)]
    locales = tuple(t for t in tag_order if t in item.versions)
    versions = []
    for t in locales:
        v = item.versions[t]
        d1 = _desired(v)
        diff = fs.diff(d1, data0)
        versions.append(
            _Locale(
                t,
                d1,
                diff,
                fs.files.md5s(diff),
                None if v.is_live else (v.is_draft, v.is_archived),
                [s for s, _ in refs if d1.get(s)],
            )
        )
    return _Create(
        item,
        data0,
        fs.files.md5s(data0),
        refs,
        (False, False) if primary.is_live else (primary.is_draft, primary.is_archived),
        locales,
        versions,
        recovering,
    )


def _update_entries(
    fs: _Fields,
    updates: list[tuple[Item, list[str]]],
    led_of: dict[str, dict[str, dict[str, Any]]],
    adopted_slugs: dict[tuple[str, str], str | None],
) -> tuple[list[dict[str, Any]], set[tuple[str, str]]]:
    """Link entries of changed and adopted items, and the (item, locale) that need no publish
    (diffed against the version last applied, whose live copy did not change)."""
    entries: list[dict[str, Any]] = []
    settled: set[tuple[str, str]] = set()
    for item, tags in updates:
        led = led_of.get(item.id) or {}
        for t in tags:
            v = item.versions[t]
            d1 = _desired(v)
            entry: dict[str, Any] = {"id": item.id, "locale": t}
            pv = _previous(led.get(t))
            if pv is not None:
                # only what changed since the last run: the target holds pv (staged + live)
                new_live = v.is_live and (
                    not pv.is_live
                    or bool(fs.diff(v.live_field_data or {}, pv.live_field_data or {}))
                )
                if new_live:  # staged := new live values, publish, then staged edits (4.)
                    fd = fs.diff(d1, pv.field_data)
                    if pv.is_draft or pv.is_archived:
                        entry.update(is_draft=False, is_archived=False)
                else:
                    settled.add((item.id, t))
                    fd = fs.diff(v.field_data, pv.field_data)
                    if (v.is_draft, v.is_archived) != (pv.is_draft, pv.is_archived):
                        entry.update(is_draft=v.is_draft, is_archived=v.is_archived)
            else:
                fd = {k: d1.get(k) for k in fs.writable}
                current = (led.get(t) or {}).get("slug") or adopted_slugs.get((item.id, t))
                if fd.get("slug") == current:
                    fd.pop("slug", None)  # an unchanged slug in a PATCH is a 400
                draft, archived = (False, False) if v.is_live else (v.is_draft, v.is_archived)
                entry.update(is_draft=draft, is_archived=archived)
            if fd:
                entry["field_data"] = fd
                entry["md5"] = fs.files.md5s(fd)
            if "field_data" in entry or "is_draft" in entry:
                entries.append(entry)
    return entries, settled


def _publish_ops(
    c: Collection,
    touched: list[tuple[Item, list[str]]],
    led_of: dict[str, dict[str, dict[str, Any]]],
    publishes: set[tuple[str, str]],
    stats: ItemStats,
) -> list[Op]:
    """3. unpublish what the source no longer has live, publish what must be (re)published."""
    publish, unpublish = [], []
    for item, tags in touched:
        led = led_of.get(item.id) or {}
        live = [t for t in tags if (item.id, t) in publishes]
        if live:
            publish.append({"id": item.id, "locales": live})
        gone = [
            t for t in tags if not item.versions[t].is_live and (led.get(t) or {}).get("is_live")
        ]
        if gone:
            unpublish.append({"id": item.id, "locales": gone})
    stats.publish, stats.unpublish = len(publish), len(unpublish)
    ops = [
        Op(PHASE_PUBLISH, "unpublish_items", c.id, {"items": chunk}, count=len(chunk))
        for chunk in chunks(unpublish, BULK_LIMIT)
    ]
    ops += [
        Op(PHASE_PUBLISH, "publish_items", c.id, {"items": chunk}, count=len(chunk))
        for chunk in chunks(publish, BULK_LIMIT)
    ]
    return ops


def _state_ops(
    fs: _Fields, touched: list[tuple[Item, list[str]]], publishes: set[tuple[str, str]]
) -> list[Op]:
    """4. after publishing: staged changes, drafts, archived."""
    entries: list[dict[str, Any]] = []
    for item, tags in touched:
        for t in tags:
            if (item.id, t) not in publishes:
                continue
            v = item.versions[t]
            entry: dict[str, Any] = {"id": item.id, "locale": t}
            fd = fs.diff(v.field_data, v.live_field_data or {})
            if fd:
                entry["field_data"] = fd
                entry["md5"] = fs.files.md5s(fd)
            if v.is_draft:
                entry["is_draft"] = True
            if v.is_archived:
                entry["is_archived"] = True
            if len(entry) > 2:
                entries.append(entry)
    return update_ops(PHASE_STATES, fs.c.id, entries, fs.ctx)


def update_ops(phase: str, cid: str, entries: list[Any], ctx: dict[str, Any]) -> list[Op]:
    """`update_items` ops of <= BULK_LIMIT entries each."""
    return [
        Op(phase, "update_items", cid, {"entries": chunk, "ctx": ctx}, count=len(chunk))
        for chunk in chunks(entries, BULK_LIMIT)
    ]


def _delete_ops(
    fs: _Fields,
    deleted: list[tuple[str, dict[str, dict[str, Any]]]],
    on_delete: str,
    stats: ItemStats,
) -> list[Op]:
    """5. items the source no longer has: deleted (default), archived, or kept in the target."""
    if not deleted:
        return []
    cid = fs.c.id
    ops: list[Op] = []
    if on_delete in ("delete", "archive"):
        live_gone = [
            {"id": i, "locales": [t for t, r in led.items() if r.get("is_live")]}
            for i, led in deleted
            if any(r.get("is_live") for r in led.values())
        ]
        for chunk in chunks(live_gone, BULK_LIMIT):
            ops.append(Op(PHASE_DELETE, "unpublish_items", cid, {"items": chunk}, count=len(chunk)))
        stats.delete = len(deleted)
    if on_delete == "delete":
        for chunk in chunks([{"id": i} for i, _ in deleted], BULK_LIMIT):
            ops.append(Op(PHASE_DELETE, "delete_items", cid, {"items": chunk}, count=len(chunk)))
        return ops
    if on_delete == "archive":
        entries = [{"id": i, "locale": t, "is_archived": True} for i, led in deleted for t in led]
        ops += update_ops(PHASE_DELETE, cid, entries, fs.ctx)
    ops.append(
        Op(
            PHASE_DELETE,
            "retire_items",
            cid,
            {"ids": [i for i, _ in deleted], "how": on_delete},
            requests=0,
        )
    )
    return ops


def _applied(c: Collection, item: Item, t: str) -> Applied:
    v = item.versions[t]
    return (c.id, item.id, t, v.content_hash(), v.is_live, version_json(v))


@dataclass
class _Prepared:
    """A collection's plan but for its creates and their link entries, which depend on the
    collections created before it (`_emit` adds them)."""

    fs: _Fields
    stats: ItemStats
    head_ops: list[Op]
    creates: list[_Create]
    update_links: list[dict[str, Any]]
    tail_ops: list[Op]
    """unpublish/publish, states and delete ops."""
    applied: list[Applied]
    skipped: list[dict[str, Any]]
    _chunks: dict[bool, list[Chunk]] = field(default_factory=dict)

    def chunks(self, merge_flags: bool) -> list[Chunk]:
        """The create-items requests: items grouped by locales and creation flags (with
        `merge_flags`, each locale group takes its majority's flags, fixed in `links`)."""
        if merge_flags not in self._chunks:
            majority: dict[tuple[str, ...], Flags] = {}
            if merge_flags:
                counts: dict[tuple[str, ...], Counter[Flags]] = {}
                for x in self.creates:
                    counts.setdefault(x.locales, Counter())[x.flags] += 1
                majority = {k: v.most_common(1)[0][0] for k, v in counts.items()}
            groups: dict[tuple[tuple[str, ...], Flags], list[_Create]] = {}
            for x in self.creates:
                fl = majority[x.locales] if merge_flags else x.flags
                groups.setdefault((x.locales, fl), []).append(x)
            self._chunks[merge_flags] = [
                (locs, fl, chunk)
                for (locs, fl), group in groups.items()
                for chunk in chunks(group, BULK_LIMIT)
            ]
        return self._chunks[merge_flags]


def _prepare(
    source: SourceSite,
    fs: _Fields,
    ledger_items: dict[tuple[str, str], dict[str, dict[str, Any]]],
    target_slugs: dict[str, TargetItem],
    recovering: set[str],
    deleted: list[tuple[str, dict[str, dict[str, Any]]]],
    conflicts: set[tuple[str, str]],
    on_delete: str,
) -> _Prepared:
    c = fs.c
    items = source.items[c.id]
    primary, tag_order = source.primary_tag, [loc.tag for loc in source.locales]
    sorted_ = _classify(
        fs, items, primary, tag_order, ledger_items, target_slugs, recovering, conflicts
    )
    stats = ItemStats(
        source_items=len(items),
        create=len(sorted_.creates),
        update=len(sorted_.full),
        unchanged=sorted_.unchanged,
        rejected=sorted_.rejected,
    )
    by_id = {item.id: item for item in items}
    led_of = {i: ledger_items.get((c.id, i)) or {} for i in sorted_.full}
    creates = [
        _create_facts(fs, item, primary, tag_order, item.id in recovering)
        for item in sorted_.creates
    ]
    updates = [(by_id[i], tags) for i, tags in sorted_.full.items()]
    links, settled = _update_entries(fs, updates, led_of, sorted_.adopted_slugs)
    touched = [(x.item, list(x.locales)) for x in creates] + updates
    publishes = {
        (item.id, t) for item, tags in touched for t in tags if item.versions[t].is_live
    } - settled
    applied = [_applied(c, item, t) for item, tags in touched for t in tags]
    tail = _publish_ops(c, touched, led_of, publishes, stats)
    tail += _state_ops(fs, touched, publishes)
    tail += _delete_ops(fs, deleted, on_delete, stats)
    return _Prepared(fs, stats, sorted_.ops, creates, links, tail, applied, sorted_.skipped)


Clauses = frozenset[frozenset[str]]
"""Sets of collections: a reference is set at creation when each set meets the collections
created before (a referenced item is created by one of them)."""


@dataclass
class _Needs:
    """What setting a reference field of an item to create at creation needs."""

    clauses: Clauses | None
    """From items other collections create (None: an item nobody creates or has created)."""
    own: list[tuple[str, frozenset[str] | None]]
    """Items this collection creates, known once their request is sent (or when another
    collection that creates them came first): (item id, those collections or None)."""


def _reference_needs(
    prep: _Prepared, known0: set[str], creators: dict[str, frozenset[str]]
) -> list[dict[str, _Needs]]:
    """Per item to create (as in `prep.creates`), per reference field: what it needs."""
    cid = prep.fs.c.id
    out: list[dict[str, _Needs]] = []
    for x in prep.creates:
        needs: dict[str, _Needs] = {}
        for s, refs in x.refs:
            clauses: set[frozenset[str]] | None = set()
            own: list[tuple[str, frozenset[str] | None]] = []
            for r in refs:
                if r in known0:
                    continue
                by = creators.get(r, frozenset())
                others = by - {cid} if cid in by else by
                if cid in by:
                    own.append((r, others or None))
                elif not others:
                    clauses = None
                elif clauses is not None:
                    clauses.add(others)
            needs[s] = _Needs(None if clauses is None else frozenset(clauses), own)
        out.append(needs)
    return out


@dataclass
class _LinkCounts:
    """Link entries of a collection's created items, for one way of grouping the creates,
    whatever collections were created before it: `fixed` exist anyway; each of `by_condition`
    exists unless every one of its clauses meets the collections created earlier."""

    creates: int
    fixed: int
    by_condition: Counter[Clauses]

    def links(self, before: frozenset[str]) -> int:
        return self.fixed + sum(
            n for cond, n in self.by_condition.items() if not all(cl & before for cl in cond)
        )


def _link_counts(prep: _Prepared, merge_flags: bool, needs: list[dict[str, _Needs]]) -> _LinkCounts:
    """Mirrors `_emit`'s deferral (a reference is set at creation when its item is in the
    ledger, was created in an earlier request of this collection, or by a collection created
    before) without planning anything."""
    chunk_of: dict[str, int] = {}
    flags_of: dict[str, Flags] = {}
    todo = prep.chunks(merge_flags)
    for k, (_locs, fl, chunk) in enumerate(todo):
        for x in chunk:
            chunk_of[x.item.id] = k
            flags_of[x.item.id] = fl
    fixed = 0
    by_condition: Counter[Clauses] = Counter()
    for x, item_needs in zip(prep.creates, needs, strict=True):
        k = chunk_of[x.item.id]
        slugs: dict[str, Clauses | None] = {}  # None: deferred whatever the order
        for s, need in item_needs.items():
            clauses = need.clauses
            for r, others in need.own:
                if clauses is None or chunk_of[r] < k:
                    continue
                clauses = None if others is None else clauses | {others}
            slugs[s] = clauses
        for loc in x.versions:
            if loc.diff or (loc.flags is not None and loc.flags != flags_of[x.item.id]):
                fixed += 1
                continue
            cond: Clauses = frozenset()
            for s in loc.refs:
                clauses = slugs[s]
                if clauses is None:
                    fixed += 1
                    break
                cond |= clauses
            else:
                if cond:
                    by_condition[cond] += 1
    return _LinkCounts(len(todo), fixed, by_condition)


def _emit(prep: _Prepared, merge_flags: bool, known: set[str]) -> _CollectionResult:
    """The collection's ops, `known` being the item ids with a target id before it (grows
    with the items it creates)."""
    fs, cid = prep.fs, prep.fs.c.id
    stats = replace(prep.stats)
    ops = list(prep.head_ops)
    # 1. creates, grouped by locales and creation flags
    deferred: dict[str, list[str]] = {}
    flags_of: dict[str, Flags] = {}
    for locs, (draft, archived), chunk in prep.chunks(merge_flags):
        entries = []
        for x in chunk:
            defer = [s for s, refs in x.refs if any(r not in known for r in refs)]
            deferred[x.item.id] = defer
            flags_of[x.item.id] = (draft, archived)
            entry = {"id": x.item.id, "field_data": x.values, "defer": defer, "md5": x.md5}
            if x.recovering:
                # a lost create of an earlier run may still land after our read: a slug
                # taken at create time is then that item, adopted (`_adopt_taken`)
                entry["recovering"] = True
            entries.append(entry)
        ops.append(
            Op(
                PHASE_ITEMS,
                "create_items",
                cid,
                {
                    "locales": list(locs),
                    "is_draft": draft,
                    "is_archived": archived,
                    "items": entries,
                    "ctx": fs.ctx,
                },
                count=len(chunk),
            )
        )
        known.update(x.item.id for x in chunk)
    # 2. links: translations, references left out, flags of items that stay unpublished
    links: list[dict[str, Any]] = []
    for x in prep.creates:
        defer = deferred[x.item.id]
        for loc in x.versions:
            entry: dict[str, Any] = {"id": x.item.id, "locale": loc.tag}
            fd = dict(loc.diff)
            for s in defer:
                if loc.values.get(s):
                    fd[s] = loc.values[s]
            if loc.flags is not None and loc.flags != flags_of[x.item.id]:
                entry.update(is_draft=loc.flags[0], is_archived=loc.flags[1])
            if fd:
                entry["field_data"] = fd
                entry["md5"] = loc.md5
            if any(s in fd for s in defer):
                stats.link += 1
            if "field_data" in entry or "is_draft" in entry:
                links.append(entry)
    links += prep.update_links
    ops += update_ops(PHASE_LINKS, cid, links, fs.ctx)
    ops += prep.tail_ops
    return _CollectionResult(ops, stats, prep.applied, prep.skipped)


def _deleted(
    chosen: list[Collection],
    ledger_items: dict[tuple[str, str], dict[str, dict[str, Any]]],
    present: set[tuple[str, str]],
) -> dict[str, list[tuple[str, dict[str, dict[str, Any]]]]]:
    """Per collection, the items of the ledger the source no longer has (not retired yet)."""
    chosen_ids = {c.id for c in chosen}
    out: dict[str, list[tuple[str, dict[str, dict[str, Any]]]]] = {}
    for (cid, iid), led in ledger_items.items():
        retired = all(str(r.get("applied_hash") or "").startswith(RETIRED) for r in led.values())
        if cid in chosen_ids and (cid, iid) not in present and not retired:
            out.setdefault(cid, []).append((iid, led))
    return out


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
    deleted = _deleted(chosen, ledger_items, present) if propagate_deletes else {}
    preps = {
        c.id: _prepare(
            source,
            _Fields.of(c, source.file_md5_by_url),
            ledger_items,
            target_items_by_slug.get(c.id, {}),
            recovering,
            deleted.get(c.id, []),
            {(i, t) for (cc, i, t) in conflicts or set() if cc == c.id},
            on_delete,
        )
        for c in chosen
    }
    created: dict[str, set[str]] = {}  # item id -> collections that create it
    for cid, prep in preps.items():
        for x in prep.creates:
            created.setdefault(x.item.id, set()).add(cid)
    creators = {i: frozenset(cs) for i, cs in created.items()}
    refs_of = {
        c.id: {f.reference_collection_id for f in c.fields if f.type in REFERENCE_TYPES}
        for c in chosen
    }
    needs = {cid: _reference_needs(prep, known0, creators) for cid, prep in preps.items()}
    counts: dict[tuple[str, bool], _LinkCounts] = {}
    memo: dict[tuple[str, frozenset[str]], tuple[int, bool]] = {}

    def plan_one(c: Collection, before: frozenset[str]) -> tuple[int, bool]:
        """Requests of `c` that depend on the collections `before` created earlier (only
        those it references matter, so results are shared between orders), and whether its
        creates take their group's majority flags (the cheaper way, that one on a tie)."""
        key = (c.id, frozenset(before & refs_of[c.id]))
        if key not in memo:
            best: tuple[int, bool] | None = None
            for merge in (True, False):
                if (c.id, merge) not in counts:
                    counts[(c.id, merge)] = _link_counts(preps[c.id], merge, needs[c.id])
                n = counts[(c.id, merge)]
                links = len(preps[c.id].update_links) + n.links(key[1])
                cost = n.creates + -(-links // BULK_LIMIT)
                if best is None or cost < best[0]:
                    best = (cost, merge)
            assert best is not None
            memo[key] = best
        return memo[key]

    def simulate(order: tuple[Collection, ...]) -> int:
        return sum(plan_one(c, frozenset(d.id for d in order[:i]))[0] for i, c in enumerate(order))

    if len(chosen) <= MAX_EXHAUSTIVE_COLLECTIONS:
        orders = list(itertools.permutations(chosen))
    else:
        orders = [tuple(chosen)]
    best_cost: int | None = None
    best_order: tuple[Collection, ...] = ()
    for order in orders:
        cost = simulate(order)
        if best_cost is None or cost < best_cost:
            best_cost, best_order = cost, order
    plan = ItemsPlan(order=[c.id for c in best_order])
    phase_rank = {
        PHASE_ITEMS: 0,
        PHASE_LINKS: 1,
        PHASE_PUBLISH: 2,
        PHASE_STATES: 3,
        PHASE_DELETE: 4,
    }
    all_ops: list[tuple[int, int, Op]] = []
    for pos, c in enumerate(best_order):
        before = frozenset(d.id for d in best_order[:pos]) & refs_of[c.id]
        known = set(known0)
        for i, cs in creators.items():
            if cs & before:
                known.add(i)
        r = _emit(preps[c.id], plan_one(c, before)[1], known)
        plan.stats[c.id] = r.stats
        plan.applied.extend(r.applied)
        plan.conflicts.extend({**x, "collection": c.id} for x in r.conflicts)
        all_ops.extend((phase_rank[op.phase], pos, op) for op in r.ops)
    # stable: by phase, then collection order, then op order
    plan.ops = [op for _rank, _pos, op in sorted(all_ops, key=lambda x: (x[0], x[1]))]
    return plan
