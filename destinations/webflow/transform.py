"""Rewrites a source item's fieldData for the target: files, rich text, options, references.

Runs at execution time, when the ledger knows the target's ids. Input values are the source's
own (`Option` = source option id, `Reference` = source item id, `Image` = `{fileId, url, alt}`);
the output is what the target accepts on write (WEBFLOW_API.md 4.7).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .model import Collection
from .settings import NOT_WRITABLE_TYPES, REFERENCE_TYPES

_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*(["'])(?P<url>.*?)\1""", re.I | re.S)
_URL_ATTR = re.compile(
    r"""(?P<attr>\b(?:src|href|srcset|data-src)\s*=\s*)(?P<q>["'])(?P<url>.*?)(?P=q)""", re.I
)


Files = dict[str, tuple[str, list[str]]]
"""Target field slug -> (source field slug, urls of the file values written to it)."""


@dataclass
class Lookups:
    """Target-side ids known so far (from the ledger)."""

    collections: dict[str, str] = field(default_factory=dict)
    fields: dict[str, dict[str, str]] = field(default_factory=dict)
    """Source collection id -> source field slug -> target field slug."""
    options: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    """(source collection id, source field slug) -> option name -> target option id."""
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    """MD5 -> target asset (`target_url`): what rich-text urls are rewritten through."""
    asset_urls: dict[str, str] = field(default_factory=dict)
    """Source url of a file the ledger maps to a target asset (an Assets-panel `hostedUrl`)
    -> that asset's target url: the only way an Image/File value is pointed at an asset."""
    items: dict[str, str] = field(default_factory=dict)
    """Source item id -> target item id."""
    file_allowed: Callable[[str], bool] | None = None
    """Whether a file url is on a host files may come from (the client's download allowlist)."""
    allowed_origins: dict[str, bool] = field(default_factory=dict)
    """`file_allowed` by `scheme://netloc` (all it depends on): one check per host, not per url."""


def collection_context(collection: Collection) -> dict[str, Any]:
    """What transforming a collection's values needs to know of its source schema (JSON-able)."""
    return {
        "id": collection.id,
        "fields": {
            f.slug: {"type": f.type, "options": dict(f.options), "ref": f.reference_collection_id}
            for f in collection.fields
        },
    }


def file_urls(value: Any, ftype: str) -> list[str]:
    """Source file urls a value of a file field (or the <img>/<a> urls of rich text) uses."""
    if value is None:
        return []
    if ftype in ("Image", "File") and isinstance(value, Mapping):
        return [value["url"]] if value.get("url") else []
    if ftype == "MultiImage" and isinstance(value, list):
        return [v["url"] for v in value if isinstance(v, Mapping) and v.get("url")]
    if ftype == "RichText" and isinstance(value, str):
        return [m.group("url") for m in _URL_ATTR.finditer(value)]
    return []


def references(value: Any, ftype: str) -> list[str]:
    """Source item ids a reference value points at."""
    if ftype == "Reference" and isinstance(value, str) and value:
        return [value]
    if ftype == "MultiReference" and isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def writable_slugs(ctx: Mapping[str, Any]) -> list[str]:
    return [s for s, f in ctx["fields"].items() if f["type"] not in NOT_WRITABLE_TYPES]


@dataclass
class Transformed:
    field_data: dict[str, Any]
    deferred: list[str] = field(default_factory=list)
    """Reference fields left out because a referenced item has no target id yet."""
    problems: list[tuple[str, str]] = field(default_factory=list)
    """(field slug, reason) of values that cannot be written (recorded, never raised)."""
    files: Files = field(default_factory=dict)
    """The file values written: what the write's answer must hold (`dropped_files`)."""


def transform(
    field_data: Mapping[str, Any],
    ctx: Mapping[str, Any],
    md5_by_url: Mapping[str, str],
    lookups: Lookups,
    *,
    defer: Iterable[str] = (),
    drop_unresolved: bool = False,
) -> Transformed:
    """Source fieldData -> target fieldData (keys are target field slugs).

    `defer` names reference fields to leave out on purpose (set later by the links pass). A
    reference whose item has no target id is deferred too, or dropped (with a problem) when
    `drop_unresolved` is set, as in passes where every item that will exist already does.
    """
    coll = ctx["id"]
    field_map = lookups.fields.get(coll, {})
    out: dict[str, Any] = {}
    result = Transformed(out)
    deferred = set(defer)
    for slug, value in field_data.items():
        spec = ctx["fields"].get(slug)
        if spec is None or spec["type"] in NOT_WRITABLE_TYPES:
            continue
        target_slug = field_map.get(slug, slug)
        ftype = spec["type"]
        if value is None:
            out[target_slug] = None
            continue
        if ftype in REFERENCE_TYPES:
            if slug in deferred:
                result.deferred.append(slug)
                continue
            refs = references(value, ftype)
            mapped = [lookups.items.get(r) for r in refs]
            if any(m is None for m in mapped):
                if not drop_unresolved:
                    result.deferred.append(slug)
                    continue
                missing = [r for r, m in zip(refs, mapped, strict=True) if m is None]
                result.problems.append(
                    (
                        slug,
                        f"referenced items not migrated (deleted in the source, or rejected): "
                        f"{missing}; the reference is left out",
                    )
                )
            kept = [m for m in mapped if m is not None]
            if ftype == "Reference":
                out[target_slug] = kept[0] if kept else None
            else:
                out[target_slug] = kept
        elif ftype == "Option":
            name = spec["options"].get(value, value)
            option_id = lookups.options.get((coll, slug), {}).get(name)
            if option_id is None:
                result.problems.append((slug, f"option {name!r} does not exist in the target"))
                continue
            out[target_slug] = option_id
        elif ftype in ("Image", "File"):
            kept = _checked_files([value], slug, target_slug, lookups, result)
            out[target_slug] = kept[0] if kept else None
        elif ftype == "MultiImage" and isinstance(value, list):
            out[target_slug] = _checked_files(value, slug, target_slug, lookups, result)
        elif ftype == "RichText" and isinstance(value, str):
            for m in _IMG_SRC.finditer(value):
                url = m.group("url")
                if url not in md5_by_url and not _allowed(url, lookups):
                    result.problems.append(
                        (slug, f"image {url} is on a host files are not taken from; not copied")
                    )
            out[target_slug] = rewrite_html(value, md5_by_url, lookups)
        else:
            out[target_slug] = value
    return result


def target_url(url: str, md5_by_url: Mapping[str, str], lookups: Lookups) -> str | None:
    """The target asset url of a rich-text file (by the MD5 of its bytes), if migrated."""
    md5 = md5_by_url.get(url)
    asset = lookups.assets.get(md5) if md5 else None
    return asset["target_url"] if asset else None


def _allowed(url: str, lookups: Lookups) -> bool:
    if not url.startswith(("http://", "https://")):
        return True  # relative or data: urls are the target's own business
    if lookups.file_allowed is None:
        return True
    # what comes before the third "/" holds the scheme and the whole netloc (which ends at the
    # first "/", "?" or "#"): urls with the same prefix get the same answer
    origin = "/".join(url.split("/", 3)[:3])
    found = lookups.allowed_origins.get(origin)
    if found is None:
        found = lookups.allowed_origins[origin] = lookups.file_allowed(url)
    return found


def _checked_files(
    values: list[Any], slug: str, target_slug: str, lookups: Lookups, result: Transformed
) -> list[Any]:
    """File values for the target, by url (Webflow fetches and re-hosts them). A url on a host
    that is not allowed (and not a migrated asset's) is left out, with a warning: the target
    would fetch it. The urls written are noted in `result.files` for the answer's check."""
    out = []
    for v in values:
        url = v.get("url") if isinstance(v, Mapping) else None
        if isinstance(url, str) and url not in lookups.asset_urls and not _allowed(url, lookups):
            result.problems.append(
                (slug, f"file {url} is on a host files are not taken from; left out")
            )
            continue
        value = _file_value(v, lookups)
        out.append(value)
        sent = value.get("url") if isinstance(value, Mapping) else None
        if sent:
            result.files.setdefault(target_slug, (slug, []))[1].append(sent)
    return out


def _file_value(value: Any, lookups: Lookups) -> Any:
    """`{url, alt}` with the source url, or the migrated asset's when the url is exactly an
    Assets-panel file's. Never chosen by the bytes' MD5: each CMS file is its own file in
    Webflow (its own url, fetched and re-hosted while writing the item, no request of ours)."""
    if not isinstance(value, Mapping):
        return value
    url = value.get("url")
    out: dict[str, Any] = {"url": lookups.asset_urls.get(url, url)} if url else {}
    if value.get("alt"):
        out["alt"] = value["alt"]
    return out


def dropped_files(files: Files, answer: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(source field slug, reason) of file values written that the answer's fieldData lacks:
    with `skipInvalidFiles` (Webflow's default) a file the target cannot fetch, an image over
    4 MB or of a wrong type is dropped from the write instead of failing it."""
    out = []
    for target_slug, (slug, urls) in files.items():
        got = answer.get(target_slug)
        kept = len(got) if isinstance(got, list) else int(isinstance(got, Mapping))
        if kept >= len(urls):
            continue
        if len(urls) == 1:
            reason = f"the target could not fetch file {urls[0]}; the field was left empty"
        else:
            left = "they were left out" if kept else "the field was left empty"
            reason = (
                f"the target could not fetch {len(urls) - kept} of the {len(urls)} files "
                f"written ({', '.join(urls)}); {left}"
            )
        out.append((slug, reason))
    return out


def rewrite_html(html: str, md5_by_url: Mapping[str, str], lookups: Lookups) -> str:
    """Points `<img src>`, links and srcsets at source files to the target's copies."""

    def swap(match: re.Match[str]) -> str:
        url = match.group("url")
        new = target_url(url, md5_by_url, lookups)
        if new is None:
            return match.group(0)
        return f"{match.group('attr')}{match.group('q')}{new}{match.group('q')}"

    return _URL_ATTR.sub(swap, html)
