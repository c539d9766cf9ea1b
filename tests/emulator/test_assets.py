"""Assets, folders, the fake-S3 upload, the CDN, and image re-hosting in items."""

from __future__ import annotations

import hashlib

import requests

from .conftest import PNG, Api, World, s3_post


def test_create_upload_download_roundtrip(api: Api, world: World) -> None:
    data = PNG + b"\x00" * 1000
    created = api.ok(
        "POST",
        f"/sites/{world.site_id}/assets",
        json={"fileName": "logo.png", "fileHash": hashlib.md5(data).hexdigest()},
    )
    assert set(created["uploadDetails"]) == {
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
    }
    assert created["uploadDetails"]["success_action_status"] == "201"
    assert created["contentType"] == "image/png" and "parentFolder" not in created
    # not listable before the upload
    assert api.ok("GET", f"/sites/{world.site_id}/assets")["pagination"]["total"] == 0
    assert api.get(f"/assets/{created['id']}").status_code == 404
    r = s3_post(created, data)
    assert r.status_code == 201 and "<PostResponse>" in r.text
    asset = api.ok("GET", f"/assets/{created['id']}")
    assert asset["size"] == len(data) and asset["hostedUrl"] == created["hostedUrl"]
    assert asset["originalFileName"] == "logo.png" and asset["altText"] is None
    assert "folderId" not in asset
    listed = api.ok("GET", f"/sites/{world.site_id}/assets")
    assert listed["assets"][0]["folderId"] is None and listed["pagination"]["total"] == 1
    downloaded = requests.get(asset["hostedUrl"], timeout=5)
    assert downloaded.status_code == 200 and downloaded.content == data
    assert downloaded.headers["Content-Type"] == "image/png"
    patched = api.ok(
        "PATCH", f"/assets/{created['id']}", json={"displayName": "Logo", "altText": "Our logo"}
    )
    assert (patched["displayName"], patched["altText"]) == ("Logo", "Our logo")
    export = world.emu.admin.export_site(world.site_id)
    assert export["assets"][0]["md5"] == hashlib.md5(data).hexdigest()
    stats = world.emu.admin.stats()
    assert stats["external"] == {"cdn-download": 1, "s3-upload": 1}
    api.ok("DELETE", f"/assets/{created['id']}", status=204)
    assert api.get(f"/assets/{created['id']}").status_code == 404
    assert requests.get(asset["hostedUrl"], timeout=5).status_code == 404


def test_js_sdk_field_spelling_is_accepted(api: Api, world: World) -> None:
    data = b"hello,world\n"
    created = api.ok(
        "POST",
        f"/sites/{world.site_id}/assets",
        json={"fileName": "data.csv", "fileHash": hashlib.md5(data).hexdigest()},
    )
    fields = dict(created["uploadDetails"])
    fields["policy"] = fields.pop("Policy")
    fields["Content-Type"] = fields.pop("content-type")
    assert s3_post(created, data, fields).status_code == 201


def test_upload_errors(api: Api, world: World) -> None:
    data = PNG
    created = api.ok(
        "POST",
        f"/sites/{world.site_id}/assets",
        json={"fileName": "a.png", "fileHash": hashlib.md5(b"other").hexdigest()},
    )
    r = s3_post(created, data)
    assert r.status_code == 400 and "<Code>BadDigest</Code>" in r.text
    tampered = dict(created["uploadDetails"], key=created["uploadDetails"]["key"] + "x")
    assert s3_post(created, data, tampered).status_code == 403
    sig = dict(created["uploadDetails"], **{"X-Amz-Signature": "0" * 64})
    assert s3_post(created, data, sig).status_code == 403
    missing = dict(created["uploadDetails"])
    del missing["acl"]
    assert s3_post(created, data, missing).status_code == 400
    big = b"\x00" * (4 * 1024 * 1024 + 1)
    created = api.ok(
        "POST",
        f"/sites/{world.site_id}/assets",
        json={"fileName": "big.png", "fileHash": hashlib.md5(big).hexdigest()},
    )
    r = s3_post(created, big)
    assert r.status_code == 400 and "<Code>EntityTooLarge</Code>" in r.text
    assert api.ok("GET", f"/sites/{world.site_id}/assets")["pagination"]["total"] == 0


def test_create_asset_validation(api: Api, world: World) -> None:
    path = f"/sites/{world.site_id}/assets"
    md5 = hashlib.md5(b"x").hexdigest()
    for body, param in (
        ({"fileName": "a" * 100 + ".png", "fileHash": md5}, "fileName"),
        ({"fileName": "virus.exe", "fileHash": md5}, "fileName"),
        ({"fileName": "a.png", "fileHash": hashlib.sha256(b"x").hexdigest()}, "fileHash"),
        (
            {"fileName": "a.png", "fileHash": md5, "parentFolder": "0123456789abcdef01234567"},
            "parentFolder",
        ),
    ):
        r = api.post(path, json=body)
        assert r.status_code == 400 and r.json()["details"][0]["param"] == param, body


def test_folders(api: Api, world: World) -> None:
    path = f"/sites/{world.site_id}/asset_folders"
    top = api.ok("POST", path, json={"displayName": "Images"})
    assert top["parentFolder"] is None and top["assets"] == []
    sub = api.ok("POST", path, json={"displayName": "Icons", "parentFolder": top["id"]})
    assert sub["parentFolder"] == top["id"]
    r = api.post(path, json={"displayName": "Images"})
    assert r.status_code == 400 and r.json()["details"][0]["param"] == "displayName"
    assert api.ok("POST", path, json={"displayName": "Images", "parentFolder": top["id"]})
    in_top = world.upload("a.png", PNG, folder=top["id"])
    in_sub = world.upload("b.png", PNG + b"1", folder=sub["id"])
    world.upload("c.png", PNG + b"2")
    assert in_top["parentFolder"] == top["id"]
    assert api.ok("GET", f"/asset_folders/{top['id']}")["assets"] == [in_top["id"]]
    listed = api.ok("GET", f"/sites/{world.site_id}/assets", params={"folderId": top["id"]})
    assert {a["id"] for a in listed["assets"]} == {in_top["id"], in_sub["id"]}
    assert api.ok("GET", f"/sites/{world.site_id}/assets")["pagination"]["total"] == 3
    page = api.ok("GET", f"/sites/{world.site_id}/assets", params={"limit": 2, "offset": 2})
    assert len(page["assets"]) == 1 and page["pagination"] == {"limit": 2, "offset": 2, "total": 3}
    folders = api.ok("GET", path)
    assert folders["pagination"]["total"] == 3 and len(folders["assetFolders"]) == 3


def test_image_fields_rehost_files(api: Api, world: World) -> None:
    asset = world.upload("photo.png", PNG)
    doc = world.upload("doc.pdf", b"%PDF-1.4 tiny")
    coll = world.collection(
        "Posts",
        [
            {"type": "Image", "displayName": "Cover"},
            {"type": "MultiImage", "displayName": "Gallery"},
            {"type": "File", "displayName": "Attachment"},
        ],
    )
    path = f"/collections/{coll['id']}/items"
    item = api.ok(
        "POST",
        path,
        status=202,
        json={
            "fieldData": {
                "name": "A",
                "slug": "a",
                "cover": {"url": asset["hostedUrl"], "alt": "A photo"},
                "gallery": [{"url": asset["hostedUrl"]}, {"url": "https://example.com/x.png"}],
                "attachment": {"url": doc["hostedUrl"]},
            }
        },
    )["fieldData"]
    cover = item["cover"]
    assert cover["alt"] == "A photo" and cover["fileId"] != asset["id"]
    assert cover["url"] != asset["hostedUrl"]
    assert requests.get(cover["url"], timeout=5).content == PNG
    assert len(item["gallery"]) == 1  # the unreachable URL was skipped
    assert requests.get(item["attachment"]["url"], timeout=5).content == b"%PDF-1.4 tiny"
    # {fileId, url} of an existing file of the site is kept as is
    again = api.ok(
        "POST",
        path,
        status=202,
        json={
            "fieldData": {
                "name": "B",
                "slug": "b",
                "cover": {"fileId": cover["fileId"], "url": cover["url"]},
            }
        },
    )
    assert again["fieldData"]["cover"]["fileId"] == cover["fileId"]
    # skipInvalidFiles=false: an unfetchable URL fails the request, naming the field
    r = api.post(
        path,
        params={"skipInvalidFiles": "false"},
        json={
            "fieldData": {"name": "C", "slug": "c", "cover": {"url": "https://example.com/x.png"}}
        },
    )
    assert r.status_code == 400 and r.json()["details"][0]["param"] == "cover"
    # a PDF is not an image
    r = api.post(
        path,
        params={"skipInvalidFiles": "false"},
        json={"fieldData": {"name": "C", "slug": "c", "cover": {"url": doc["hostedUrl"]}}},
    )
    assert r.status_code == 400
    skipped = api.ok(
        "POST",
        path,
        status=202,
        json={
            "fieldData": {"name": "D", "slug": "d", "cover": {"url": "https://example.com/x.png"}}
        },
    )
    assert "cover" not in skipped["fieldData"]
    files = world.emu.admin.export_site(world.site_id)["files"]
    assert {f["url"] for f in files} >= {cover["url"], item["attachment"]["url"]}


def test_image_urls_of_another_site_are_rehosted_into_the_target(world: World) -> None:
    asset = world.upload("photo.png", PNG)
    target = world.emu.admin.create_site("Target")
    api = Api(world.emu.base_url, world.emu.admin.mint_token([target["id"]]))
    coll = api.ok(
        "POST",
        f"/sites/{target['id']}/collections",
        json={
            "displayName": "P",
            "singularName": "P",
            "fields": [{"type": "Image", "displayName": "Cover"}],
        },
    )
    path = f"/collections/{coll['id']}/items"
    by_url = api.ok(
        "POST",
        path,
        status=202,
        json={
            "fieldData": {
                "name": "A",
                "slug": "a",
                "cover": {"url": asset["hostedUrl"], "alt": None},
            }
        },
    )
    cover = by_url["fieldData"]["cover"]
    assert f"/_cdn/{target['id']}/" in cover["url"]
    # a foreign fileId is not kept: the URL is fetched and re-hosted instead
    source_file = asset["hostedUrl"].rsplit("/", 1)[1].split("_", 1)[0]
    foreign = api.ok(
        "POST",
        path,
        status=202,
        json={
            "fieldData": {
                "name": "B",
                "slug": "b",
                "cover": {"fileId": source_file, "url": asset["hostedUrl"]},
            }
        },
    )
    assert foreign["fieldData"]["cover"]["fileId"] not in (source_file, cover["fileId"])
    r = api.post(
        path,
        params={"skipInvalidFiles": "false"},
        json={"fieldData": {"name": "C", "slug": "c", "cover": {"fileId": source_file}}},
    )
    assert r.status_code == 400 and r.json()["details"][0]["param"] == "cover"
