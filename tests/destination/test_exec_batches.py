"""Ops executed a dlt batch at a time: op rows through dlt as Arrow, uploads of a batch together."""

from __future__ import annotations

import gc

import duckdb
import pyarrow as pa

from destinations.webflow.ops import Op, op_rows, op_table

from .compare import differences
from .conftest import Migrator


def test_op_rows_arrive_as_planned() -> None:
    """Payloads travel as JSON text in an Arrow table: what the handler gets is what was planned
    (None, nesting, unicode, big numbers), and rows of a typed-jsonl package an earlier version
    left pending still pass."""
    payload = {
        "items": [{"id": "a", "field_data": {"name": "Ünïcødé ✓", "n": 2**53, "x": None}}],
        "locales": ["en", "fr"],
        "empty": {},
    }
    ops = [Op("items", "create_items", "c1", payload), Op("assets", "map_folders", None, {})]
    table = op_table(ops)
    rows = op_rows(table.to_batches()[0])
    assert [r["payload"] for r in rows] == [payload, {}]
    assert [(r["op_key"], r["seq"], r["kind"], r["collection"]) for r in rows] == [
        (ops[0].key, 0, "create_items", "c1"),
        (ops[1].key, 1, "map_folders", ""),
    ]
    assert table.schema.field("payload").type == pa.string()
    legacy = [{"op_key": "k", "kind": "create_items", "payload": payload}]
    assert op_rows(legacy)[0]["payload"] == payload


def test_failed_uploads_of_a_batch_are_retried_alone(demo: Migrator) -> None:
    """Some create-asset requests of the one asset batch answer 500 (not applied): the batch
    records the uploads that worked, dlt runs it again, and only the failed files are sent
    again, after one listing of the target's assets for the whole batch. Nothing twice."""
    demo.emulator.admin.configure(
        faults={"seed": 3, "errorRate": 0.3, "statuses": [500], "operations": ["create-asset"]}
    )
    report = demo.migrate()
    demo.emulator.admin.configure(faults={"errorRate": 0.0, "operations": None})
    stats = demo.emulator.admin.stats()
    failed = stats["faults"]["error"]
    assert failed > 0 and report.ok, report.summary()
    ops = demo.target_stats()["byOperation"]
    assert ops["create-asset"] == 13 + failed
    assert stats["external"]["s3-upload"] == 13
    # the planner's read, then one listing per attempt of the batch (one per failed file, as
    # when each op recovered alone, would be 1 + failed: 7 with this seed)
    assert ops["list-assets"] < 1 + failed
    src = demo.emulator.admin.export_site(demo.sites.source_id)
    tgt = demo.emulator.admin.export_site(demo.sites.target_id)
    assert differences(src, tgt) == []
    assert len(tgt["assets"]) == 13
    con = duckdb.connect(report.ledger_path, read_only=True)
    try:
        assert con.execute("select count(*) from intents where status <> 'done'").fetchone() == (0,)
        assert con.execute(
            "select count(*), count(distinct source_id) from audit "
            "where operation = 'create-asset' and status = 'ok'"
        ).fetchone() == (13, 13)
    finally:
        con.close()
    assert gc.get_freeze_count() == 0, "the load left objects frozen"
