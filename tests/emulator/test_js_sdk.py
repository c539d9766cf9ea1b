"""Webflow's official JS SDK (`webflow-api`, unchanged) against the emulator.

Why: an emulator that only our own client has talked to proves little. Here a client written by
Webflow lists collections, pages through 150 items, creates items three ways and uploads an
asset; the emulator's own records (admin export and stats) must then agree with what the SDK saw.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
import requests

JS_DIR = Path(__file__).resolve().parents[1] / "js_sdk"
ITEM_COUNT = 150
PAGE_LIMIT = 100


def _npm_install() -> None:
    """Install the pinned SDK once per checkout, so the README's one test command works."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm must be on PATH to run Webflow's JS SDK (Node >= 18)")
    if (JS_DIR / "node_modules" / "webflow-api" / "package.json").is_file():
        return
    locked = (JS_DIR / "package-lock.json").is_file()
    command = [npm, "ci" if locked else "install", "--no-audit", "--no-fund"]
    done = subprocess.run(
        command, cwd=JS_DIR, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"


def _png(width: int = 16, height: int = 16) -> bytes:
    """A small valid PNG, made here so the test needs no binary fixture."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    def pixel(x: int, y: int) -> bytes:
        return bytes((x * 16 % 256, y * 16 % 256, (x + y) * 8 % 256))

    rows = b"".join(b"\x00" + b"".join(pixel(x, y) for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _api(session: requests.Session, method: str, url: str, **kwargs: Any) -> Any:
    response = session.request(method, url, timeout=30, **kwargs)
    assert response.status_code < 300, f"{method} {url}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def _prepare_site(emulator: Any) -> dict[str, Any]:
    """A site with one collection of 150 items, made through the public API."""
    site = emulator.admin.create_site("JS SDK check")
    token = emulator.admin.mint_token([site["id"]])
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    base = emulator.base_url
    collection = _api(
        session,
        "POST",
        f"{base}/sites/{site['id']}/collections",
        json={
            "displayName": "Articles",
            "singularName": "Article",
            "slug": "articles",
            "fields": [
                {"type": "PlainText", "displayName": "Summary"},
                {"type": "Number", "displayName": "Rank"},
                {"type": "Switch", "displayName": "Featured"},
            ],
        },
    )
    slugs = {field["displayName"]: field["slug"] for field in collection["fields"]}
    items = [
        {
            "isDraft": False,
            "fieldData": {
                "name": f"Article {n}",
                "slug": f"article-{n}",
                slugs["Summary"]: f"Summary of article {n}",
                slugs["Rank"]: n,
                slugs["Featured"]: n % 2 == 0,
            },
        }
        for n in range(ITEM_COUNT)
    ]
    for start in range(0, ITEM_COUNT, 100):
        created = _api(
            session,
            "POST",
            f"{base}/collections/{collection['id']}/items",
            json={"items": items[start : start + 100]},
        )
        assert len(created["items"]) == len(items[start : start + 100])
    return {"site": site, "token": token, "collection": collection}


def _settled_count(emulator: Any, target: int | None = None, wait: float = 10.0) -> int:
    """The emulator validates an exchange after sending its answer, so the count can lag the
    client by one exchange; wait until it stops moving (or reaches `target`)."""
    deadline = time.monotonic() + wait
    last = -1
    while time.monotonic() < deadline:
        count = emulator.validated_count
        if count == target or (target is None and count == last):
            return count
        last = count
        time.sleep(0.05)
    return emulator.validated_count


def _run_sdk(emulator: Any, prepared: dict[str, Any], upload: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "WEBFLOW_BASE_URL": emulator.base_url,
        "WEBFLOW_TOKEN": prepared["token"],
        "WEBFLOW_SITE_ID": prepared["site"]["id"],
        "WEBFLOW_COLLECTION_ID": prepared["collection"]["id"],
        "WEBFLOW_UPLOAD_FILE": str(upload),
        "WEBFLOW_PAGE_LIMIT": str(PAGE_LIMIT),
    }
    done = subprocess.run(
        ["node", "sdk_check.mjs"],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"sdk_check.mjs failed:\n{done.stderr}\n{done.stdout}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_official_js_sdk_against_the_emulator(emulator: Any, tmp_path: Path) -> None:
    _npm_install()
    prepared = _prepare_site(emulator)
    site_id, collection_id = prepared["site"]["id"], prepared["collection"]["id"]
    upload = tmp_path / "sdk-check.png"
    upload.write_bytes(_png())
    emulator.admin.reset_stats()
    validated_before = _settled_count(emulator)
    violations_before = len(emulator.violations)

    summary = _run_sdk(emulator, prepared, upload)

    # What the SDK saw: several pages, every item once, the creates counted.
    pages = math.ceil(ITEM_COUNT / PAGE_LIMIT)
    created_count = summary["created"]["count"]
    assert summary["sdk"]["version"].startswith("3.")
    assert summary["before"]["total"] == summary["before"]["items"] == ITEM_COUNT
    assert [p["offset"] for p in summary["before"]["pages"]] == [0, 100]
    assert len(summary["before"]["pages"]) == pages
    assert created_count == 1 + 3 + 2
    assert summary["after"]["total"] == ITEM_COUNT + created_count
    pages_after = math.ceil((ITEM_COUNT + created_count) / PAGE_LIMIT)

    # What the emulator saw: exactly those requests, all answered without error.
    stats = emulator.admin.stats()
    expected = {
        "list-collections": 1,
        "list-collection-items": pages + pages_after,
        "create-item": 2,
        "create-items": 1,
        "create-asset": 1,
    }
    assert stats["byOperation"] == expected
    assert stats["total"] == sum(expected.values())
    assert summary["listRequests"] == expected["list-collection-items"]
    assert all(int(status) < 300 for status in stats["byStatus"]), stats["byStatus"]
    assert stats["rateLimited"] == 0
    assert stats["external"]["s3-upload"] == 1

    # What the emulator holds: the SDK's items and the uploaded bytes.
    export = emulator.admin.export_site(site_id)
    [collection] = [c for c in export["collections"] if c["id"] == collection_id]
    exported_ids = {item["id"] for item in collection["items"]}
    created_ids = {summary["created"]["single"], *summary["created"]["multi"]}
    created_ids |= set(summary["created"]["bulk"])
    assert len(exported_ids) == ITEM_COUNT + created_count
    assert created_ids <= exported_ids

    data = upload.read_bytes()
    [asset] = [a for a in export["assets"] if a["id"] == summary["asset"]["id"]]
    assert asset["md5"] == hashlib.md5(data).hexdigest() == summary["asset"]["md5"]
    assert asset["hostedUrl"] == summary["asset"]["hostedUrl"]
    hosted = requests.get(summary["asset"]["hostedUrl"], timeout=30)
    assert hosted.status_code == 200 and hosted.content == data

    # The SDK's traffic conformed to Webflow's spec, both ways (when validation is on).
    if emulator.validator is not None:
        validated = _settled_count(emulator, validated_before + stats["total"]) - validated_before
        assert validated == stats["total"]
        assert emulator.violations[violations_before:] == []
