"""The 400 narrowing of bulk requests, and rich-text rewriting: pure functions, no HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from destinations.webflow.executor import Executor
from destinations.webflow.ledger import open_ledger
from destinations.webflow.transform import Lookups, rewrite_html
from sources.webflow.client import WebflowClient, WebflowValidationError


def _executor(tmp_path: Path) -> Executor:
    client = WebflowClient("t", "http://127.0.0.1:9/v2", read_only=False)
    ex = Executor(client, open_ledger(tmp_path / "l.duckdb"), "site", "run")
    ex._phase = "items"
    return ex


def _batch(n: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [
        ({"id": f"s{i}"}, {"fieldData": {"slug": f"item-{i}", "kind": f"k{i}"}}) for i in range(n)
    ]


def test_named_value_is_dropped_and_the_rest_sent_once_more(tmp_path: Path) -> None:
    sent: list[int] = []

    def send(batch: list[Any]) -> Any:
        sent.append(len(batch))
        if any(b["fieldData"]["kind"] == "k3" for _e, b in batch):
            detail = {"param": "kind", "description": "Invalid option id: 'k3'"}
            raise WebflowValidationError(
                400, "validation_error", "Validation Error", details=[detail]
            )
        return {"items": []}

    done = _executor(tmp_path)._isolate(_batch(7), send, "c", "create-items")
    assert sent == [7, 6]
    assert sum(len(b) for b, _ in done) == 6


def test_unattributable_400_is_bisected_and_always_ends(tmp_path: Path) -> None:
    sent: list[int] = []

    def send(batch: list[Any]) -> Any:
        sent.append(len(batch))
        if any(e["id"] in ("s2", "s5") for e, _b in batch):
            raise WebflowValidationError(400, "validation_error", "Validation Error", details=[])
        return None

    ex = _executor(tmp_path)
    done = ex._isolate(_batch(8), send, "c", "create-items")
    assert {e["id"] for b, _ in done for e, _ in b} == {f"s{i}" for i in range(8)} - {"s2", "s5"}
    assert len(sent) < 16
    ex._flush_audit()
    rejected = ex.ledger.audit_rows("site", "run")
    assert {r["source_id"] for r in rejected if r["status"] == "rejected"} == {"s2", "s5"}


def test_rich_text_images_and_links_point_at_the_target() -> None:
    lookups = Lookups(assets={"abc": {"target_url": "https://t/new.png"}})
    html = '<p><img src="https://s/old.png" alt="x"><a href="https://s/old.png">f</a></p>'
    out = rewrite_html(html, {"https://s/old.png": "abc"}, lookups)
    assert out == '<p><img src="https://t/new.png" alt="x"><a href="https://t/new.png">f</a></p>'
