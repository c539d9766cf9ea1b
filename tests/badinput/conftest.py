"""A hostile source site: one bad value per case next to good items, built through the API and,
where Webflow's own rules would refuse the bad value, by poking the emulator's in-memory model
(what an older Webflow, an import or another tool may have left in a real site).

One module-scoped migration serves every item-level case, so the suite stays fast; run-level
cases (tokens, site ids, staging files) build their own small world.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from destinations.webflow import MigrationReport
from tests.destination.conftest import Migrator, Sites
from webflow_emulator.seeds.builder import SiteBuilder, png_bytes

READ_SCOPES = ["sites:read", "cms:read", "assets:read"]
EVIL_IMG = "http://evil.example/x.png"
EVIL_COVER = "https://evil.example/y.png"
DEAD_COVER = f"{'0' * 24}_dead.png"
"""The end of the url of a file the source's CDN does not have (404)."""
BIG = 5 * 1024 * 1024


def post_fields(tags_id: str, *, summary_required: bool = False) -> list[dict[str, Any]]:
    """Every field type a bad value can hide in."""
    return [
        {
            "type": "PlainText",
            "displayName": "Summary",
            "slug": "summary",
            "isRequired": summary_required,
        },
        {"type": "RichText", "displayName": "Body", "slug": "body"},
        {"type": "Image", "displayName": "Cover", "slug": "cover"},
        {
            "type": "Option",
            "displayName": "Kind",
            "slug": "kind",
            "metadata": {"options": [{"name": "Alpha"}, {"name": "Beta"}]},
        },
        {
            "type": "Reference",
            "displayName": "Tag",
            "slug": "tag",
            "metadata": {"collectionId": tags_id},
        },
        {"type": "Email", "displayName": "Email", "slug": "email"},
        {"type": "Color", "displayName": "Color", "slug": "color"},
        {"type": "Link", "displayName": "Website", "slug": "website"},
        {"type": "DateTime", "displayName": "When", "slug": "when"},
        {"type": "Number", "displayName": "Count", "slug": "count"},
    ]


def poke_item(emulator: Any, collection_id: str, item_id: str, **values: Any) -> None:
    """Sets raw values on an item's staged copies, bypassing the API's validation."""
    world = emulator.state
    with world.lock:
        coll = world.collections[collection_id]
        for loc in coll.items[item_id].locales.values():
            loc.field_data = {**loc.field_data, **values}
            for k, v in values.items():
                if v is dataclasses.MISSING:
                    loc.field_data.pop(k, None)
        coll.touch_items()


def poke_asset(
    emulator: Any,
    asset_id: str,
    *,
    name: str | None = None,
    data: bytes | None = None,
    gone: bool = False,
) -> None:
    """Renames an asset, swaps its bytes or deletes its file (the CDN then answers 404)."""
    world = emulator.state
    with world.lock:
        asset = world.assets[asset_id]
        if name is not None:
            asset.file_name = name
        if gone:
            world.files.pop(asset.file_id, None)
        if data is not None:
            rec = world.files[asset.file_id]
            world.files[asset.file_id] = dataclasses.replace(
                rec, data=data, md5=hashlib.md5(data).hexdigest()
            )
            asset.size = len(data)
            asset.file_hash = hashlib.md5(data).hexdigest()


@dataclass
class Hostile:
    """The migrated hostile world and what the cases need to find their item."""

    m: Migrator
    report: MigrationReport
    ids: dict[str, str]
    """Source item slug (or asset name) -> source id."""
    collections: dict[str, str]
    """Collection slug -> source collection id."""
    target: dict[str, Any] = field(default_factory=dict)
    """The target's export, after the migration."""
    source: dict[str, Any] = field(default_factory=dict)
    """The source's export (before its file was deleted)."""
    extract_log: str = ""
    load_log: str = ""

    def audit(self, where: str = "true") -> list[dict[str, Any]]:
        return audit_rows(self.m.tmp_path / "staging.ledger.duckdb", where)

    def target_items(self, collection_slug: str) -> dict[str, dict[str, Any]]:
        """slug -> staged fieldData of the target's items."""
        for c in self.target["collections"]:
            if c["slug"] == collection_slug:
                out = {}
                for it in c["items"]:
                    body = next(iter(it["locales"].values()))["staged"]
                    out[body["fieldData"]["slug"]] = body["fieldData"]
                return out
        return {}


def audit_rows(ledger: Path, where: str = "true") -> list[dict[str, Any]]:
    con = duckdb.connect(str(ledger))
    try:
        cur = con.execute(f"select * from audit where {where} order by ts")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


GOOD = ["good-1", "good-2", "good-3"]


def build_hostile(emulator: Any, tmp_path: Path) -> tuple[Migrator, dict[str, str], dict[str, str]]:
    admin = emulator.admin
    src_site = admin.create_site("Hostile")
    tgt_site = admin.create_site("Hostile (new)")
    src = SiteBuilder(emulator.base_url, admin.mint_token([src_site["id"]]), src_site)
    tgt_token = admin.mint_token([tgt_site["id"]])
    tgt = SiteBuilder(emulator.base_url, tgt_token, tgt_site)
    ids: dict[str, str] = {}

    good = src.upload_asset("good.png", png_bytes(8, 8, 1), alt="Good")
    assets = {
        "big.png": src.upload_asset("big.png", png_bytes(9, 8, 2)),
        "evil.exe": src.upload_asset("evil.png", png_bytes(10, 8, 3)),
        "gone.png": src.upload_asset("gone.png", png_bytes(11, 8, 4)),
        "passwd.png": src.upload_asset("passwd.png", png_bytes(12, 8, 5)),
        "abs.png": src.upload_asset("abs.png", png_bytes(13, 8, 6)),
        "corrupt.png": src.upload_asset("corrupt.png", png_bytes(14, 8, 7)),
        "shifty.png": src.upload_asset("shifty.png", png_bytes(15, 8, 8)),
    }
    ids.update({name: a["id"] for name, a in assets.items()})
    ids["good.png"] = good["id"]

    tags = src.create_collection(
        "Tags", "Tag", "tags", [{"type": "PlainText", "displayName": "Note", "slug": "note"}]
    )
    tag_ids = src.create_items(
        tags["id"],
        [
            {"name": "Tag A", "slug": "tag-a"},
            {"name": "Doomed", "slug": "doomed"},
            {"name": "Shelved", "slug": "shelved"},
        ],
    )
    ids.update(tag_ids)
    src.update_items(tags["id"], [{"id": tag_ids["shelved"], "isArchived": True}])
    posts = src.create_collection("Posts", "Post", "posts", post_fields(tags["id"]))
    # a collection whose slug is also the name of one of the source's own tables
    clash = src.create_collection("Collections", "Collection", "collections", [])
    ids.update(src.create_items(clash["id"], [{"name": "Clash", "slug": "clash"}]))
    kinds = src.option_ids(posts["id"], "kind")

    def post(slug: str, **extra: Any) -> dict[str, Any]:
        return {
            "name": slug.replace("-", " ").title(),
            "slug": slug,
            "summary": f"About {slug}",
            "kind": kinds["Alpha"],
            "tag": tag_ids["tag-a"],
            "cover": {"url": good["hostedUrl"], "alt": "Good"},
            **extra,
        }

    data = [
        post(
            s,
            body=f"<p>{s}</p>",
            email="a@b.example",
            color="#123456",
            website="https://example.com",
            when="2024-12-31T10:00:00.000Z",
            count=3,
        )
        for s in GOOD
    ]
    data += [
        post("bad-email"),
        post("bad-color"),
        post("bad-link"),
        post("bad-date"),
        post("number-in-text"),
        post("text-in-number"),
        post("no-summary"),
        post("taken-slug"),
        post("dangling-ref", tag=tag_ids["doomed"]),
        post("archived-ref", tag=tag_ids["shelved"]),
        post("control-chars"),
        post("bad-utf8"),
        post("huge-rich", body="<p>" + "lorem ipsum " * 200_000 + "</p>"),
        post("evil-img", body=f'<p>x</p><img src="{EVIL_IMG}" alt="e">'),
        post("evil-cover"),
        post("dead-cover"),
    ]
    ids.update(src.create_items(posts["id"], data))
    # the referenced tag is deleted afterwards: a dangling reference
    src.call("DELETE", f"/collections/{tags['id']}/items/{tag_ids['doomed']}")

    cid = posts["id"]
    poke_item(emulator, cid, ids["bad-email"], email="not-an-email")
    poke_item(emulator, cid, ids["bad-color"], color="not-a-color")
    poke_item(emulator, cid, ids["bad-link"], website="javascript:alert(1)")
    poke_item(emulator, cid, ids["bad-date"], when="31/12/2024 10:00")
    poke_item(emulator, cid, ids["number-in-text"], summary=42)
    poke_item(emulator, cid, ids["text-in-number"], count="twelve")
    poke_item(emulator, cid, ids["no-summary"], summary=dataclasses.MISSING)
    poke_item(emulator, cid, ids["control-chars"], summary="bell\x07 nul\x00 esc\x1b[31m end")
    poke_item(emulator, cid, ids["bad-utf8"], summary="broken \udcff\ud800 bytes")
    poke_item(emulator, cid, ids["evil-cover"], cover={"url": EVIL_COVER, "alt": "evil"})
    dead = f"{emulator.root_url}/_cdn/{src_site['id']}/{DEAD_COVER}"
    poke_item(emulator, cid, ids["dead-cover"], cover={"url": dead, "alt": "dead"})
    poke_asset(emulator, ids["big.png"], data=png_bytes(9, 8, 2) + b"\0" * BIG)
    poke_asset(emulator, ids["evil.exe"], name="evil.exe")
    poke_asset(emulator, ids["passwd.png"], name="../../etc/passwd.png")
    poke_asset(emulator, ids["abs.png"], name="/tmp/abs.png")
    source_export = admin.export_site(src_site["id"])  # the export needs every file
    poke_asset(emulator, ids["gone.png"], gone=True)

    # the target: posts exists with a required summary, and an item holds a slug we need
    t_tags = tgt.create_collection(
        "Tags", "Tag", "tags", [{"type": "PlainText", "displayName": "Note", "slug": "note"}]
    )
    t_posts = tgt.create_collection(
        "Posts", "Post", "posts", post_fields(t_tags["id"], summary_required=True)
    )
    tgt.create_items(
        t_posts["id"], [{"name": "Someone else", "slug": "taken-slug", "summary": "not ours"}]
    )
    sites = Sites(
        emulator.base_url,
        src_site["id"],
        admin.mint_token([src_site["id"]], scopes=READ_SCOPES),
        tgt_site["id"],
        tgt_token,
    )
    ids["_source_export"] = source_export  # type: ignore[assignment]
    return Migrator(emulator, sites, tmp_path), ids, {"tags": tags["id"], "posts": cid}


@pytest.fixture(scope="module")
def hostile(emulator_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    """The hostile world, extracted, corrupted between extract and load, and migrated once."""
    emulator_server.admin.reset()
    tmp = tmp_path_factory.mktemp("hostile")
    m, ids, colls = build_hostile(emulator_server, tmp)
    with captured_log() as extract_log:
        m.extract()
    corrupt_store_file(m, ids["corrupt.png"])
    # no good copy anywhere: the local one is corrupted and the source's bytes changed since
    corrupt_store_file(m, ids["shifty.png"])
    poke_asset(emulator_server, ids["shifty.png"], data=png_bytes(16, 8, 9))
    with captured_log() as load_log:
        report = m.migrate()
    source = ids.pop("_source_export")
    h = Hostile(
        m,
        report,
        ids,
        colls,
        source=source,
        extract_log=extract_log.getvalue(),
        load_log=load_log.getvalue(),
    )
    h.target = emulator_server.admin.export_site(m.sites.target_id)
    yield h


@contextlib.contextmanager
def captured_log() -> Iterator[io.StringIO]:
    """What dlt's logger (the project logs through it) writes meanwhile, at DEBUG."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    log = logging.getLogger("dlt")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def corrupt_store_file(m: Migrator, asset_id: str) -> Path:
    """Overwrites the asset's file in the content-addressed store (bytes no longer match)."""
    con = duckdb.connect(str(m.staging))
    try:
        (local,) = con.execute(
            "select local_path from webflow.assets where id = ?", [asset_id]
        ).fetchone()
    finally:
        con.close()
    path = m.tmp_path / "assets" / local
    path.write_bytes(b"not the bytes you are looking for")
    return path
