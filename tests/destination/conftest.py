"""Fixtures of the destination tests: seeded worlds, a real source extraction into DuckDB in
tmp_path, and a runner of real migrations (dlt pipelines with pipelines_dir in tmp_path)."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import pytest

from destinations.webflow import MigrationReport, migrate, plan_migration
from destinations.webflow.plan import Plan
from sources.webflow import webflow_source
from sources.webflow.client import WebflowClient


@dataclass
class Sites:
    """A source and a target site of the emulator, with tokens."""

    base_url: str
    source_id: str
    source_token: str
    target_id: str
    target_token: str


_CHILD = """
import sys
sys.path.insert(0, {root!r})
from destinations.webflow import migrate
migrate({staging!r}, {src!r}, {tgt!r}, {token!r}, {base!r}, pipelines_dir={pipelines!r},
        asset_store_path={assets!r}, requests_per_minute=None)
"""


@dataclass
class Migrator:
    """Extracts the source into `tmp_path/staging.duckdb` and migrates it into the target."""

    emulator: Any
    sites: Sites
    tmp_path: Path

    @property
    def staging(self) -> Path:
        return self.tmp_path / "staging.duckdb"

    def extract(self) -> None:
        pipeline = dlt.pipeline(
            pipeline_name="wf_source",
            pipelines_dir=str(self.tmp_path / "pipelines"),
            destination=dlt.destinations.duckdb(str(self.staging)),
            dataset_name="webflow",
        )
        pipeline.run(
            webflow_source(
                site_id=self.sites.source_id,
                api_token=self.sites.source_token,
                base_url=self.sites.base_url,
                requests_per_minute=None,
                asset_store_path=str(self.tmp_path / "assets"),
            )
        )

    def client(self) -> WebflowClient:
        return WebflowClient(
            self.sites.target_token,
            self.sites.base_url,
            read_only=False,
            requests_per_minute=None,
            backoff_base=0.01,
            backoff_max=0.05,
        )

    def plan(self, **kw: Any) -> Plan:
        return plan_migration(
            self.staging,
            self.sites.source_id,
            self.sites.target_id,
            client=self.client(),
            asset_store_path=self.tmp_path / "assets",
            **kw,
        )

    def migrate(self, **kw: Any) -> MigrationReport:
        kw.setdefault("client", self.client())
        return migrate(
            self.staging,
            self.sites.source_id,
            self.sites.target_id,
            self.sites.target_token,
            self.sites.base_url,
            pipelines_dir=str(self.tmp_path / "pipelines"),
            asset_store_path=self.tmp_path / "assets",
            requests_per_minute=None,
            **kw,
        )

    def kill_while_held(self, operation: str, nth: int) -> None:
        """Migrates in a child process until the emulator holds its `nth` `operation` request,
        then SIGKILLs it. The request stays held: the test releases it (applied or not)."""
        root = Path(__file__).resolve().parents[2]
        code = _CHILD.format(
            root=str(root),
            staging=str(self.staging),
            src=self.sites.source_id,
            tgt=self.sites.target_id,
            token=self.sites.target_token,
            base=self.sites.base_url,
            pipelines=str(self.tmp_path / "pipelines"),
            assets=str(self.tmp_path / "assets"),
        )
        admin = self.emulator.admin
        admin.configure(pauseAfterRequests=nth, pauseOperation=operation)
        child = subprocess.Popen([sys.executable, "-c", code])
        try:
            for _ in range(6000):
                if admin.pause_state()["paused"] or child.poll() is not None:
                    break
                time.sleep(0.01)
            assert admin.pause_state()["paused"], f"the child never sent {operation} #{nth}"
        finally:
            child.kill()
            child.wait()

    def target_stats(self) -> dict[str, Any]:
        """The emulator's counts for the target site: byMethod / byOperation."""
        stats = self.emulator.admin.stats()
        return stats["bySite"].get(self.sites.target_id) or {"byMethod": {}, "byOperation": {}}

    def writes(self) -> int:
        return sum(n for m, n in self.target_stats()["byMethod"].items() if m != "GET")


@pytest.fixture
def demo(emulator: Any, tmp_path: Path) -> Migrator:
    """The demo world (source extracted, target empty), stats reset."""
    world = emulator.admin.seed("demo")
    sites = Sites(
        emulator.base_url,
        world["source"]["siteId"],
        world["source"]["token"],
        world["target"]["siteId"],
        world["target"]["token"],
    )
    m = Migrator(emulator, sites, tmp_path)
    m.extract()
    emulator.admin.reset_stats()
    return m


LOCALES = [("en-US", "English"), ("fr-FR", "French")]
READ_SCOPES = ["sites:read", "cms:read", "assets:read"]
KINDS = ["Alpha", "Beta", "Gamma"]


def tags_fields() -> list[dict[str, Any]]:
    return [{"type": "PlainText", "displayName": "Description", "slug": "description"}]


def posts_fields(tags_id: str, kinds: list[str] = KINDS) -> list[dict[str, Any]]:
    return [
        {"type": "RichText", "displayName": "Body", "slug": "body"},
        {"type": "Image", "displayName": "Cover", "slug": "cover"},
        {"type": "MultiImage", "displayName": "Gallery", "slug": "gallery"},
        {
            "type": "Option",
            "displayName": "Kind",
            "slug": "kind",
            "metadata": {"options": [{"name": k} for k in kinds]},
        },
        {
            "type": "Reference",
            "displayName": "Tag",
            "slug": "tag",
            "metadata": {"collectionId": tags_id},
        },
    ]


def build_small(emulator: Any, tmp_path: Path) -> Migrator:
    """A small two-locale world: tags (one without description), posts with an Option, a
    Reference, a self-referencing MultiReference, images (one shared by every post) and rich
    text with an inline image; every state. Target empty."""
    from webflow_emulator.seeds.builder import SiteBuilder, png_bytes

    admin = emulator.admin
    src_site = admin.create_site("Small", locales=LOCALES)
    tgt_site = admin.create_site("Small (new)", locales=LOCALES)
    b = SiteBuilder(emulator.base_url, admin.mint_token([src_site["id"]]), src_site)
    fr = b.locale_ids[1]
    folder = b.create_folder("Pics")
    sub = b.create_folder("Nested", folder["id"])
    shared = b.upload_asset("shared.png", png_bytes(10, 10, 1), sub["id"], alt="Shared")
    other = b.upload_asset("other.png", png_bytes(12, 10, 2), folder["id"])
    tags = b.create_collection("Tags", "Tag", "tags", tags_fields())
    posts = b.create_collection("Posts", "Post", "posts", posts_fields(tags["id"]))
    b.create_field(
        posts["id"],
        {
            "type": "MultiReference",
            "displayName": "Related",
            "slug": "related",
            "metadata": {"collectionId": posts["id"]},
        },
    )
    kinds = b.option_ids(posts["id"], "kind")
    tag_ids = b.create_items(
        tags["id"],
        [{"name": f"Tag {n}", "slug": f"tag-{n}", "description": f"About {n}"} for n in (1, 3)]
        + [{"name": "Tag 2", "slug": "tag-2"}],
    )
    b.publish(tags["id"], tag_ids.values())
    data = []
    for n in range(8):
        data.append(
            {
                "name": f"Post {n}",
                "slug": f"post-{n}",
                "body": f'<p>Post {n}</p><img src="{other["hostedUrl"]}" alt="x">',
                "cover": {"url": shared["hostedUrl"], "alt": "Shared"},
                "gallery": [{"url": shared["hostedUrl"]}, {"url": other["hostedUrl"]}],
                "kind": kinds[KINDS[n % 3]],
                "tag": tag_ids[f"tag-{1 + n % 3}"],
            }
        )
    post_ids = b.create_items(posts["id"], data)
    slugs = [d["slug"] for d in data]
    b.update_items(
        posts["id"],
        [
            {
                "id": post_ids[s],
                "fieldData": {"related": [post_ids[slugs[(i + 1) % 8]], post_ids[s]]},
            }
            for i, s in enumerate(slugs)
        ],
    )
    b.update_items(
        posts["id"],
        [{"id": post_ids[s], "fieldData": {"name": f"Article {i}"}} for i, s in enumerate(slugs)],
        locale=fr,
    )
    # a translated slug
    b.update_items(
        posts["id"], [{"id": post_ids["post-5"], "fieldData": {"slug": "article-5"}}], fr
    )
    b.publish(posts["id"], [post_ids[s] for s in slugs[:6]])
    b.update_items(posts["id"], [{"id": post_ids["post-1"], "fieldData": {"name": "Edited"}}])
    b.update_items(posts["id"], [{"id": post_ids["post-2"], "isArchived": True}])
    b.update_items(posts["id"], [{"id": post_ids["post-3"], "isDraft": True}])
    b.update_items(posts["id"], [{"id": post_ids["post-7"], "isDraft": True}])
    sites = Sites(
        emulator.base_url,
        src_site["id"],
        admin.mint_token([src_site["id"]], scopes=READ_SCOPES),
        tgt_site["id"],
        admin.mint_token([tgt_site["id"]]),
    )
    m = Migrator(emulator, sites, tmp_path)
    m.extract()
    emulator.admin.reset_stats()
    return m


@pytest.fixture
def small(emulator: Any, tmp_path: Path) -> Migrator:
    return build_small(emulator, tmp_path)


def target_builder(m: Migrator) -> Any:
    """A SiteBuilder on the target, to put things there before a migration."""
    from webflow_emulator.seeds.builder import SiteBuilder

    site = m.emulator.admin.export_site(m.sites.target_id)["site"]
    return SiteBuilder(m.sites.base_url, m.sites.target_token, site)
