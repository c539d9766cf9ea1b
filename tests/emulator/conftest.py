"""Helpers for the emulator's own tests: a site with two locales, a token, a small API client."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import requests

from webflow_emulator import EmulatorServer
from webflow_emulator.server import EXPECT_INVALID_HEADER


class Api:
    """A thin requests wrapper: `api.get("/sites")` -> Response (no raising)."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(
        self, method: str, path: str, invalid: bool = False, **kwargs: Any
    ) -> requests.Response:
        """invalid=True: the request is deliberately outside the spec (the validator then
        judges only the response)."""
        kwargs.setdefault("timeout", 10)
        if invalid:
            kwargs["headers"] = {**kwargs.get("headers", {}), EXPECT_INVALID_HEADER: "1"}
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> requests.Response:
        return self.request("POST", path, json=json, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> requests.Response:
        return self.request("PATCH", path, json=json, **kw)

    def delete(self, path: str, json: Any = None, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, json=json, **kw)

    def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        """Calls and asserts the status; returns the JSON body (None for 204)."""
        r = self.request(method, path, **kw)
        assert r.status_code == status, (method, path, r.status_code, r.text[:800])
        return r.json() if r.content else None


class World:
    """One site (en-US primary, fr-FR secondary) with an all-scopes token."""

    def __init__(self, emu: EmulatorServer) -> None:
        self.emu = emu
        self.site = emu.admin.create_site(
            "Source", locales=[("en-US", "English"), ("fr-FR", "French")]
        )
        self.site_id: str = self.site["id"]
        self.token = emu.admin.mint_token([self.site_id])
        self.api = Api(emu.base_url, self.token)
        self.en: str = self.site["locales"]["primary"]["cmsLocaleId"]
        self.fr: str = self.site["locales"]["secondary"][0]["cmsLocaleId"]

    def collection(self, name: str = "Posts", fields: list[dict[str, Any]] | None = None) -> dict:
        return self.api.ok(
            "POST",
            f"/sites/{self.site_id}/collections",
            json={"displayName": name, "singularName": name[:-1], "fields": fields or []},
        )

    def upload(self, name: str, data: bytes, folder: str | None = None) -> dict[str, Any]:
        """create-asset + S3 POST; returns the create-asset answer."""
        body: dict[str, Any] = {"fileName": name, "fileHash": hashlib.md5(data).hexdigest()}
        if folder:
            body["parentFolder"] = folder
        created = self.api.ok("POST", f"/sites/{self.site_id}/assets", json=body)
        r = s3_post(created, data)
        assert r.status_code == 201, r.text
        return created


def s3_post(
    created: dict[str, Any], data: bytes, fields: dict[str, str] | None = None
) -> requests.Response:
    """The S3 multipart POST with every uploadDetails field, file last."""
    form = fields if fields is not None else dict(created["uploadDetails"])
    files = [(k, (None, v)) for k, v in form.items()]
    files.append(("file", (created["originalFileName"], data, "application/octet-stream")))
    return requests.post(created["uploadUrl"], files=files, timeout=10)


@pytest.fixture
def world(emulator: EmulatorServer) -> World:
    return World(emulator)


@pytest.fixture
def api(world: World) -> Api:
    return world.api


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)
