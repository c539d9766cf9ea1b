"""Where our migration's time goes: one run of ours on a generated site, optionally sampled.

    python bench/profile.py --items 2000                      # figures only
    python bench/profile.py --items 10000 --py-spy out.txt    # + py-spy samples of the migrator
    python bench/profile.py --report out.txt --keys prefetch_files,plan_from_staging

Prints the migrator's wall and CPU seconds (extract and total), the emulator's CPU seconds while
it ran, peak RSS and the requests by operation. `--py-spy` records every thread of the migrator's
subprocess (raw collapsed stacks, 100 Hz; needs `pip install py-spy`); `--report` sums such a
file: samples per key (the first key found in a stack wins), per innermost frame of our own code,
and per leaf frame. CPU seconds, not wall time, are what to compare while other work shares the
machine.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import emu  # noqa: E402
from bench.floor import NOT_RATE_LIMITED  # noqa: E402
from bench.generate import generate_site  # noqa: E402
from bench.run import (  # noqa: E402
    _own_cpu,
    in_subprocess,
    new_target,
    settle_after_generation,
)

OWN_CODE = ("destinations/", "sources/", "bench/", "webflow_emulator/", "pipelines/")


def profile(items: int, seed: int, py_spy: Path | None) -> dict[str, object]:
    from webflow_emulator import EmulatorServer

    with EmulatorServer(port=0) as server:
        base = server.base_url
        emu.set_config(base, rateLimit=None, timeScale=60)
        gen = generate_site(base, server.admin, items, seed)
        settle_after_generation()
        target_id, target_token = new_target(base, server.admin, "profile")
        args = {
            "base_url": base,
            "source_site_id": gen.source_site_id,
            "source_token": gen.source_token,
            "target_site_id": target_id,
            "target_token": target_token,
            "workdir": str(ROOT / "bench" / "out" / f"profile-{items}-{os.getpid()}"),
            "rate_limit": None,
            "time_scale": 60,
        }
        beside = Path(sys.executable).with_name("py-spy")
        spy = [
            str(beside) if beside.exists() else "py-spy",
            "record",
            "-r",
            "100",
            "-f",
            "raw",
            "-o",
            str(py_spy),
            "--",
        ]
        cpu0, t0 = _own_cpu(), time.perf_counter()
        report = in_subprocess("ours", args, None, prefix=spy if py_spy else ())
        shutil.rmtree(args["workdir"], ignore_errors=True)
        out: dict[str, object] = {
            "items": gen.total_items,
            "wall_seconds": round(time.perf_counter() - t0, 1),
            "emulator_cpu_seconds": round(_own_cpu() - cpu0, 1),
        }
    if "error" in report:
        out["error"] = report["error"]
        return out
    requests = report["requests"]
    out.update(
        migrator_seconds=round(report["seconds"], 1),
        extract_seconds=round(report["extract_seconds"], 1),
        migrator_cpu_seconds=round(report["cpu_seconds"], 1),
        items_per_second=round(gen.total_items / report["seconds"]),
        peak_rss_mb=round(report["peak_rss_mb"]),
        failures=report["failure_count"],
        api_requests=sum(v for k, v in requests.items() if k not in NOT_RATE_LIMITED),
        requests=requests,
    )
    return out


def summarize(path: Path, keys: list[str], top: int = 25) -> str:
    """Sums a py-spy raw file by key, by innermost frame of our code and by leaf frame."""
    total = 0
    by_key: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")[1:]  # the first is the process
        if keys:
            by_key[next((k for k in keys if any(k in f for f in frames)), "other")] += n
        mine = [f for f in frames if any(f"({c}" in f for c in OWN_CODE)]
        if mine:
            own[re.sub(r":\d+\)", ")", mine[-1])] += n
        if frames:
            leaf[re.sub(r":\d+\)", ")", frames[-1])] += n
    lines = [f"samples: {total} (100 per second of one thread's time)"]
    for title, counter in (("by key", by_key), ("innermost own frame", own), ("leaf", leaf)):
        if counter:
            lines.append(f"--- {title}")
            lines += [f"{v:7d} {100 * v / total:5.1f}%  {k}" for k, v in counter.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--py-spy", type=Path, default=None, help="record samples to this file")
    parser.add_argument("--report", type=Path, default=None, help="summarize a py-spy file")
    parser.add_argument("--keys", default="", help="comma-separated frame substrings")
    args = parser.parse_args(argv)
    keys = [k for k in args.keys.split(",") if k]
    if args.report:
        print(summarize(args.report, keys))
        return
    print(json.dumps(profile(args.items, args.seed, args.py_spy), indent=1))
    if args.py_spy:
        print(summarize(args.py_spy, keys))


if __name__ == "__main__":
    main()
