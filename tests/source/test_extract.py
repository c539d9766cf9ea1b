"""A full extract of a factory site equals the emulator's contents; DuckDB and parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import pyarrow.parquet as pq

from .compare import compare_all, export_items, md5_of, rich_text_urls
from .conftest import Extractor
from .site_factory import FactorySite, add_rich_text_only_image

FILE_FIELDS = ("hero-image", "gallery", "attachment")


def test_full_extract_equals_site(emulator: Any, site: FactorySite, extractor: Extractor) -> None:
    result = extractor.run()
    export = emulator.admin.export_site(site.site_id)
    assert compare_all(extractor, export) == []
    # every item of every locale and state was loaded, once
    for collection in export["collections"]:
        if collection["slug"] == "product":
            continue
        table = collection["slug"].replace("-", "_")
        assert result.row_counts[table] == len(export_items(collection))
    assert {r["tag"] for r in extractor.rows("locales")} == {"en-US", "fr-FR"}
    assert len(extractor.rows("asset_folders")) == len(export["assetFolders"])
    assert result.client_stats["by_method"] == {"GET": result.client_stats["requests"]}


def test_field_files_are_not_downloaded_rich_text_images_are(
    emulator: Any, site: FactorySite, extractor: Extractor
) -> None:
    inline = add_rich_text_only_image(site, "post-2")
    result = extractor.run()
    export = emulator.admin.export_site(site.site_id)
    posts = export_items(next(c for c in export["collections"] if c["slug"] == "blog-posts"))
    field_urls = {
        entry["url"]
        for item in posts.values()
        for slug in FILE_FIELDS
        for entry in _as_list(item["fieldData"].get(slug))
    }
    wanted = {a["hostedUrl"] for a in export["assets"]} | rich_text_urls(export)
    # every item copy of an Image/MultiImage/File value has a url of its own: none was fetched
    assert len(field_urls - wanted) > 10
    assert result.emulator_stats["external"]["cdn-download"] == len(wanted)
    assert result.client_stats["downloads"] == len(wanted)
    assert inline not in {a["hostedUrl"] for a in export["assets"]}
    (row,) = extractor.rows("cms_files", f"url = '{inline}'")
    assert row["md5"] == md5_of(extractor.asset_store / row["local_path"])
    assert row["md5"] in {f["md5"] for f in export["files"] if f["url"] == inline}
    assert {r["url"] for r in extractor.rows("cms_files")} == rich_text_urls(export)
    assert compare_all(extractor, export) == []
    # the file index holds one entry per downloaded url, none per item copy
    index = extractor.pipeline.state["sources"]["webflow"]["files"]
    assert set(index) == wanted


def _as_list(value: Any) -> list[dict[str, Any]]:
    return value if isinstance(value, list) else [value] if value else []


def test_ecommerce_collections_are_skipped(
    site: FactorySite, extractor: Extractor, caplog: Any
) -> None:
    extractor.run()
    assert "skipping e-commerce collection 'Products' (product)" in caplog.text
    assert "product" not in extractor.tables()
    slugs = {r["slug"] for r in extractor.rows("collections")}
    assert slugs == {"tags", "blog-posts", "notes"}


def test_columns_are_typed(site: FactorySite, extractor: Extractor) -> None:
    extractor.run()
    types = dict(
        extractor.query(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'webflow' and table_name = 'blog_posts'"
        )
    )
    assert types["published_date"].startswith("TIMESTAMP")
    assert types["reading_time"] == "DOUBLE"
    assert types["featured"] == "BOOLEAN"
    for text in ("summary", "body", "accent", "external_link", "kind", "main_tag", "video"):
        assert types[text] == "VARCHAR", text
    for js in ("hero_image", "gallery", "attachment", "tags", "related_posts", "field_data"):
        assert types[js] == "JSON", js
    # a field whose slug is a metadata column name keeps its own column
    assert types["field_state"] == "VARCHAR" and types["state"] == "VARCHAR"
    # no child tables: json stays in its column
    assert not any("__" in t for t in extractor.tables() if not t.startswith("_dlt"))
    (state,) = extractor.query(
        "select distinct field_state from webflow.blog_posts where field_state is not null"
    )
    assert state == ("custom field value",)


def test_pagination_over_100_items(site: FactorySite, extractor: Extractor) -> None:
    result = extractor.run()
    staged = extractor.query(
        "select cms_locale_id, count(*) from webflow.notes where state = 'staged' group by 1"
    )
    assert sorted(n for _, n in staged) == [130, 130]
    live = extractor.query("select count(*) from webflow.notes where state = 'live'")
    assert live == [(130,)]  # 65 published x 2 locales
    # 130 items need two pages per locale
    assert result.emulator_stats["byOperation"]["list-collection-items"] >= 2 * 2


def test_runs_into_filesystem_parquet(emulator: Any, site: FactorySite, tmp_path: Path) -> None:
    bucket = tmp_path / "lake"
    destination = dlt.destinations.filesystem(bucket_url=bucket.as_uri())

    class ParquetExtractor(Extractor):
        def _run_kwargs(self) -> dict[str, Any]:
            return {"loader_file_format": "parquet"}

    ex = ParquetExtractor(emulator, site, tmp_path, name="wf_parquet", destination=destination)
    result = ex.run()
    export = emulator.admin.export_site(site.site_id)
    posts = next(c for c in export["collections"] if c["slug"] == "blog-posts")
    files = list((bucket / "webflow" / "blog_posts").glob("*.parquet"))
    assert files
    table = pq.read_table(files)
    assert table.num_rows == len(export_items(posts)) == result.row_counts["blog_posts"]
    names = set(table.column_names)
    assert {"id", "cms_locale_id", "state", "field_data", "hero_image", "reading_time"} <= names
    assert str(table.schema.field("reading_time").type) == "double"
    # a second run over the unchanged site writes nothing new
    assert ex.run().data_rows() == {}


def test_configured_from_the_environment(
    emulator: Any, site: FactorySite, tmp_path: Path, monkeypatch: Any
) -> None:
    from sources.webflow import webflow_source

    monkeypatch.setenv("SOURCES__WEBFLOW__SITE_ID", site.site_id)
    monkeypatch.setenv("SOURCES__WEBFLOW__API_TOKEN", site.read_token)
    monkeypatch.setenv("SOURCES__WEBFLOW__BASE_URL", site.base_url)
    monkeypatch.setenv("SOURCES__WEBFLOW__REQUESTS_PER_MINUTE", "600")
    monkeypatch.setenv("SOURCES__WEBFLOW__ASSET_STORE_PATH", str(tmp_path / "store"))
    monkeypatch.setenv("SOURCES__WEBFLOW__COLLECTIONS", '["tags"]')
    pipeline = dlt.pipeline(
        "wf_env",
        pipelines_dir=str(tmp_path / "p"),
        destination=dlt.destinations.duckdb(str(tmp_path / "env.duckdb")),
        dataset_name="webflow",
    )
    pipeline.run(webflow_source())
    counts = pipeline.last_trace.last_normalize_info.row_counts
    assert counts["tags"] == 24 and "blog_posts" not in counts
    assert any((tmp_path / "store").rglob("*.png"))
    # a token resolved from the environment does not end up in the trace or state either
    token = site.read_token.encode()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert token not in path.read_bytes(), path
