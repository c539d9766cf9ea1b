"""Requests used by the Webflow source: full extract, no-change run, small-change run.

Builds the test factory site and a site with N notes (default 10,000, bulk-created in two
locales, half published) in a local emulator, extracts each into a fresh DuckDB file and prints
the requests counted by the client and by the emulator, against the floor
Σ over (collection, locale, state) of ⌈items/100⌉.

    python bench/extract_requests.py            # factory site + 10,000-item site
    python bench/extract_requests.py --items 2000
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import dlt  # noqa: E402
from source.site_factory import FactorySite, build_big_site, build_site  # noqa: E402

from sources.webflow import webflow_source  # noqa: E402
from sources.webflow.client import WebflowClient  # noqa: E402
from webflow_emulator import EmulatorServer  # noqa: E402


def floor_requests(export: dict[str, Any]) -> int:
    """Pages a full read needs at best: list calls per (collection, locale, state) + discovery."""
    locales = 1 + len(export["site"]["locales"].get("secondary") or [])
    pages = 2 + 1 + 1  # get-site, list-collections, list-asset-folders, list-assets (1 page)
    pages += math.ceil(len(export["assets"]) / 100) - 1
    for collection in export["collections"]:
        if collection["slug"] == "product":
            continue
        pages += 1  # collection-details
        counts: dict[tuple[str, str], int] = {}
        for entry in collection["items"]:
            for locale_id, versions in entry["locales"].items():
                for state in ("staged", "live"):
                    if versions.get(state):
                        counts[(locale_id, state)] = counts.get((locale_id, state), 0) + 1
        pages += sum(max(1, math.ceil(n / 100)) for n in counts.values())
        pages += max(0, 2 * locales - len(counts))  # empty streams still cost one call
    return pages


def run(
    emu: EmulatorServer, site: FactorySite, workdir: Path, label: str, overlap: float
) -> dict[str, Any]:
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{label}",
        pipelines_dir=str(workdir / "pipelines"),
        destination=dlt.destinations.duckdb(str(workdir / f"{label}.duckdb")),
        dataset_name="webflow",
    )
    results = {}
    for step in ("full", "no_change", "one_edit"):
        if step == "one_edit":
            cid = site.collection_id("notes")
            some = next(iter(site.item_ids["notes"].values()))
            site.builder.update_items(cid, [{"id": some, "fieldData": {"text": "edited"}}])
        client = WebflowClient(
            site.read_token, site.base_url, read_only=True, requests_per_minute=None
        )
        emu.admin.reset_stats()
        started = time.monotonic()
        source = webflow_source(
            site_id=site.site_id,
            api_token=site.read_token,
            base_url=site.base_url,
            asset_store_path=str(workdir / "assets"),
            client=client,
            overlap_seconds=overlap,
        )
        pipeline.run(source)
        counts = pipeline.last_trace.last_normalize_info.row_counts
        stats = client.stats.snapshot()
        results[step] = {
            "requests": stats["requests"],
            "emulator_requests": emu.admin.stats()["total"],
            "by_operation": stats["by_operation"],
            "downloads": stats["downloads"],
            "rows": sum(n for t, n in counts.items() if not t.startswith("_dlt")),
            "seconds": round(time.monotonic() - started, 1),
            "state_bytes": len(json.dumps(pipeline.state, default=str)),
        }
    results["floor_full"] = floor_requests(emu.admin.export_site(site.site_id))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=10_000, help="notes in the big site")
    parser.add_argument("--overlap", type=float, default=5.0, help="overlap_seconds of the source")
    args = parser.parse_args()
    with EmulatorServer(validate=False) as emu, tempfile.TemporaryDirectory() as tmp:
        out: dict[str, Any] = {"overlap_seconds": args.overlap}
        factory = build_site(emu)
        out["factory_site"] = run(emu, factory, Path(tmp) / "factory", "factory", args.overlap)
        built = time.monotonic()
        big = build_big_site(emu, args.items)
        out[f"site_{args.items}_items"] = {
            "build_seconds": round(time.monotonic() - built, 1),
            **run(emu, big, Path(tmp) / "big", "big", args.overlap),
        }
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
