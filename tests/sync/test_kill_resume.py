"""kill -9 of `pipelines/migrate.py` at 20 exact requests, then reruns: nothing lost, nothing twice.

Why counted requests and not time: the emulator holds the N-th request of an operation
(`pauseAfterRequests` + `pauseOperation`) until the test has SIGKILLed the CLI, then lets it be
applied (the write lands, its answer dies with the process: the lost-response window) or dropped
(the process died before the write arrived). One migration timeline is shared: every rerun
starts from what the previous killed run left (pending dlt packages, in-flight intents, a
half-written ledger) and is itself killed at the next point, so 20 points cost 21 short runs.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

from .conftest import World, assert_source_only_read, duplicates

# (phase, operationId, n-th request of that operation in the rerun); None = any /v2 request
KILL_POINTS: list[tuple[str, str | None, int]] = [
    ("extract", None, 3),
    ("extract", "list-collection-items", 2),
    ("extract", "list-collection-items-live", 2),  # one per collection: every locale at once
    ("extract", "list-assets", 1),
    ("schema", "create-collection", 1),
    ("schema", "create-collection", 1),
    ("schema", "create-field", 1),
    ("assets", "create-asset-folder", 2),
    ("assets", "create-asset", 1),
    ("assets", "patch-asset", 1),
    ("assets", "create-asset", 3),
    ("assets", "create-asset", 4),
    ("items", "create-items", 1),
    ("items", "create-items", 1),
    ("items", "create-items", 1),
    ("links", "update-items", 1),
    ("links", "update-items", 2),
    ("publish", "publish-item", 1),
    ("publish", "publish-item", 2),
    ("states", "update-items", 4),
]


def _kill_at(world: World, operation: str | None, nth: int, apply: bool, log: Path) -> str:
    """Runs the CLI until the emulator holds the chosen request, SIGKILLs it, then releases the
    request. Returns what happened: `killed`, or `finished` when the request never came."""
    admin = world.emu.admin
    admin.configure(pauseAfterRequests=nth, pauseOperation=operation)
    child = world.popen(log=log)
    try:
        while True:
            state = admin.pause_state()
            if state["paused"]:
                child.send_signal(signal.SIGKILL)
                child.wait(30)
                before = admin.stats()["total"]
                admin.release(apply=apply)
                # the held request is handled (or dropped) before the next run starts
                for _ in range(500):
                    if admin.stats()["total"] > before:
                        break
                    time.sleep(0.01)
                return "killed"
            if child.poll() is not None:
                return "finished" if child.returncode == 0 else f"exit {child.returncode}"
            time.sleep(0.005)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
        admin.configure(pauseAfterRequests=None, pauseOperation=None)


def test_kill_9_at_20_counted_requests_then_rerun(demo_world: World) -> None:
    w = demo_world
    results: list[dict[str, Any]] = []
    for i, (phase, operation, nth) in enumerate(KILL_POINTS):
        apply = i % 2 == 0  # alternate: write applied with its answer lost / never arrived
        total_before = w.emu.admin.stats()["total"]
        outcome = _kill_at(w, operation, nth, apply, w.tmp_path / f"run{i}.log")
        left = duplicates(w.emu.admin.export_site(w.target_id))
        results.append(
            {
                "point": i + 1,
                "phase": phase,
                "operation": operation or "any",
                "nth": nth,
                "applied": apply,
                "outcome": outcome,
                "requests": w.emu.admin.stats()["total"] - total_before,
            }
        )
        assert not left, (results[-1], left, (w.tmp_path / f"run{i}.log").read_text()[-3000:])
    (w.tmp_path / "kill_points.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results))
    killed = [r for r in results if r["outcome"] == "killed"]
    assert len(killed) == len(KILL_POINTS), results
    assert {r["phase"] for r in killed} >= {"extract", "assets", "items", "links", "publish"}

    done = w.cli()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = w.verify()
    assert report.ok, report.format_differences(limit=20)
    assert duplicates(w.emu.admin.export_site(w.target_id)) == []
    assert_source_only_read(w)
    # and the migration is finished: a rerun writes nothing
    w.emu.admin.reset_stats()
    again = w.cli()
    assert again.returncode == 0, again.stdout[-2000:]
    assert w.target_writes() == 0, w.stats(w.target_id)
    assert_source_only_read(w)


INCREMENTAL_POINTS: list[tuple[str, str | None, int]] = [
    ("links", "update-items", 1),
    ("publish", "publish-item", 1),
    ("delete", "delete-items-live", 1),
    ("delete", "delete-items", 1),
]


def test_kill_9_during_an_incremental_sync_then_rerun(demo_world: World) -> None:
    """Source edits, publishes and deletes after a full migration; the sync is killed in its
    update, publish and delete requests (answers lost). The reruns finish it, and our own
    lost writes are never mistaken for edits made in the target (no false conflict)."""
    w = demo_world
    assert w.cli().returncode == 0
    b = w.builder(w.source_id)
    src = w.emu.admin.export_site(w.source_id)
    posts = next(c for c in src["collections"] if c["slug"] == "blog-posts")
    primary = src["site"]["locales"]["primary"]["cmsLocaleId"]
    ids = [it["id"] for it in posts["items"] if it["locales"][primary]["live"] is not None]
    b.update_items(posts["id"], [{"id": i, "fieldData": {"summary": f"v2 {i}"}} for i in ids[:4]])
    b.publish(posts["id"], ids[:2])
    gone = ids[-1]
    referrers = [
        {"id": it["id"], "fieldData": {"related-posts": [r for r in refs if r != gone]}}
        for it in posts["items"]
        if gone
        in (refs := it["locales"][primary]["staged"]["fieldData"].get("related-posts") or [])
    ]
    b.update_items(posts["id"], referrers)  # re-linked away from the item deleted next
    b.call("DELETE", f"/collections/{posts['id']}/items", json={"items": [{"id": gone}]})
    w.emu.admin.reset_stats()
    outcomes = []
    for i, (_phase, operation, nth) in enumerate(INCREMENTAL_POINTS):
        outcomes.append(_kill_at(w, operation, nth, True, w.tmp_path / f"inc{i}.log"))
        assert duplicates(w.emu.admin.export_site(w.target_id)) == []
    assert outcomes == ["killed"] * len(INCREMENTAL_POINTS), outcomes
    done = w.cli()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "CONFLICT" not in done.stdout
    report = w.verify()
    assert report.ok, report.format_differences(limit=20)
    assert_source_only_read(w)
