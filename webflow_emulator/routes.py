"""The /v2 route table: (method, path pattern) -> (operationId as in the spec, scope, handler).

Handlers take the World and a parsed Request and return (status, body); they hold no HTTP code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import rules
from .errors import invalid
from .model import Token, World


@dataclass
class Request:
    """A parsed /v2 request as the handlers see it."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, Any]
    body: Any
    token: Token | None = None
    site_id: str | None = None  # the site the request concerns (for stats)

    def q(self, name: str) -> str | None:
        value = self.query.get(name)
        if isinstance(value, dict):
            raise invalid(name, f"{name} must be a plain value")
        return value

    def skip_invalid_files(self) -> bool:
        return rules.parse_bool_param(self.q("skipInvalidFiles"), True, "skipInvalidFiles")


Handler = Callable[[World, Request], tuple[int, Any]]


@dataclass
class Route:
    method: str
    pattern: str
    operation: str
    scope: str | None
    handler: Handler
    resource: tuple[str, str] | None = None  # (kind, path param) whose site the token must own
    needs_body: bool = False
    segments: tuple[str | None, ...] = field(init=False)  # literal, or None for a {param}
    param_names: dict[int, str] = field(init=False)  # segment index -> path param name
    specificity: int = field(init=False)

    def __post_init__(self) -> None:
        parts = self.pattern.split("/")
        self.param_names = {}
        for i, seg in enumerate(parts):
            if "{" in seg:
                name = re.fullmatch(r"\{(\w+)\}", seg)
                assert name, f"a path param must be a whole segment: {self.pattern}"
                self.param_names[i] = name[1]
        self.segments = tuple(None if i in self.param_names else p for i, p in enumerate(parts))
        self.specificity = sum(1 for seg in parts if seg and "{" not in seg)

    def params(self, segments: list[str]) -> dict[str, str] | None:
        """The path params when a path (split at '/') fits this pattern: literal segments
        equal, each param a non-empty segment; else None."""
        if len(segments) != len(self.segments):
            return None
        for want, got in zip(self.segments, segments, strict=True):
            if got != want and (want is not None or not got):
                return None
        return {name: segments[i] for i, name in self.param_names.items()}


def _list_sites(w: World, r: Request) -> tuple[int, Any]:
    assert r.token is not None
    if len(r.token.site_ids) == 1:
        r.site_id = r.token.site_ids[0]
    return 200, w.list_sites(r.token.site_ids)


def _introspect(w: World, r: Request) -> tuple[int, Any]:
    assert r.token is not None
    return 200, w.introspect(r.token.token)


def _list_items(live: bool) -> Handler:
    def handler(w: World, r: Request) -> tuple[int, Any]:
        return 200, w.list_items(r.params["collection_id"], live, r.query)

    return handler


def _get_item(live: bool) -> Handler:
    def handler(w: World, r: Request) -> tuple[int, Any]:
        return 200, w.get_item(
            r.params["collection_id"], r.params["item_id"], r.q("cmsLocaleId"), live
        )

    return handler


def _create_items(live: bool) -> Handler:
    def handler(w: World, r: Request) -> tuple[int, Any]:
        return 202, w.create_items(r.params["collection_id"], r.body, live, r.skip_invalid_files())

    return handler


def _update_item(live: bool) -> Handler:
    def handler(w: World, r: Request) -> tuple[int, Any]:
        return 200, w.update_item(
            r.params["collection_id"], r.params["item_id"], r.body, live, r.skip_invalid_files()
        )

    return handler


def _update_items(live: bool) -> Handler:
    def handler(w: World, r: Request) -> tuple[int, Any]:
        return 200, w.update_items(r.params["collection_id"], r.body, live, r.skip_invalid_files())

    return handler


def _delete_item(live: bool) -> Handler:
    def handler(w: World, r: Request) -> tuple[int, Any]:
        w.delete_item(r.params["collection_id"], r.params["item_id"], r.q("cmsLocaleId"), live)
        return 204, None

    return handler


def _delete_items(live: bool) -> Handler:
    def handler(w: World, r: Request) -> tuple[int, Any]:
        w.delete_items(r.params["collection_id"], r.body, live)
        return 204, None

    return handler


def _no_content(fn: Callable[[World, Request], None]) -> Handler:
    def handler(w: World, r: Request) -> tuple[int, Any]:
        fn(w, r)
        return 204, None

    return handler


SITE = ("site", "site_id")
COLL = ("collection", "collection_id")
ASSET = ("asset", "asset_id")
FOLDER = ("folder", "asset_folder_id")

ROUTES: list[Route] = [
    Route("GET", "/token/introspect", "introspect", None, _introspect),
    Route("GET", "/sites", "list-sites", "sites:read", _list_sites),
    Route("GET", "/sites/{site_id}", "get-site", "sites:read",
          lambda w, r: (200, w.get_site(r.params["site_id"])), SITE),
    Route("GET", "/sites/{site_id}/collections", "list-collections", "cms:read",
          lambda w, r: (200, w.list_collections(r.params["site_id"])), SITE),
    Route("POST", "/sites/{site_id}/collections", "create-collection", "cms:write",
          lambda w, r: (200, w.create_collection(r.params["site_id"], r.body)), SITE, True),
    Route("GET", "/collections/{collection_id}", "collection-details", "cms:read",
          lambda w, r: (200, w.get_collection(r.params["collection_id"])), COLL),
    Route("DELETE", "/collections/{collection_id}", "delete-collection", "cms:write",
          _no_content(lambda w, r: w.delete_collection(r.params["collection_id"])), COLL),
    Route("POST", "/collections/{collection_id}/fields", "create-field", "cms:write",
          lambda w, r: (200, w.create_field(r.params["collection_id"], r.body)), COLL, True),
    Route("PATCH", "/collections/{collection_id}/fields/{field_id}", "update-field", "cms:write",
          lambda w, r: (200, w.update_field(r.params["collection_id"], r.params["field_id"],
                                            r.body)), COLL, True),
    Route("DELETE", "/collections/{collection_id}/fields/{field_id}", "delete-field",
          "cms:write", _no_content(lambda w, r: w.delete_field(r.params["collection_id"],
                                                              r.params["field_id"])), COLL),
    Route("GET", "/collections/{collection_id}/items", "list-collection-items", "cms:read",
          _list_items(False), COLL),
    Route("POST", "/collections/{collection_id}/items", "create-item", "cms:write",
          _create_items(False), COLL, True),
    Route("PATCH", "/collections/{collection_id}/items", "update-items", "cms:write",
          _update_items(False), COLL, True),
    Route("DELETE", "/collections/{collection_id}/items", "delete-items", "cms:write",
          _delete_items(False), COLL, True),
    Route("GET", "/collections/{collection_id}/items/live", "list-collection-items-live",
          "cms:read", _list_items(True), COLL),
    Route("POST", "/collections/{collection_id}/items/live", "create-item-live", "cms:write",
          _create_items(True), COLL, True),
    Route("PATCH", "/collections/{collection_id}/items/live", "update-items-live", "cms:write",
          _update_items(True), COLL, True),
    Route("DELETE", "/collections/{collection_id}/items/live", "delete-items-live", "cms:write",
          _delete_items(True), COLL, True),
    Route("POST", "/collections/{collection_id}/items/bulk", "create-items", "cms:write",
          lambda w, r: (202, w.create_items_bulk(r.params["collection_id"], r.body,
                                                 r.skip_invalid_files())), COLL, True),
    Route("POST", "/collections/{collection_id}/items/publish", "publish-item", "cms:write",
          lambda w, r: (202, w.publish_items(r.params["collection_id"], r.body)), COLL, True),
    Route("GET", "/collections/{collection_id}/items/{item_id}", "Get-Item", "cms:read",
          _get_item(False), COLL),
    Route("PATCH", "/collections/{collection_id}/items/{item_id}", "update-item", "cms:write",
          _update_item(False), COLL, True),
    Route("DELETE", "/collections/{collection_id}/items/{item_id}", "delete-item", "cms:write",
          _delete_item(False), COLL),
    Route("GET", "/collections/{collection_id}/items/{item_id}/live", "get-item-live",
          "cms:read", _get_item(True), COLL),
    Route("PATCH", "/collections/{collection_id}/items/{item_id}/live", "update-item-live",
          "cms:write", _update_item(True), COLL, True),
    Route("DELETE", "/collections/{collection_id}/items/{item_id}/live", "delete-item-live",
          "cms:write", _delete_item(True), COLL),
    Route("GET", "/sites/{site_id}/assets", "list-assets", "assets:read",
          lambda w, r: (200, w.list_assets(r.params["site_id"], r.q("offset"), r.q("limit"),
                                           r.q("folderId"), r.q("localeId"))), SITE),
    Route("POST", "/sites/{site_id}/assets", "create-asset", "assets:write",
          lambda w, r: (200, w.create_asset(r.params["site_id"], r.body)), SITE, True),
    Route("GET", "/assets/{asset_id}", "get-asset", "assets:read",
          lambda w, r: (200, w.get_asset(r.params["asset_id"], r.q("localeId"))), ASSET),
    Route("PATCH", "/assets/{asset_id}", "patch-asset", "assets:write",
          lambda w, r: (200, w.patch_asset(r.params["asset_id"], r.body, r.q("localeId"))),
          ASSET, True),
    Route("DELETE", "/assets/{asset_id}", "delete-asset", "assets:write",
          _no_content(lambda w, r: w.delete_asset(r.params["asset_id"])), ASSET),
    Route("GET", "/sites/{site_id}/asset_folders", "list-asset-folders", "assets:read",
          lambda w, r: (200, w.list_folders(r.params["site_id"])), SITE),
    Route("POST", "/sites/{site_id}/asset_folders", "create-asset-folder", "assets:write",
          lambda w, r: (200, w.create_folder(r.params["site_id"], r.body)), SITE, True),
    Route("GET", "/asset_folders/{asset_folder_id}", "get-asset-folder", "assets:read",
          lambda w, r: (200, w.get_folder(r.params["asset_folder_id"])), FOLDER),
]  # fmt: skip


# (segment count, first segment) -> routes, in table order: a path is tried against these only
ROUTES_BY_SHAPE: dict[tuple[int, str | None], list[Route]] = {}
for _route in ROUTES:
    assert _route.segments[1] is not None, "routes start with a literal segment"
    ROUTES_BY_SHAPE.setdefault((len(_route.segments), _route.segments[1]), []).append(_route)


def match(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """(route, path params, path_known): the most literal pattern matching `path` wins, so
    `/items/live` never reaches `/items/{item_id}`; path_known without route means 405."""
    best: list[tuple[Route, dict[str, str]]] = []
    best_spec = -1
    segments = path.split("/")
    shape = (len(segments), segments[1] if len(segments) > 1 else None)
    for route in ROUTES_BY_SHAPE.get(shape, ()):
        params = route.params(segments)
        if params is None:
            continue
        if route.specificity > best_spec:
            best, best_spec = [], route.specificity
        if route.specificity == best_spec:
            best.append((route, params))
    for route, params in best:
        if route.method == method:
            return route, params, True
    return None, {}, bool(best)
