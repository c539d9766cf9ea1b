"""Webflow destination: loads a staged Webflow site into another Webflow site.

A dlt custom destination (`@dlt.destination`, name `webflow`, config `[destination.webflow]`)
whose rows are the planned writes of `plan.py` (one row = one op = usually one request), plus the
Python API the CLI calls:

- `plan_migration(...) -> Plan`: what would be written, per collection, and how many requests
  (GETs only: the dry run);
- `migrate(...) -> MigrationReport`: plans, then runs the destination once per phase (schema,
  reference fields, assets, items, links, publish, states, delete) so that every phase finds the
  ids of the phases before it in the ledger.

Data flows one way: extract (sources/webflow) -> staging DuckDB -> plan -> load (here) -> verify.
Lasting state (lookups, intents, audit) is in a DuckDB ledger next to the staging file, so runs
are restartable and idempotent without the pipeline's working directory. Docs: README.md here.
"""

from __future__ import annotations

import threading

import dlt
from dlt.common.schema import TTableSchema
from dlt.common.typing import TDataItems

from sources.webflow.client import WebflowClient
from sources.webflow.settings import DEFAULT_BASE_URL, DEFAULT_REQUESTS_PER_MINUTE

from .errors import (
    MissingScopeError,
    SchemaMismatchError,
    StagingError,
    TargetWriteError,
    WebflowDestinationError,
)
from .executor import Executor
from .ledger import open_ledger
from .ops import op_rows
from .settings import DESTINATION_NAME

__all__ = [
    "MigrationReport",
    "MissingScopeError",
    "Plan",
    "SchemaMismatchError",
    "StagingError",
    "TargetWriteError",
    "WebflowDestinationError",
    "migrate",
    "plan_migration",
    "webflow",
]

OPS_PER_BATCH = 20
"""Ops per dlt batch. dlt commits its offset (a package-state file write) and the ledger its
transaction once per batch instead of once per op; after a kill or an error the batch is run
again from its first op, so at most this many ops are re-sent (updates) or found done in the
ledger (creates)."""

_EXECUTORS: dict[tuple[str, str], Executor] = {}
_CLIENTS: dict[tuple[str, str], WebflowClient] = {}
_LOCK = threading.Lock()


def register_client(site_id: str, client: WebflowClient) -> None:
    """Lets the destination use the caller's client (one pacer, one set of request counts)."""
    with _LOCK:
        _CLIENTS[(client.base_url, site_id)] = client
        for key in [k for k in _EXECUTORS if k[1] == site_id]:
            _EXECUTORS.pop(key)


def _executor(
    ledger_path: str,
    site_id: str,
    api_token: str,
    base_url: str,
    requests_per_minute: int | None,
    window_seconds: float,
    run_id: str,
) -> Executor:
    with _LOCK:
        key = (ledger_path, site_id)
        ex = _EXECUTORS.get(key)
        ledger = open_ledger(ledger_path)
        if ex is None or ex.ledger is not ledger:
            client = _CLIENTS.get((base_url.rstrip("/"), site_id)) or WebflowClient(
                api_token,
                base_url,
                read_only=False,
                requests_per_minute=requests_per_minute,
                window_seconds=window_seconds,
            )
            ex = Executor(client, ledger, site_id, run_id)
            _EXECUTORS[key] = ex
        ex.run_id = run_id or ex.run_id
        return ex


@dlt.destination(
    name=DESTINATION_NAME,
    batch_size=OPS_PER_BATCH,
    naming_convention="direct",
    max_table_nesting=0,
    skip_dlt_columns_and_tables=True,
    loader_parallelism_strategy="sequential",
)
def webflow(
    items: TDataItems,
    table: TTableSchema,
    api_token: str = dlt.secrets.value,
    site_id: str = dlt.config.value,
    ledger_path: str = dlt.config.value,
    base_url: str = DEFAULT_BASE_URL,
    requests_per_minute: int | None = DEFAULT_REQUESTS_PER_MINUTE,
    window_seconds: float = 60.0,
    run_id: str = "",
) -> None:
    """Executes a batch of planned ops, in plan order (`sequential`: one batch at a time;
    requests are paced by the rate limit anyway).

    The batch's ledger writes are committed before this returns and dlt commits its offset
    (`Executor.run_batch`); a batch re-sent after a kill or an error is run again, each op
    checked against the ledger before writing (see `executor.py`).
    """
    ex = _executor(
        ledger_path, site_id, api_token, base_url, requests_per_minute, window_seconds, run_id
    )
    ex.run_batch(op_rows(items))


from .migration import MigrationReport, migrate  # noqa: E402
from .plan import Plan, plan_migration  # noqa: E402
