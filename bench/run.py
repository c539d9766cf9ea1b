"""The benchmark (issue 7): naive baseline vs our migration vs the request floor.

    python bench/run.py --items 10000 [--rate-limit 120] [--time-scale 60] [--seed 1]

Starts an in-process emulator (`EmulatorServer`), generates a site of `--items` items, computes
the floor from the source's export, then migrates the source into a fresh target with each
migrator, each in its own subprocess (so its peak RSS is its own, not the emulator's):

- once with the rate limit off: requests by operation and items per second of the migrator's
  own overhead (HTTP round trips to a local emulator included);
- once more with `--rate-limit N` (requests per emulated minute; with `--time-scale 60` a minute
  lasts one real second): 429s received and wall time / (floor requests / rate limit).

Every migrated target is compared with the source (`shape.canonical`, by slug) and the table
says whether the copy is complete. `--json PATH` writes every figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import emu  # noqa: E402
from bench.floor import NOT_RATE_LIMITED, floor_requests, rate_limited_total  # noqa: E402
from bench.generate import LOCALES, generate_site  # noqa: E402
from bench.shape import canonical, diff  # noqa: E402

MIGRATORS = ("naive", "ours")


# --- our migration ------------------------------------------------------------------------------
def find_ours() -> Any:
    """Our migrate API (`destinations.webflow.migrate` + `sources.webflow.webflow_source`), or
    None while it is not importable. HOOK: when `pipelines/migrate.py` lands with a one-call
    source -> target function, call it from `run_ours` instead."""
    try:
        from destinations.webflow import migrate
        from sources.webflow import webflow_source
    except ImportError:
        return None
    return migrate, webflow_source


def run_ours(args: dict[str, Any]) -> dict[str, Any]:
    """Our migration in the child process: extract the source into DuckDB with the dlt source,
    then load it into the target with the destination's `migrate`, both pacing themselves under
    the rate limit given (none when off). Returns what `run_naive` returns."""
    import shutil

    found = find_ours()
    if found is None:
        return {"skipped": "our migrate API is not importable (see find_ours)"}
    migrate, webflow_source = found
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt

    work = Path(args["workdir"])
    if not args.get("incremental"):
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    rpm = args.get("rate_limit")
    window = 60.0 / float(args.get("time_scale") or 1.0)
    emu.reset_stats(args["base_url"])
    started = time.perf_counter()
    pipeline = dlt.pipeline(
        pipeline_name="bench_source",
        pipelines_dir=str(work / "pipelines"),
        destination=dlt.destinations.duckdb(str(work / "staging.duckdb")),
        dataset_name="webflow",
    )
    pipeline.run(
        webflow_source(
            site_id=args["source_site_id"],
            api_token=args["source_token"],
            base_url=args["base_url"],
            requests_per_minute=rpm,
            rate_limit_window_seconds=window,
            asset_store_path=str(work / "assets"),
        )
    )
    extracted = time.perf_counter() - started
    report = migrate(
        work / "staging.duckdb",
        args["source_site_id"],
        args["target_site_id"],
        args["target_token"],
        args["base_url"],
        pipelines_dir=str(work / "pipelines"),
        asset_store_path=work / "assets",
        requests_per_minute=rpm,
        window_seconds=window,
    )
    seconds = time.perf_counter() - started
    snap = emu.stats(args["base_url"])
    return {
        "requests": dict(sorted(snap["byOperation"].items())),
        "requests_by_site": {
            "source": emu.site_stats(snap, args["source_site_id"]),
            "target": emu.site_stats(snap, args["target_site_id"]),
        },
        "external": snap.get("external") or {},
        "rate_limited": snap["rateLimited"],
        "seconds": seconds,
        "extract_seconds": extracted,
        "failures": [str(f)[:300] for f in report.failures[:20]],
        "failure_count": len(report.failures),
    }


def run_naive(args: dict[str, Any]) -> dict[str, Any]:
    from bench.naive import migrate

    report = migrate(
        args["base_url"],
        args["source_site_id"],
        args["source_token"],
        args["target_site_id"],
        args["target_token"],
    )
    out = asdict(report)
    out["failures"] = report.failures[:20]
    out["failure_count"] = len(report.failures)
    return out


def child(which: str, payload: str) -> None:
    """Entry point of a migrator subprocess: prints its report as JSON with its peak RSS."""
    args = json.loads(payload)
    report = run_naive(args) if which == "naive" else run_ours(args)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report["peak_rss_mb"] = usage.ru_maxrss / 1024
    # CPU of the migrator alone (user + system): unlike wall time, not inflated by other
    # processes on the machine (the emulator's own work is in the parent)
    report["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    print("REPORT " + json.dumps(report))


def in_subprocess(
    which: str, args: dict[str, Any], timeout: float | None, prefix: Sequence[str] = ()
) -> dict[str, Any]:
    """Runs a migrator in a child process (`prefix`: a command wrapping it, e.g. a profiler);
    its report, or `{"error": ...}` with the end of its output."""
    proc = subprocess.run(
        [
            *prefix,
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            which,
            json.dumps(args),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("REPORT "):
            return json.loads(line[len("REPORT ") :])
    return {"error": (proc.stderr or proc.stdout)[-2000:]}


# --- the benchmark -------------------------------------------------------------------------------
def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def settle_after_generation() -> None:
    """Between building the site and migrating it, as between editing a real site and syncing it.

    - The emulator's site (tens of thousands of objects, all kept) is moved out of the garbage
      collector's view: otherwise its full collections land in whichever request of the migration
      triggers them and are counted as the emulator's (Webflow's) time.
    - A pause longer than the source's clock-skew margin: items written less than
      `SERVER_CLOCK_SKEW_SECONDS` before a read are read again by the next incremental run (on
      purpose, against clock skew), which a bench that migrates a site within a second of building
      it would otherwise count in the incremental figures.
    """
    from sources.webflow.settings import SERVER_CLOCK_SKEW_SECONDS

    gc.collect()
    gc.freeze()
    time.sleep(SERVER_CLOCK_SKEW_SECONDS + 1)


def new_target(base_url: str, admin: Any, label: str) -> tuple[str, str]:
    site = admin.create_site(f"Target {label}", locales=LOCALES)
    return site["id"], admin.mint_token([site["id"]])


def benchmark(
    items: int,
    seed: int = 1,
    rate_limit: int | None = None,
    time_scale: float = 60.0,
    migrators: tuple[str, ...] = MIGRATORS,
    timeout: float = 3600.0,
    incremental: bool = False,
    log: Any = print,
) -> dict[str, Any]:
    """Runs everything in one in-process emulator; returns all figures."""
    from webflow_emulator import EmulatorServer

    results: dict[str, Any] = {"items": items, "seed": seed, "runs": {}}
    with EmulatorServer(port=0) as server:
        base_url = server.base_url
        emu.set_config(base_url, rateLimit=None, timeScale=time_scale)
        gen = generate_site(base_url, server.admin, items, seed)
        settle_after_generation()
        log(
            f"generated {gen.total_items} items {gen.counts}, {gen.distinct_files} files in "
            f"{gen.build_seconds:.1f} s ({sum(gen.build_requests.values())} API requests)"
        )
        source_export = emu.export_site(base_url, gen.source_site_id)
        source_canon = canonical(source_export)
        floor = floor_requests(source_export)
        results["generation"] = {
            "seconds": gen.build_seconds,
            "counts": gen.counts,
            "states": gen.state_counts,
            "distinct_files": gen.distinct_files,
            "reference_edges": gen.reference_edges,
            "requests": gen.build_requests,
        }
        results["floor"] = floor
        results["floor_rate_limited"] = rate_limited_total(floor)
        modes: list[int | None] = [None] + ([rate_limit] if rate_limit else [])
        ours_off: tuple[dict[str, Any], dict[str, Any]] | None = None
        for which in migrators:
            for limit in modes:
                label = f"{which}@{limit or 'off'}"
                target_id, target_token = new_target(base_url, server.admin, label)
                emu.set_config(base_url, rateLimit=limit, timeScale=time_scale)
                args = {
                    "base_url": base_url,
                    "source_site_id": gen.source_site_id,
                    "source_token": gen.source_token,
                    "target_site_id": target_id,
                    "target_token": target_token,
                    # unique per run: two benchmarks at once must not share dlt state
                    "workdir": str(
                        ROOT / "bench" / "out" / f"{label.replace('@', '-')}-{items}-{os.getpid()}"
                    ),
                    "rate_limit": limit,
                    "time_scale": time_scale,
                }
                log(f"running {label} ...")
                cpu0 = _own_cpu()
                report = in_subprocess(which, args, timeout)
                # this process only serves the emulator while the migrator runs
                report["emulator_cpu_seconds"] = _own_cpu() - cpu0
                emu.set_config(base_url, rateLimit=None)
                if "requests" in report:
                    target_canon = canonical(emu.export_site(base_url, target_id))
                    problems = diff(source_canon["collections"], target_canon["collections"])
                    report["complete"] = not problems
                    report["differences"] = problems[:10]
                    report["rate_limit"] = limit
                    report["time_scale"] = time_scale
                log(f"  {label}: {_short(report)}")
                results["runs"][label] = report
                if label == "ours@off" and "requests" in report:
                    ours_off = (args, emu.export_site(base_url, target_id))
        if incremental and "ours" in migrators and ours_off is not None:
            results["incremental"] = _incremental(
                base_url, gen, source_export, ours_off, time_scale, timeout, log
            )
    return results


def _incremental(
    base_url: str,
    gen: Any,
    before: dict[str, Any],
    ours_off: tuple[dict[str, Any], dict[str, Any]],
    time_scale: float,
    timeout: float,
    log: Any,
) -> dict[str, Any]:
    """Applies `changes()` (1%) to the source and re-runs ours into the target of `ours@off`
    with the same working directory (dlt state, ledger), rate limit off."""
    from bench.floor import floor_incremental
    from bench.generate import changes

    args, target_before = ours_off
    cs = changes(gen)
    after = emu.export_site(base_url, gen.source_site_id)
    floor = floor_incremental(before, after, target_before)
    log(
        f"change set: {len(cs.edits)} edits, {len(cs.creates)} creates, {len(cs.deletes)} "
        f"deletes, {len(cs.state_changes)} state changes, {cs.new_assets} new asset"
    )
    emu.set_config(base_url, rateLimit=None, timeScale=time_scale)
    report = in_subprocess("ours", {**args, "incremental": True, "rate_limit": None}, timeout)
    if "requests" in report:
        target = canonical(emu.export_site(base_url, args["target_site_id"]))
        problems = diff(canonical(after)["collections"], target["collections"])
        report["complete"] = not problems
        report["differences"] = problems[:10]
        report["rate_limit"] = None
        report["time_scale"] = time_scale
    log(f"  ours incremental: {_short(report)}")
    return {
        "changes": {
            "edits": len(cs.edits),
            "creates": len(cs.creates),
            "deletes": len(cs.deletes),
            "state_changes": len(cs.state_changes),
            "new_assets": cs.new_assets,
        },
        "floor": floor,
        "floor_rate_limited": rate_limited_total(floor),
        "run": report,
    }


def _short(report: dict[str, Any]) -> str:
    if "requests" not in report:
        return str(report.get("skipped") or report.get("error"))[:300]
    total = rate_limited_total(report["requests"])
    return (
        f"{total} requests, {report['seconds']:.1f} s, 429s {report.get('rate_limited', 0)}, "
        f"complete={report.get('complete')}"
    )


def table(results: dict[str, Any]) -> str:
    """The report: requests by operation per run, then the summary figures."""
    floor = results["floor"]
    runs = {k: v for k, v in results["runs"].items() if "requests" in v}
    ops = sorted(set(floor) | {op for r in runs.values() for op in r["requests"]})
    cols = ["floor", *runs]
    lines = ["| operation | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]

    def value(run: dict[str, Any], op: str) -> int:
        if op in NOT_RATE_LIMITED:
            return (run.get("external") or {}).get(op, 0)
        return run["requests"].get(op, 0)

    for op in ops:
        row = [str(floor.get(op, 0)), *(str(value(r, op)) for r in runs.values())]
        lines.append(f"| {op} | " + " | ".join(row) + " |")
    f_total = results["floor_rate_limited"]
    summary: list[tuple[str, list[str]]] = [
        ("API requests (rate limited)", [str(f_total)]),
        ("requests / floor", ["1.00"]),
        ("429s received", ["-"]),
        ("wall time (s)", ["-"]),
        ("wall time / (floor / rate)", ["1.00"]),
        ("items per second", ["-"]),
        ("peak RSS of the migrator (MB)", ["-"]),
        ("complete copy", ["-"]),
    ]
    items = sum(results["generation"]["counts"].values())
    for run in runs.values():
        total = rate_limited_total(run["requests"])
        limit, scale = run.get("rate_limit"), run.get("time_scale") or 1.0
        ideal = f_total / (limit * scale / 60.0) if limit else None
        values = [
            str(total),
            f"{total / f_total:.2f}",
            str(run.get("rate_limited", 0)),
            f"{run['seconds']:.1f}",
            f"{run['seconds'] / ideal:.2f}" if ideal else "(rate limit off)",
            f"{items / run['seconds']:.0f}" if not limit else "(rate limited)",
            f"{run.get('peak_rss_mb', 0):.0f}",
            "yes" if run.get("complete") else f"NO ({len(run.get('differences', []))}+ diffs)",
        ]
        for (_, vals), v in zip(summary, values, strict=True):
            vals.append(v)
    for name, vals in summary:
        lines.append(f"| **{name}** | " + " | ".join(vals) + " |")
    skipped = {k: v for k, v in results["runs"].items() if "requests" not in v}
    for k, v in skipped.items():
        lines.append(f"\n{k}: {v.get('skipped') or v.get('error')}")
    return "\n".join(lines)


def incremental_table(results: dict[str, Any]) -> str:
    """Requests of the incremental re-run against the incremental floor."""
    inc = results["incremental"]
    run, floor = inc["run"], inc["floor"]
    if "requests" not in run:
        return f"incremental: {run.get('skipped') or run.get('error')}"

    def value(op: str) -> int:
        if op in NOT_RATE_LIMITED:
            return (run.get("external") or {}).get(op, 0)
        return run["requests"].get(op, 0)

    ops = sorted(set(floor) | set(run["requests"]))
    lines = [
        f"Incremental re-run after {inc['changes']}",
        "",
        "| operation | floor | ours (incremental) |",
        "|---|---|---|",
    ]
    lines += [f"| {op} | {floor.get(op, 0)} | {value(op)} |" for op in ops]
    total = rate_limited_total(run["requests"])
    lines.append(f"| **API requests** | {inc['floor_rate_limited']} | {total} |")
    lines.append(f"| **requests / floor** | 1.00 | {total / inc['floor_rate_limited']:.2f} |")
    lines.append(f"| **wall time (s)** | - | {run['seconds']:.1f} |")
    lines.append(f"| **complete copy** | - | {'yes' if run.get('complete') else 'NO'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(argv[1], argv[2])
        return
    parser = argparse.ArgumentParser(description="Webflow migration benchmark (issue 7)")
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate-limit", type=int, default=None, help="requests per minute")
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--only", choices=MIGRATORS, action="append", help="run only these")
    parser.add_argument("--timeout", type=float, default=3600.0, help="per migrator run (s)")
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument(
        "--incremental", action="store_true", help="then apply a 1%% change set and re-run ours"
    )
    args = parser.parse_args(argv)
    results = benchmark(
        args.items,
        args.seed,
        args.rate_limit,
        args.time_scale,
        tuple(args.only or MIGRATORS),
        args.timeout,
        args.incremental,
    )
    print()
    print(table(results))
    if "incremental" in results:
        print()
        print(incremental_table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
