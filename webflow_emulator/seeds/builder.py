"""Builds sites through the public v2 API, the way a user would in Webflow.

Seeds (the demo world, benchmark sites) go through HTTP rather than poking the model, so that
every seeded object is one the emulator's own rules accepted.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import requests

BULK_LIMIT = 100


class SeedError(RuntimeError):
    """The emulator refused something a seed asked for: a bug in the seed or in the emulator."""


class SiteBuilder:
    """Thin helper over the v2 API for one site, for seeding (not the product's client)."""

    def __init__(self, base_url: str, token: str, site: dict[str, Any]) -> None:
        self.base_url = base_url.rstrip("/")
        self.site = site
        self.site_id: str = site["id"]
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        locales = site["locales"]
        self.primary_locale: str = locales["primary"]["cmsLocaleId"]
        self.locale_ids: list[str] = [self.primary_locale] + [
            loc["cmsLocaleId"] for loc in locales.get("secondary") or []
        ]

    def call(self, method: str, path: str, json: Any = None, params: Any = None) -> Any:
        response = self.session.request(
            method, self.base_url + path, json=json, params=params, timeout=60
        )
        if response.status_code >= 400:
            raise SeedError(f"{method} {path} -> {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    # -- schema -------------------------------------------------------------------------------
    def create_collection(
        self, display_name: str, singular_name: str, slug: str, fields: Sequence[dict[str, Any]]
    ) -> dict[str, Any]:
        body = {
            "displayName": display_name,
            "singularName": singular_name,
            "slug": slug,
            "fields": list(fields),
        }
        return self.call("POST", f"/sites/{self.site_id}/collections", json=body)

    def create_field(self, collection_id: str, field: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", f"/collections/{collection_id}/fields", json=field)

    def collection(self, collection_id: str) -> dict[str, Any]:
        return self.call("GET", f"/collections/{collection_id}")

    def option_ids(self, collection_id: str, field_slug: str) -> dict[str, str]:
        """Option name -> server-generated option id, read back as a client must."""
        for field in self.collection(collection_id)["fields"]:
            if field["slug"] == field_slug:
                return {o["name"]: o["id"] for o in field["validations"]["options"]}
        raise SeedError(f"no option field {field_slug}")

    # -- assets -------------------------------------------------------------------------------
    def create_folder(self, name: str, parent: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"displayName": name}
        if parent:
            body["parentFolder"] = parent
        return self.call("POST", f"/sites/{self.site_id}/asset_folders", json=body)

    def upload_asset(
        self,
        file_name: str,
        data: bytes,
        folder_id: str | None = None,
        alt: str | None = None,
        display_name: str | None = None,
    ) -> dict[str, Any]:
        """create-asset, then the S3-style multipart POST; returns the asset as get-asset has it."""
        body: dict[str, Any] = {"fileName": file_name, "fileHash": hashlib.md5(data).hexdigest()}
        if folder_id:
            body["parentFolder"] = folder_id
        created = self.call("POST", f"/sites/{self.site_id}/assets", json=body)
        form = list(created["uploadDetails"].items())
        upload = requests.post(
            created["uploadUrl"], data=form, files={"file": (file_name, data)}, timeout=60
        )
        if upload.status_code != 201:
            raise SeedError(f"upload of {file_name} -> {upload.status_code}: {upload.text[:300]}")
        patch: dict[str, Any] = {}
        if alt:
            patch["altText"] = alt
        if display_name:
            patch["displayName"] = display_name
        if patch:
            return self.call("PATCH", f"/assets/{created['id']}", json=patch)
        return self.call("GET", f"/assets/{created['id']}")

    # -- items --------------------------------------------------------------------------------
    def create_items(
        self,
        collection_id: str,
        field_data: Sequence[dict[str, Any]],
        *,
        all_locales: bool = True,
        is_draft: bool = False,
        is_archived: bool = False,
    ) -> dict[str, str]:
        """Creates items (in every locale by default) with /items/bulk; returns slug -> item id."""
        ids: dict[str, str] = {}
        for chunk in chunks(field_data, BULK_LIMIT):
            body: dict[str, Any] = {
                "cmsLocaleIds": self.locale_ids if all_locales else [self.primary_locale],
                "isDraft": is_draft,
                "isArchived": is_archived,
                "fieldData": list(chunk),
            }
            created = self.call("POST", f"/collections/{collection_id}/items/bulk", json=body)
            for item in created["items"]:
                ids[item["fieldData"]["slug"]] = item["id"]
        return ids

    def update_items(
        self, collection_id: str, updates: Sequence[dict[str, Any]], locale: str | None = None
    ) -> None:
        """PATCH items in bulk; each update is `{"id", "fieldData"?, "isDraft"?, "isArchived"?}`."""
        for chunk in chunks(updates, BULK_LIMIT):
            items = [dict(u, cmsLocaleId=locale) if locale else dict(u) for u in chunk]
            self.call("PATCH", f"/collections/{collection_id}/items", json={"items": items})

    def publish(self, collection_id: str, item_ids: Iterable[str]) -> None:
        """Publishes items in every locale of the site."""
        for chunk in chunks(list(item_ids), BULK_LIMIT):
            body = {"items": [{"id": i, "cmsLocaleIds": self.locale_ids} for i in chunk]}
            answer = self.call("POST", f"/collections/{collection_id}/items/publish", json=body)
            if answer.get("errors"):
                raise SeedError(f"publish errors: {answer['errors'][:3]}")


def chunks(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def png_bytes(width: int, height: int, seed: int) -> bytes:
    """A small, valid, deterministic PNG (a two-colour gradient), distinct for each seed."""
    r0, g0, b0 = (seed * 67) % 256, (seed * 131) % 256, (seed * 199) % 256
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            row += bytes(((r0 + x * 3) % 256, (g0 + y * 3) % 256, (b0 + x + y) % 256))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def pdf_bytes(title: str) -> bytes:
    """A minimal one-page PDF with a title, enough to be a real document upload."""
    text = title.replace("(", "[").replace(")", "]")
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
