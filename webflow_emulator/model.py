"""In-memory state of the emulated Webflow world, apart from HTTP (moto-style).

`World` holds sites (with locales), tokens, collections, fields, items, asset folders, assets and
CMS files (a bytes store keyed by file id). Each public method takes plain Python values, returns
response-shaped dicts and raises `ApiError`. One re-entrant lock makes it thread-safe.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from . import rules
from .assets import Asset, AssetsMixin, Folder
from .errors import conflict, duplicate_collection, invalid, not_found
from .items import Item, ItemsMixin, ListView
from .util import is_object_id, iso_ms, locked, new_id, now_ms

ALL_SCOPES = (
    "sites:read",
    "sites:write",
    "cms:read",
    "cms:write",
    "assets:read",
    "assets:write",
)


@functools.lru_cache(maxsize=4096)
def quoted(name: str) -> str:
    """A file name as its hosted URL carries it (cached: each re-hosted copy quotes it again)."""
    return quote(name)


@dataclass
class Locale:
    id: str
    cms_locale_id: str
    tag: str
    display_name: str
    subdirectory: str
    primary: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cmsLocaleId": self.cms_locale_id,
            "enabled": True,
            "displayName": self.display_name,
            "displayImageId": None,
            "redirect": not self.primary,
            "subdirectory": self.subdirectory,
            "tag": self.tag,
        }


@dataclass
class Site:
    id: str
    workspace_id: str
    display_name: str
    short_name: str
    created: int
    updated: int
    locales: list[Locale]
    collections: dict[str, Collection] = field(default_factory=dict)
    assets: dict[str, Asset] = field(default_factory=dict)
    folders: dict[str, Folder] = field(default_factory=dict)

    @property
    def primary(self) -> Locale:
        return self.locales[0]

    def cms_locale_ids(self) -> list[str]:
        return [loc.cms_locale_id for loc in self.locales]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workspaceId": self.workspace_id,
            "createdOn": iso_ms(self.created),
            "displayName": self.display_name,
            "shortName": self.short_name,
            "lastPublished": None,
            "lastUpdated": iso_ms(self.updated),
            "previewUrl": f"https://screenshots.webflow.com/sites/{self.id}/preview.png",
            "timeZone": "UTC",
            "parentFolderId": None,
            "customDomains": [],
            "locales": {
                "primary": self.locales[0].to_dict(),
                "secondary": [loc.to_dict() for loc in self.locales[1:]],
            },
            "dataCollectionEnabled": False,
            "dataCollectionType": "disabled",
        }


@dataclass
class Token:
    token: str
    id: str
    site_ids: list[str]
    scopes: list[str]
    rate_limit: int | None
    created: int
    last_used: int | None = None


@dataclass
class Field:
    id: str
    slug: str
    type: str
    display_name: str
    is_required: bool
    help_text: str | None
    validations: dict[str, Any] | None
    is_editable: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Read shape (collection-details): choices and targets under `validations`."""
        out: dict[str, Any] = {
            "id": self.id,
            "isEditable": self.is_editable,
            "isRequired": self.is_required,
            "type": self.type,
            "slug": self.slug,
            "displayName": self.display_name,
        }
        if self.help_text is not None:  # deviations: help-text-omitted
            out["helpText"] = self.help_text
        out["validations"] = self.validations
        return out

    def to_create_dict(self) -> dict[str, Any]:
        """create-field echo: the FieldCreate shape, choices under `metadata`
        (deviations: metadata-vs-validations)."""
        out = {k: v for k, v in self.to_dict().items() if k != "validations"}
        if self.type in rules.OPTION_TYPES:
            out["metadata"] = {"options": list((self.validations or {}).get("options", []))}
        elif self.type in rules.REFERENCE_TYPES:
            out["metadata"] = {"collectionId": (self.validations or {}).get("collectionId")}
        return out


@dataclass
class Collection:
    id: str
    site_id: str
    display_name: str
    singular_name: str
    slug: str
    created: int
    updated: int
    fields: dict[str, Field] = field(default_factory=dict)
    used_slugs: set[str] = field(default_factory=set)
    items: dict[str, Item] = field(default_factory=dict)
    slug_index: dict[str, dict[str, str]] = field(default_factory=dict)
    version: int = 0
    list_cache: dict[Any, ListView] = field(default_factory=dict)

    def fields_by_slug(self) -> dict[str, Field]:
        return {f.slug: f for f in self.fields.values()}

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayName": self.display_name,
            "singularName": self.singular_name,
            "slug": self.slug,
            "createdOn": iso_ms(self.created),
            "lastUpdated": iso_ms(self.updated),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "fields": [f.to_dict() for f in self.fields.values()]}

    def touch_items(self) -> None:
        """Invalidates cached list results after any item change."""
        self.version += 1
        self.list_cache.clear()


@dataclass
class FileRecord:
    """Bytes of a CMS file or an uploaded asset, served at `url` under /_cdn/."""

    id: str
    site_id: str
    name: str
    content_type: str
    data: bytes
    md5: str
    url: str
    created: int


class World(ItemsMixin, AssetsMixin):
    """The whole emulated state; `root_url` is used to build hosted file URLs."""

    def __init__(self, root_url: str = "http://127.0.0.1") -> None:
        self.lock = threading.RLock()
        self.root_url = root_url.rstrip("/")
        self.secret = secrets.token_bytes(32)
        self.workspace_id = new_id()
        self.sites: dict[str, Site] = {}
        self.tokens: dict[str, Token] = {}
        self.collections: dict[str, Collection] = {}
        self.items_index: dict[str, str] = {}  # item id -> collection id
        self.assets: dict[str, Asset] = {}
        self.folders: dict[str, Folder] = {}
        self.files: dict[str, FileRecord] = {}
        self.upload_keys: dict[str, str] = {}  # S3 key -> asset id
        self.cms_locales: dict[str, str] = {}  # cmsLocaleId -> site id

    @locked
    def reset(self) -> None:
        """Everything back to empty (the admin reset)."""
        lock = self.lock
        self.__init__(self.root_url)  # type: ignore[misc]
        self.lock = lock  # threads queued on the lock must see the same lock afterwards

    # --- sites and tokens ------------------------------------------------------------------------
    @locked
    def create_site(
        self,
        display_name: str,
        short_name: str | None = None,
        locales: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Creates a site; the first locale is primary (default one `en-US`)."""
        if not isinstance(display_name, str) or not display_name.strip():
            raise invalid("displayName", "displayName is required")
        locales = locales or [{"tag": "en-US", "displayName": "English (United States)"}]
        made: list[Locale] = []
        tags: set[str] = set()
        for i, loc in enumerate(locales):
            tag = loc.get("tag") if isinstance(loc, dict) else None
            if not isinstance(tag, str) or not tag or tag in tags:
                raise invalid(f"locales[{i}].tag", "Each locale needs a unique tag")
            tags.add(tag)
            sub = loc.get("subdirectory")
            if sub is None:
                sub = "" if i == 0 else tag.lower()
            made.append(
                Locale(new_id(), new_id(), tag, str(loc.get("displayName") or tag), sub, i == 0)
            )
        now = now_ms()
        site = Site(
            new_id(),
            self.workspace_id,
            display_name,
            short_name or rules.slugify(display_name) or "site",
            now,
            now,
            made,
        )
        self.sites[site.id] = site
        for loc in made:
            self.cms_locales[loc.cms_locale_id] = site.id
        return site.to_dict()

    @locked
    def mint_token(
        self,
        site_ids: list[str],
        scopes: list[str] | None = None,
        rate_limit: int | None = None,
    ) -> str:
        for sid in site_ids:
            if sid not in self.sites:
                raise not_found(f"Requested resource not found: site {sid}")
        scopes = list(ALL_SCOPES if scopes is None else scopes)
        token = secrets.token_hex(32)
        self.tokens[token] = Token(token, new_id(), list(site_ids), scopes, rate_limit, now_ms())
        return token

    def token(self, token: str) -> Token | None:
        return self.tokens.get(token)

    def site(self, site_id: str) -> Site:
        site = self.sites.get(site_id)
        if site is None:
            raise not_found("Requested resource not found: The site cannot be found")
        return site

    @locked
    def list_sites(self, site_ids: list[str]) -> dict[str, Any]:
        return {"sites": [self.sites[s].to_dict() for s in site_ids if s in self.sites]}

    @locked
    def get_site(self, site_id: str) -> dict[str, Any]:
        return self.site(site_id).to_dict()

    @locked
    def introspect(self, token: str) -> dict[str, Any]:
        t = self.tokens[token]
        return {
            "authorization": {
                "id": t.id,
                "createdOn": iso_ms(t.created),
                "lastUsed": iso_ms(t.last_used or t.created),
                "grantType": "authorization_code",
                "rateLimit": t.rate_limit or 60,
                "scope": ",".join(t.scopes),
                "authorizedTo": {
                    "siteIds": list(t.site_ids),
                    "workspaceIds": [self.workspace_id],
                    "userIds": [],
                },
            },
            "application": {
                "id": self.workspace_id,
                "description": "webflow_emulator site token",
                "homepage": "https://webflow.com",
                "displayName": "webflow_emulator",
            },
        }

    # --- resource -> site (for token binding and stats) ------------------------------------------
    @locked
    def site_of(self, kind: str, resource_id: str) -> str:
        """The site owning a resource, or 404. kind: site|collection|asset|folder."""
        if kind == "site":
            return self.site(resource_id).id
        if kind == "collection":
            return self.collection(resource_id).site_id
        if kind == "asset":
            return self.asset(resource_id).site_id
        if kind == "folder":
            return self.folder(resource_id).site_id
        raise ValueError(kind)

    # --- collections -----------------------------------------------------------------------------
    def collection(self, collection_id: str) -> Collection:
        coll = self.collections.get(collection_id)
        if coll is None:
            raise not_found("Requested resource not found: The collection cannot be found")
        return coll

    @locked
    def list_collections(self, site_id: str) -> dict[str, Any]:
        site = self.site(site_id)
        return {"collections": [c.summary() for c in site.collections.values()]}

    @locked
    def get_collection(self, collection_id: str) -> dict[str, Any]:
        return self.collection(collection_id).to_dict()

    @locked
    def create_collection(self, site_id: str, body: Any) -> dict[str, Any]:
        site = self.site(site_id)
        if not isinstance(body, dict):
            raise invalid("body", "Expected an object")
        display_name = body.get("displayName")
        singular_name = body.get("singularName")
        if not isinstance(display_name, str) or not display_name.strip():
            raise invalid("displayName", "displayName is required")
        if not isinstance(singular_name, str) or not singular_name.strip():
            raise invalid("singularName", "singularName is required")
        slug_in = body.get("slug")
        if slug_in is not None and (not isinstance(slug_in, str) or not rules.slugify(slug_in)):
            raise invalid("slug", "Invalid slug")
        slug = rules.slugify(slug_in if slug_in is not None else display_name)
        if not slug:
            raise invalid("slug", "Could not derive a slug from displayName")
        for other in site.collections.values():
            if other.display_name.lower() == display_name.strip().lower() or other.slug == slug:
                raise duplicate_collection()
        fields_in = body.get("fields", [])
        if fields_in is None:
            fields_in = []
        if not isinstance(fields_in, list):
            raise invalid("fields", "fields must be an array")
        specs = [rules.parse_field_create(f, f"fields[{i}].") for i, f in enumerate(fields_in)]
        if len(specs) + len(rules.SYSTEM_SLUGS) > rules.MAX_FIELDS:
            raise invalid("fields", f"A collection can have at most {rules.MAX_FIELDS} fields")
        now = now_ms()
        coll = Collection(
            new_id(), site.id, display_name.strip(), singular_name.strip(), slug, now, now
        )
        for sys_slug, sys_name in (("name", "Name"), ("slug", "Slug")):
            f = Field(new_id(), sys_slug, "PlainText", sys_name, True, None, None)
            coll.fields[f.id] = f
            coll.used_slugs.add(sys_slug)
        for i, spec in enumerate(specs):
            self._add_field(site, coll, spec, f"fields[{i}].")
        site.collections[coll.id] = coll
        self.collections[coll.id] = coll
        return coll.to_dict()

    @locked
    def delete_collection(self, collection_id: str) -> None:
        coll = self.collection(collection_id)
        for item_id in coll.items:
            self.items_index.pop(item_id, None)
        del self.collections[coll.id]
        del self.sites[coll.site_id].collections[coll.id]

    # --- fields ----------------------------------------------------------------------------------
    def _add_field(self, site: Site, coll: Collection, spec: rules.FieldSpec, p: str = "") -> Field:
        """Adds a validated FieldCreate to a collection: uniqueness, slug, option ids, target."""
        for f in coll.fields.values():
            if f.display_name.lower() == spec.display_name.lower():
                # deviations: field-conflict-409
                raise conflict(f"Conflict: A field named '{spec.display_name}' already exists")
            if spec.slug is not None and f.slug == spec.slug:
                raise conflict(f"Conflict: A field with slug '{spec.slug}' already exists")
        if len(coll.fields) >= rules.MAX_FIELDS:
            raise invalid("fields", f"A collection can have at most {rules.MAX_FIELDS} fields")
        base = spec.slug or rules.slugify(spec.display_name) or "field"
        slug = rules.unique_slug(base, coll.used_slugs)  # deviations: field-slug-suffix
        validations: dict[str, Any] | None = None
        if spec.option_names is not None:
            validations = {"options": [{"name": n, "id": new_id()} for n in spec.option_names]}
        elif spec.collection_id is not None:
            target = self.collections.get(spec.collection_id)
            if target is None or target.site_id != site.id:
                raise invalid(f"{p}metadata.collectionId", "Referenced collection not found")
            validations = {"collectionId": spec.collection_id}
        f = Field(
            new_id(),
            slug,
            spec.type,
            spec.display_name,
            spec.is_required,
            spec.help_text,
            validations,
        )
        coll.fields[f.id] = f
        coll.used_slugs.add(slug)
        coll.updated = now_ms()
        return f

    @locked
    def create_field(self, collection_id: str, body: Any) -> dict[str, Any]:
        coll = self.collection(collection_id)
        spec = rules.parse_field_create(body)
        f = self._add_field(self.sites[coll.site_id], coll, spec)
        return f.to_create_dict()

    def _field(self, coll: Collection, field_id: str) -> Field:
        f = coll.fields.get(field_id)
        if f is None:
            raise not_found("Requested resource not found: The field cannot be found")
        return f

    @locked
    def update_field(self, collection_id: str, field_id: str, body: Any) -> dict[str, Any]:
        coll = self.collection(collection_id)
        f = self._field(coll, field_id)
        if not isinstance(body, dict):
            raise invalid("body", "Expected an object")
        for key in body:  # deviations: unknown-update-field-keys
            if key not in ("isRequired", "displayName", "helpText"):
                raise invalid(key, f"'{key}' cannot be updated")
        if "isRequired" in body:
            if not isinstance(body["isRequired"], bool):
                raise invalid("isRequired", "Expected a boolean")
            if f.slug in rules.SYSTEM_SLUGS and not body["isRequired"]:
                raise invalid("isRequired", f"Field '{f.slug}' is always required")
        if "displayName" in body:
            name = body["displayName"]
            if not isinstance(name, str) or not name.strip():
                raise invalid("displayName", "displayName must be a non-empty string")
            for other in coll.fields.values():
                if other.id != f.id and other.display_name.lower() == name.strip().lower():
                    raise conflict(f"Conflict: A field named '{name}' already exists")
        if "helpText" in body and not isinstance(body["helpText"], str):
            raise invalid("helpText", "Expected a string")
        if "isRequired" in body:
            f.is_required = body["isRequired"]
        if "displayName" in body:
            f.display_name = body["displayName"].strip()
        if "helpText" in body:
            f.help_text = body["helpText"]
        coll.updated = now_ms()
        return f.to_dict()

    @locked
    def delete_field(self, collection_id: str, field_id: str) -> None:
        coll = self.collection(collection_id)
        f = self._field(coll, field_id)
        if f.slug in rules.SYSTEM_SLUGS:
            raise invalid("field_id", f"System field '{f.slug}' cannot be deleted")
        del coll.fields[f.id]
        for item in coll.items.values():
            item.drop_field(f.slug)
        coll.updated = now_ms()
        coll.touch_items()

    # --- files -----------------------------------------------------------------------------------
    def file_url(self, site_id: str, file_id: str, name: str) -> str:
        return f"{self.root_url}/_cdn/{site_id}/{file_id}_{quoted(name)}"

    def store_file(
        self,
        site_id: str,
        name: str,
        content_type: str,
        data: bytes,
        file_id: str | None = None,
        md5: str | None = None,
    ) -> FileRecord:
        """Hosts bytes under a new (or given) file id; `md5` when the caller knows the digest
        already (a re-hosted copy of a stored file, a checked upload)."""
        fid = file_id or new_id()
        rec = FileRecord(
            fid,
            site_id,
            name,
            content_type,
            data,
            md5 or hashlib.md5(data).hexdigest(),
            self.file_url(site_id, fid, name),
            now_ms(),
        )
        self.files[fid] = rec
        return rec

    @locked
    def cdn_file(self, site_id: str, file_id: str) -> FileRecord | None:
        """A hosted file by its /_cdn/<siteId>/<fileId>_<name> path parts."""
        rec = self.files.get(file_id)
        if rec is None or rec.site_id != site_id:
            return None
        return rec

    def file_by_url(self, url: str) -> FileRecord | None:
        """Our own hosted URL -> its file (the only URLs the emulator can "download")."""
        prefix = self.root_url + "/_cdn/"
        if not isinstance(url, str) or not url.startswith(prefix):
            return None
        rest = url[len(prefix) :].split("?", 1)[0]
        parts = rest.split("/", 1)
        if len(parts) != 2 or "_" not in parts[1]:
            return None
        file_id = parts[1].split("_", 1)[0]
        if not is_object_id(file_id):
            return None
        return self.cdn_file(parts[0], file_id)

    @staticmethod
    def _export_item(coll: Collection, item: Item) -> dict[str, Any]:
        return {
            "id": item.id,
            "createdLocales": list(item.created_locales),
            "locales": {
                loc_id: {
                    "staged": item.staged_dict(loc),
                    "live": item.live_dict(loc) if loc.live is not None else None,
                }
                for loc_id, loc in item.locales.items()
            },
        }

    # --- export ----------------------------------------------------------------------------------
    @locked
    def export_site(self, site_id: str) -> dict[str, Any]:
        """The site's whole state (admin /export): schema, items per locale staged+live, assets
        with md5, folders and CMS files."""
        site = self.site(site_id)
        collections = []
        for coll in site.collections.values():
            d = coll.to_dict()
            d["items"] = [self._export_item(coll, item) for item in coll.items.values()]
            collections.append(d)
        asset_ids = {a.file_id for a in site.assets.values()}
        return {
            "site": site.to_dict(),
            "collections": collections,
            "assetFolders": [f.to_dict(self) for f in site.folders.values()],
            "assets": [
                {**a.to_dict(self, with_folder=True), "md5": self.files[a.file_id].md5}
                for a in site.assets.values()
                if a.uploaded
            ],
            "files": [
                {
                    "fileId": rec.id,
                    "url": rec.url,
                    "name": rec.name,
                    "contentType": rec.content_type,
                    "size": len(rec.data),
                    "md5": rec.md5,
                }
                for rec in self.files.values()
                if rec.site_id == site.id and rec.id not in asset_ids
            ],
        }
