"""Fixtures of the source tests: a factory site in the emulator and a runner for real pipelines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from sources.webflow import webflow_source
from sources.webflow.client import WebflowClient

from .site_factory import FactorySite, build_site

DATASET = "webflow"


@dataclass
class RunResult:
    """What one extract run did: rows per table and requests (client's and emulator's count)."""

    row_counts: dict[str, int]
    client_stats: dict[str, Any]
    emulator_stats: dict[str, Any]
    load_id: str | None

    def data_rows(self) -> dict[str, int]:
        """Row counts without dlt's own tables."""
        return {t: n for t, n in self.row_counts.items() if not t.startswith("_dlt")}


class Extractor:
    """Runs the webflow source into one pipeline (DuckDB in tmp_path unless told otherwise)."""

    def __init__(
        self,
        emulator: Any,
        site: FactorySite,
        tmp_path: Path,
        *,
        name: str = "wf_source",
        destination: Any = None,
    ) -> None:
        self.emulator = emulator
        self.site = site
        self.tmp_path = tmp_path
        self.db_path = tmp_path / "staging.duckdb"
        self.asset_store = tmp_path / "assets"
        self.pipelines_dir = tmp_path / "pipelines"
        self.pipeline = dlt.pipeline(
            pipeline_name=name,
            pipelines_dir=str(self.pipelines_dir),
            destination=destination or dlt.destinations.duckdb(str(self.db_path)),
            dataset_name=DATASET,
        )
        self.last_client: WebflowClient | None = None

    def client(self, **overrides: Any) -> WebflowClient:
        options: dict[str, Any] = {
            "read_only": True,
            "requests_per_minute": None,
            "backoff_base": 0.005,
            "backoff_max": 0.05,
        }
        options.update(overrides)
        return WebflowClient(self.site.read_token, self.site.base_url, **options)

    def run(self, client: WebflowClient | None = None, **source_kwargs: Any) -> RunResult:
        client = client or self.client()
        self.last_client = client
        self.emulator.admin.reset_stats()
        source = webflow_source(
            site_id=self.site.site_id,
            api_token=self.site.read_token,
            base_url=self.site.base_url,
            asset_store_path=str(self.asset_store),
            client=client,
            **source_kwargs,
        )
        info = self.pipeline.run(source, **self._run_kwargs())
        trace = self.pipeline.last_trace
        counts = dict(trace.last_normalize_info.row_counts) if trace.last_normalize_info else {}
        load_id = info.loads_ids[-1] if info.loads_ids else None
        return RunResult(counts, client.stats.snapshot(), self.emulator.admin.stats(), load_id)

    def _run_kwargs(self) -> dict[str, Any]:
        return {}

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.db_path))
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def rows(self, table: str, where: str = "true") -> list[dict[str, Any]]:
        con = duckdb.connect(str(self.db_path))
        try:
            cur = con.execute(f"select * from {DATASET}.{table} where {where}")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        finally:
            con.close()

    def tables(self) -> set[str]:
        sql = f"select table_name from information_schema.tables where table_schema = '{DATASET}'"
        return {r[0] for r in self.query(sql)}


@pytest.fixture
def site(emulator: Any) -> FactorySite:
    return build_site(emulator)


@pytest.fixture
def extractor(emulator: Any, site: FactorySite, tmp_path: Path) -> Iterator[Extractor]:
    yield Extractor(emulator, site, tmp_path)


def as_json(value: Any) -> Any:
    """A json column as DuckDB returns it (str) -> Python value."""
    return json.loads(value) if isinstance(value, str) else value
