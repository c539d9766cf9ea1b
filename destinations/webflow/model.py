"""Plain data the planner works on: the staged source site and the target as read over HTTP.

Both sides use the same shapes so that the planner and its tests need neither DuckDB nor HTTP.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


def _canonical(value: Any) -> str:
    """One value as `json.dumps` writes it in a sorted-keys list (flags without a call)."""
    if value is True or value is False:
        return "true" if value else "false"
    return json.dumps(value, sort_keys=True, default=str)


@dataclass(frozen=True)
class Locale:
    tag: str
    cms_locale_id: str
    is_primary: bool


@dataclass
class Field:
    id: str
    slug: str
    display_name: str
    type: str
    is_required: bool = False
    help_text: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    """Option id -> option name (Option fields)."""
    reference_collection_id: str | None = None
    """Referenced collection (Reference/MultiReference fields)."""


@dataclass
class Collection:
    id: str
    slug: str
    display_name: str
    singular_name: str
    fields: list[Field] = field(default_factory=list)

    def field_by_slug(self) -> dict[str, Field]:
        return {f.slug: f for f in self.fields}


@dataclass(frozen=True)
class Folder:
    id: str
    name: str
    parent_id: str | None


@dataclass
class Asset:
    """One file of the source's Assets panel (or a CMS file seen only in items)."""

    id: str
    md5: str | None
    file_name: str
    url: str
    alt_text: str | None = None
    display_name: str | None = None
    folder_id: str | None = None
    content_type: str | None = None
    size: int | None = None
    local_path: str | None = None
    in_assets_panel: bool = True
    download_error: str | None = None
    """Why the source's file could not be read (then `md5` is None and nothing is uploaded)."""


@dataclass
class ItemVersion:
    """One item in one locale: its staged copy, flags and (when live) its live copy."""

    field_data: dict[str, Any]
    is_draft: bool
    is_archived: bool
    live_field_data: dict[str, Any] | None = None
    _hash: str | None = field(default=None, repr=False, compare=False)
    _json: str | None = field(default=None, repr=False, compare=False)

    @property
    def is_live(self) -> bool:
        return self.live_field_data is not None

    def content_json(self) -> str:
        """Everything the target must mirror, as canonical JSON: the JSON of the list
        [field_data, is_draft, is_archived, live_field_data], written element by element so
        that a live copy sharing the staged copy's values is encoded once (computed once)."""
        if self._json is None:
            staged = _canonical(self.field_data)
            live = self.live_field_data
            parts = [
                staged,
                _canonical(self.is_draft),
                _canonical(self.is_archived),
                staged if live is self.field_data else _canonical(live),
            ]
            self._json = "[" + ", ".join(parts) + "]"
        return self._json

    def content_hash(self) -> str:
        """Changes whenever anything the target must mirror changes (computed once)."""
        if self._hash is None:
            self._hash = hashlib.sha1(self.content_json().encode()).hexdigest()
        return self._hash


@dataclass
class Item:
    id: str
    collection_id: str
    versions: dict[str, ItemVersion] = field(default_factory=dict)
    """Locale tag -> version."""


@dataclass
class SourceSite:
    site_id: str
    locales: list[Locale]
    collections: list[Collection]
    folders: list[Folder] = field(default_factory=list)
    assets: list[Asset] = field(default_factory=list)
    items: dict[str, list[Item]] = field(default_factory=dict)
    """Collection id -> items (not deleted)."""
    file_md5_by_url: dict[str, str] = field(default_factory=dict)
    """Every known file url (asset hostedUrl, CMS file url) -> MD5 of its bytes."""
    file_paths: dict[str, str] = field(default_factory=dict)
    """MD5 -> a local copy of the bytes (the source's asset store), when there is one."""

    @property
    def primary_tag(self) -> str:
        return next(loc.tag for loc in self.locales if loc.is_primary)

    def collection(self, collection_id: str) -> Collection:
        for c in self.collections:
            if c.id == collection_id:
                return c
        raise KeyError(collection_id)


@dataclass
class TargetItem:
    id: str
    slug: str
    field_data: dict[str, Any]
    slugs: dict[str, str] = field(default_factory=dict)
    """Locale tag -> the item's slug in that locale (slugs can be translated)."""


@dataclass
class TargetSite:
    """What the planner needs to know of the target (read with GETs only)."""

    site_id: str
    locales: list[Locale]
    collections: list[Collection] = field(default_factory=list)
    folders: list[Folder] = field(default_factory=list)
    assets: list[dict[str, Any]] = field(default_factory=list)
    items_by_slug: dict[str, dict[str, TargetItem]] = field(default_factory=dict)
    """Target collection id -> primary-locale slug -> item (only for collections read)."""
    item_ids: dict[str, set[str]] = field(default_factory=dict)
    """Target collection id -> ids of every item (to notice items deleted by hand)."""
