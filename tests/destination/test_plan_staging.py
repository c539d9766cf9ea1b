"""Reading the staged source (`staging.load_source`) on a hand-made staging database: what the
planner's speed-ups there must keep exactly as it was (values, content hashes, file MD5s); and
planning pauses the cyclic garbage collector only while it runs."""

from __future__ import annotations

import gc
import json
import math
from pathlib import Path

import duckdb

from destinations.webflow.model import ItemVersion
from destinations.webflow.staging import load_source

from .conftest import Migrator

POST = {"name": "Post", "slug": "post", "body": "<p>é</p>", "views": 3}


def _staging(path: Path, cms_files_columns: str, cms_files: list[tuple[str, ...]]) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema webflow")
    for sql in (
        "create table webflow.site (id varchar)",
        "insert into webflow.site values ('site-1')",
        "create table webflow.locales (tag varchar, cms_locale_id varchar, is_primary boolean)",
        "insert into webflow.locales values ('fr', 'cms-fr', false), ('en', 'cms-en', true)",
        "create table webflow.collections (id varchar, slug varchar, display_name varchar, "
        "singular_name varchar, table_name varchar, created_on varchar)",
        "insert into webflow.collections values ('c1', 'posts', 'Posts', 'Post', 'posts', '1')",
        "create table webflow.collection_fields (id varchar, collection_id varchar, "
        "slug varchar, display_name varchar, type varchar)",
        "insert into webflow.collection_fields values ('f1', 'c1', 'name', 'Name', 'PlainText'),"
        " ('f2', 'c1', 'body', 'Body', 'RichText')",
        "create table webflow.posts (id varchar, locale varchar, cms_locale_id varchar, "
        "state varchar, is_draft boolean, is_archived boolean, field_data json, "
        "created_on varchar)",
        f"create table webflow.cms_files ({cms_files_columns})",
    ):
        con.execute(sql)
    edited = json.dumps({**POST, "name": "Post (edited)"})
    rows = [
        ("i1", "en", "cms-en", "staged", False, False, json.dumps(POST), "1"),
        ("i1", "en", "cms-en", "live", False, False, json.dumps(POST), "1"),
        ("i1", "fr", "cms-fr", "staged", True, False, edited, "1"),
        ("i1", "fr", "cms-fr", "live", False, False, json.dumps(POST), "1"),
        ("i2", "en", "cms-en", "staged", False, True, '{"name": "Odd", "n": NaN}', "2"),
    ]
    con.executemany("insert into webflow.posts values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    marks = ", ".join("?" for _ in cms_files[0]) if cms_files else ""
    if cms_files:
        con.executemany(f"insert into webflow.cms_files values ({marks})", cms_files)
    con.close()


def _old_content_json(v: ItemVersion) -> str:
    """The ledger's content JSON as it always was: hashes in existing ledgers stay valid."""
    payload = [v.field_data, v.is_draft, v.is_archived, v.live_field_data]
    return json.dumps(payload, sort_keys=True, default=str)


def test_items_read_as_before_with_shared_live_copies(tmp_path: Path) -> None:
    _staging(tmp_path / "s.duckdb", "url varchar", [("https://cdn/x.png",)])

    site = load_source(tmp_path / "s.duckdb", "site-1")

    assert [loc.tag for loc in site.locales] == ["en", "fr"]
    i1, i2 = site.items["c1"]
    en, fr = i1.versions["en"], i1.versions["fr"]
    assert en.field_data == POST and en.live_field_data is en.field_data  # same JSON: shared
    assert fr.field_data["name"] == "Post (edited)" and fr.live_field_data == POST
    assert fr.live_field_data is not fr.field_data and fr.is_draft
    odd = i2.versions["en"]
    assert odd.is_archived and not odd.is_live and math.isnan(odd.field_data["n"])
    for v in (en, fr, odd):
        assert v.content_json() == _old_content_json(v)
    assert site.file_md5_by_url == {}  # no md5 column: nothing known, nothing fails


def test_cms_files_give_md5s_and_the_first_local_copy(tmp_path: Path) -> None:
    files = [
        ("https://cdn/en.png", "m1", "m1/a.png"),
        ("https://cdn/fr.png", "m1", "m1/b.png"),
        ("https://cdn/none.png", None, None),
    ]
    _staging(tmp_path / "s.duckdb", "url varchar, md5 varchar, local_path varchar", files)

    site = load_source(tmp_path / "s.duckdb", "site-1", asset_store_path=tmp_path / "store")

    assert site.file_md5_by_url == {"https://cdn/en.png": "m1", "https://cdn/fr.png": "m1"}
    assert site.file_paths == {"m1": str(tmp_path / "store" / "m1/a.png")}


def test_planning_leaves_the_collector_as_it_found_it(small: Migrator) -> None:
    assert gc.isenabled()
    assert small.plan().write_requests > 0
    assert gc.isenabled()
    gc.disable()
    try:
        small.plan()
        assert not gc.isenabled()
    finally:
        gc.enable()
