"""The ledger's held-back writes: read back at once, durable with the next intent, in order.

Inside `deferred()` the ledger keeps an op's new item_map rows, the lastUpdated of its answers
and its intent's `done` in memory and writes them with the next op's statements. These tests
pin what that must not change: every read sees them, the next intent's commit makes them
durable (a kill after it loses nothing), and statements on the same rows keep their order.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import duckdb

from destinations.webflow.ledger import Ledger, close_ledger, open_ledger

SITE = "site"
ROOT = Path(__file__).resolve().parents[2]


def _rows(n: int, prefix: str = "i") -> list[tuple[str, str, str, str, str, None, bool]]:
    return [
        ("coll", f"{prefix}{k}", loc, f"t-{prefix}{k}", f"slug-{prefix}{k}", None, False)
        for k in range(n)
        for loc in ("en", "fr")
    ]


def _committed(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """What another connection sees: committed rows only."""
    con = duckdb.connect(str(path))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _ledger(tmp_path: Path) -> tuple[Ledger, Path]:
    path = tmp_path / "l.duckdb"
    ledger = open_ledger(path)
    ledger.put_locale(SITE, "en", "src-en", "cms-en", True)
    ledger.put_locale(SITE, "fr", "src-fr", "cms-fr", False)
    return ledger, path


def test_held_back_rows_are_read_back_and_committed_with_the_next_intent(tmp_path: Path) -> None:
    ledger, path = _ledger(tmp_path)
    with ledger.deferred():
        ledger.put_items(SITE, _rows(3))
        ledger.set_target_updated(SITE, [("t-i0", "cms-fr", "2026-01-01T00:00:00Z")])
        assert ledger.target_item_ids(SITE) == {f"i{k}": f"t-i{k}" for k in range(3)}
        assert ledger.items(SITE)[("coll", "i0")]["fr"]["target_updated"] == (
            "2026-01-01T00:00:00Z"
        )
        assert _committed(path, "select count(*) from item_map") == [(0,)]
        ledger.begin(SITE, "op-2", "create_items", "coll", {"ids": ["i9"]})
        assert _committed(path, "select count(*) from item_map") == [(6,)]
        assert _committed(
            path,
            "select target_updated from item_map where source_item_id = 'i0' and locale = 'fr'",
        ) == [("2026-01-01T00:00:00Z",)]
        assert _committed(path, "select status from intents") == [("in_flight",)]
    close_ledger(path)


def test_a_kill_after_the_intent_commit_keeps_the_op_before_it(tmp_path: Path) -> None:
    """What a finished op held back is durable once the next op's intent is: kill -9 right
    after it, and the rerun finds the first op done and its items mapped."""
    path = tmp_path / "l.duckdb"
    child = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from destinations.webflow.ledger import open_ledger
        ledger = open_ledger({str(path)!r})
        with ledger.deferred():
            ledger.begin("site", "op-1", "create_items", "coll", {{"ids": ["a"]}})
            ledger.put_items("site", [("coll", "a", "en", "t-a", "slug-a", None, False)])
            ledger.finish("site", "op-1")
            ledger.begin("site", "op-2", "create_items", "coll", {{"ids": ["b"]}})
            ledger.put_items("site", [("coll", "b", "en", "t-b", "slug-b", None, False)])
            os._exit(9)
        """
    )
    subprocess.run([sys.executable, "-c", child], check=False, timeout=120)
    ledger = open_ledger(path)
    try:
        assert ledger.op_status(SITE, "op-1") == "done"
        assert ledger.op_status(SITE, "op-2") == "in_flight"
        assert ledger.target_item_ids(SITE) == {"a": "t-a"}
        assert [i["op_key"] for i in ledger.in_flight(SITE)] == ["op-2"]
    finally:
        close_ledger(path)


def test_a_mapped_item_written_again_replaces_the_held_back_row(tmp_path: Path) -> None:
    ledger, path = _ledger(tmp_path)
    with ledger.deferred():
        ledger.put_items(SITE, _rows(2))
        # adopted again with another target id: an upsert, after the held-back insert
        ledger.put_items(SITE, [("coll", "i1", "en", "t-other", "slug-i1", None, False)])
        ledger.set_slugs(SITE, [("coll", "i0", "fr", "new-slug")])
    assert _committed(
        path, "select source_item_id, locale, target_item_id, slug from item_map order by 1, 2"
    ) == [
        ("i0", "en", "t-i0", "slug-i0"),
        ("i0", "fr", "t-i0", "new-slug"),
        ("i1", "en", "t-other", "slug-i1"),
        ("i1", "fr", "t-i1", "slug-i1"),
    ]
    close_ledger(path)


def test_the_last_last_updated_of_a_row_wins(tmp_path: Path) -> None:
    """Our own write forgets a row's lastUpdated before its request and sets it from the
    answer; held back, the value written is still the last one given."""
    ledger, path = _ledger(tmp_path)
    ledger.put_items(SITE, _rows(2))
    with ledger.deferred():
        ledger.set_target_updated(SITE, [("t-i0", "cms-en", "v1"), ("t-i1", "cms-en", "v1")])
        ledger.forget_target_updated(SITE, [("t-i0", "cms-en")])
        ledger.commit()  # the forget is durable before the request
        assert _committed(
            path, "select target_updated from item_map where locale = 'en' order by 1 nulls first"
        ) == [(None,), ("v1",)]
        ledger.set_target_updated(SITE, [("t-i0", "cms-en", "v2")])
    assert _committed(
        path,
        "select source_item_id, target_updated from item_map where locale = 'en' order by 1",
    ) == [("i0", "v2"), ("i1", "v1")]
    close_ledger(path)


def test_finished_intents_are_not_in_flight_for_any_reader(tmp_path: Path) -> None:
    ledger, path = _ledger(tmp_path)
    with ledger.deferred():
        ledger.begin(SITE, "op-1", "upload_asset", "", {"md5": "a"})
        ledger.finish(SITE, "op-1")
        assert ledger.op_status(SITE, "op-1") == "done"
        assert ledger.in_flight(SITE) == []
        assert _committed(path, "select status from intents") == [("in_flight",)]
    assert _committed(path, "select status from intents") == [("done",)]
    close_ledger(path)
    assert open_ledger(path).op_status(SITE, "op-1") == "done"
    close_ledger(path)


def test_many_rows_read_back_the_same_whichever_way_they_are_passed(tmp_path: Path) -> None:
    """A few rows go to DuckDB as list parameters, thousands as an Arrow table: same rows,
    NULLs and types included."""
    ledger, path = _ledger(tmp_path)

    def audit(n: int, run: str) -> list[dict[str, Any]]:
        rows = [
            {
                "run_id": run,
                "site": SITE,
                "phase": "items",
                "operation": "create-items",
                "status": "rejected" if k % 2 else "ok",
                "source_id": f"s{k}",
                "http_status": 400 if k % 2 else None,
                "field": None,
            }
            for k in range(n)
        ]
        ledger.audit_many(rows)
        return sorted(
            ({k: v for k, v in r.items() if k != "ts"} for r in ledger.audit_rows(SITE, run)),
            key=lambda r: int(r["source_id"][1:]),
        )

    few, many = audit(3, "few"), audit(1500, "many")
    assert len(many) == 1500
    strip = [{k: v for k, v in r.items() if k != "run_id"} for r in few]
    assert strip == [{k: v for k, v in r.items() if k != "run_id"} for r in many[:3]]
    assert few[1]["http_status"] == 400 and few[0]["http_status"] is None
    close_ledger(path)
