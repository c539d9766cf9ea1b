"""Command line: extract a Webflow site into DuckDB, migrate it into another site, verify.

    python pipelines/migrate.py --source-site ID --target-site ID          # incremental sync
    python pipelines/migrate.py --source-site ID --target-site ID --full   # re-extract all
    python pipelines/migrate.py ... --dry-run                              # plan, GETs only
    python pipelines/migrate.py ... --collections blog-posts,authors
    python pipelines/migrate.py verify --source-site ID --target-site ID
    python pipelines/migrate.py --demo                                     # emulator + demo world

Tokens are never taken from the command line: `SOURCES__WEBFLOW__API_TOKEN` and
`DESTINATION__WEBFLOW__API_TOKEN` (or `[sources.webflow]` / `[destination.webflow]` `api_token` in
.dlt/secrets.toml). Exit code 0 only when every item migrated (failures are listed from the audit
table) or, for `verify`, when the sites match.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DLT_PROJECT_DIR", str(ROOT))  # .dlt/ of the project wherever we run from

import dlt  # noqa: E402

from destinations.webflow import (  # noqa: E402
    MigrationReport,
    MissingScopeError,
    SchemaMismatchError,
    migrate,
)
from sources.webflow import webflow_source  # noqa: E402

WORK_DIR = ROOT / ".webflow-sync"


def _cfg(key: str, default: Any = None) -> Any:
    value = dlt.config.get(key)
    return default if value is None else value


def _secret(section: str) -> str:
    token = dlt.secrets.get(f"{section}.api_token")
    if not token:
        env = section.upper().replace(".", "__") + "__API_TOKEN"
        raise SystemExit(f"no API token for {section}: set {env} or put it in .dlt/secrets.toml")
    return str(token)


def extract(
    staging: Path,
    site_id: str,
    token: str,
    base_url: str,
    *,
    full: bool = False,
    collections: list[str] | None = None,
    requests_per_minute: int | None = 60,
    pipelines_dir: Path,
    asset_store: Path,
) -> None:
    """Stages the source site in DuckDB (incremental unless `full`)."""
    pipeline = dlt.pipeline(
        pipeline_name=f"webflow_source_{site_id}",
        pipelines_dir=str(pipelines_dir),
        destination=dlt.destinations.duckdb(str(staging)),
        dataset_name="webflow",
        progress="log" if os.environ.get("WEBFLOW_PROGRESS") else None,
    )
    if pipeline.has_pending_data:  # DLT_NOTES trap 3: finish the interrupted load first
        print("extract: loading the package an interrupted run left pending", flush=True)
        pipeline.run()
    source = webflow_source(
        site_id=site_id,
        api_token=token,
        base_url=base_url,
        requests_per_minute=requests_per_minute,
        asset_store_path=str(asset_store),
        collections=collections,
    )
    started = time.monotonic()
    pipeline.run(source, refresh="drop_sources" if full else None)
    counts = pipeline.last_trace.last_normalize_info.row_counts if pipeline.last_trace else {}
    rows = {t: n for t, n in counts.items() if not t.startswith("_dlt")}
    print(f"extract: {rows or 'nothing new'} in {time.monotonic() - started:.1f} s", flush=True)


def print_report(report: MigrationReport) -> None:
    if report.dry_run:
        print(report.summary())
        return
    print()
    print(report.summary())


def run_migration(args: argparse.Namespace, sites: dict[str, Any]) -> int:
    staging = Path(args.staging or WORK_DIR / "staging.duckdb").resolve()
    staging.parent.mkdir(parents=True, exist_ok=True)
    pipelines_dir = staging.parent / "pipelines"
    asset_store = staging.parent / "assets"
    collections = [c for c in (args.collections or "").split(",") if c] or None
    if not args.skip_extract:
        extract(
            staging,
            sites["source_id"],
            sites["source_token"],
            sites["source_url"],
            full=args.full,
            collections=collections,
            requests_per_minute=sites["source_rpm"],
            pipelines_dir=pipelines_dir,
            asset_store=asset_store,
        )
    try:
        report = migrate(
            staging,
            sites["source_id"],
            sites["target_id"],
            sites["target_token"],
            sites["target_url"],
            dry_run=args.dry_run,
            collections=collections,
            pipelines_dir=str(pipelines_dir),
            asset_store_path=asset_store,
            requests_per_minute=sites["target_rpm"],
            progress=lambda msg: print(f"load: {msg}", flush=True),
        )
    except SchemaMismatchError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    except MissingScopeError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 3
    print_report(report)
    return 0 if report.ok else 1


def run_verify(sites: dict[str, Any], collections: list[str] | None) -> int:
    from pipelines.verify import SiteRef, verify_sites

    report = verify_sites(
        SiteRef(sites["source_url"], sites["source_token"], sites["source_id"]),
        SiteRef(sites["target_url"], sites["target_token"], sites["target_id"]),
        collections=collections,
        requests_per_minute=sites["target_rpm"],
    )
    print(report.format_table())
    if report.differences:
        print(report.format_differences(limit=50))
    print("OK: target matches source" if report.ok else "FAILED: the sites differ")
    return 0 if report.ok else 1


def configured_sites(args: argparse.Namespace) -> dict[str, Any]:
    rpm_s = _cfg("sources.webflow.requests_per_minute", 60)
    rpm_t = _cfg("destination.webflow.requests_per_minute", 60)
    sites = {
        "source_id": args.source_site or _cfg("sources.webflow.site_id"),
        "target_id": args.target_site or _cfg("destination.webflow.site_id"),
        "source_url": _cfg("sources.webflow.base_url", "https://api.webflow.com/v2"),
        "target_url": _cfg("destination.webflow.base_url", "https://api.webflow.com/v2"),
        "source_token": _secret("sources.webflow"),
        "target_token": _secret("destination.webflow"),
        "source_rpm": int(rpm_s) if rpm_s else None,
        "target_rpm": int(rpm_t) if rpm_t else None,
    }
    for side in ("source", "target"):
        if not sites[f"{side}_id"]:
            raise SystemExit(f"no {side} site id: pass --{side}-site or set it in .dlt/config.toml")
    return sites


def run_demo(args: argparse.Namespace) -> int:
    """Embedded emulator with the demo world: migrate source -> target, then verify."""
    from webflow_emulator import EmulatorServer

    demo_dir = WORK_DIR / "demo"
    if args.staging is None:
        # a fresh emulator means fresh ids: the previous demo's staging and ledger are stale
        shutil.rmtree(demo_dir, ignore_errors=True)
        demo_dir.mkdir(parents=True)
    with EmulatorServer(port=0) as emu:
        world = emu.admin.seed("demo")
        print(f"demo: emulator at {emu.base_url}, world {world['counts']}", flush=True)
        sites = {
            "source_id": world["source"]["siteId"],
            "target_id": world["target"]["siteId"],
            "source_url": emu.base_url,
            "target_url": emu.base_url,
            "source_token": world["source"]["token"],
            "target_token": world["target"]["token"],
            "source_rpm": None,
            "target_rpm": None,
        }
        args.staging = args.staging or str(demo_dir / "staging.duckdb")
        code = run_migration(args, sites)
        if args.dry_run:
            return code
        stats = emu.admin.stats()["bySite"].get(sites["target_id"], {})
        print(f"demo: emulator counted for the target {stats.get('byOperation')}")
        print("verify:")
        code = code or run_verify(sites, None)
    print(
        f"demo: the staged source site stays in {args.staging}; inspect it with SQL, e.g.\n"
        f"  python -c \"import duckdb; duckdb.sql('SELECT name, locale, state FROM "
        f"webflow.blog_posts LIMIT 5', connection=duckdb.connect('{args.staging}', "
        f'read_only=True)).show()"'
    )
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="migrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="run", choices=["run", "verify"])
    parser.add_argument("--source-site", help="source site id (default [sources.webflow] site_id)")
    parser.add_argument(
        "--target-site", help="target site id (default [destination.webflow] site_id)"
    )
    parser.add_argument("--staging", help="staging DuckDB file (default .webflow-sync/)")
    parser.add_argument("--full", action="store_true", help="re-extract the whole source site")
    parser.add_argument("--dry-run", action="store_true", help="plan only; the target gets GETs")
    parser.add_argument("--collections", help="comma-separated collection slugs")
    parser.add_argument(
        "--skip-extract", action="store_true", help="migrate what is already staged"
    )
    parser.add_argument("--demo", action="store_true", help="embedded emulator + demo world")
    args = parser.parse_args(argv)
    if args.demo:
        return run_demo(args)
    sites = configured_sites(args)
    if args.command == "verify":
        collections = [c for c in (args.collections or "").split(",") if c] or None
        return run_verify(sites, collections)
    return run_migration(args, sites)


if __name__ == "__main__":
    sys.exit(main())
