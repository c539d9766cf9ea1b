"""The naive baseline: the migration guide in ../shared/seed, implemented faithfully in Python.

What the guide's JavaScript does, kept as it is:
- lists collections, then each collection's items with `offset`/`limit=100`, stopping when
  the items read reach `pagination.total`;
- "create parent items first": collections in reference-dependency order, one `createItem`
  request per item, references rewritten through an old -> new id map;
- assets: every file an item references (Image, MultiImage, File, rich-text `<img>`) is
  downloaded and uploaded for that item (create-asset with its MD5 + the S3 POST), no
  de-duplication, into one "Migrated Assets" folder; the item then points at the new file;
- no bulk endpoints; HTTP errors go through the official SDK's retry (the guide's
  `WebflowClient`): 408, 429 and 5xx retried at most twice, waiting `Retry-After` when given,
  else exponential backoff from 1 s.

What the guide only says in prose ("fetch all collections and their schemas", "create asset
folders", "handle staged vs published states"), done the naive way so that the result is a
complete copy, comparable with ours: schemas by `collection-details` and recreated with
create-collection + one create-field per reference field; the source's folder tree and
Assets-panel assets copied one by one (patch-asset for alt text / display name); every locale
read in its own pass (staged and live); items created in all their locales with a one-item
`/items/bulk` call (the only way the API creates a localized item), then one PATCH per item and
secondary locale, one PATCH per item whose references could not be set at creation (self
references, cycles), one publish-item per published item, one PATCH per item whose staged copy
differs from its live copy. Unlike the guide, a request that still fails after the retries is
recorded and the run goes on (the guide would stop), so every run yields figures.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from bench import emu
from bench.shape import REFERENCE_TYPES, inline_image_urls

MAX_RETRIES = 2  # the official SDK's default
MIGRATED_FOLDER = "Migrated Assets"


class NaiveError(RuntimeError):
    """A request that failed for good (after the SDK-style retries)."""


@dataclass
class NaiveReport:
    """What the baseline did: requests by operation (from the emulator's stats), time, errors."""

    requests: dict[str, int]
    total_requests: int
    rate_limited: int  # 429s the emulator answered
    retries: int
    seconds: float
    items_created: int
    failures: list[str] = field(default_factory=list)
    external: dict[str, int] = field(default_factory=dict)  # cdn-download, s3-upload


class Client:
    """requests + the official SDK's retry policy; counts retries and 429s seen."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.retries = 0
        self.rate_limited = 0

    def call(self, method: str, path: str, json: Any = None, params: Any = None) -> Any:
        url = path if path.startswith("http") else self.base_url + path
        response = self._send(lambda: self.session.request(method, url, json=json, params=params))
        if response.status_code >= 400:
            raise NaiveError(f"{method} {path} -> {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else None

    def _send(self, send: Any) -> requests.Response:
        for attempt in range(MAX_RETRIES + 1):
            try:
                response = send()
            except requests.ConnectionError:
                if attempt == MAX_RETRIES:
                    raise
                self.retries += 1
                time.sleep(min(60.0, 2.0**attempt))
                continue
            if response.status_code == 429:
                self.rate_limited += 1
            retryable = response.status_code in (408, 429) or response.status_code >= 500
            if not retryable or attempt == MAX_RETRIES:
                return response
            self.retries += 1
            after = response.headers.get("Retry-After")
            time.sleep(float(after) if after else min(60.0, 2.0**attempt))
        raise AssertionError("unreachable")

    def download(self, url: str) -> bytes:
        response = self._send(lambda: requests.get(url, timeout=60))
        if response.status_code != 200:
            raise NaiveError(f"download {url} -> {response.status_code}")
        return response.content

    def upload(self, site_id: str, file_name: str, data: bytes, folder: str | None) -> dict:
        """create-asset (MD5) then the S3 POST, as the guide's snippet does."""
        body: dict[str, Any] = {"fileName": file_name, "fileHash": hashlib.md5(data).hexdigest()}
        if folder:
            body["parentFolder"] = folder
        created = self.call("POST", f"/sites/{site_id}/assets", json=body)
        form = list(created["uploadDetails"].items())
        response = self._send(
            lambda: requests.post(
                created["uploadUrl"], data=form, files={"file": (file_name, data)}, timeout=60
            )
        )
        if response.status_code != 201:
            raise NaiveError(f"upload {file_name} -> {response.status_code}")
        return created


def list_all(client: Client, path: str, key: str, params: dict[str, Any] | None = None) -> list:
    """The guide's pagination loop: offset += 100 until the items read reach the total."""
    out: list[Any] = []
    offset = 0
    while True:
        page = client.call("GET", path, params={**(params or {}), "offset": offset, "limit": 100})
        out.extend(page[key])
        total = (page.get("pagination") or {}).get("total", len(out))
        if len(out) >= total or not page[key]:
            return out
        offset += 100


def _order(collections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parents first: a collection comes after the collections it references (cycles broken
    in list order, self references ignored)."""
    ids = {c["id"] for c in collections}
    deps = {
        c["id"]: {
            f["validations"]["collectionId"]
            for f in c["fields"]
            if f["type"] in REFERENCE_TYPES
            and f["validations"]["collectionId"] in ids
            and f["validations"]["collectionId"] != c["id"]
        }
        for c in collections
    }
    done: list[str] = []
    pending = [c["id"] for c in collections]
    while pending:
        ready = [c for c in pending if deps[c] <= set(done)] or [pending[0]]
        done.append(ready[0])
        pending.remove(ready[0])
    by_id = {c["id"]: c for c in collections}
    return [by_id[c] for c in done]


def migrate(
    base_url: str,
    source_site_id: str,
    source_token: str,
    target_site_id: str,
    target_token: str,
) -> NaiveReport:
    """Runs the naive migration source -> target; stats are reset first and read at the end."""
    emu.reset_stats(base_url)
    started = time.perf_counter()
    src = Client(base_url, source_token)
    dst = Client(base_url, target_token)
    naive = _Naive(src, dst, source_site_id, target_site_id)
    naive.run()
    seconds = time.perf_counter() - started
    snapshot = emu.stats(base_url)
    return NaiveReport(
        requests=dict(sorted(snapshot["byOperation"].items())),
        total_requests=snapshot["total"],
        rate_limited=snapshot["rateLimited"],
        retries=src.retries + dst.retries,
        seconds=seconds,
        items_created=naive.items_created,
        failures=naive.failures,
        external=dict(snapshot.get("external") or {}),
    )


class _Naive:
    def __init__(self, src: Client, dst: Client, source_site: str, target_site: str) -> None:
        self.src, self.dst = src, dst
        self.source_site, self.target_site = source_site, target_site
        self.failures: list[str] = []
        self.items_created = 0
        self.item_map: dict[str, str] = {}  # source item id -> target item id
        self.migrated_folder: str | None = None
        self.target_locale: dict[str, str] = {}  # locale tag -> target cmsLocaleId
        self.deferred: set[str] = set()  # source items created without some reference

    def attempt(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except (NaiveError, requests.RequestException) as exc:
            self.failures.append(f"{what}: {exc}")
            return None

    def run(self) -> None:
        # Phase 1: export from the source
        site = self.src.call("GET", f"/sites/{self.source_site}")
        target = self.dst.call("GET", f"/sites/{self.target_site}")
        tags = self._locales(site)
        self.target_locale = target_locale = {t: c for c, t in self._locales(target).items()}
        listed = self.src.call("GET", f"/sites/{self.source_site}/collections")["collections"]
        collections = [self.src.call("GET", f"/collections/{c['id']}") for c in listed]
        items: dict[str, dict[str, dict[str, Any]]] = {}  # coll -> item id -> tag -> {staged, live}
        for coll in collections:
            per_item: dict[str, dict[str, Any]] = {}
            for cms_id, tag in tags.items():
                for live in (False, True):
                    path = f"/collections/{coll['id']}/items" + ("/live" if live else "")
                    for it in list_all(self.src, path, "items", {"cmsLocaleId": cms_id}):
                        slot = per_item.setdefault(it["id"], {}).setdefault(tag, {})
                        slot["live" if live else "staged"] = it
            items[coll["id"]] = per_item

        # Phase 2: prepare the target (schema, folders)
        coll_map, option_map = self._schema(collections)
        folder_map = self._folders()
        # Phase 3: Assets-panel assets, one by one
        self._assets(folder_map)
        # Phase 4: items, parents first
        primary = next(iter(tags.values()))
        ordered = _order(collections)
        for coll in ordered:
            for src_id, per_locale in items[coll["id"]].items():
                self._create_item(coll, coll_map, option_map, src_id, per_locale, primary)
        # second pass: secondary locales, deferred references, publish, staged-after-publish
        for coll in ordered:
            for src_id, per_locale in items[coll["id"]].items():
                new_id = self.item_map.get(src_id)
                if new_id is None:
                    continue
                self._finish_item(
                    coll, coll_map, option_map, src_id, new_id, per_locale, primary, target_locale
                )

    @staticmethod
    def _locales(site: dict[str, Any]) -> dict[str, str]:
        locs = site["locales"]
        ordered = [locs["primary"], *(locs.get("secondary") or [])]
        return {loc["cmsLocaleId"]: loc["tag"] for loc in ordered}

    def _schema(self, collections: list[dict[str, Any]]) -> tuple[dict[str, str], dict]:
        coll_map: dict[str, str] = {}
        option_map: dict[tuple[str, str], str] = {}  # (target coll, source option id) -> id
        for coll in collections:
            fields = []
            for f in coll["fields"]:
                if f["slug"] in ("name", "slug") or f["type"] in REFERENCE_TYPES:
                    continue
                out: dict[str, Any] = {
                    "type": f["type"],
                    "displayName": f["displayName"],
                    "slug": f["slug"],
                    "isRequired": f.get("isRequired", False),
                }
                if f["type"] == "Option":
                    out["metadata"] = {
                        "options": [{"name": o["name"]} for o in f["validations"]["options"]]
                    }
                fields.append(out)
            body = {
                "displayName": coll["displayName"],
                "singularName": coll["singularName"],
                "slug": coll["slug"],
                "fields": fields,
            }
            made = self.dst.call("POST", f"/sites/{self.target_site}/collections", json=body)
            coll_map[coll["id"]] = made["id"]
            made_fields = {f["slug"]: f for f in made["fields"]}
            for f in coll["fields"]:
                if f["type"] == "Option":
                    names = {
                        o["name"]: o["id"] for o in made_fields[f["slug"]]["validations"]["options"]
                    }
                    for o in f["validations"]["options"]:
                        option_map[(made["id"], o["id"])] = names[o["name"]]
        for coll in collections:  # references once every collection exists
            for f in coll["fields"]:
                if f["type"] in REFERENCE_TYPES:
                    body = {
                        "type": f["type"],
                        "displayName": f["displayName"],
                        "slug": f["slug"],
                        "isRequired": f.get("isRequired", False),
                        "metadata": {"collectionId": coll_map[f["validations"]["collectionId"]]},
                    }
                    self.dst.call("POST", f"/collections/{coll_map[coll['id']]}/fields", json=body)
        return coll_map, option_map

    def _folders(self) -> dict[str, str]:
        folders = self.src.call("GET", f"/sites/{self.source_site}/asset_folders")["assetFolders"]
        folder_map: dict[str, str] = {}
        pending = list(folders)
        while pending:
            ready = [
                f for f in pending if not f.get("parentFolder") or f["parentFolder"] in folder_map
            ]
            if not ready:
                break
            for f in ready:
                body: dict[str, Any] = {"displayName": f["displayName"]}
                if f.get("parentFolder"):
                    body["parentFolder"] = folder_map[f["parentFolder"]]
                made = self.attempt(
                    f"folder {f['displayName']}",
                    lambda body=body: self.dst.call(
                        "POST", f"/sites/{self.target_site}/asset_folders", json=body
                    ),
                )
                if made:
                    folder_map[f["id"]] = made["id"]
                pending.remove(f)
        made = self.dst.call(
            "POST",
            f"/sites/{self.target_site}/asset_folders",
            json={"displayName": MIGRATED_FOLDER},
        )
        self.migrated_folder = made["id"]
        return folder_map

    def _assets(self, folder_map: dict[str, str]) -> None:
        for asset in list_all(self.src, f"/sites/{self.source_site}/assets", "assets"):

            def copy(asset: dict[str, Any] = asset) -> None:
                data = self.src.download(asset["hostedUrl"])
                folder = folder_map.get(asset.get("folderId") or "")
                made = self.dst.upload(self.target_site, asset["originalFileName"], data, folder)
                patch: dict[str, Any] = {}
                if asset.get("altText"):
                    patch["altText"] = asset["altText"]
                if asset.get("displayName") != asset["originalFileName"]:
                    patch["displayName"] = asset["displayName"]
                if patch:
                    self.dst.call("PATCH", f"/assets/{made['id']}", json=patch)

            self.attempt(f"asset {asset['originalFileName']}", copy)

    # --- items -------------------------------------------------------------------------------
    def _rehost(self, url: str) -> str:
        """The guide's per-reference download + upload: a new asset for every use."""
        data = self.src.download(url)
        name = url.rsplit("/", 1)[-1].split("_", 1)[-1] or "file"
        made = self.dst.upload(self.target_site, name, data, self.migrated_folder)
        return made["hostedUrl"]

    def _field_data(
        self,
        coll: dict[str, Any],
        fd: dict[str, Any],
        target_coll: str,
        option_map: dict,
        created: set[str],
        only: set[str] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Transforms fieldData for the target; returns it and whether a reference had to be
        left out because its item does not exist yet."""
        out: dict[str, Any] = {}
        missing = False
        for f in coll["fields"]:
            slug = f["slug"]
            if slug not in fd or (only is not None and slug not in only):
                continue
            value = fd[slug]
            if value is None:
                continue
            kind = f["type"]
            if kind == "Reference":
                if value in self.item_map and value in created:
                    out[slug] = self.item_map[value]
                else:
                    missing = True
            elif kind == "MultiReference":
                if all(v in self.item_map and v in created for v in value):
                    out[slug] = [self.item_map[v] for v in value]
                else:
                    missing = True
            elif kind == "Option":
                out[slug] = option_map.get((target_coll, value))
            elif kind in ("Image", "File"):
                out[slug] = {"url": self._rehost(value["url"]), "alt": value.get("alt")}
            elif kind == "MultiImage":
                out[slug] = [{"url": self._rehost(v["url"]), "alt": v.get("alt")} for v in value]
            elif kind == "RichText" and isinstance(value, str):
                for url in set(inline_image_urls(value)):
                    if "/_cdn/" in url:
                        value = value.replace(url, self._rehost(url))
                out[slug] = value
            else:
                out[slug] = value
        return out, missing

    def _create_item(
        self,
        coll: dict[str, Any],
        coll_map: dict[str, str],
        option_map: dict,
        src_id: str,
        per_locale: dict[str, dict[str, Any]],
        primary: str,
    ) -> None:
        target_coll = coll_map[coll["id"]]
        entry = per_locale.get(primary) or next(iter(per_locale.values()))
        source = entry.get("live") or entry["staged"]  # what goes live is created first
        is_live = any("live" in e for e in per_locale.values())

        def create() -> None:
            fd, missing = self._field_data(
                coll, source["fieldData"], target_coll, option_map, set(self.item_map)
            )
            if missing:
                self.deferred.add(src_id)
            body = {
                "cmsLocaleIds": self._target_locales(per_locale),
                "isDraft": bool(entry["staged"].get("isDraft")) and not is_live,
                "isArchived": bool(entry["staged"].get("isArchived")) and not is_live,
                "fieldData": fd,
            }
            made = self.dst.call("POST", f"/collections/{target_coll}/items/bulk", json=body)
            self.item_map[src_id] = made["items"][0]["id"]
            self.items_created += 1

        self.attempt(f"create {coll['slug']}/{source['fieldData'].get('slug')}", create)

    def _target_locales(self, per_locale: dict[str, dict[str, Any]]) -> list[str]:
        return [self.target_locale[tag] for tag in per_locale]

    def _finish_item(
        self,
        coll: dict[str, Any],
        coll_map: dict[str, str],
        option_map: dict,
        src_id: str,
        new_id: str,
        per_locale: dict[str, dict[str, Any]],
        primary: str,
        target_locale: dict[str, str],
    ) -> None:
        target_coll = coll_map[coll["id"]]
        ref_slugs = {f["slug"] for f in coll["fields"] if f["type"] in REFERENCE_TYPES}
        created = set(self.item_map)
        live_tags = [t for t, e in per_locale.items() if "live" in e]
        first_primary = per_locale[primary].get("live") or per_locale[primary]["staged"]
        for tag, entry in per_locale.items():
            source = entry.get("live") or entry["staged"]
            if tag == primary:
                if src_id not in self.deferred:
                    continue
                only = ref_slugs  # the references that could not be set at creation
            else:  # a secondary locale: the fields whose content differs from the primary's
                only = {
                    k
                    for k, v in source["fieldData"].items()
                    if v != first_primary["fieldData"].get(k) or k in ref_slugs
                }
            fd, _ = self._field_data(
                coll, source["fieldData"], target_coll, option_map, created, only
            )
            body: dict[str, Any] = {"cmsLocaleId": target_locale[tag], "fieldData": fd}
            if "live" not in entry:
                body["isDraft"] = bool(entry["staged"].get("isDraft"))
                body["isArchived"] = bool(entry["staged"].get("isArchived"))
            if tag == primary and not fd:
                continue
            self.attempt(
                f"update {coll['slug']}/{tag}/{new_id}",
                lambda body=body: self.dst.call(
                    "PATCH", f"/collections/{target_coll}/items/{new_id}", json=body
                ),
            )
        if live_tags:
            body = {
                "items": [{"id": new_id, "cmsLocaleIds": [target_locale[t] for t in live_tags]}]
            }
            self.attempt(
                f"publish {coll['slug']}/{new_id}",
                lambda: self.dst.call(
                    "POST", f"/collections/{target_coll}/items/publish", json=body
                ),
            )
        for tag in live_tags:
            entry = per_locale[tag]
            staged, live = entry["staged"], entry["live"]
            if (
                staged["fieldData"] == live["fieldData"]
                and not staged.get("isDraft")
                and not staged.get("isArchived")
            ):
                continue
            changed_keys = {
                k
                for k in set(staged["fieldData"]) | set(live["fieldData"])
                if staged["fieldData"].get(k) != live["fieldData"].get(k)
            }
            changed, _ = self._field_data(
                coll, staged["fieldData"], target_coll, option_map, created, changed_keys
            )
            for k in changed_keys - set(staged["fieldData"]):
                changed[k] = None  # cleared after publishing
            body = {
                "cmsLocaleId": target_locale[tag],
                "fieldData": changed,
                "isDraft": bool(staged.get("isDraft")),
                "isArchived": bool(staged.get("isArchived")),
            }
            self.attempt(
                f"staged {coll['slug']}/{tag}/{new_id}",
                lambda body=body: self.dst.call(
                    "PATCH", f"/collections/{target_coll}/items/{new_id}", json=body
                ),
            )
