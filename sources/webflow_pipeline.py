"""Examples: extract a Webflow site into DuckDB with the `webflow` source.

Configure `[sources.webflow]` in `.dlt/config.toml` (site_id, base_url) and `.dlt/secrets.toml`
(api_token), or the environment (`SOURCES__WEBFLOW__SITE_ID`, `SOURCES__WEBFLOW__API_TOKEN`).
"""

from __future__ import annotations

from pathlib import Path

import dlt
from dlt.common.pipeline import LoadInfo

from sources.webflow import webflow_source

ROOT = Path(__file__).resolve().parents[1]
STAGING = ROOT / "webflow.duckdb"
WORK_DIR = ROOT / ".webflow-sync"


def staging_pipeline() -> dlt.Pipeline:
    """The source pipeline; DuckDB and pipeline state live next to the project (absolute paths)."""
    return dlt.pipeline(
        pipeline_name="webflow_source",
        destination=dlt.destinations.duckdb(str(STAGING)),
        dataset_name="webflow",
        pipelines_dir=str(WORK_DIR / "pipelines"),
    )


def load_site() -> LoadInfo:
    """The whole site; run it again for an incremental update."""
    pipeline = staging_pipeline()
    if pipeline.has_pending_data:  # a package left by an interrupted run goes first
        pipeline.run()
    return pipeline.run(webflow_source(asset_store_path=str(WORK_DIR / "assets")))


def load_collections(*slugs: str) -> LoadInfo:
    """Only some collections (by slug), plus the site, schema and asset tables."""
    source = webflow_source(collections=list(slugs), asset_store_path=str(WORK_DIR / "assets"))
    return staging_pipeline().run(source)


if __name__ == "__main__":
    print(load_site())
