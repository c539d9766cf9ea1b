"""`migrate()`: plan, then load phase by phase through the dlt destination, then report.

Why one `pipeline.run` per phase: dlt runs a package's tables in no fixed order (and in parallel
threads by default), while items need the collections, fields and files of earlier phases, and
publishing needs the links. Separate runs make the order explicit. A package left pending by an
interrupted run is loaded first (DLT_NOTES trap 3), before the plan is computed, so the plan sees
its writes in the ledger.
"""

from __future__ import annotations

import contextlib
import gc
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
from dlt.common import logger
from dlt.pipeline.exceptions import PipelineStepFailed

from sources.webflow.client import WebflowClient

from . import register_client, webflow
from .errors import SchemaMismatchError, WebflowDestinationError
from .ledger import close_ledger, default_ledger_path, open_ledger
from .ops import op_table
from .plan import Plan, plan_from_staging
from .settings import PHASES, PIPELINE_NAME

MAX_PHASE_ATTEMPTS = 5
"""Loads of one phase while a transient failure leaves its package pending. A POST answered 500
is not retried by the client (it may have been applied); the op's next attempt recovers what it
wrote by slug or MD5, so attempts are cheap and a few 500s in a row must not end the run."""


@dataclass
class CollectionResult:
    slug: str
    source_items: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0


@dataclass
class MigrationReport:
    plan: Plan
    dry_run: bool
    run_id: str = ""
    collections: list[CollectionResult] = field(default_factory=list)
    requests: dict[str, Any] = field(default_factory=dict)
    """The target client's counts: by_operation, by_method, ... (reads and writes)."""
    uploads: int = 0
    seconds: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)
    """Audit rows of this run that were rejected or failed."""
    warnings: list[dict[str, Any]] = field(default_factory=list)
    """Audit rows of this run where a value was left out or changed (the item was written)."""
    ledger_path: str = ""

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def write_requests(self) -> int:
        by_method = self.requests.get("by_method", {})
        return sum(n for m, n in by_method.items() if m != "GET")

    def summary(self) -> str:
        if self.dry_run:
            return "DRY RUN (nothing written)\n" + self.plan.summary()
        head = (
            f"{'collection':<24} {'source':>7} {'created':>8} {'updated':>8} {'same':>6} "
            f"{'failed':>7}"
        )
        lines = [head, "-" * len(head)]
        for c in self.collections:
            lines.append(
                f"{c.slug[:24]:<24} {c.source_items:>7} {c.created:>8} {c.updated:>8} "
                f"{c.unchanged:>6} {c.failed:>7}"
            )
        ops = ", ".join(
            f"{k} {v}" for k, v in sorted(self.requests.get("by_operation", {}).items())
        )
        lines.append("")
        lines.append(
            f"requests: {self.requests.get('requests', 0)} ({self.write_requests} writes); "
            f"uploads {self.uploads}; {self.seconds:.1f} s"
        )
        lines.append(f"by operation: {ops}")
        lines.extend(self.plan.conflict_lines())
        slugs = {c.source_id: c.slug for c in self.plan.collections}
        for label, rows in (("FAILED", self.failures), ("WARNING", self.warnings)):
            for f in rows:
                where = (
                    f"collection {slugs.get(f.get('collection') or '', f.get('collection'))} "
                    if f.get("collection")
                    else ""
                )
                kind = "item" if f.get("collection") else "asset"
                locale = f" ({f['locale']})" if f.get("locale") else ""
                lines.append(
                    f"{label} {f['operation']}: {where}{kind} {f.get('source_id')}{locale} "
                    f"field {f.get('field')}: {f.get('error')}"
                )
        return "\n".join(lines)


def _pipeline(target_site_id: str, pipelines_dir: str | None, destination: Any) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"{PIPELINE_NAME}_{target_site_id}",
        destination=destination,
        pipelines_dir=pipelines_dir,
        dataset_name="webflow_target",
    )


def _run(pipeline: dlt.Pipeline, data: Any = None) -> None:
    """One load, retried while it leaves a package pending for a transient reason."""
    for attempt in range(1, MAX_PHASE_ATTEMPTS + 1):
        try:
            if data is None:
                pipeline.run()
            else:
                pipeline.run(data)
            return
        except PipelineStepFailed as exc:
            cause = exc.__cause__ or exc.exception
            terminal = _terminal_cause(exc)
            if terminal is not None:
                raise terminal from exc
            if attempt == MAX_PHASE_ATTEMPTS or not pipeline.has_pending_data:
                raise
            logger.warning(f"webflow: load failed ({cause!r}); resuming the pending package")
            data = None  # the pending package holds the rest of the phase


def _load_phases(pipeline: dlt.Pipeline, plan: Plan, say: Callable[[str], None]) -> None:
    """One `pipeline.run` per phase, in order, of the phase's op rows as one Arrow table."""
    phases = plan.by_phase()
    for phase in PHASES:
        ops = phases[phase]
        if not ops:
            continue
        say(f"{phase}: {len(ops)} ops, {sum(op.requests for op in ops)} requests")
        resource = dlt.resource(
            op_table(ops), name=phase, table_name=phase, write_disposition="append"
        )
        _run(pipeline, resource)


@contextlib.contextmanager
def _frozen_gc() -> Iterator[None]:
    """Keeps the objects alive before the load (the staged site, the plan: hundreds of
    thousands at 10k items) out of the garbage collector's full collections while it runs: each
    one walked them all (about 1 s of CPU at 10k items) and found nothing to free."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _terminal_cause(exc: BaseException) -> WebflowDestinationError | None:
    seen = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, WebflowDestinationError):
            return e
        stack.extend([e.__cause__, e.__context__, getattr(e, "exception", None)])
    return None


def migrate(
    staging_path: str | Path,
    source_site_id: str | None,
    target_site_id: str,
    target_token: str,
    base_url: str = "https://api.webflow.com/v2",
    *,
    dry_run: bool = False,
    collections: list[str] | None = None,
    ledger_path: str | Path | None = None,
    asset_store_path: str | Path | None = None,
    dataset_name: str | None = None,
    pipelines_dir: str | None = None,
    requests_per_minute: int | None = 60,
    window_seconds: float = 60.0,
    propagate_deletes: bool = True,
    client: WebflowClient | None = None,
    progress: Any = None,
    overwrite_target_edits: bool = False,
    on_delete: str = "delete",
) -> MigrationReport:
    """Migrates the staged source site into the target site (or, with `dry_run`, plans only).

    Raises SchemaMismatchError before any write when the target's schema cannot hold the source,
    and MissingScopeError when the token is refused. One bad item never raises: it is recorded
    in the audit table and listed in `MigrationReport.failures`.
    """
    ledger_file = str(Path(ledger_path) if ledger_path else default_ledger_path(staging_path))
    try:
        started = time.monotonic()
        say = progress or (lambda msg: logger.info(f"webflow: {msg}"))
        client = client or WebflowClient(
            target_token,
            base_url,
            read_only=False,
            requests_per_minute=requests_per_minute,
            window_seconds=window_seconds,
        )
        run_id = uuid.uuid4().hex[:12]
        before = client.stats.snapshot()
        pipeline = None
        if not dry_run:
            register_client(target_site_id, client)
            destination = webflow(
                api_token=target_token,
                site_id=target_site_id,
                ledger_path=ledger_file,
                base_url=client.base_url,
                requests_per_minute=requests_per_minute,
                window_seconds=window_seconds,
                run_id=run_id,
            )
            pipeline = _pipeline(target_site_id, pipelines_dir, destination)
            if pipeline.has_pending_data:
                say("loading the package an interrupted run left pending")
                _run(pipeline)

        plan = plan_from_staging(
            client,
            staging_path,
            source_site_id,
            target_site_id,
            ledger_file,
            collections=collections,
            asset_store_path=asset_store_path,
            dataset_name=dataset_name,
            requests_per_minute=requests_per_minute,
            propagate_deletes=propagate_deletes,
            overwrite_target_edits=overwrite_target_edits,
            on_delete=on_delete,
        )
        report = MigrationReport(plan=plan, dry_run=dry_run, run_id=run_id, ledger_path=ledger_file)
        if dry_run:
            report.requests = _delta(before, client.stats.snapshot())
            report.seconds = time.monotonic() - started
            return report
        if plan.problems:
            raise SchemaMismatchError(plan.problems)
        if pipeline is None:  # pragma: no cover - set above whenever not dry_run
            raise RuntimeError("no pipeline")

        say("plan:\n" + plan.summary())
        with _frozen_gc():
            _load_phases(pipeline, plan, say)
        ledger = open_ledger(ledger_file)
        audit = ledger.audit_rows(target_site_id, run_id)
        # items with a dropped value (e.g. a reference to an item not migrated yet) stay unfinished:
        # the next run writes them again, when the referenced item may exist
        bad = {
            (r["collection"], r["source_id"])
            for r in audit
            if r["status"] in ("rejected", "error", "warning")
        }
        ledger.mark_applied(target_site_id, [a for a in plan.applied if (a[0], a[1]) not in bad])
        report.requests = _delta(before, client.stats.snapshot())
        report.uploads = sum(
            1 for r in audit if r["operation"] == "create-asset" and r["status"] == "ok"
        )
        report.failures = [r for r in audit if r["status"] in ("rejected", "error")]
        report.warnings = [r for r in audit if r["status"] == "warning"]
        report.collections = _results(plan, audit)
        report.seconds = time.monotonic() - started
        return report
    finally:
        # let other processes (and `duckdb -readonly`) open the ledger between runs
        close_ledger(ledger_file)


def _results(plan: Plan, audit: list[dict[str, Any]]) -> list[CollectionResult]:
    created: Counter[str] = Counter()
    updated: dict[str, set[str]] = {}
    failed: dict[str, set[str]] = {}
    for r in audit:
        c = r.get("collection") or ""
        if r["status"] == "ok" and r["operation"] == "create-items":
            created[c] += 1
        elif r["status"] in ("rejected", "error"):
            failed.setdefault(c, set()).add(r.get("source_id") or "")
    out = []
    for s in plan.collections:
        updated[s.source_id] = set()
        out.append(
            CollectionResult(
                slug=s.slug,
                source_items=s.items.source_items,
                created=created[s.source_id],
                updated=max(s.items.update - len(failed.get(s.source_id, set())), 0)
                if s.items.update
                else 0,
                unchanged=s.items.unchanged,
                failed=len(failed.get(s.source_id, set())),
            )
        )
    return out


def _delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    def sub(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
        return {k: v - b.get(k, 0) for k, v in a.items() if v - b.get(k, 0)}

    return {
        "requests": after["requests"] - before["requests"],
        "by_operation": sub(after["by_operation"], before["by_operation"]),
        "by_method": sub(after["by_method"], before["by_method"]),
        "by_status": sub(after["by_status"], before["by_status"]),
        "rate_limited": after["rate_limited"] - before["rate_limited"],
        "retries": after["retries"] - before["retries"],
    }
