"""Assets, asset folders and the fake-S3 upload, as a mixin of `model.World`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import rules
from .errors import invalid, not_found
from .util import is_object_id, iso_ms, locked, new_id, now_ms

if TYPE_CHECKING:
    from .model import FileRecord, Site

BUCKET = "webflow-emulator-uploads"
UPLOAD_KEYS = (
    "acl",
    "bucket",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "key",
    "Policy",
    "X-Amz-Signature",
    "success_action_status",
    "content-type",
    "Cache-Control",
)


@dataclass
class Folder:
    id: str
    site_id: str
    display_name: str
    parent: str | None
    created: int
    updated: int

    def to_dict(self, world: AssetsMixin) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayName": self.display_name,
            "parentFolder": self.parent,  # deviations: root-folder-null
            "assets": [
                a.id
                for a in world.sites[self.site_id].assets.values()
                if a.uploaded and a.folder_id == self.id
            ],
            "siteId": self.site_id,
            "createdOn": iso_ms(self.created),
            "lastUpdated": iso_ms(self.updated),
        }


@dataclass
class Asset:
    id: str
    site_id: str
    file_id: str
    file_name: str
    content_type: str
    is_image: bool
    file_hash: str
    folder_id: str | None
    display_name: str
    alt_text: str | None
    created: int
    updated: int
    upload_details: dict[str, str]
    hosted_url: str
    uploaded: bool = False
    size: int = 0

    def to_dict(self, world: AssetsMixin, with_folder: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "contentType": self.content_type,
            "size": self.size,
            "siteId": self.site_id,
            "hostedUrl": self.hosted_url,
            "originalFileName": self.file_name,
            "displayName": self.display_name,
            "lastUpdated": iso_ms(self.updated),
            "createdOn": iso_ms(self.created),
            "variants": [],
            "altText": self.alt_text,
        }
        if with_folder:  # folderId appears in list responses only (spec)
            out["folderId"] = self.folder_id
        return out


class UploadError(Exception):
    """An S3-style upload failure: status, S3 error code, message (rendered as XML)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class AssetsMixin:
    """Asset and folder operations of `World`."""

    lock: Any
    root_url: str
    secret: bytes
    sites: dict[str, Site]
    assets: dict[str, Asset]
    folders: dict[str, Folder]
    files: dict[str, FileRecord]
    upload_keys: dict[str, str]

    def site(self, site_id: str) -> Site: ...  # pragma: no cover
    def file_url(self, site_id: str, file_id: str, name: str) -> str: ...  # pragma: no cover
    def store_file(  # pragma: no cover
        self,
        site_id: str,
        name: str,
        content_type: str,
        data: bytes,
        file_id: str | None = None,
        md5: str | None = None,
    ) -> FileRecord: ...

    def asset(self, asset_id: str) -> Asset:
        a = self.assets.get(asset_id)
        if a is None or not a.uploaded:  # deviations: asset-listable-after-upload
            raise not_found()
        return a

    def folder(self, folder_id: str) -> Folder:
        f = self.folders.get(folder_id)
        if f is None:
            raise not_found()
        return f

    def _check_locale(self, site: Site, locale_id: str | None) -> None:
        """Asset endpoints take the *site* locale id (`localeId`), not the cmsLocaleId."""
        if locale_id is not None and locale_id not in {loc.id for loc in site.locales}:
            raise invalid("localeId", f"Invalid localeId: {locale_id!r}")

    # --- folders ---------------------------------------------------------------------------------
    @locked
    def list_folders(self, site_id: str) -> dict[str, Any]:
        site = self.site(site_id)
        folders = [f.to_dict(self) for f in site.folders.values()]
        return {
            "assetFolders": folders,
            "pagination": {"limit": max(len(folders), 1), "offset": 0, "total": len(folders)},
        }

    @locked
    def get_folder(self, folder_id: str) -> dict[str, Any]:
        return self.folder(folder_id).to_dict(self)

    @locked
    def create_folder(self, site_id: str, body: Any) -> dict[str, Any]:
        site = self.site(site_id)
        if not isinstance(body, dict):
            raise invalid("body", "Expected an object")
        name = body.get("displayName")
        if not isinstance(name, str) or not name.strip():
            raise invalid("displayName", "displayName is required")
        parent = body.get("parentFolder")
        if parent is not None and (not is_object_id(parent) or parent not in site.folders):
            raise invalid("parentFolder", "Parent folder not found")
        for f in site.folders.values():
            if f.parent == parent and f.display_name == name.strip():
                # deviations: folder-name-unique-400
                raise invalid("displayName", f"A folder named '{name}' already exists here")
        now = now_ms()
        folder = Folder(new_id(), site.id, name.strip(), parent, now, now)
        site.folders[folder.id] = folder
        self.folders[folder.id] = folder
        return folder.to_dict(self)

    def _descendants(self, site: Site, folder_id: str) -> set[str]:
        out = {folder_id}
        changed = True
        while changed:
            changed = False
            for f in site.folders.values():
                if f.parent in out and f.id not in out:
                    out.add(f.id)
                    changed = True
        return out

    # --- assets ----------------------------------------------------------------------------------
    @locked
    def list_assets(
        self,
        site_id: str,
        offset: str | None,
        limit: str | None,
        folder_id: str | None,
        locale_id: str | None,
    ) -> dict[str, Any]:
        site = self.site(site_id)
        self._check_locale(site, locale_id)
        off, lim = rules.parse_paging(offset, limit)
        assets = [a for a in site.assets.values() if a.uploaded]
        if folder_id is not None:
            if not is_object_id(folder_id):
                raise invalid("folderId", "Provided ID is invalid")
            if folder_id not in site.folders:
                raise not_found()
            scope = self._descendants(site, folder_id)
            assets = [a for a in assets if a.folder_id in scope]
        return {
            "assets": [a.to_dict(self, with_folder=True) for a in assets[off : off + lim]],
            "pagination": {"limit": lim, "offset": off, "total": len(assets)},
        }

    @locked
    def get_asset(self, asset_id: str, locale_id: str | None) -> dict[str, Any]:
        a = self.asset(asset_id)
        self._check_locale(self.sites[a.site_id], locale_id)
        return a.to_dict(self)

    @locked
    def patch_asset(self, asset_id: str, body: Any, locale_id: str | None) -> dict[str, Any]:
        a = self.asset(asset_id)
        self._check_locale(self.sites[a.site_id], locale_id)
        if not isinstance(body, dict):
            raise invalid("body", "Expected an object")
        for key in body:
            if key not in ("displayName", "altText"):
                raise invalid(key, f"'{key}' cannot be updated")
        if "displayName" in body:
            name = body["displayName"]
            if not isinstance(name, str) or not name.strip():
                raise invalid("displayName", "displayName must be a non-empty string")
        if (
            "altText" in body
            and body["altText"] is not None
            and not isinstance(body["altText"], str)
        ):
            raise invalid("altText", "Expected a string")
        if "displayName" in body:
            a.display_name = body["displayName"]
        if "altText" in body:
            a.alt_text = body["altText"]
        a.updated = now_ms()
        return a.to_dict(self)

    @locked
    def delete_asset(self, asset_id: str) -> None:
        a = self.asset(asset_id)
        del self.assets[a.id]
        del self.sites[a.site_id].assets[a.id]
        self.files.pop(a.file_id, None)

    @locked
    def create_asset(self, site_id: str, body: Any) -> dict[str, Any]:
        """Step 1 of an upload: metadata + presigned S3 POST fields for the emulator's /_s3/."""
        site = self.site(site_id)
        if not isinstance(body, dict):
            raise invalid("body", "Expected an object")
        file_name = body.get("fileName")
        kind = rules.check_file_name(file_name)
        file_hash = body.get("fileHash")
        if not isinstance(file_hash, str) or not rules.MD5_RE.match(file_hash):
            # deviations: md5-file-hash
            raise invalid("fileHash", "fileHash must be the MD5 hex digest of the file")
        parent = body.get("parentFolder")
        if parent is not None and (not is_object_id(parent) or parent not in site.folders):
            raise invalid("parentFolder", "Asset folder not found")
        now = now_ms()
        file_id = new_id()
        key = f"{site.id}/{file_id}_{file_name}"
        date = datetime.fromtimestamp(now / 1000, tz=UTC)
        amz_date = date.strftime("%Y%m%dT%H%M%SZ")
        credential = f"EMULATORKEY/{date:%Y%m%d}/us-east-1/s3/aws4_request"
        policy_doc = {
            "expiration": iso_ms(now + 3600_000),
            "conditions": [
                {"acl": "public-read"},
                {"bucket": BUCKET},
                {"key": key},
                {"success_action_status": "201"},
                {"content-type": kind.content_type},
                ["content-length-range", 0, kind.max_bytes],
            ],
        }
        policy = base64.b64encode(json.dumps(policy_doc).encode()).decode()
        signature = hmac.new(self.secret, policy.encode(), hashlib.sha256).hexdigest()
        details = {
            "acl": "public-read",
            "bucket": BUCKET,
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": credential,
            "X-Amz-Date": amz_date,
            "key": key,
            "Policy": policy,
            "X-Amz-Signature": signature,
            "success_action_status": "201",
            "content-type": kind.content_type,
            "Cache-Control": "max-age=31536000, must-revalidate",
        }
        hosted = self.file_url(site.id, file_id, file_name)
        asset = Asset(
            new_id(),
            site.id,
            file_id,
            file_name,
            kind.content_type,
            kind.is_image,
            file_hash.lower(),
            parent,
            file_name,
            None,
            now,
            now,
            details,
            hosted,
        )
        self.assets[asset.id] = asset
        site.assets[asset.id] = asset
        self.upload_keys[key] = asset.id
        out: dict[str, Any] = {
            "id": asset.id,
            "contentType": asset.content_type,
        }
        if parent is not None:  # deviations: root-folder-null
            out["parentFolder"] = parent
        out.update(
            {
                "uploadUrl": f"{self.root_url}/_s3/{BUCKET}",
                "assetUrl": hosted,
                "hostedUrl": hosted,
                "originalFileName": file_name,
                "createdOn": iso_ms(now),
                "lastUpdated": iso_ms(now),
                "uploadDetails": details,
            }
        )
        return out

    @locked
    def s3_upload(self, bucket: str, fields: dict[str, str], data: bytes | None) -> tuple[str, str]:
        """Step 2: the multipart POST to uploadUrl. Form field names are case-insensitive
        (the JS SDK sends `policy` and `Content-Type`); returns the stored key.
        Returns (key, md5). Raises UploadError (deviations: s3-errors)."""
        lower = {k.lower(): v for k, v in fields.items()}
        if data is None:
            raise UploadError(
                400, "InvalidArgument", "POST requires exactly one file upload per request."
            )
        key = lower.get("key")
        asset = self.assets.get(self.upload_keys.get(key or "", ""))
        if asset is None or bucket != BUCKET:
            raise UploadError(
                403,
                "AccessDenied",
                'Invalid according to Policy: Policy Condition failed: ["eq", "$key"]',
            )
        for name in UPLOAD_KEYS:
            issued = asset.upload_details[name]
            sent = lower.get(name.lower())
            if sent is None:
                raise UploadError(
                    400, "InvalidArgument", f"Bucket POST must contain a field named '{name}'."
                )
            if sent != issued:
                code = (
                    "SignatureDoesNotMatch"
                    if name in ("Policy", "X-Amz-Signature")
                    else "AccessDenied"
                )
                raise UploadError(
                    403,
                    code,
                    f'Invalid according to Policy: Policy Condition failed: ["eq", "${name}"]',
                )
        kind = rules.file_kind(asset.file_name)
        max_bytes = kind.max_bytes if kind else rules.DOCUMENT_MAX_BYTES
        if len(data) > max_bytes:
            raise UploadError(
                400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"
            )
        md5 = hashlib.md5(data).hexdigest()
        if md5 != asset.file_hash:
            raise UploadError(
                400, "BadDigest", "The Content-MD5 you specified did not match what we received."
            )
        rec = self.store_file(
            asset.site_id, asset.file_name, asset.content_type, data, asset.file_id, md5
        )
        asset.uploaded = True
        asset.size = len(data)
        asset.updated = now_ms()
        return asset.upload_details["key"], rec.md5
