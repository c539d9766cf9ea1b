"""The request floor: the fewest Webflow API requests a site-to-site migration can make.

`floor_requests(export)` answers "how many requests, by operationId, would a perfect migrator
need for this source site?", computed from the emulator's admin export (what is really there).
`floor_incremental(before, after, target)` answers the same for re-syncing a change set.
The benchmark divides measured requests by these numbers; see `floor_requests` for every
assumption. Operations are named by Webflow operationId; `s3-upload` and `cdn-download` are
not API requests (not rate limited) and are excluded from `rate_limited_total`.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Any

from bench.shape import (
    REFERENCE_TYPES,
    CollectionShape,
    SiteShape,
    canonical,
    inline_image_urls,
    site_shape,
)

PAGE = 100  # list limit and bulk limit
NOT_RATE_LIMITED = frozenset({"s3-upload", "cdn-download"})
PERMUTATION_LIMIT = 7  # collection orders are searched exhaustively up to this many collections


def pages(n: int, minimum: int = 1) -> int:
    """Requests to read or write n entries at 100 per request (at least `minimum`)."""
    return max(minimum, math.ceil(n / PAGE))


def rate_limited_total(ops: dict[str, int]) -> int:
    """The requests that count against the token's rate limit."""
    return sum(n for op, n in ops.items() if op not in NOT_RATE_LIMITED)


def floor_requests(
    site_description: dict[str, Any] | SiteShape, target_state: dict[str, Any] | None = None
) -> dict[str, int]:
    """Fewest requests, by operation, to copy the source site into the target.

    `site_description` is the source's admin export (or its `SiteShape`); `target_state` is
    the target's export when it already holds content (None = an empty target with the same
    locales). Assumptions, each the cheapest thing the API allows:

    Source reads
    - `get-site` 1 (locales), `list-collections` 1, `collection-details` 1 per collection.
    - `list-collection-items`: one staged pass per collection asking for every locale at once
      (`cmsLocaleId=a,b`: each page holds 100 item x locale entries), ceil(entries/100), at
      least 1 (an empty collection still costs the request that says so).
    - Live content is read only where it can differ from the staged copy: an entry whose staged
      `lastUpdated` is after its `lastPublished` (publishing does not bump lastUpdated). Cost:
      min(ceil(live entries/100) of `list-collection-items-live`, one `get-item-live` per such
      entry); 0 when no live entry can differ.
    - `list-asset-folders` 1 (one unpaged answer); `list-assets` ceil(assets/100), at least 1.
    - Downloads of files to upload (`cdn-download`) are counted apart: one per uploaded file.

    Target schema
    - `get-site` 1 (the target's own cmsLocaleIds). The target is known to be empty (or known
      from `target_state`), so nothing is listed.
    - `create-collection` 1 per collection, static, Option and reference fields inline; option
      ids come back in the answer (no `collection-details`).
    - `create-field` 1 per reference field whose target collection does not exist yet when its
      collection is created (self references, and the back edge of a cycle). The collection
      order is the one minimising create-field + item-patch requests (exhaustive search up to
      7 collections, else dependency order).

    Assets
    - `create-asset-folder` 1 per folder (parents first).
    - `create-asset` + `s3-upload` 1 each per distinct asset (MD5, folder, file name, display
      name, alt text); `patch-asset` 1 when alt text or a display name other than the file name
      must be set (create-asset cannot carry them).
    - Image, File and MultiImage values cost nothing: they are written as `{url, alt}` of the
      source's hosted file and the API re-hosts them in the item write.
    - Rich-text inline images: rewritten to the target asset with the same MD5 (free); a file
      not among the assets costs one create-asset + s3-upload per distinct MD5. URLs the
      source does not host are left as they are.

    Items
    - `create-items` (`/items/bulk`), <=100 items per request, all of an item's locales at once;
      `isDraft`/`isArchived` apply to a whole request, so per collection the cheaper of: one
      group per (locale set, flags) (items to be published are created unarchived and join
      whichever isDraft group fills requests best), or every item created with one unarchived
      flag pair and the other flags set by update-items entries (free when that entry is
      needed anyway). Creation content is what goes live (the live copy if any, else staged).
    - `update-items` (<=100 entries, each with its own cmsLocaleId, so several locales and
      fixes share a request), one entry per item x locale that needs any of: a reference to a
      collection created later or to its own collection (cycle/self edges), secondary-locale
      content other than the primary's, flags other than the creation flags. Entries of items
      to be published go before the publish; after the publish, one entry per live entry whose
      staged copy differs (published-with-changes, changes in draft, archived after publish).
      Entries that can go either side fill the partial request first.
    - `publish-item` ceil(items with a live locale/100) per collection (`items[].cmsLocaleIds`).
    - With `target_state`: collections, fields, folders, assets and items that already exist
      (matched by slug, folder path, asset key and canonical content) cost nothing; an item
      that exists but differs costs one `update-items` entry per differing locale (+ publish /
      `delete-items-live` when its live state differs); target items missing from the source
      cost `delete-items` (<=100 per request); `delete-items` in the primary locale removes
      the live copies too (emulator deviation delete-primary-deletes-all), so no unpublish.

    - References into the item's own collection are set at creation when the target can be
      created in an earlier request: only items on a cycle of the self-reference graph (a
      greedy feedback vertex set) or deeper than the collection's number of create requests
      are patched.

    Simplifications (the true floor can only be lower by these): items of different
    collections are not interleaved, so a cycle between collections is broken at collection
    level (every reference of the earlier-created collection into the later one is patched);
    a collection's create groups are either all split by flags or all merged; the feedback
    vertex set is greedy, not minimal.
    Not counted: `site-publish` (items are published with publish-item), token checks.
    """
    shape = (
        site_description
        if isinstance(site_description, SiteShape)
        else site_shape(site_description)
    )
    ops: Counter[str] = Counter()
    ops.update(_source_reads(shape))
    ops["get-site"] += 1  # the target's locales

    existing = _Existing(target_state, shape) if target_state is not None else None
    ops.update(_asset_writes(shape, existing))
    ops.update(_schema_and_items(shape, existing))
    return {op: n for op, n in sorted(ops.items()) if n}


# --- source reads ----------------------------------------------------------------------------
def _source_reads(shape: SiteShape) -> Counter[str]:
    ops: Counter[str] = Counter()
    ops["get-site"] += 1
    ops["list-collections"] += 1
    for coll in shape.collections:
        ops["collection-details"] += 1
        entries = [e for item in coll.items for e in item.entries.values()]
        ops["list-collection-items"] += pages(len(entries))
        live = [e for e in entries if e.live is not None]
        stale = [
            e
            for e in live
            if (e.staged.get("lastUpdated") or "") > (e.staged.get("lastPublished") or "")
        ]
        if stale:
            if len(stale) < pages(len(live)):
                ops["get-item-live"] += len(stale)
            else:
                ops["list-collection-items-live"] += pages(len(live))
    ops["list-asset-folders"] += 1
    ops["list-assets"] += pages(len(shape.assets))
    return ops


# --- assets ------------------------------------------------------------------------------------
def _asset_key(shape: SiteShape, a: dict[str, Any]) -> tuple[Any, ...]:
    folder = shape.folder_paths.get(a.get("folderId") or "", "")
    return (a["md5"], folder, a["originalFileName"], a["displayName"], a.get("altText"))


def _asset_writes(shape: SiteShape, existing: _Existing | None) -> Counter[str]:
    ops: Counter[str] = Counter()
    have_folders = existing.folders if existing else set()
    ops["create-asset-folder"] += sum(
        1 for p in shape.folder_paths.values() if p not in have_folders
    )
    have_assets = existing.assets if existing else set()
    have_md5 = existing.md5s if existing else set()
    keys = {_asset_key(shape, a) for a in shape.assets}
    for md5, _folder, file_name, display_name, alt in keys - have_assets:
        ops["create-asset"] += 1
        ops["s3-upload"] += 1
        if md5 not in have_md5:
            ops["cdn-download"] += 1
        if alt or display_name != file_name:
            ops["patch-asset"] += 1
    # rich-text inline images that are not assets
    asset_md5 = {a["md5"] for a in shape.assets} | have_md5
    inline: set[str] = set()
    for coll in shape.collections:
        rich = [f["slug"] for f in coll.fields if f["type"] == "RichText"]
        for item in coll.items:
            for e in item.entries.values():
                for copy in (e.staged, e.live):
                    for slug in rich:
                        html = ((copy or {}).get("fieldData") or {}).get(slug)
                        for url in inline_image_urls(html or ""):
                            md5 = shape.md5_by_url.get(url)
                            if md5 and md5 not in asset_md5:
                                inline.add(md5)
    ops["create-asset"] += len(inline)
    ops["s3-upload"] += len(inline)
    ops["cdn-download"] += len(inline)
    return ops


# --- schema and items ----------------------------------------------------------------------------
class _Existing:
    """What the target already holds, in the source's terms."""

    def __init__(self, target_export: dict[str, Any], source: SiteShape) -> None:
        t = site_shape(target_export)
        self.folders = set(t.folder_paths.values())
        self.assets = {_asset_key(t, a) for a in t.assets}
        self.md5s = {a["md5"] for a in t.assets}
        self.fields = {c.slug: {f["slug"] for f in c.fields} for c in t.collections}
        self.canonical = canonical(target_export)["collections"]


def _ref_targets(coll: CollectionShape, fd: dict[str, Any]) -> frozenset[str]:
    """Ids of the collections this fieldData's non-empty reference values point into."""
    out = set()
    for f in coll.reference_fields():
        if fd.get(f["slug"]) not in (None, [], ""):
            out.add(coll.target_of(f))
    return frozenset(x for x in out if x)


def _self_deferred(coll: CollectionShape, new_items: list[Any]) -> set[str]:
    """Items whose references into their own collection cannot be set at creation.

    Items can be created in any order across the collection's create requests, so a reference
    to an item of an earlier request is set at creation. Items on a cycle of the self-reference
    graph cannot all be: a greedy feedback vertex set (highest in x out degree first) is
    deferred. Of the rest, an item needs its targets in earlier requests: one whose dependency
    depth reaches the number of create requests (ceil(n/100)) is deferred too.
    """
    own = [f["slug"] for f in coll.reference_fields() if coll.target_of(f) == coll.id]
    if not own:
        return set()
    ids = {i.id for i in new_items}
    edges: dict[str, set[str]] = {}
    for item in new_items:
        targets: set[str] = set()
        for e in item.entries.values():
            fd = (e.live or e.staged).get("fieldData") or {}
            for slug in own:
                value = fd.get(slug)
                values = value if isinstance(value, list) else [value]
                targets.update(v for v in values if isinstance(v, str) and v in ids)
        edges[item.id] = targets
    deferred = _feedback_vertices(edges)
    depth: dict[str, int] = {}

    def depth_of(v: str) -> int:
        stack = [(v, False)]
        while stack:
            node, done = stack.pop()
            if node in depth:
                continue
            outs = () if node in deferred else edges[node]
            if done:
                depth[node] = 1 + max((depth[t] for t in outs), default=-1)
                continue
            stack.append((node, True))
            stack.extend((t, False) for t in outs if t not in depth)
        return depth[v]

    batches = pages(len(new_items))
    for v in edges:
        if v not in deferred and depth_of(v) >= batches:
            deferred.add(v)
    return deferred


def _feedback_vertices(edges: dict[str, set[str]]) -> set[str]:
    """A small set of vertices whose removal leaves the graph acyclic (greedy, per strongly
    connected component: remove the vertex with the largest in x out degree, repeat)."""
    removed: set[str] = set()
    while True:
        comps = [c for c in _sccs(edges, removed) if len(c) > 1 or _loop(edges, c)]
        if not comps:
            return removed
        for comp in comps:
            inside = set(comp)
            indeg = Counter(t for v in comp for t in edges[v] if t in inside)
            best = max(
                sorted(comp), key=lambda v: indeg[v] * len(edges[v] & inside) + (v in edges[v])
            )
            removed.add(best)


def _loop(edges: dict[str, set[str]], comp: list[str]) -> bool:
    return len(comp) == 1 and comp[0] in edges[comp[0]]


def _sccs(edges: dict[str, set[str]], removed: set[str]) -> list[list[str]]:
    """Strongly connected components (iterative Tarjan) of the graph minus `removed`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index or root in removed:
            continue
        work = [(root, iter(sorted(edges[root] - removed)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges[w] - removed))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out


LIVE = "live"  # item_flags of an item with a live locale: created unarchived, isDraft free
UNARCHIVED = ((False, False), (True, False))


class _CollectionWork:
    """Order-independent facts about one collection's items, grouped for the order search."""

    def __init__(
        self,
        coll: CollectionShape,
        primary: str,
        existing: _Existing | None,
        source_items: dict[str, Any],
    ) -> None:
        self.coll = coll
        # (locale set, item flags) -> items; item flags = (isDraft, isArchived) or LIVE
        self.create_groups: Counter[tuple[frozenset[str], Any]] = Counter()
        # (phase, content differs?, ref targets, wanted flags or None, item flags) -> entries;
        # phase "pre" (must precede the publish) or "free"
        self.update_groups: Counter[tuple[str, bool, frozenset[str], Any, Any]] = Counter()
        self.post = 0  # entries after the publish
        self.publish = 0
        self.deletes = 0
        self.unpublish = 0
        target_items = existing.canonical.get(coll.slug, {}).get("items", {}) if existing else {}
        new = [i for i in coll.items if existing is None or i.slug not in target_items]
        self.self_deferred = _self_deferred(coll, new)
        for item in coll.items:
            if existing is not None and item.slug in target_items:
                self._existing_item(source_items[item.slug], target_items[item.slug])
                continue
            self._new_item(item, primary)
        if existing is not None:
            self.deletes = sum(1 for slug in target_items if slug not in source_items)

    def _existing_item(self, src: dict[str, Any], dst: dict[str, Any]) -> None:
        published = False
        for tag, s in src.items():
            d = dst.get(tag)
            if d == s:
                continue
            if d is not None and s["live"] != d["live"]:
                if s["live"] is None:
                    self.unpublish += 1
                else:
                    self.update_groups[("pre", True, frozenset(), None, None)] += 1
                    published = True
                    if s["fieldData"] != s["live"]["fieldData"] or s["isDraft"]:
                        self.post += 1
                    continue
            # changed content or flags (or a missing locale, which cannot be added: an update)
            self.update_groups[("free", True, frozenset(), None, None)] += 1
        self.publish += published

    def _new_item(self, item: Any, primary: str) -> None:
        entries = item.entries
        live_any = any(e.live is not None for e in entries.values())
        prim = entries.get(primary) or next(iter(entries.values()))
        first = {t: (e.live or e.staged) for t, e in entries.items()}
        prim_fd = first[prim.locale].get("fieldData") or {}
        item_flags: Any = LIVE
        if not live_any:
            item_flags = (bool(prim.staged.get("isDraft")), bool(prim.staged.get("isArchived")))
        self.create_groups[(frozenset(entries), item_flags)] += 1
        self.publish += live_any
        for tag, e in entries.items():
            fd = first[tag].get("fieldData") or {}
            differs = tag != prim.locale and any(
                fd.get(k) != prim_fd.get(k) for k in set(fd) | set(prim_fd)
            )
            wanted = None
            if e.live is None:
                wanted = (bool(e.staged.get("isDraft")), bool(e.staged.get("isArchived")))
            phase = "pre" if e.live is not None else "free"
            refs = _ref_targets(self.coll, fd)
            if item.id not in self.self_deferred:
                refs = refs - {self.coll.id}  # its own-collection targets are created before it
            key = (phase, differs, refs, wanted, item_flags)
            self.update_groups[key] += 1
            if e.live is not None:
                staged_fd = e.staged.get("fieldData") or {}
                if (
                    staged_fd != (e.live.get("fieldData") or {})
                    or e.staged.get("isDraft")
                    or e.staged.get("isArchived")
                ):
                    self.post += 1

    def requests(self, deferred: frozenset[str]) -> tuple[int, int]:
        """(create-items, update-items) requests, the cheaper of two strategies: one create
        group per flag combination (items to publish join the best unarchived group), or all
        items created with one unarchived flag pair and the others' flags set by update
        entries (free when the entry is needed anyway)."""
        best = (self._grouped_creates(), self._updates(deferred, None))
        per_locale_set: Counter[frozenset[str]] = Counter()
        for (locales, _flags), n in self.create_groups.items():
            per_locale_set[locales] += n
        one_group = sum(pages(n, 0) for n in per_locale_set.values())
        for flags in UNARCHIVED:
            option = (one_group, self._updates(deferred, flags))
            if sum(option) < sum(best):
                best = option
        return best

    def _grouped_creates(self) -> int:
        total = 0
        by_locales: dict[frozenset[str], Counter[Any]] = {}
        for (locales, flags), n in self.create_groups.items():
            by_locales.setdefault(locales, Counter())[flags] += n
        for groups in by_locales.values():
            free = groups.pop(LIVE, 0)
            n_true, n_false = groups.pop((True, False), 0), groups.pop((False, False), 0)
            total += sum(pages(n, 0) for n in groups.values())
            slack = (-n_true) % PAGE
            total += min(
                pages(n_true + x, 0) + pages(n_false + free - x, 0)
                for x in {0, free, min(free, slack)}
            )
        return total

    def _updates(self, deferred: frozenset[str], created_as: tuple[bool, bool] | None) -> int:
        pre = free = 0
        for (phase, differs, refs, wanted, item_flags), n in self.update_groups.items():
            if created_as is not None:
                flags = created_as
            elif item_flags == LIVE:
                flags = (False, False)
            else:
                flags = item_flags
            if differs or refs & deferred or (wanted is not None and wanted != flags):
                if phase == "pre":
                    pre += n
                else:
                    free += n
        if not pre and not self.post:
            return pages(free, 0)
        moved = min(free, (-pre) % PAGE)
        return pages(pre, 0) + pages(self.post + free - moved, 0)


def _schema_and_items(shape: SiteShape, existing: _Existing | None) -> Counter[str]:
    ops: Counter[str] = Counter()
    src = canonical(shape.export)["collections"] if existing is not None else {}
    work = {
        c.id: _CollectionWork(c, shape.primary, existing, src.get(c.slug, {}).get("items", {}))
        for c in shape.collections
    }
    ids = [c.id for c in shape.collections]
    by_id = shape.collection_by_id()

    def cost(order: tuple[str, ...]) -> tuple[int, int, int, int]:
        position = {cid: i for i, cid in enumerate(order)}
        fields = creates = updates = 0
        for cid in order:
            coll = by_id[cid]
            later = frozenset(x for x in order if position[x] >= position[cid])
            have = existing.fields.get(coll.slug) if existing else None
            for f in coll.reference_fields():
                if have is not None and f["slug"] in have:
                    continue
                if have is not None or coll.target_of(f) in later:
                    fields += 1
            c, u = work[cid].requests(later)
            creates += c
            updates += u
        return fields + creates + updates, fields, creates, updates

    orders = itertools.permutations(ids) if len(ids) <= PERMUTATION_LIMIT else iter([tuple(ids)])
    best = min((cost(o), o) for o in orders)[1] if ids else ()
    _total, n_fields, n_creates, n_updates = cost(best)
    for cid in best:
        coll = by_id[cid]
        have = existing.fields.get(coll.slug) if existing else None
        if have is None:
            ops["create-collection"] += 1
        elif existing is not None:
            ops["create-field"] += sum(
                1 for f in coll.fields if f["slug"] not in have and f["type"] not in REFERENCE_TYPES
            )
        w = work[cid]
        ops["publish-item"] += pages(w.publish, 0)
        ops["delete-items"] += pages(w.deletes, 0)
        ops["delete-items-live"] += pages(w.unpublish, 0)
    ops["create-field"] += n_fields
    ops["create-items"] += n_creates
    ops["update-items"] += n_updates
    return ops


# --- incremental ---------------------------------------------------------------------------------
def floor_incremental(
    before: dict[str, Any], after: dict[str, Any], target: dict[str, Any] | None = None
) -> dict[str, int]:
    """Fewest requests to bring a target that mirrors `before` up to date with `after`.

    `before`/`after` are source exports around the change set; `target` is the target's export
    after the first migration (default: assume it equals `before`). Reads use watermarks:
    - `get-site` 0 (locales are remembered), `list-collections` 1 (its `lastUpdated` signals
      schema drift), `collection-details` only for collections whose lastUpdated changed.
    - `list-collection-items` per collection: changed entries since the watermark
      (`lastUpdated[gte]`, every locale at once), ceil(changed/100) and at least 1, plus 1
      unfiltered `limit=1` request whose `pagination.total` checks for deletes; when the total
      does not add up, a full id scan of the primary locale (ceil(items/100)).
    - live: `list-collection-items-live` with `lastPublished[gte]`, ceil(changed live/100) and
      at least 1 per collection with any live item.
    - `list-assets`: full scan ceil(assets/100) (assets have no date filter);
      `list-asset-folders` 1.
    Writes: as `floor_requests(after, target_state=target)` minus its full reads.
    """
    b, a = site_shape(before), site_shape(after)
    ops: Counter[str] = Counter()
    ops["list-collections"] += 1
    before_colls = {c.slug: c for c in b.collections}
    after_export_colls = {c["slug"]: c for c in after.get("collections", [])}
    before_export_colls = {c["slug"]: c for c in before.get("collections", [])}
    for coll in a.collections:
        old = before_colls.get(coll.slug)
        if old is None or after_export_colls[coll.slug].get("lastUpdated") != before_export_colls[
            coll.slug
        ].get("lastUpdated"):
            ops["collection-details"] += 1
        old_entries = {}
        if old is not None:
            for item in old.items:
                for tag, e in item.entries.items():
                    old_entries[(item.id, tag)] = e
        changed = live_changed = 0
        any_live = False
        for item in coll.items:
            for tag, e in item.entries.items():
                prev = old_entries.get((item.id, tag))
                if prev is None or prev.staged.get("lastUpdated") != e.staged.get("lastUpdated"):
                    changed += 1
                if e.live is not None:
                    any_live = True
                    if (
                        prev is None
                        or prev.live is None
                        or prev.live.get("lastPublished") != e.live.get("lastPublished")
                    ):
                        live_changed += 1
        ops["list-collection-items"] += pages(changed) + 1
        old_ids = {i.id for i in old.items} if old else set()
        new_ids = {i.id for i in coll.items}
        if old_ids - new_ids:
            ops["list-collection-items"] += pages(len(coll.items))
        if any_live:
            ops["list-collection-items-live"] += pages(live_changed)
    ops["list-asset-folders"] += 1
    ops["list-assets"] += pages(len(a.assets))
    writes = floor_requests(after, target_state=target if target is not None else before)
    for op in (
        "get-site",
        "list-collections",
        "collection-details",
        "list-collection-items",
        "list-collection-items-live",
        "get-item-live",
        "list-asset-folders",
        "list-assets",
    ):
        writes.pop(op, None)
    ops.update(writes)
    return {op: n for op, n in sorted(ops.items()) if n}
