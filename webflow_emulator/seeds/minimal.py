"""A tiny seed: one site with two locales, one collection, two items (one published)."""

from __future__ import annotations

from typing import Any

import requests

from ..admin_client import AdminClient


def build(base_url: str, admin: AdminClient) -> dict[str, Any]:
    """Builds the minimal world through the public API; returns ids and the token."""
    site = admin.create_site("Minimal", locales=[("en-US", "English"), ("fr-FR", "French")])
    token = admin.mint_token([site["id"]])
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"

    def call(method: str, path: str, body: Any = None) -> Any:
        r = s.request(method, base_url + path, json=body, timeout=30)
        r.raise_for_status()
        return r.json() if r.content else None

    coll = call(
        "POST",
        f"/sites/{site['id']}/collections",
        {
            "displayName": "Posts",
            "singularName": "Post",
            "fields": [{"type": "PlainText", "displayName": "Summary"}],
        },
    )
    locales = [site["locales"]["primary"]["cmsLocaleId"]] + [
        loc["cmsLocaleId"] for loc in site["locales"]["secondary"]
    ]
    created = call(
        "POST",
        f"/collections/{coll['id']}/items/bulk",
        {
            "cmsLocaleIds": locales,
            "fieldData": [
                {"name": "Hello", "slug": "hello", "summary": "First post"},
                {"name": "World", "slug": "world"},
            ],
        },
    )
    first = created["items"][0]["id"]
    call("POST", f"/collections/{coll['id']}/items/publish", {"itemIds": [first]})
    return {
        "baseUrl": base_url,
        "sites": [{"id": site["id"], "displayName": site["displayName"], "token": token}],
        "collectionIds": [coll["id"]],
    }
