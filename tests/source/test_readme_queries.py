"""Every SQL query of sources/webflow/README.md runs against a staged DuckDB file and finds rows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from .compare import export_items
from .conftest import Extractor
from .site_factory import FactorySite, add_rich_text_only_image

README = Path(__file__).parents[2] / "sources" / "webflow" / "README.md"


def readme_queries() -> list[str]:
    section = README.read_text().split("## Inspect the staged data", 1)[1]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.S)


def test_readme_has_queries() -> None:
    assert len(readme_queries()) >= 10


@pytest.fixture
def staged(emulator: Any, site: FactorySite, extractor: Extractor) -> Extractor:
    add_rich_text_only_image(site, "post-2")
    extractor.run()
    cid = site.collection_id("blog-posts")
    posts = site.item_ids["blog-posts"]
    site.builder.call(
        "DELETE", f"/collections/{cid}/items", json={"items": [{"id": posts["post-7"]}]}
    )
    extractor.run()
    return extractor


def test_readme_queries_run_and_return_rows(staged: Extractor) -> None:
    for sql in readme_queries():
        rows = staged.query(sql)
        assert rows, f"no rows from:\n{sql}"


def test_rebuilt_item_equals_the_api(emulator: Any, site: FactorySite, staged: Extractor) -> None:
    (sql,) = [q for q in readme_queries() if "json_object(" in q]
    export = emulator.admin.export_site(site.site_id)
    posts = export_items(next(c for c in export["collections"] if c["slug"] == "blog-posts"))
    for (item_json,) in staged.query(sql):
        item = json.loads(item_json)
        assert item == posts[(item["id"], item["cmsLocaleId"], "staged")]
