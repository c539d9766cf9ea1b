"""Proves a migration through the Webflow Data API alone: compares a source and a target site.

Everything is read with the project's shared client in read-only mode, so verify can be pointed at
production sites without risk. Nothing is compared by id, fileId or URL (they differ per site):
locales are matched by tag, collections and items by slug, fields by slug (then displayName+type),
options by name, references by the slug of the item they point at, and files by the MD5 of their
bytes. See `normalise_value` for the rules per field type.

Cost: per site one get-site, one list-collections, one collection-details per collection, one
paginated staged and one live listing per collection for all locales at once (limit=100,
comma-separated `cmsLocaleId`), one list-asset-folders and a paginated list-assets. No per-item
GETs. File downloads go to the CDN (not the API) and are cached by URL within a run.

Run: `python pipelines/verify.py --source-site ID --target-site ID` (tokens from
SOURCES__WEBFLOW__API_TOKEN / DESTINATION__WEBFLOW__API_TOKEN or .dlt/secrets.toml, never argv).
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import re
import sys
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------

TRUNCATE_AT = 120
"""Characters of a value shown in the difference list (the report keeps the whole value)."""


@dataclass(frozen=True)
class SiteRef:
    """Where a site is and how to read it: the verify API never takes a token from argv."""

    base_url: str
    token: str
    site_id: str
    requests_per_minute: int | None = None
    """This token's pacing; None: the `requests_per_minute` given to `verify_sites`."""

    def __repr__(self) -> str:  # never print the token
        return f"SiteRef(base_url={self.base_url!r}, site_id={self.site_id!r}, token=***)"


@dataclass(frozen=True)
class Difference:
    """One thing that differs between source and target.

    `kind` groups differences (locale, collection, field, item, value, live-value, state, asset,
    folder); `what` names the exact aspect (e.g. "missing", "type", "isDraft", "alt"). Values are
    the normalised forms that were compared, not raw API values. For assets and folders `item`
    is the display name or folder path and `field` the file's MD5 (the matching key).
    """

    kind: str
    what: str
    collection: str | None = None
    item: str | None = None
    locale: str | None = None
    field: str | None = None
    source: Any = None
    target: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "what": self.what,
            "collection": self.collection,
            "item": self.item,
            "locale": self.locale,
            "field": self.field,
            "source": self.source,
            "target": self.target,
        }


@dataclass
class CollectionSummary:
    """One row of the per-collection table; item counts are item x locale entries (staged)."""

    collection: str
    source_items: int = 0
    target_items: int = 0
    missing: int = 0
    extra: int = 0
    different_values: int = 0
    different_states: int = 0


@dataclass
class VerifyReport:
    """What verify found; `ok` is True only when no difference of any kind was found."""

    differences: list[Difference] = field(default_factory=list)
    collections: list[CollectionSummary] = field(default_factory=list)
    source_assets: int = 0
    target_assets: int = 0
    source_folders: int = 0
    target_folders: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    """API requests verify sent, per side ("source", "target") and "total"."""
    downloads: dict[str, int] = field(default_factory=dict)
    """Files downloaded (each URL once per run), per side."""
    warnings: list[str] = field(default_factory=list)
    requests_by_operation: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per side: operationId -> requests (retries included)."""

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "collections": [vars(c) for c in self.collections],
            "sourceAssets": self.source_assets,
            "targetAssets": self.target_assets,
            "sourceFolders": self.source_folders,
            "targetFolders": self.target_folders,
            "requests": self.requests,
            "requestsByOperation": self.requests_by_operation,
            "downloads": self.downloads,
            "warnings": self.warnings,
            "differences": [d.to_dict() for d in self.differences],
        }

    def format_table(self) -> str:
        """The per-collection table, plus one line for assets."""
        head = (
            "collection",
            "items src",
            "items tgt",
            "missing",
            "extra",
            "diff values",
            "diff states",
        )
        rows = [
            (
                c.collection,
                c.source_items,
                c.target_items,
                c.missing,
                c.extra,
                c.different_values,
                c.different_states,
            )
            for c in self.collections
        ]
        for kind, label, counts in (
            ("asset", "(assets)", (self.source_assets, self.target_assets)),
            ("folder", "(asset folders)", (self.source_folders, self.target_folders)),
        ):
            diffs = [d for d in self.differences if d.kind == kind]
            rows.append(
                (
                    label,
                    *counts,
                    sum(1 for d in diffs if d.what == "missing"),
                    sum(1 for d in diffs if d.what == "extra"),
                    len({(d.item, d.field) for d in diffs if d.what not in ("missing", "extra")}),
                    0,
                )
            )
        cells = [tuple(str(v) for v in r) for r in [head, *rows]]
        widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
        lines = []
        for n, r in enumerate(cells):
            lines.append(
                "  ".join(
                    v.ljust(widths[i]) if i == 0 else v.rjust(widths[i]) for i, v in enumerate(r)
                )
            )
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        lines.append("(items are counted per locale: one item in two locales counts 2)")
        return "\n".join(lines)

    def format_differences(self, limit: int | None = 200, width: int = TRUNCATE_AT) -> str:
        """The detailed list, one line per difference, values truncated around the first change."""
        shown = self.differences if limit is None else self.differences[:limit]
        lines = []
        for d in shown:
            where = " ".join(
                f"{k}={v}"
                for k, v in (
                    ("collection", d.collection),
                    ("item", d.item),
                    ("locale", d.locale),
                    ("field", d.field),
                )
                if v is not None
            )
            src, tgt = excerpt_pair(d.source, d.target, width)
            lines.append(f"[{d.kind}/{d.what}] {where}: source={src} target={tgt}")
        if limit is not None and len(self.differences) > limit:
            lines.append(f"... and {len(self.differences) - limit} more")
        return "\n".join(lines)

    def format(self, limit: int | None = 200) -> str:
        """Table, differences (first `limit`), warnings, request counts and the verdict."""
        parts = [self.format_table(), ""]
        if self.differences:
            parts += [f"{len(self.differences)} difference(s):", self.format_differences(limit), ""]
        parts += [f"warning: {w}" for w in self.warnings]
        req, dl = self.requests, self.downloads
        parts.append(
            f"API requests: source {req.get('source', 0)}, target {req.get('target', 0)}, "
            f"total {req.get('total', 0)}; file downloads: source {dl.get('source', 0)}, "
            f"target {dl.get('target', 0)}"
        )
        parts.append("OK: target matches source" if self.ok else "FAILED: the sites differ")
        return "\n".join(parts)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)  # HTML stays readable: no escaped double quotes
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def excerpt_pair(source: Any, target: Any, width: int = TRUNCATE_AT) -> tuple[str, str]:
    """Both values as text, cut to `width` around their first differing character.

    Long rich text usually differs in one spot; showing the same window of both makes it visible.
    """
    a, b = _show(source), _show(target)
    if len(a) <= width and len(b) <= width:
        return a, b
    first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    if first is None:
        first = min(len(a), len(b))
    start = max(0, first - width // 3)
    return _window(a, start, width), _window(b, start, width)


def _window(text: str, start: int, width: int) -> str:
    piece = text[start : start + width]
    return ("…" if start > 0 else "") + piece + ("…" if start + width < len(text) else "")


# ---------------------------------------------------------------------------------------------
# snapshots (API-shaped data of one site) and normalisation
# ---------------------------------------------------------------------------------------------


@dataclass
class SiteSnapshot:
    """Everything verify read from one site, exactly as the API returned it."""

    site: dict[str, Any]
    collections: list[dict[str, Any]]
    """collection-details answers (with `fields`)."""
    staged: dict[str, list[dict[str, Any]]]
    """collection id -> staged items of every locale (one entry per item x locale)."""
    live: dict[str, list[dict[str, Any]]]
    """collection id -> live items of every locale."""
    folders: list[dict[str, Any]] = field(default_factory=list)
    assets: list[dict[str, Any]] = field(default_factory=list)
    all_collections: list[dict[str, Any]] = field(default_factory=list)
    """list-collections answer (every collection, without fields): slugs of reference targets."""


class FileHasher:
    """MD5 of files by URL, through one site's download function, each URL fetched once.

    `is_file_url` says which URLs in rich text are the site's files (and so may be fetched);
    other links are compared as text. Thread-safe, so downloads can be prefetched in parallel.
    """

    def __init__(self, fetch_md5: Callable[[str], str], is_file_url: Callable[[str], bool]) -> None:
        self._fetch_md5 = fetch_md5
        self._is_file_url = is_file_url
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()
        self.downloads = 0
        self.failures: list[str] = []

    def is_file_url(self, url: str) -> bool:
        try:
            return bool(url) and self._is_file_url(url)
        except Exception:
            return False

    def md5(self, url: str) -> str:
        """`md5:<hex>` of the file, or `unavailable:<reason>:<url>` when it could not be fetched.

        The URL in the marker keeps two unreadable files from ever comparing equal: a file
        that cannot be read cannot be proven to match.
        """
        with self._lock:
            if url in self._cache:
                return self._cache[url]
        try:
            digest = "md5:" + self._fetch_md5(url)
            failure = None
        except Exception as exc:  # a file that cannot be fetched is a fact to compare
            digest = f"unavailable:{type(exc).__name__}:{url}"
            failure = f"{url}: {type(exc).__name__}: {exc}"[:300]
        with self._lock:
            if url not in self._cache:
                self.downloads += 1
                if failure:
                    self.failures.append(failure)
                self._cache[url] = digest
            return self._cache[url]

    def prefetch(self, urls: Iterable[str], workers: int = 4) -> None:
        """Hashes many files in parallel (the CDN is not rate limited like the API)."""
        todo = sorted({u for u in urls if u} - self._cache.keys())
        if not todo:
            return
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            list(pool.map(self.md5, todo))


@dataclass
class SiteIndex:
    """Lookups of one site that normalisation needs (all keyed by this site's own ids)."""

    locale_tag: dict[str, str]
    """cmsLocaleId -> locale tag."""
    primary_tag: str
    collection_slug: dict[str, str]
    """collection id -> collection slug."""
    item_slug: dict[tuple[str, str], str]
    """(item id, locale tag) -> slug (staged)."""
    item_primary_slug: dict[str, str]
    option_name: dict[str, dict[str, str]]
    """field id -> option id -> option name."""
    files: FileHasher

    def slug_of(self, item_id: Any, tag: str) -> str:
        """The referenced item's slug in the same locale (primary as fallback)."""
        if not isinstance(item_id, str):
            return f"<not an id: {item_id!r}>"
        slug = self.item_slug.get((item_id, tag)) or self.item_primary_slug.get(item_id)
        return slug if slug is not None else "<unresolved reference>"


def build_index(snap: SiteSnapshot, files: FileHasher) -> SiteIndex:
    """Builds the lookups from a snapshot; items of every listed collection feed the slug map."""
    locales = snap.site.get("locales") or {}
    primary = locales.get("primary") or {}
    locale_tag: dict[str, str] = {}
    for loc in [primary, *(locales.get("secondary") or [])]:
        if loc.get("cmsLocaleId"):
            locale_tag[loc["cmsLocaleId"]] = loc.get("tag") or loc["cmsLocaleId"]
    primary_tag = primary.get("tag") or ""
    item_slug: dict[tuple[str, str], str] = {}
    item_primary_slug: dict[str, str] = {}
    for items in snap.staged.values():
        for it in items:
            slug = (it.get("fieldData") or {}).get("slug")
            tag = locale_tag.get(it.get("cmsLocaleId") or "", primary_tag)
            item_slug[(it["id"], tag)] = slug
            if tag == primary_tag or it["id"] not in item_primary_slug:
                item_primary_slug[it["id"]] = slug
    option_name: dict[str, dict[str, str]] = {}
    for col in snap.collections:
        for f in col.get("fields") or []:
            opts = (
                (f.get("validations") or {}).get("options") if f.get("type") == "Option" else None
            )
            if opts:
                option_name[f["id"]] = {o["id"]: o["name"] for o in opts}
    return SiteIndex(
        locale_tag=locale_tag,
        primary_tag=primary_tag,
        collection_slug={
            c["id"]: c.get("slug") for c in [*snap.all_collections, *snap.collections]
        },
        item_slug=item_slug,
        item_primary_slug=item_primary_slug,
        option_name=option_name,
        files=files,
    )


_ATTR_URL = re.compile(r"""(?P<attr>\b(?:src|href))\s*=\s*(?P<q>["'])(?P<url>.*?)(?P=q)""", re.I)


def normalise_rich_text(value: str, files: FileHasher) -> str:
    """Rich text with the site's file URLs in src/href replaced by the MD5 of the file."""

    def swap(m: re.Match[str]) -> str:
        url = html.unescape(m.group("url"))
        if not files.is_file_url(url):
            return m.group(0)
        return f'{m.group("attr").lower()}="{files.md5(url)}"'

    return _ATTR_URL.sub(swap, value)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _file(value: Any, files: FileHasher) -> Any:
    if _empty(value):
        return None
    if isinstance(value, str):
        return {"file": files.md5(value), "alt": None}
    if not isinstance(value, dict):
        return {"unexpected": value}
    url = value.get("url")
    return {"file": files.md5(url) if url else None, "alt": value.get("alt") or None}


def _instant(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return value
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() else number


def normalise_value(field_def: dict[str, Any], value: Any, index: SiteIndex, tag: str) -> Any:
    """The site-independent form of one fieldData value, by field type.

    - text-like types (PlainText, Email, Phone, Link, VideoLink) as strings; Color lower-cased
      without spaces; Number as a number (3 == 3.0); Switch as bool (missing = false);
      DateTime as the UTC instant;
    - Option by the option's name; Reference by the referenced item's slug (same locale);
      MultiReference as the list of slugs in order (Webflow keeps the order);
    - Image/File as {file: md5, alt}; MultiImage as the list of those in order;
    - RichText with the site's file URLs replaced by their MD5;
    - empty values (missing, null, "", [], {}) are all None; User values (per-site person ids)
      are not compared.
    """
    ftype = field_def.get("type")
    if ftype == "Switch":
        return bool(value)
    if _empty(value):
        return None
    files = index.files
    match ftype:
        case "PlainText" | "Email" | "Phone" | "Link" | "VideoLink":
            return value
        case "Color":
            return re.sub(r"\s+", "", value).lower() if isinstance(value, str) else value
        case "Number":
            return _number(value)
        case "DateTime":
            return _instant(value)
        case "Option":
            names = index.option_name.get(field_def.get("id") or "", {})
            return names.get(value, f"<unknown option {value}>")
        case "Reference":
            return index.slug_of(value, tag)
        case "MultiReference":
            refs = value if isinstance(value, list) else [value]
            return [index.slug_of(v, tag) for v in refs]
        case "Image" | "File":
            return _file(value, files)
        case "MultiImage":
            images = value if isinstance(value, list) else [value]
            return [_file(v, files) for v in images]
        case "RichText":
            return normalise_rich_text(value, files) if isinstance(value, str) else value
        case "User":
            return None
        case _:
            return value


# ---------------------------------------------------------------------------------------------
# comparison
# ---------------------------------------------------------------------------------------------

STATE_KEYS = ("isDraft", "isArchived", "published", "publishedWithChanges")


def _locales(site: dict[str, Any]) -> list[dict[str, Any]]:
    locales = site.get("locales") or {}
    primary = locales.get("primary")
    return ([primary] if primary else []) + list(locales.get("secondary") or [])


def compare_locales(src: dict[str, Any], tgt: dict[str, Any]) -> tuple[list[Difference], list[str]]:
    """Locales by tag; returns the differences and the tags both sites have."""
    diffs: list[Difference] = []
    src_tags = {loc.get("tag"): loc for loc in _locales(src)}
    tgt_tags = {loc.get("tag"): loc for loc in _locales(tgt)}
    for tag in src_tags.keys() - tgt_tags.keys():
        diffs.append(Difference("locale", "missing", locale=tag, source=tag, target=None))
    for tag in tgt_tags.keys() - src_tags.keys():
        diffs.append(Difference("locale", "extra", locale=tag, source=None, target=tag))
    src_primary = ((src.get("locales") or {}).get("primary") or {}).get("tag")
    tgt_primary = ((tgt.get("locales") or {}).get("primary") or {}).get("tag")
    if src_primary != tgt_primary:
        diffs.append(Difference("locale", "primary", source=src_primary, target=tgt_primary))
    shared = [t for t in src_tags if t in tgt_tags]
    return sorted(diffs, key=lambda d: str(d.locale)), shared


def _option_names(f: dict[str, Any]) -> list[str]:
    return sorted(o.get("name") for o in (f.get("validations") or {}).get("options") or [])


def _reference_target(f: dict[str, Any], index: SiteIndex) -> str | None:
    target = (f.get("validations") or {}).get("collectionId")
    if not target:
        return None
    return index.collection_slug.get(target, f"<collection outside verify: {target}>")


def match_fields(
    src_fields: Sequence[dict[str, Any]], tgt_fields: Sequence[dict[str, Any]]
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Pairs fields by slug, then the rest by displayName+type (slugs can differ per site)."""
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    by_slug = {f.get("slug"): f for f in tgt_fields}
    used: set[int] = set()
    unmatched: list[dict[str, Any]] = []
    for f in src_fields:
        t = by_slug.get(f.get("slug"))
        if t is not None and id(t) not in used:
            pairs.append((f, t))
            used.add(id(t))
        else:
            unmatched.append(f)
    missing: list[dict[str, Any]] = []
    for f in unmatched:
        t = next(
            (
                t
                for t in tgt_fields
                if id(t) not in used
                and t.get("displayName") == f.get("displayName")
                and t.get("type") == f.get("type")
            ),
            None,
        )
        if t is None:
            missing.append(f)
        else:
            pairs.append((f, t))
            used.add(id(t))
    extra = [t for t in tgt_fields if id(t) not in used]
    return pairs, missing, extra


def compare_fields(
    col_slug: str,
    src_col: dict[str, Any],
    tgt_col: dict[str, Any],
    src_index: SiteIndex,
    tgt_index: SiteIndex,
) -> tuple[list[Difference], list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Schema of one collection; returns the differences and the matched field pairs."""
    diffs: list[Difference] = []
    pairs, missing, extra = match_fields(src_col.get("fields") or [], tgt_col.get("fields") or [])
    for f in missing:
        diffs.append(
            Difference(
                "field",
                "missing",
                collection=col_slug,
                field=f.get("slug"),
                source=f"{f.get('displayName')} ({f.get('type')})",
                target=None,
            )
        )
    for t in extra:
        diffs.append(
            Difference(
                "field",
                "extra",
                collection=col_slug,
                field=t.get("slug"),
                source=None,
                target=f"{t.get('displayName')} ({t.get('type')})",
            )
        )
    for f, t in pairs:
        checks: list[tuple[str, Any, Any]] = [
            ("slug", f.get("slug"), t.get("slug")),
            ("type", f.get("type"), t.get("type")),
            ("isRequired", bool(f.get("isRequired")), bool(t.get("isRequired"))),
            ("displayName", f.get("displayName"), t.get("displayName")),
        ]
        if f.get("type") == "Option" or t.get("type") == "Option":
            checks.append(("options", _option_names(f), _option_names(t)))
        if f.get("type") in ("Reference", "MultiReference"):
            checks.append(
                (
                    "referenceTarget",
                    _reference_target(f, src_index),
                    _reference_target(t, tgt_index),
                )
            )
        for what, a, b in checks:
            if a != b:
                diffs.append(
                    Difference(
                        "field", what, collection=col_slug, field=f.get("slug"), source=a, target=b
                    )
                )
    return diffs, pairs


@dataclass
class _Entry:
    """One item in one locale: its staged and live copies (either may be absent)."""

    staged: dict[str, Any] | None = None
    live: dict[str, Any] | None = None


def _entries(
    staged: Iterable[dict[str, Any]], live: Iterable[dict[str, Any]], index: SiteIndex
) -> dict[tuple[str, str], _Entry]:
    """(locale tag, item slug) -> entry; live copies attach to their staged item by id+locale."""
    out: dict[tuple[str, str], _Entry] = {}
    by_id: dict[tuple[str, str], _Entry] = {}
    for it in staged:
        tag = index.locale_tag.get(it.get("cmsLocaleId") or "", index.primary_tag)
        entry = _Entry(staged=it)
        out[(tag, (it.get("fieldData") or {}).get("slug"))] = entry
        by_id[(it["id"], tag)] = entry
    for it in live:
        tag = index.locale_tag.get(it.get("cmsLocaleId") or "", index.primary_tag)
        entry = by_id.get((it["id"], tag))
        if entry is None:  # live copy of an item no longer staged
            entry = out.setdefault((tag, (it.get("fieldData") or {}).get("slug")), _Entry())
        entry.live = it
    return out


def _values(
    item: dict[str, Any] | None,
    fields: Sequence[tuple[str, dict[str, Any]]],
    index: SiteIndex,
    tag: str,
) -> dict[str, Any]:
    """Normalised fieldData keyed by the SOURCE field slug, for the matched fields only."""
    data = (item or {}).get("fieldData") or {}
    return {key: normalise_value(f, data.get(f.get("slug")), index, tag) for key, f in fields}


def _state(
    entry: _Entry, staged_values: dict[str, Any], live_values: dict[str, Any]
) -> dict[str, Any]:
    staged = entry.staged or {}
    published = entry.live is not None
    return {
        "isDraft": bool(staged.get("isDraft")) if entry.staged else None,
        "isArchived": bool(staged.get("isArchived")) if entry.staged else None,
        "published": published,
        "publishedWithChanges": published
        and entry.staged is not None
        and staged_values != live_values,
    }


def compare_items(
    col_slug: str,
    src_items: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    tgt_items: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]],
    src_index: SiteIndex,
    tgt_index: SiteIndex,
    locales: Sequence[str],
) -> tuple[list[Difference], CollectionSummary]:
    """Items of one collection in the locales both sites have, staged and live, and their states."""
    summary = CollectionSummary(col_slug)
    diffs: list[Difference] = []
    src_fields = [(f.get("slug"), f) for f, _ in pairs]
    tgt_fields = [(f.get("slug"), t) for f, t in pairs]
    src_entries = _entries(*src_items, src_index)
    tgt_entries = _entries(*tgt_items, tgt_index)
    wanted = set(locales)
    summary.source_items = sum(
        1 for (tag, _), e in src_entries.items() if tag in wanted and e.staged
    )
    summary.target_items = sum(
        1 for (tag, _), e in tgt_entries.items() if tag in wanted and e.staged
    )
    order = {t: n for n, t in enumerate(locales)}

    def key(k: tuple[str, str]) -> tuple[int, str]:
        return order.get(k[0], len(order)), str(k[1])

    for k in sorted(src_entries.keys() | tgt_entries.keys(), key=key):
        tag, slug = k
        if tag not in wanted:
            continue
        s, t = src_entries.get(k), tgt_entries.get(k)
        where = {"collection": col_slug, "item": slug, "locale": tag}
        if t is None:
            summary.missing += 1
            diffs.append(Difference("item", "missing", **where, source=slug, target=None))
            continue
        if s is None:
            summary.extra += 1
            diffs.append(Difference("item", "extra", **where, source=None, target=slug))
            continue
        s_staged = _values(s.staged, src_fields, src_index, tag)
        t_staged = _values(t.staged, tgt_fields, tgt_index, tag)
        s_live = _values(s.live, src_fields, src_index, tag) if s.live else {}
        t_live = _values(t.live, tgt_fields, tgt_index, tag) if t.live else {}
        value_diffs = []
        if s.staged is not None and t.staged is not None:
            for name, _ in src_fields:
                if s_staged[name] != t_staged[name]:
                    value_diffs.append(
                        Difference(
                            "value",
                            "staged",
                            **where,
                            field=name,
                            source=s_staged[name],
                            target=t_staged[name],
                        )
                    )
        if s.live is not None and t.live is not None:
            for name, _ in src_fields:
                if s_live[name] != t_live[name]:
                    value_diffs.append(
                        Difference(
                            "live-value",
                            "live",
                            **where,
                            field=name,
                            source=s_live[name],
                            target=t_live[name],
                        )
                    )
        s_state = _state(s, s_staged, s_live)
        t_state = _state(t, t_staged, t_live)
        state_diffs = [
            Difference("state", name, **where, source=s_state[name], target=t_state[name])
            for name in STATE_KEYS
            if s_state[name] != t_state[name]
        ]
        summary.different_values += bool(value_diffs)
        summary.different_states += bool(state_diffs)
        diffs += value_diffs + state_diffs
    return diffs, summary


ROOT_FOLDER = "(root)"
"""Folder path of an asset outside any folder."""


def _folder_paths(folders: Sequence[dict[str, Any]]) -> dict[str, str]:
    """folder id -> "Parent/Child" path of display names."""
    by_id = {f["id"]: f for f in folders}
    paths: dict[str, str] = {}

    def path(fid: str, depth: int = 0) -> str:
        if fid in paths:
            return paths[fid]
        folder = by_id.get(fid)
        if folder is None or depth > 64:
            return f"<unknown folder {fid}>"
        parent = folder.get("parentFolder")
        name = folder.get("displayName") or ""
        paths[fid] = f"{path(parent, depth + 1)}/{name}" if parent else name
        return paths[fid]

    for fid in by_id:
        path(fid)
    return paths


def _asset_views(snap: SiteSnapshot, files: FileHasher) -> list[dict[str, Any]]:
    paths = _folder_paths(snap.folders)
    folder_of: dict[str, str] = {}
    for folder in snap.folders:
        for asset_id in folder.get("assets") or []:
            folder_of[asset_id] = folder["id"]
    views = []
    for a in snap.assets:
        folder_id = a.get("folderId") or a.get("parentFolder") or folder_of.get(a.get("id"))
        views.append(
            {
                "file": files.md5(a["hostedUrl"]) if a.get("hostedUrl") else None,
                "displayName": a.get("displayName"),
                "altText": a.get("altText") or None,
                "folder": paths.get(folder_id, f"<unknown folder {folder_id}>")
                if folder_id
                else ROOT_FOLDER,
            }
        )
    return views


def compare_assets(
    src: SiteSnapshot, tgt: SiteSnapshot, src_files: FileHasher, tgt_files: FileHasher
) -> tuple[list[Difference], int, int]:
    """Assets panel: folders by path; assets by MD5 (paired within an MD5 by name), then
    displayName, altText and folder path."""
    diffs: list[Difference] = []
    src_paths = set(_folder_paths(src.folders).values())
    tgt_paths = set(_folder_paths(tgt.folders).values())
    for p in sorted(src_paths - tgt_paths):
        diffs.append(Difference("folder", "missing", item=p, source=p, target=None))
    for p in sorted(tgt_paths - src_paths):
        diffs.append(Difference("folder", "extra", item=p, source=None, target=p))

    src_views, tgt_views = _asset_views(src, src_files), _asset_views(tgt, tgt_files)
    by_file: dict[Any, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = defaultdict(
        lambda: ([], [])
    )
    for v in src_views:
        by_file[v["file"]][0].append(v)
    for v in tgt_views:
        by_file[v["file"]][1].append(v)
    attrs = ("displayName", "altText", "folder")
    for file, (s_list, t_list) in sorted(by_file.items(), key=lambda kv: str(kv[0])):
        s_rest, t_rest = list(s_list), list(t_list)
        # pair the closest first: all attributes equal, then same displayName, then in order
        for same in (attrs, ("displayName",), ()):
            for s in list(s_rest):
                t = next((t for t in t_rest if all(t[a] == s[a] for a in same)), None)
                if t is None:
                    continue
                s_rest.remove(s)
                t_rest.remove(t)
                for a in attrs:
                    if s[a] != t[a]:
                        diffs.append(
                            Difference(
                                "asset",
                                a,
                                item=s["displayName"],
                                field=file,
                                source=s[a],
                                target=t[a],
                            )
                        )
        for s in s_rest:
            diffs.append(
                Difference(
                    "asset", "missing", item=s["displayName"], field=file, source=s, target=None
                )
            )
        for t in t_rest:
            diffs.append(
                Difference(
                    "asset", "extra", item=t["displayName"], field=file, source=None, target=t
                )
            )
    return diffs, len(src_views), len(tgt_views)


def compare_snapshots(
    src: SiteSnapshot,
    tgt: SiteSnapshot,
    src_files: FileHasher,
    tgt_files: FileHasher,
    *,
    collections: Sequence[str] | None = None,
    assets: bool = True,
) -> VerifyReport:
    """Compares two snapshots (pure apart from the file downloads the hashers make)."""
    report = VerifyReport()
    src_index, tgt_index = build_index(src, src_files), build_index(tgt, tgt_files)
    locale_diffs, shared_locales = compare_locales(src.site, tgt.site)
    report.differences += locale_diffs

    src_cols = {c.get("slug"): c for c in src.collections}
    tgt_cols = {c.get("slug"): c for c in tgt.collections}
    wanted = list(collections) if collections is not None else list(src_cols)
    for slug in wanted:
        s, t = src_cols.get(slug), tgt_cols.get(slug)
        if s is None:
            report.differences.append(
                Difference(
                    "collection",
                    "not in source",
                    collection=slug,
                    source=None,
                    target=slug if t else None,
                )
            )
            continue
        if t is None:
            summary = CollectionSummary(slug)
            src_entries = _entries(src.staged.get(s["id"], []), [], src_index)
            summary.source_items = summary.missing = sum(
                1 for tag, _ in src_entries if tag in shared_locales
            )
            report.collections.append(summary)
            report.differences.append(
                Difference("collection", "missing", collection=slug, source=slug, target=None)
            )
            continue
        for what in ("displayName", "singularName"):
            if s.get(what) != t.get(what):
                report.differences.append(
                    Difference(
                        "collection", what, collection=slug, source=s.get(what), target=t.get(what)
                    )
                )
        field_diffs, pairs = compare_fields(slug, s, t, src_index, tgt_index)
        report.differences += field_diffs
        item_diffs, summary = compare_items(
            slug,
            (src.staged.get(s["id"], []), src.live.get(s["id"], [])),
            (tgt.staged.get(t["id"], []), tgt.live.get(t["id"], [])),
            pairs,
            src_index,
            tgt_index,
            shared_locales,
        )
        report.differences += item_diffs
        report.collections.append(summary)
    if collections is None:
        for slug in sorted(tgt_cols.keys() - src_cols.keys(), key=str):
            report.differences.append(
                Difference("collection", "extra", collection=slug, source=None, target=slug)
            )
            report.collections.append(
                CollectionSummary(slug, target_items=len(tgt.staged.get(tgt_cols[slug]["id"], [])))
            )

    if assets:
        asset_diffs, report.source_assets, report.target_assets = compare_assets(
            src, tgt, src_files, tgt_files
        )
        report.differences += asset_diffs
        report.source_folders, report.target_folders = len(src.folders), len(tgt.folders)
    report.downloads = {"source": src_files.downloads, "target": tgt_files.downloads}
    for side, hasher in (("source", src_files), ("target", tgt_files)):
        for failure in hasher.failures[:20]:
            report.warnings.append(f"{side} file not downloadable: {failure}")
    return report


# ---------------------------------------------------------------------------------------------
# reading a site through the API
# ---------------------------------------------------------------------------------------------

FILE_FIELD_TYPES = frozenset({"Image", "File", "MultiImage"})
DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024
"""Webflow caps documents at 10 MB and images at 4 MB."""
PAGE_LIMIT = 100
"""Largest `limit` Webflow's list endpoints accept."""


def _cms_locale_ids(site: dict[str, Any]) -> list[str]:
    return [loc["cmsLocaleId"] for loc in _locales(site) if loc.get("cmsLocaleId")]


def _is_ecommerce(col: dict[str, Any]) -> bool:
    """The e-commerce collections Webflow lists with the CMS ones (a migration skips them)."""
    from sources.webflow.settings import ECOMMERCE_COLLECTIONS

    return ECOMMERCE_COLLECTIONS.get(col.get("slug") or "") == col.get("displayName")


def _list_items(
    client: Any, collection_id: str, live: bool, locale_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Every item of a collection in every locale, with one paginated listing (limit=100).

    `cmsLocaleId` takes a comma-separated list, so one listing serves all locales: with L locales
    that is L times fewer requests for small collections and the same count for large ones.
    Webflow does not say whether `offset`/`limit` then count items or item x locale entries; the
    offset advances by entries, unless a page holds more entries than `limit` (paging by item),
    and duplicates (id, locale) are dropped, so both readings list everything exactly once.
    """
    path = f"/collections/{collection_id}/items" + ("/live" if live else "")
    params: dict[str, Any] = {"cmsLocaleId": ",".join(locale_ids)} if locale_ids else {}
    operation = "list-collection-items-live" if live else "list-collection-items"
    seen: set[tuple[str, Any]] = set()
    items: list[dict[str, Any]] = []
    offset = 0
    by_item = False
    while True:
        query = {**params, "offset": offset, "limit": PAGE_LIMIT}
        body = client.get(path, query, operation=operation) or {}
        page = list(body.get("items") or [])
        for it in page:
            key = (it.get("id"), it.get("cmsLocaleId"))
            if key not in seen:
                seen.add(key)
                items.append(it)
        by_item = by_item or len(page) > PAGE_LIMIT  # a page holds items x locales
        step = len({it.get("id") for it in page}) if by_item else len(page)
        offset += step
        total = (body.get("pagination") or {}).get("total")
        if not page or step < PAGE_LIMIT or (total is not None and offset >= total):
            return items


def fetch_snapshot(
    client: Any,
    site_id: str,
    collections: Sequence[str] | None = None,
    *,
    assets: bool = True,
) -> SiteSnapshot:
    """Reads what verify compares from one site, with list endpoints only.

    With a `collections` filter, collections that the wanted ones reference are listed too
    (staged only), so that references can be resolved to slugs.
    """
    site = client.get(f"/sites/{site_id}", operation="get-site")
    locale_ids = _cms_locale_ids(site)
    listed = (client.get(f"/sites/{site_id}/collections", operation="list-collections") or {}).get(
        "collections"
    ) or []
    if collections is None:
        wanted = [c for c in listed if not _is_ecommerce(c)]
    else:
        wanted = [c for c in listed if c.get("slug") in set(collections)]
    details = [
        client.get(f"/collections/{c['id']}", operation="collection-details") for c in wanted
    ]
    staged = {c["id"]: _list_items(client, c["id"], False, locale_ids) for c in details}
    live = {c["id"]: _list_items(client, c["id"], True, locale_ids) for c in details}
    listed_ids = {c["id"] for c in listed}
    for col in details:
        for f in col.get("fields") or []:
            target = (f.get("validations") or {}).get("collectionId")
            if target and target not in staged and target in listed_ids:
                staged[target] = _list_items(client, target, False, locale_ids)
    folders: list[dict[str, Any]] = []
    asset_list: list[dict[str, Any]] = []
    if assets:
        folders = (
            client.get(f"/sites/{site_id}/asset_folders", operation="list-asset-folders") or {}
        ).get("assetFolders") or []
        for page in client.paginate(
            f"/sites/{site_id}/assets", None, "assets", operation="list-assets"
        ):
            asset_list += page.items
    return SiteSnapshot(
        site=site,
        collections=details,
        staged=staged,
        live=live,
        folders=folders,
        assets=asset_list,
        all_collections=listed,
    )


def file_urls(snap: SiteSnapshot, files: FileHasher) -> set[str]:
    """Every file URL the comparison will hash: file fields, rich-text files, assets."""
    urls: set[str] = {a["hostedUrl"] for a in snap.assets if a.get("hostedUrl")}
    for col in snap.collections:
        fields = [
            f for f in col.get("fields") or [] if f.get("type") in (*FILE_FIELD_TYPES, "RichText")
        ]
        for item in [*snap.staged.get(col["id"], []), *snap.live.get(col["id"], [])]:
            data = item.get("fieldData") or {}
            for f in fields:
                value = data.get(f.get("slug"))
                if _empty(value):
                    continue
                if f["type"] == "RichText" and isinstance(value, str):
                    for m in _ATTR_URL.finditer(value):
                        url = html.unescape(m.group("url"))
                        if files.is_file_url(url):
                            urls.add(url)
                    continue
                for v in value if isinstance(value, list) else [value]:
                    url = v.get("url") if isinstance(v, dict) else v
                    if isinstance(url, str) and url:
                        urls.add(url)
    return urls


def client_hasher(client: Any, tmp_dir: str, max_bytes: int) -> FileHasher:
    """A FileHasher over the client's allowlisted, size-capped download."""

    def fetch_md5(url: str) -> str:
        downloaded = client.download(url, tmp_dir, max_bytes)
        with contextlib.suppress(OSError):
            os.unlink(downloaded.path)  # only the hash is needed
        return downloaded.md5

    def is_file_url(url: str) -> bool:
        # only absolute http(s) URLs: relative links in rich text are pages, not files
        return url.startswith(("http://", "https://")) and client.is_download_allowed(url)

    return FileHasher(fetch_md5, is_file_url)


def verify_sites(
    source: SiteRef,
    target: SiteRef,
    *,
    collections: list[str] | None = None,
    assets: bool = True,
    requests_per_minute: int | None = 60,
    window_seconds: float = 60.0,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    download_workers: int = 4,
    client_options: Mapping[str, Any] | None = None,
) -> VerifyReport:
    """Compares source and target through the API alone, with two read-only clients.

    Args:
        collections: slugs to compare (default: every collection except e-commerce ones).
        assets: also compare the Assets panel (folders and files).
        requests_per_minute / window_seconds: pacing of each client (each token has its own limit).
        max_file_bytes: cap of one file download.
        client_options: more keyword arguments of `WebflowClient` (timeouts, retries, backoff).
    """
    from sources.webflow.client import WebflowClient

    def make(ref: SiteRef) -> WebflowClient:
        return WebflowClient(
            ref.token,
            ref.base_url,
            read_only=True,
            requests_per_minute=ref.requests_per_minute or requests_per_minute,
            window_seconds=window_seconds,
            **dict(client_options or {}),
        )

    with (
        make(source) as src_client,
        make(target) as tgt_client,
        tempfile.TemporaryDirectory(prefix="webflow-verify-") as tmp,
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        # the two sites have separate tokens and so separate rate limits: read them side by side
        src_future = pool.submit(
            fetch_snapshot, src_client, source.site_id, collections, assets=assets
        )
        tgt_future = pool.submit(
            fetch_snapshot, tgt_client, target.site_id, collections, assets=assets
        )
        src_snap, tgt_snap = src_future.result(), tgt_future.result()
        src_files = client_hasher(src_client, os.path.join(tmp, "source"), max_file_bytes)
        tgt_files = client_hasher(tgt_client, os.path.join(tmp, "target"), max_file_bytes)
        src_prefetch = pool.submit(
            src_files.prefetch, file_urls(src_snap, src_files), download_workers
        )
        tgt_prefetch = pool.submit(
            tgt_files.prefetch, file_urls(tgt_snap, tgt_files), download_workers
        )
        src_prefetch.result()
        tgt_prefetch.result()
        report = compare_snapshots(
            src_snap, tgt_snap, src_files, tgt_files, collections=collections, assets=assets
        )
        src_stats, tgt_stats = src_client.stats.snapshot(), tgt_client.stats.snapshot()
    report.requests = {
        "source": src_stats["requests"],
        "target": tgt_stats["requests"],
        "total": src_stats["requests"] + tgt_stats["requests"],
    }
    report.requests_by_operation = {
        "source": src_stats["by_operation"],
        "target": tgt_stats["by_operation"],
    }
    return report


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------


def _config(key: str) -> Any:
    import dlt

    return dlt.config.get(key)


def _secret(key: str) -> Any:
    import dlt

    return dlt.secrets.get(key)


class VerifyConfigError(ValueError):
    """A token or site id is missing from the configuration."""


def site_refs_from_config(
    source_site: str | None, target_site: str | None
) -> tuple[SiteRef, SiteRef]:
    """Source and target from dlt config (env first, then .dlt/*.toml); never tokens from argv."""
    refs = []
    for section, site_id in (
        ("sources.webflow", source_site),
        ("destination.webflow", target_site),
    ):
        token = _secret(f"{section}.api_token")
        base_url = _config(f"{section}.base_url") or "https://api.webflow.com/v2"
        site_id = site_id or _config(f"{section}.site_id")
        env = section.upper().replace(".", "__") + "__API_TOKEN"
        if not token:
            raise VerifyConfigError(
                f"no API token for {section}: set {env} "
                f"or [{section}] api_token in .dlt/secrets.toml"
            )
        if not site_id:
            raise VerifyConfigError(
                f"no site id for {section}: pass it on the command line or set [{section}] site_id"
            )
        rpm = _config(f"{section}.requests_per_minute")
        refs.append(
            SiteRef(
                base_url=str(base_url),
                token=str(token),
                site_id=str(site_id),
                requests_per_minute=int(rpm) if rpm else None,
            )
        )
    return refs[0], refs[1]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: prints the table and the differences; exit 0 only when the sites match."""
    parser = argparse.ArgumentParser(
        prog="verify",
        description="Compare a source and a target Webflow site through the API alone "
        "(read-only). Exit 0: they match; 1: they differ; 2: verify could not run.",
    )
    parser.add_argument("--source-site", help="source site id (default: [sources.webflow] site_id)")
    parser.add_argument(
        "--target-site", help="target site id (default: [destination.webflow] site_id)"
    )
    parser.add_argument(
        "--collection",
        action="append",
        dest="collections",
        metavar="SLUG",
        help="compare only this collection (repeatable; default: all)",
    )
    parser.add_argument("--no-assets", action="store_true", help="skip the Assets panel")
    parser.add_argument("--limit", type=int, default=200, help="differences listed (0 = all)")
    parser.add_argument("--json", metavar="PATH", help="also write the full report as JSON")
    args = parser.parse_args(argv)

    os.environ.setdefault("DLT_PROJECT_DIR", str(Path(__file__).resolve().parent.parent))
    from sources.webflow.client import WebflowError

    try:
        source, target = site_refs_from_config(args.source_site, args.target_site)
        max_bytes = _config("sources.webflow.max_asset_bytes")
        report = verify_sites(
            source,
            target,
            collections=args.collections,
            assets=not args.no_assets,
            max_file_bytes=int(max_bytes) if max_bytes else DEFAULT_MAX_FILE_BYTES,
        )
    except (VerifyConfigError, WebflowError) as exc:  # messages carry no token (client redacts)
        print(f"verify could not run: {exc}", file=sys.stderr)
        return 2
    print(report.format(limit=args.limit or None))
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2, default=str))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
