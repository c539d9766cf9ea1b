"""Command line: extract a Webflow site into DuckDB, migrate it into another site, verify.

    python pipelines/migrate.py --source-site ID --target-site ID          # incremental sync
    python pipelines/migrate.py --source-site ID --target-site ID --full   # re-extract all
    python pipelines/migrate.py ... --dry-run                              # plan, GETs only
    python pipelines/migrate.py ... --collections blog-posts,authors
    python pipelines/migrate.py ... --on-delete archive|keep   # default: delete
    python pipelines/migrate.py ... --overwrite-target-edits   # default: skip, report conflict
    python pipelines/migrate.py verify --source-site ID --target-site ID
    python pipelines/migrate.py --demo                                     # emulator + demo world

Tokens are never taken from the command line: `SOURCES__WEBFLOW__API_TOKEN` and
`DESTINATION__WEBFLOW__API_TOKEN` (or `[sources.webflow]` / `[destination.webflow]` `api_token` in
.dlt/secrets.toml). Exit code 0 only when every item migrated (failures are listed from the audit
table) or, for `verify`, when the sites match. Other exit codes: 2 the target's schema cannot
hold the source, 3 a token was refused or is malformed, 4 a site id is invalid or unknown,
5 the staging or ledger file is unusable (corrupted, another application's, locked).
"""

from __future__ import annotations

import argparse
import os
import re
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
import duckdb  # noqa: E402

from destinations.webflow import (  # noqa: E402
    MigrationReport,
    MissingScopeError,
    SchemaMismatchError,
    migrate,
)
from destinations.webflow.ledger import TABLES as LEDGER_FILE_TABLES  # noqa: E402
from destinations.webflow.ledger import default_ledger_path  # noqa: E402
from sources.webflow import webflow_source  # noqa: E402
from sources.webflow.client import (  # noqa: E402
    MalformedTokenError,
    WebflowAuthError,
    WebflowError,
    WebflowNotFoundError,
    WebflowValidationError,
)

WORK_DIR = ROOT / ".webflow-sync"
SITE_ID = re.compile(r"[0-9a-f]{24}")
STAGING_SCHEMAS = frozenset({"webflow", "webflow_staging"})
LEDGER_TABLES = LEDGER_FILE_TABLES  # the tables the destination creates, and only them


class InputError(Exception):
    """Bad input that stops the run before anything is written: a message and an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def check_database(path: Path, kind: str) -> None:
    """Refuses a staging or ledger file that is corrupted, another application's database, or
    locked by another process, with a message naming the file (and the PID holding the lock).

    Why before the run: dlt would otherwise fail deep in its `sync` step with a generic
    connection error, or happily add our tables to somebody else's database.
    """
    if not path.exists():
        return
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        text = str(exc)
        lock = re.search(r"Conflicting lock is held in (.*?) \(PID (\d+)\)", text)
        if lock or "lock" in text.lower():
            holder = f" by PID {lock.group(2)} ({lock.group(1)})" if lock else ""
            raise InputError(
                f"{kind} database {path} is locked{holder}: close that process (e.g. a "
                "`duckdb` shell; use `duckdb -readonly` between syncs) and run again. Nothing "
                "was written; the next run does all of it.",
                5,
            ) from None
        again = " with --full" if kind == "staging" else " (mappings are rebuilt by natural keys)"
        raise InputError(
            f"{kind} database {path} is not a valid DuckDB file (corrupted or truncated?): "
            f"move it away and run again{again}. DuckDB said: {text.splitlines()[0][:200]}",
            5,
        ) from None
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    finally:
        con.close()
    if kind == "ledger":
        foreign = sorted(f"{s}.{t}" for s, t in tables if t not in LEDGER_TABLES)
    else:
        foreign = sorted(f"{s}.{t}" for s, t in tables if s not in STAGING_SCHEMAS)
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise InputError(
            f"{kind} database {path} belongs to something else (it holds {shown}): it was not "
            "touched; pass another --staging path",
            5,
        )


def check_site_id(side: str, site_id: str) -> None:
    """Site ids are 24 hex characters (they also name the pipeline's working directory)."""
    if not SITE_ID.fullmatch(site_id or ""):
        raise InputError(
            f"{side} site id {site_id!r} is not a Webflow site id (24 hexadecimal characters)", 4
        )


def explain(exc: BaseException, side: str, site_id: str) -> InputError | None:
    """A clear message for a token or site error of one side (None: not one of those)."""
    cause: BaseException | None = exc
    for _ in range(10):
        if cause is None or isinstance(cause, WebflowError | MalformedTokenError):
            break
        cause = cause.__cause__ or cause.__context__ or getattr(cause, "exception", None)
    env = "SOURCES__WEBFLOW__API_TOKEN" if side == "source" else "DESTINATION__WEBFLOW__API_TOKEN"
    if isinstance(cause, MalformedTokenError):
        return InputError(f"the {side} token ({env}): {cause}", 3)
    if isinstance(cause, WebflowAuthError):
        if cause.status == 401:
            why = "it is not valid (revoked, expired or mistyped)"
        elif cause.missing_scopes:
            why = f"it lacks the scope {', '.join(cause.missing_scopes)}"
        else:
            why = f"it has no access to site {site_id} (a token of another site?)"
        return InputError(
            f"the {side} token ({env}) was refused: {why} [{cause.status} {cause.code}]", 3
        )
    if isinstance(cause, WebflowNotFoundError) and "/sites/" in (cause.path or ""):
        return InputError(f"{side} site {site_id} does not exist [{cause.status}]", 4)
    if isinstance(cause, WebflowValidationError) and "/sites/" in (cause.path or ""):
        return InputError(f"{side} site id {site_id!r} was refused: {cause.message}", 4)
    return None


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
    window_seconds: float = 60.0,
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
        rate_limit_window_seconds=window_seconds,
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
    check_database(staging, "staging")
    check_database(default_ledger_path(staging), "ledger")
    if not args.skip_extract:
        try:
            extract(
                staging,
                sites["source_id"],
                sites["source_token"],
                sites["source_url"],
                full=args.full,
                collections=collections,
                requests_per_minute=sites["source_rpm"],
                window_seconds=sites.get("source_window", 60.0),
                pipelines_dir=pipelines_dir,
                asset_store=asset_store,
            )
        except Exception as exc:
            clear = explain(exc, "source", sites["source_id"])
            if clear is None:
                raise
            raise clear from None
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
            window_seconds=sites.get("target_window", 60.0),
            progress=lambda msg: print(f"load: {msg}", flush=True),
            overwrite_target_edits=args.overwrite_target_edits,
            on_delete=args.on_delete,
        )
    except SchemaMismatchError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    except MissingScopeError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 3
    except Exception as exc:
        clear = explain(exc, "target", sites["target_id"])
        if clear is None:
            raise
        raise clear from None
    print_report(report)
    return 0 if report.ok else 1


def run_verify(sites: dict[str, Any], collections: list[str] | None) -> int:
    from pipelines.verify import SiteRef, verify_sites

    report = verify_sites(
        SiteRef(sites["source_url"], sites["source_token"], sites["source_id"]),
        SiteRef(sites["target_url"], sites["target_token"], sites["target_id"]),
        collections=collections,
        requests_per_minute=sites["target_rpm"],
        window_seconds=sites.get("target_window", 60.0),
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
        # Webflow's window is 60 s; shorter only against a time-scaled emulator
        "source_window": float(_cfg("sources.webflow.rate_limit_window_seconds", 60.0)),
        "target_window": float(_cfg("destination.webflow.rate_limit_window_seconds", 60.0)),
    }
    for side in ("source", "target"):
        if not sites[f"{side}_id"]:
            raise SystemExit(f"no {side} site id: pass --{side}-site or set it in .dlt/config.toml")
        check_site_id(side, sites[f"{side}_id"])
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
    parser.add_argument(
        "--on-delete",
        choices=["delete", "archive", "keep"],
        default="delete",
        help="what happens in the target to items deleted in the source (default delete)",
    )
    parser.add_argument(
        "--overwrite-target-edits",
        action="store_true",
        help="update items edited in the target since our last write (default: report them "
        "as conflicts and skip them)",
    )
    args = parser.parse_args(argv)
    if args.demo:
        return run_demo(args)
    try:
        sites = configured_sites(args)
        if args.command == "verify":
            collections = [c for c in (args.collections or "").split(",") if c] or None
            return run_verify(sites, collections)
        return run_migration(args, sites)
    except InputError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return exc.code
    except (WebflowAuthError, MalformedTokenError) as exc:  # verify: either side's token
        print(f"ERROR: a token was refused or is malformed: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
