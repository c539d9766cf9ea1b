"""CMS items: staged and live copies per (itemId, cmsLocaleId) and the status model of
WEBFLOW_API.md 4.2, as a mixin of `model.World` (state lives there, under its lock).

A field data dict is never edited in place: every change assigns a new dict. So the locales an
item is created in, and a live copy and the staged copy it was published from, share one dict
and its JSON text (`field_json`) until one of them changes.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING, Any

from . import rules
from .errors import ApiError, conflict, detail, invalid, not_found, validation_error
from .util import RawJSON, is_object_id, iso_ms, locked, new_id, now_ms, parse_iso, to_json

if TYPE_CHECKING:
    from .model import Collection, FileRecord, Site

SORT_FIELDS = ("createdOn", "lastPublished", "lastUpdated", "name", "slug")
DATE_FILTERS = ("createdOn", "lastPublished", "lastUpdated")
RANGE_OPS = ("gt", "gte", "lt", "lte")  # deviations: range-operators


ITEM_KEYS = (
    "id",
    "cmsLocaleId",
    "lastPublished",
    "lastUpdated",
    "createdOn",
    "isArchived",
    "isDraft",
    "fieldData",
)
# an item answer's JSON with its values' JSON in place of each %s (fieldData last)
ITEM_JSON = "{" + ", ".join(f"{encode_basestring_ascii(k)}: %s" for k in ITEM_KEYS) + "}"


@dataclass
class LiveCopy:
    """What the published site shows for one item in one locale."""

    field_data: dict[str, Any]
    last_published: int
    last_updated: int
    is_archived: bool
    json_of: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    json_text: str = field(default="", repr=False, compare=False)


@dataclass
class ItemLocale:
    """The staged state of one item in one locale (+ its live copy, if published)."""

    cms_locale_id: str
    field_data: dict[str, Any]
    is_draft: bool
    is_archived: bool
    created: int
    last_updated: int
    last_published: int | None = None
    live: LiveCopy | None = None
    json_of: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    json_text: str = field(default="", repr=False, compare=False)


def field_json(copy: ItemLocale | LiveCopy) -> str | None:
    """`json.dumps(copy.field_data)`, kept with the dict it encodes (`json_of`): the model never
    edits a field_data dict in place, every change assigns a new one, so the text holds while the
    dict is the same object. Items are shown by many answers (create, lists, live lists) and
    encoding their field data was most of a list page's CPU. None when the data cannot be encoded:
    the answer then carries the dict and fails to encode as it always did."""
    data = copy.field_data
    if copy.json_of is not data:
        try:
            text = json.dumps(data)
        except (TypeError, ValueError, RecursionError):
            return None
        copy.json_of, copy.json_text = data, text
    return copy.json_text


def share_field_json(source: ItemLocale | LiveCopy, copy: ItemLocale | LiveCopy) -> None:
    """Gives `copy` the kept text of `source`, whose field data it shares (or copies)."""
    if source.json_of is source.field_data:
        copy.json_of, copy.json_text = copy.field_data, source.json_text


def item_dict(values: tuple[Any, ...], copy: ItemLocale | LiveCopy) -> dict[str, Any]:
    """An item as a dict: ITEM_KEYS' values, fieldData a copy of `copy`'s field data."""
    return dict(zip(ITEM_KEYS, (*values, dict(copy.field_data)), strict=True))


def item_answer(
    values: tuple[Any, ...], copy: ItemLocale | LiveCopy, extra: dict[str, Any] | None = None
) -> RawJSON | dict[str, Any]:
    """An item as an answer shows it: ITEM_KEYS' values, fieldData `copy`'s (its kept JSON text),
    then `extra` keys, as JSON text (a dict when the field data cannot be encoded)."""
    text = field_json(copy)
    if text is None:
        return {**item_dict(values, copy), **(extra or {})}
    answer = ITEM_JSON % (*map(to_json, values), text)
    if extra:  # more keys before the closing brace, as json.dumps writes them
        more = [f", {encode_basestring_ascii(k)}: {to_json(v)}" for k, v in extra.items()]
        answer = answer[:-1] + "".join(more) + "}"
    return RawJSON(answer)


@dataclass
class Item:
    id: str
    collection_id: str
    created: int
    locales: dict[str, ItemLocale] = field(default_factory=dict)
    created_locales: tuple[str, ...] = ()  # a tuple: one object less for the collector to track

    def drop_field(self, slug: str) -> None:
        """A deleted field's values vanish from staged and live copies (copy-on-write)."""
        for loc in self.locales.values():
            if slug in loc.field_data:
                loc.field_data = {k: v for k, v in loc.field_data.items() if k != slug}
            if loc.live and slug in loc.live.field_data:
                loc.live.field_data = {k: v for k, v in loc.live.field_data.items() if k != slug}

    def _staged_values(self, loc: ItemLocale) -> tuple[Any, ...]:
        return (
            self.id,
            loc.cms_locale_id,
            iso_ms(loc.last_published),
            iso_ms(loc.last_updated),
            iso_ms(loc.created),
            loc.is_archived,
            loc.is_draft,
        )

    def _live_values(self, loc: ItemLocale) -> tuple[Any, ...]:
        live = loc.live
        assert live is not None
        return (
            self.id,
            loc.cms_locale_id,
            iso_ms(live.last_published),
            iso_ms(live.last_updated),
            iso_ms(loc.created),
            live.is_archived,
            False,
        )

    def staged_dict(self, loc: ItemLocale) -> dict[str, Any]:
        return item_dict(self._staged_values(loc), loc)

    def live_dict(self, loc: ItemLocale) -> dict[str, Any]:
        assert loc.live is not None
        return item_dict(self._live_values(loc), loc.live)

    def staged_answer(
        self, loc: ItemLocale, extra: dict[str, Any] | None = None
    ) -> RawJSON | dict[str, Any]:
        """staged_dict for an answer (see item_answer)."""
        return item_answer(self._staged_values(loc), loc, extra)

    def live_answer(self, loc: ItemLocale) -> RawJSON | dict[str, Any]:
        """live_dict for an answer (see item_answer)."""
        assert loc.live is not None
        return item_answer(self._live_values(loc), loc.live)


DATE_INDEX = {name: i for i, name in enumerate(DATE_FILTERS)}
MIRRORED = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte"}  # v op ms <=> -v MIRRORED[op] -ms


def in_range(value: int | None, op: str, ms: int) -> bool:
    """One date-range condition; items without that date never match."""
    if value is None:
        return False
    if op == "gt":
        return value > ms
    if op == "gte":
        return value >= ms
    if op == "lt":
        return value < ms
    return value <= ms


@dataclass
class ListView:
    """A list query's entries before its date ranges, in answer order: parallel lists of items,
    their locale copies and their dates (one list per DATE_FILTERS name; columns, not tuples,
    so that a cached view adds a handful of objects for the garbage collector, not one per entry).

    Filtering keeps the order, so applying the ranges to this view gives what filtering then
    sorting gives. When the view is sorted by a date every entry has, a range on that date is a
    contiguous run found by bisection (`bisect_keys`: that date, negated when descending)."""

    items: list[Item]
    locs: list[ItemLocale]
    dates: tuple[list[int], list[int | None], list[int]]
    sorted_by: str | None = None
    bisect_keys: list[int] | None = None
    descending: bool = False

    def matching(self, ranges: list[tuple[str, str, int]]) -> Sequence[int]:
        """Positions of the entries within all ranges, in answer order."""
        lo, hi = 0, len(self.items)
        rest = []
        for field_name, op, ms in ranges:
            if field_name == self.sorted_by:
                lo, hi = self._narrow(lo, hi, op, ms)
            else:
                rest.append((self.dates[DATE_INDEX[field_name]], op, ms))
        if not rest:
            return range(lo, hi)
        return [i for i in range(lo, hi) if all(in_range(col[i], op, ms) for col, op, ms in rest)]

    def _narrow(self, lo: int, hi: int, op: str, ms: int) -> tuple[int, int]:
        """[lo, hi) cut to the entries whose sorted-by date satisfies `op ms`."""
        keys = self.bisect_keys
        assert keys is not None
        if self.descending:
            op, ms = MIRRORED[op], -ms
        if op == "gt":
            return max(lo, bisect_right(keys, ms)), hi
        if op == "gte":
            return max(lo, bisect_left(keys, ms)), hi
        if op == "lt":
            return lo, min(hi, bisect_left(keys, ms))
        return lo, min(hi, bisect_right(keys, ms))


class _ValueContext:
    """rules.ValueContext over the world, for values written to one site's items."""

    def __init__(self, world: ItemsMixin, site_id: str) -> None:
        self.world = world
        self.site_id = site_id

    def reference_exists(self, collection_id: str, item_id: str) -> bool:
        coll = self.world.collections.get(collection_id)
        return coll is not None and item_id in coll.items

    def resolve_file(self, fld: rules.FieldLike, value: dict[str, Any]) -> dict[str, Any] | None:
        alt = value.get("alt")
        file_id = value.get("fileId")
        if file_id is not None:
            rec = self.world.files.get(file_id) if isinstance(file_id, str) else None
            if rec is not None and rec.site_id == self.site_id:
                return {"fileId": rec.id, "url": rec.url, "alt": alt}
            if "url" not in value:
                return None
        # deviations: file-fetch-local-only -- only our own /_cdn/ URLs can be downloaded
        src: FileRecord | None = self.world.file_by_url(value.get("url", ""))
        if src is None:
            return None
        kind = rules.file_kind(src.name)
        if kind is None:
            return None
        if fld.type in ("Image", "MultiImage"):
            if not kind.is_image or len(src.data) > rules.IMAGE_MAX_BYTES:
                return None
        elif len(src.data) > rules.DOCUMENT_MAX_BYTES:
            return None
        rec = self.world.store_file(self.site_id, src.name, src.content_type, src.data, md5=src.md5)
        return {"fileId": rec.id, "url": rec.url, "alt": alt}


def _check_bool(body: dict[str, Any], key: str, param: str | None = None) -> bool | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(param or key, "Expected a boolean")
    return value


class ItemsMixin:
    """Item operations of `World` (list/get/create/update/delete/publish, staged and live)."""

    # provided by World
    lock: Any
    sites: dict[str, Site]
    collections: dict[str, Collection]
    items_index: dict[str, str]
    files: dict[str, FileRecord]

    def collection(self, collection_id: str) -> Collection: ...  # pragma: no cover
    def file_by_url(self, url: str) -> FileRecord | None: ...  # pragma: no cover
    def store_file(  # pragma: no cover
        self,
        site_id: str,
        name: str,
        content_type: str,
        data: bytes,
        file_id: str | None = None,
        md5: str | None = None,
    ) -> FileRecord: ...

    # --- helpers ---------------------------------------------------------------------------------
    def _site_locale(self, site: Site, cms_locale_id: Any, param: str = "cmsLocaleId") -> str:
        if cms_locale_id is None:
            return site.primary.cms_locale_id
        if not isinstance(cms_locale_id, str) or cms_locale_id not in site.cms_locale_ids():
            raise invalid(param, f"Invalid cmsLocaleId: {cms_locale_id!r}")
        return cms_locale_id

    def _item(self, coll: Collection, item_id: Any) -> Item:
        item = coll.items.get(item_id) if isinstance(item_id, str) else None
        if item is None:
            raise not_found()
        return item

    def _item_locale(self, coll: Collection, item_id: Any, locale: str) -> tuple[Item, ItemLocale]:
        item = self._item(coll, item_id)
        loc = item.locales.get(locale)
        if loc is None:
            raise not_found()
        return item, loc

    def _check_data(
        self, coll: Collection, data: Any, creating: bool, skip: bool, param: str = "fieldData"
    ) -> dict[str, Any]:
        ctx = _ValueContext(self, coll.site_id)
        return rules.check_field_data(
            coll.fields_by_slug(),
            data,
            creating=creating,
            ctx=ctx,
            skip_invalid_files=skip,
            param=param,
        )

    @staticmethod
    def _slug_taken(slug: str) -> ApiError:
        # deviations: duplicate-slug-400
        return validation_error([detail("slug", f"Unique value is already in database: '{slug}'")])

    def _new_item_locales(
        self,
        coll: Collection,
        entries: list[tuple[dict[str, Any], list[str], bool, bool]],
    ) -> list[Item]:
        """Creates items (already validated): (fieldData, locales, isDraft, isArchived) each.
        Checks slug uniqueness per locale across the index and the batch, then applies."""
        pending: dict[str, set[str]] = {}
        for data, locales, _draft, _archived in entries:
            slug = data["slug"]
            for locale in locales:
                taken = pending.setdefault(locale, set())
                if slug in taken or slug in coll.slug_index.get(locale, {}):
                    raise self._slug_taken(slug)
                taken.add(slug)
        made = []
        for data, locales, is_draft, is_archived in entries:
            now = now_ms()
            clean = {k: v for k, v in data.items() if v is not None}
            item = Item(new_id(), coll.id, now, created_locales=tuple(locales))
            first: ItemLocale | None = None
            for locale in locales:
                # one dict for every locale: field data dicts are replaced, never edited
                loc = ItemLocale(locale, clean, is_draft, is_archived, now, now)
                if first is None:
                    first = loc
                    field_json(loc)  # encoded once, for every locale's answer
                else:
                    share_field_json(first, loc)
                item.locales[locale] = loc
                coll.slug_index.setdefault(locale, {})[clean["slug"]] = item.id
            coll.items[item.id] = item
            self.items_index[item.id] = coll.id
            made.append(item)
        coll.touch_items()
        return made

    @staticmethod
    def _publish(loc: ItemLocale, now: int) -> None:
        """Staged -> live: isDraft false, lastPublished now (lastUpdated kept:
        deviations: publish-keeps-last-updated)."""
        loc.is_draft = False
        loc.last_published = now
        # the staged dict itself: field data dicts are replaced, never edited
        loc.live = LiveCopy(loc.field_data, now, loc.last_updated, loc.is_archived)
        share_field_json(loc, loc.live)

    def _apply_update(
        self, coll: Collection, item: Item, loc: ItemLocale, data: dict[str, Any], body: dict
    ) -> None:
        """Merges a validated partial fieldData and flags into the staged copy."""
        if data:
            merged = dict(loc.field_data)
            for key, value in data.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            old_slug = loc.field_data.get("slug")
            if merged.get("slug") != old_slug:
                index = coll.slug_index.setdefault(loc.cms_locale_id, {})
                if index.get(old_slug) == item.id:
                    del index[old_slug]
                index[merged["slug"]] = item.id
            loc.field_data = merged
        if body.get("isArchived") is not None:
            loc.is_archived = body["isArchived"]
        if body.get("isDraft") is not None:
            # deviations: is-draft-no-unpublish
            loc.is_draft = body["isDraft"]
        loc.last_updated = now_ms()

    def _check_update(
        self,
        coll: Collection,
        body: Any,
        item_id: Any,
        skip: bool,
        pending_slugs: dict[str, dict[str, str]],
        prefix: str = "",
    ) -> tuple[Item, ItemLocale, dict[str, Any]]:
        """Validates one item update; returns what to apply."""
        if not isinstance(body, dict):
            raise invalid(prefix or "body", "Expected an object")
        site = self.sites[coll.site_id]
        locale = self._site_locale(site, body.get("cmsLocaleId"), f"{prefix}cmsLocaleId")
        _check_bool(body, "isArchived", f"{prefix}isArchived")
        _check_bool(body, "isDraft", f"{prefix}isDraft")
        item, loc = self._item_locale(coll, item_id, locale)
        data_in = body.get("fieldData", {})
        if data_in is None:
            data_in = {}
        data = self._check_data(coll, data_in, False, skip, f"{prefix}fieldData")
        if "name" in data_in and data.get("name") is None:
            raise invalid("name", "Field 'name' is required")
        new_slug = data.get("slug")
        if new_slug is not None and new_slug == loc.field_data.get("slug"):
            raise self._slug_taken(new_slug)  # deviations: unchanged-slug-400
        if new_slug is not None:
            owner = coll.slug_index.get(locale, {}).get(new_slug)
            batch = pending_slugs.setdefault(locale, {})
            if (owner is not None and owner != item.id) or batch.get(new_slug, item.id) != item.id:
                raise self._slug_taken(new_slug)
            batch[new_slug] = item.id
        return item, loc, data

    # --- list / get ------------------------------------------------------------------------------
    @locked
    def list_items(self, collection_id: str, live: bool, query: dict[str, Any]) -> dict[str, Any]:
        """list-collection-items(-live): paging, locales, name/slug/date filters, sorting."""
        coll = self.collection(collection_id)
        site = self.sites[coll.site_id]
        offset, limit = rules.parse_paging(query.get("offset"), query.get("limit"))
        raw_locales = query.get("cmsLocaleId")
        if raw_locales in (None, ""):
            locales = [site.primary.cms_locale_id]
        else:
            locales = [self._site_locale(site, x.strip()) for x in str(raw_locales).split(",")]
            locales = list(dict.fromkeys(locales))
        name, slug = query.get("name"), query.get("slug")
        ranges: list[tuple[str, str, int]] = []
        for key in DATE_FILTERS:
            spec = query.get(key)
            if spec is None:
                continue
            if not isinstance(spec, dict) or not spec:
                raise invalid(key, f"{key} must be given as {key}[gte]=<date> (or gt, lt, lte)")
            for op, value in spec.items():
                if op not in RANGE_OPS:
                    raise invalid(f"{key}[{op}]", f"Unsupported operator '{op}'")
                ms = parse_iso(value)
                if ms is None:
                    raise invalid(f"{key}[{op}]", f"Invalid date-time: {value!r}")
                ranges.append((key, op, ms))
        sort_by = query.get("sortBy")
        if sort_by is not None and sort_by not in SORT_FIELDS:
            raise invalid("sortBy", f"sortBy must be one of {', '.join(SORT_FIELDS)}")
        sort_order = query.get("sortOrder")
        if sort_order is not None and sort_order not in ("asc", "desc"):
            raise invalid("sortOrder", "sortOrder must be asc or desc")
        key = (live, tuple(locales), name, slug, sort_by, sort_order)
        view = coll.list_cache.get(key)
        if view is None:
            view = self._view(coll, live, locales, name, slug, sort_by, sort_order)
            if len(coll.list_cache) > 32:
                coll.list_cache.clear()
            coll.list_cache[key] = view
        positions = view.matching(ranges)
        render = Item.live_answer if live else Item.staged_answer
        items, locs = view.items, view.locs
        return {
            "items": [render(items[i], locs[i]) for i in positions[offset : offset + limit]],
            "pagination": {"limit": limit, "offset": offset, "total": len(positions)},
        }

    @staticmethod
    def _view(
        coll: Collection,
        live: bool,
        locales: list[str],
        name: Any,
        slug: Any,
        sort_by: str | None,
        sort_order: str | None,
    ) -> ListView:
        """Entries matching locales and name/slug in creation order (or sorted): one linear pass
        and a sort, kept until the collection changes, so that each page of a listing whose date
        range moves from page to page (a keyset-style walk) does not redo them."""
        date_sort = DATE_INDEX.get(sort_by) if sort_by is not None else None
        items: list[Item] = []
        locs: list[ItemLocale] = []
        created: list[int] = []
        published: list[int | None] = []
        updated: list[int] = []
        keys: list[Any] = []
        for item in coll.items.values():
            for locale in locales:
                loc = item.locales.get(locale)
                if loc is None:
                    continue
                copy: ItemLocale | LiveCopy | None = loc.live if live else loc
                if copy is None:
                    continue
                data = copy.field_data
                if name is not None and data.get("name") != name:
                    continue
                if slug is not None and data.get("slug") != slug:
                    continue
                items.append(item)
                locs.append(loc)
                created.append(loc.created)
                published.append(copy.last_published)
                updated.append(copy.last_updated)
                if sort_by is not None and date_sort is None:
                    keys.append(str(data.get(sort_by) or ""))
        columns = (created, published, updated)
        if sort_by is None:
            return ListView(items, locs, columns)
        if date_sort is not None:
            keys = [-1 if v is None else v for v in columns[date_sort]]
        descending = sort_order == "desc"
        order = sorted(range(len(items)), key=keys.__getitem__, reverse=descending)
        items, locs = [items[i] for i in order], [locs[i] for i in order]
        dates = (
            [created[i] for i in order],
            [published[i] for i in order],
            [updated[i] for i in order],
        )
        if date_sort is None or None in dates[date_sort]:
            return ListView(items, locs, dates)
        bisect_keys = dates[date_sort]
        if descending:
            bisect_keys = [-v for v in bisect_keys]
        return ListView(items, locs, dates, sort_by, bisect_keys, descending)

    @locked
    def get_item(
        self, collection_id: str, item_id: str, cms_locale_id: str | None, live: bool
    ) -> dict[str, Any]:
        coll = self.collection(collection_id)
        locale = self._site_locale(self.sites[coll.site_id], cms_locale_id)
        item, loc = self._item_locale(coll, item_id, locale)
        if live:
            if loc.live is None:
                raise not_found()
            return item.live_answer(loc)
        return item.staged_answer(loc)

    # --- create ----------------------------------------------------------------------------------
    @locked
    def create_items(
        self, collection_id: str, body: Any, live: bool, skip_invalid_files: bool
    ) -> dict[str, Any]:
        """create-item / create-item-live: one item, or `{items:[...]}` (<= 100); atomic
        (deviations: bulk-atomic)."""
        coll = self.collection(collection_id)
        site = self.sites[coll.site_id]
        if not isinstance(body, dict):
            raise invalid("body", "Expected an object")
        multi = "items" in body and "fieldData" not in body
        raw = rules.check_bulk(body["items"]) if multi else [body]
        entries = []
        for i, entry in enumerate(raw):
            p = f"items[{i}]." if multi else ""
            if not isinstance(entry, dict):
                raise invalid(p.rstrip(".") or "body", "Expected an object")
            if "fieldData" not in entry:
                raise invalid(f"{p}fieldData", "fieldData is required")
            locale = self._site_locale(site, entry.get("cmsLocaleId"), f"{p}cmsLocaleId")
            is_draft = _check_bool(entry, "isDraft", f"{p}isDraft")
            is_archived = _check_bool(entry, "isArchived", f"{p}isArchived") or False
            data = self._check_data(
                coll, entry["fieldData"], True, skip_invalid_files, f"{p}fieldData"
            )
            if is_draft is None:
                is_draft = not live
            entries.append((data, [locale], is_draft, is_archived))
        made = self._new_item_locales(coll, entries)
        if live:
            now = now_ms()
            for item in made:
                for loc in item.locales.values():
                    self._publish(loc, now)
        render = Item.live_answer if live else Item.staged_answer
        rendered = [render(item, loc) for item in made for loc in item.locales.values()]
        return {"items": rendered} if multi else rendered[0]

    @locked
    def create_items_bulk(
        self, collection_id: str, body: Any, skip_invalid_files: bool
    ) -> dict[str, Any]:
        """create-items (/items/bulk): fieldData object or array x cmsLocaleIds."""
        coll = self.collection(collection_id)
        site = self.sites[coll.site_id]
        if not isinstance(body, dict):
            raise invalid("body", "Expected an object")
        if "fieldData" not in body:
            raise invalid("fieldData", "fieldData is required")
        raw_locales = body.get("cmsLocaleIds")
        if raw_locales is None:
            locales = [site.primary.cms_locale_id]
        else:
            if not isinstance(raw_locales, list) or not raw_locales:
                raise invalid("cmsLocaleIds", "cmsLocaleIds must be a non-empty array")
            locales = [
                self._site_locale(site, x, f"cmsLocaleIds[{i}]") for i, x in enumerate(raw_locales)
            ]
            locales = list(dict.fromkeys(locales))
        is_draft = _check_bool(body, "isDraft")
        is_archived = _check_bool(body, "isArchived") or False
        if is_draft is None:
            is_draft = True
        field_data = body["fieldData"]
        many = isinstance(field_data, list)
        raw = rules.check_bulk(field_data, "fieldData") if many else [field_data]
        entries = []
        for i, data_in in enumerate(raw):
            p = f"fieldData[{i}]" if many else "fieldData"
            data = self._check_data(coll, data_in, True, skip_invalid_files, p)
            entries.append((data, locales, is_draft, is_archived))
        made = self._new_item_locales(coll, entries)
        # deviations: create-items-response (cmsLocaleIds on each)
        out = [
            item.staged_answer(loc, {"cmsLocaleIds": list(item.created_locales)})
            for item in made
            for loc in item.locales.values()
        ]
        return {"items": out}

    # --- update ----------------------------------------------------------------------------------
    @locked
    def update_item(
        self, collection_id: str, item_id: str, body: Any, live: bool, skip_invalid_files: bool
    ) -> dict[str, Any]:
        coll = self.collection(collection_id)
        item, loc, data = self._check_update(coll, body, item_id, skip_invalid_files, {})
        if live and loc.live is None:
            raise self._live_conflict()
        self._apply_update(coll, item, loc, data, body)
        coll.touch_items()
        if live:
            self._publish(loc, now_ms())
            return item.live_answer(loc)
        return item.staged_answer(loc)

    @staticmethod
    def _live_conflict() -> ApiError:
        return conflict(
            "Conflict: Conflict with server data: Live PATCH updates can't be applied to items "
            "that have never been published"
        )

    @locked
    def update_items(
        self, collection_id: str, body: Any, live: bool, skip_invalid_files: bool
    ) -> dict[str, Any]:
        """update-items(-live): <= 100 entries, each with id and optional cmsLocaleId; atomic
        (deviations: bulk-atomic)."""
        coll = self.collection(collection_id)
        if not isinstance(body, dict):
            raise invalid("body", "Expected an object")
        raw = rules.check_bulk(body.get("items"))
        pending: dict[str, dict[str, str]] = {}
        checked = []
        for i, entry in enumerate(raw):
            if not isinstance(entry, dict) or "id" not in entry:
                raise invalid(f"items[{i}].id", "id is required")
            item, loc, data = self._check_update(
                coll, entry, entry["id"], skip_invalid_files, pending, f"items[{i}]."
            )
            if live and loc.live is None:
                raise self._live_conflict()
            checked.append((item, loc, data, entry))
        now = now_ms()
        for item, loc, data, entry in checked:
            self._apply_update(coll, item, loc, data, entry)
            if live:
                self._publish(loc, now)
        coll.touch_items()
        render = Item.live_answer if live else Item.staged_answer
        return {"items": [render(item, loc) for item, loc, _d, _e in checked]}

    # --- delete / unpublish ----------------------------------------------------------------------
    def _remove_locale(self, coll: Collection, item: Item, locale: str) -> None:
        """Staged delete: the primary locale removes the whole item, a secondary only its own
        copy (deviations: delete-primary-deletes-all); live copies go too
        (deviations: staged-delete-removes-live)."""
        site = self.sites[coll.site_id]
        doomed = list(item.locales) if locale == site.primary.cms_locale_id else [locale]
        for loc_id in doomed:
            loc = item.locales.pop(loc_id, None)
            if loc is None:
                continue
            index = coll.slug_index.get(loc_id, {})
            if index.get(loc.field_data.get("slug")) == item.id:
                del index[loc.field_data["slug"]]
        if not item.locales:
            del coll.items[item.id]
            self.items_index.pop(item.id, None)

    @staticmethod
    def _unpublish(loc: ItemLocale) -> None:
        loc.live = None
        loc.is_draft = True
        loc.last_published = None

    @locked
    def delete_item(
        self, collection_id: str, item_id: str, cms_locale_id: str | None, live: bool
    ) -> None:
        coll = self.collection(collection_id)
        locale = self._site_locale(self.sites[coll.site_id], cms_locale_id)
        item, loc = self._item_locale(coll, item_id, locale)
        if live:
            if loc.live is None:
                raise not_found()  # deviations: unpublish-not-live-404
            self._unpublish(loc)
        else:
            self._remove_locale(coll, item, locale)
        coll.touch_items()

    @locked
    def delete_items(self, collection_id: str, body: Any, live: bool) -> None:
        """delete-items(-live): `{items:[{id, cmsLocaleIds?}]}` <= 100, atomic."""
        coll = self.collection(collection_id)
        site = self.sites[coll.site_id]
        if not isinstance(body, dict):
            raise invalid("body", "Expected an object")
        raw = rules.check_bulk(body.get("items"))
        targets: list[tuple[Item, str]] = []
        for i, entry in enumerate(raw):
            if not isinstance(entry, dict) or not is_object_id(entry.get("id")):
                raise invalid(f"items[{i}].id", "id is required")
            ids = entry.get("cmsLocaleIds")
            if ids is None:
                locales = [site.primary.cms_locale_id]
            elif isinstance(ids, list) and ids:
                locales = [self._site_locale(site, x, f"items[{i}].cmsLocaleIds") for x in ids]
            else:
                raise invalid(f"items[{i}].cmsLocaleIds", "Expected a non-empty array")
            for locale in locales:
                _item, loc = self._item_locale(coll, entry["id"], locale)
                if live and loc.live is None:
                    raise not_found()
                targets.append((_item, locale))
        for item, locale in targets:
            if live:
                loc = item.locales.get(locale)
                if loc is not None:
                    self._unpublish(loc)
            elif item.id in coll.items:
                self._remove_locale(coll, item, locale)
        coll.touch_items()

    # --- publish ---------------------------------------------------------------------------------
    @locked
    def publish_items(self, collection_id: str, body: Any) -> dict[str, Any]:
        """publish-item: `{itemIds}` (primary locale) or `{items:[{id, cmsLocaleIds?}]}`;
        partial success with per-id error strings."""
        coll = self.collection(collection_id)
        site = self.sites[coll.site_id]
        if not isinstance(body, dict) or (("itemIds" in body) == ("items" in body)):
            raise invalid("body", "Provide exactly one of itemIds or items")
        targets: list[tuple[Any, list[str]]] = []
        if "itemIds" in body:
            ids = rules.check_bulk(body["itemIds"], "itemIds")
            targets = [(x, [site.primary.cms_locale_id]) for x in ids]
        else:
            for i, entry in enumerate(rules.check_bulk(body["items"])):
                if not isinstance(entry, dict) or "id" not in entry:
                    raise invalid(f"items[{i}].id", "id is required")
                ids = entry.get("cmsLocaleIds")
                if ids is None:
                    locales = [site.primary.cms_locale_id]
                elif isinstance(ids, list) and ids:
                    locales = [self._site_locale(site, x, f"items[{i}].cmsLocaleIds") for x in ids]
                else:
                    raise invalid(f"items[{i}].cmsLocaleIds", "Expected a non-empty array")
                targets.append((entry["id"], locales))
        published: list[str] = []
        errors: list[str] = []
        now = now_ms()
        for item_id, locales in targets:
            item = coll.items.get(item_id) if isinstance(item_id, str) else None
            done = False
            for locale in locales:
                loc = item.locales.get(locale) if item is not None else None
                if loc is None:
                    errors.append(f"Staging item ID {item_id} not found.")
                    continue
                if loc.is_archived:  # deviations: publish-archived
                    errors.append(f"Archived item ID {item_id} cannot be published.")
                    continue
                self._publish(loc, now)
                done = True
            if done and item_id not in published:
                published.append(item_id)
        coll.touch_items()
        return {"publishedItemIds": published, "errors": errors}
