"""The destination's lasting memory in DuckDB: id lookups, write intents and the audit trail.

Why DuckDB and not dlt state: a custom destination does not sync state, so whatever lives only in
the pipeline's working directory is lost with it (DLT_NOTES section 1). The ledger lives in its own
file next to the staging database (`<staging>.ledger.duckdb`) so a `--full` re-extraction that
replaces the staging file keeps every source -> target mapping. Every table carries
`target_site_id`: one ledger can serve several targets.

One connection per Ledger, guarded by a lock: load jobs may run on dlt's worker threads, and a
read-write connection of the same process is the only kind DuckDB lets us mix (DLT_NOTES trap 8).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from .settings import LEDGER_SUFFIX

try:  # bulk rows go to DuckDB as an Arrow table: binding thousands of `?` is the slow part
    import pyarrow as _pa
except ImportError:  # pragma: no cover - a dependency; VALUES still work without it
    _pa = None

_DDL = """
create table if not exists locale_map (
    target_site_id varchar, tag varchar, source_cms_locale_id varchar,
    target_cms_locale_id varchar, is_primary boolean,
    primary key (target_site_id, tag));
create table if not exists collection_map (
    target_site_id varchar, source_collection_id varchar, target_collection_id varchar,
    slug varchar, primary key (target_site_id, source_collection_id));
create table if not exists field_map (
    target_site_id varchar, source_collection_id varchar, source_slug varchar,
    target_slug varchar, target_field_id varchar, type varchar,
    primary key (target_site_id, source_collection_id, source_slug));
create table if not exists option_map (
    target_site_id varchar, source_collection_id varchar, field_slug varchar,
    option_name varchar, target_option_id varchar,
    primary key (target_site_id, source_collection_id, field_slug, option_name));
create table if not exists folder_map (
    target_site_id varchar, source_folder_id varchar, target_folder_id varchar,
    name varchar, primary key (target_site_id, source_folder_id));
create table if not exists asset_map (
    target_site_id varchar, md5 varchar, target_asset_id varchar, target_url varchar,
    file_name varchar, alt_text varchar, display_name varchar,
    primary key (target_site_id, md5));
create table if not exists asset_source (
    target_site_id varchar, source_key varchar, md5 varchar,
    primary key (target_site_id, source_key));
create table if not exists item_map (
    target_site_id varchar, source_collection_id varchar, source_item_id varchar,
    locale varchar, target_item_id varchar, slug varchar, applied_hash varchar,
    is_live boolean, updated_at timestamp,
    primary key (target_site_id, source_collection_id, source_item_id, locale));
alter table item_map add column if not exists applied_data json;
alter table item_map add column if not exists target_updated varchar;
create table if not exists intents (
    target_site_id varchar, op_key varchar, kind varchar, collection varchar,
    payload json, status varchar, updated_at timestamp,
    primary key (target_site_id, op_key));
create table if not exists conflict_watermark (
    target_site_id varchar, source_collection_id varchar, since varchar, updated_at timestamp,
    primary key (target_site_id, source_collection_id));
create table if not exists target_edit (
    target_site_id varchar, target_item_id varchar, locale varchar, last_updated varchar,
    source_collection_id varchar, primary key (target_site_id, target_item_id, locale));
create table if not exists target_schema (
    target_site_id varchar, target_collection_id varchar, last_updated varchar, body json,
    primary key (target_site_id, target_collection_id));
create table if not exists audit (
    ts timestamp, run_id varchar, target_site_id varchar, phase varchar, operation varchar,
    collection varchar, source_id varchar, target_id varchar, locale varchar, status varchar,
    http_status integer, field varchar, error varchar);
"""

_LEDGERS: dict[str, Ledger] = {}
_LEDGERS_LOCK = threading.Lock()


def default_ledger_path(staging_path: str | Path) -> Path:
    """`webflow.duckdb` -> `webflow.ledger.duckdb`, in the same directory."""
    p = Path(staging_path).resolve()
    return p.with_name(p.name.removesuffix(".duckdb") + LEDGER_SUFFIX)


def open_ledger(path: str | Path) -> Ledger:
    """The process-wide Ledger of `path` (one connection per file and process)."""
    key = str(Path(path).resolve())
    with _LEDGERS_LOCK:
        ledger = _LEDGERS.get(key)
        if ledger is None or ledger.closed:
            ledger = Ledger(key)
            _LEDGERS[key] = ledger
        return ledger


def close_ledger(path: str | Path) -> None:
    """Closes the file's connection so other processes (or `duckdb -readonly`) can open it."""
    key = str(Path(path).resolve())
    with _LEDGERS_LOCK:
        ledger = _LEDGERS.pop(key, None)
    if ledger is not None:
        ledger.close()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


TABLES = frozenset(re.findall(r"create table if not exists (\w+)", _DDL))
"""Every table of a ledger file (the CLI refuses a ledger file holding any other table)."""
_WORDS = re.compile(r"\w+")
_PLACEHOLDERS = re.compile(r"^\(\s*\?(?:\s*,\s*\?)*\s*\)$")
_ARROW_MIN_ROWS = 1000
"""From this many rows a registered Arrow table passes them faster than list parameters."""
_MAP_TABLES = {"ids": "item_map", "assets": "asset_map", "intents": "intents"}
"""The ledger's write-through maps (`Ledger._maps`) and the table each one mirrors."""
_ASSET_KEYS = ("target_asset_id", "target_url", "file_name", "alt_text", "display_name")
_ITEM_COLUMNS = (
    "target_site_id, source_collection_id, source_item_id, locale, target_item_id, slug, "
    "applied_hash, is_live, updated_at"
)


def _known(keys: Sequence[str], existing: Container[str]) -> list[bool]:
    """Per key: it may have a row already (in `existing`, or twice in `keys`)."""
    counts = Counter(keys)
    return [k in existing or counts[k] > 1 for k in keys]


def _tables_in(sql: str) -> frozenset[str]:
    """The ledger tables a statement names (for the read cache's invalidation)."""
    return TABLES.intersection(_WORDS.findall(sql.lower()))


class Ledger:
    """Lookup tables (source -> target ids), write intents and the audit table of one file."""

    def __init__(self, path: str) -> None:
        self.path = path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(path)
        self._lock = threading.RLock()
        self.closed = False
        # results of selects, by (sql, params), until a write touches one of their tables: the
        # op handlers read the same lookup maps for every op, and only this connection writes
        self._reads: dict[tuple[str, tuple[Any, ...]], tuple[frozenset[str], list]] = {}
        # per (map, site): lookup maps the op handlers read for every op (target item ids,
        # assets, intent status) and whose own writers keep them up to date instead of
        # re-reading thousands of rows after each write; any other write to their table drops
        # them, like `_reads`
        self._maps: dict[tuple[str, str], dict[str, Any]] = {}
        self._deferring = False  # inside `deferred()`: writes share one transaction
        self._in_txn = False
        # writes held back until the deferred transaction commits (or a statement names their
        # table, `_settle`): an op's new item_map rows, the lastUpdated of its answers and its
        # intent's `done` then go in with the next op's statements instead of one statement
        # each (see `_flush_items`)
        self._new_items: dict[tuple[str, str, str, str], list[Any]] = {}
        self._new_by_target: dict[tuple[str, str, str], list[Any]] = {}
        self._updated: dict[tuple[str, str, str], str | None] = {}
        self._done: dict[tuple[str, str], None] = {}
        with self._lock:
            self._con.execute(_DDL)

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.commit()
                self._con.close()
                self.closed = True
                self._reads.clear()
                self._maps.clear()

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """The writes of the block share one transaction, committed when it ends (also when it
        raises) or earlier by `commit()`: one commit per op instead of one per statement (each
        commit syncs the file). `begin` commits at once, so an intent is durable before its
        request is sent. Holds the ledger's lock for the block."""
        with self._lock:
            if self._deferring:
                yield
                return
            self._deferring = True
            try:
                yield
            finally:
                try:
                    self.commit()
                finally:
                    self._deferring = False

    def commit(self) -> None:
        """Commits the writes deferred so far (no-op outside `deferred()`)."""
        with self._lock:
            try:
                self._settle(frozenset(_MAP_TABLES.values()))
                if self._in_txn:
                    self._con.execute("commit")
                    self._in_txn = False
            except duckdb.Error:
                self._rollback()
                raise

    def _rollback(self) -> None:
        """Rolls the deferred transaction back, with everything that mirrors its writes."""
        self._reads.clear()
        self._maps.clear()
        for held in (self._new_items, self._new_by_target, self._updated, self._done):
            held.clear()
        if self._in_txn:
            self._in_txn = False
            self._con.execute("rollback")

    def _write(self) -> None:
        """Before a write statement: opens the deferred transaction when there is one."""
        if self._deferring and not self._in_txn:
            self._con.execute("begin transaction")
            self._in_txn = True

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            if not sql.lstrip().lower().startswith("select"):
                self._invalidate(sql)
                self._write()
                return self._con.execute(sql, list(params)).fetchall()
            if self._new_items or self._updated or self._done:
                self._settle(_tables_in(sql))
            key = (sql, tuple(params))
            hit = self._reads.get(key)
            if hit is None:
                rows = self._con.execute(sql, list(params)).fetchall()
                hit = self._reads[key] = (_tables_in(sql), rows)
            return list(hit[1])

    def _invalidate(self, sql: str) -> None:
        """Forgets cached selects (and write-through maps) of the tables a write names, after
        writing what was held back for them (so statements keep their order)."""
        touched = _tables_in(sql)
        self._settle(touched)
        if touched and self._reads:
            for key in [k for k, (tables, _) in self._reads.items() if tables & touched]:
                del self._reads[key]
        if touched and self._maps:
            for key in [k for k in self._maps if _MAP_TABLES[k[0]] in touched]:
                del self._maps[key]

    def _settle(self, tables: frozenset[str]) -> None:
        """Writes what is held back for `tables` (before a statement that names them)."""
        if "item_map" in tables and (self._new_items or self._updated):
            self._flush_items()
        if "intents" in tables and self._done:
            done, self._done = list(self._done), {}
            self._update_done(done)

    def _flush_items(self) -> None:
        """The held-back item_map writes: new rows in one plain insert (an `insert or replace`
        costs several times more), then the lastUpdated of rows already there in one update."""
        rows, self._new_items, self._new_by_target = list(self._new_items.values()), {}, {}
        updated, self._updated = self._updated, {}
        sites = {r[0] for r in rows} | {k[0] for k in updated}
        with self._keeping(*[("ids", site) for site in sites]):
            self._many(
                f"insert into item_map ({_ITEM_COLUMNS}, target_updated) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._write_target_updated(updated.items())

    def _write_target_updated(
        self, keyed: Iterable[tuple[tuple[str, str, str], str | None]]
    ) -> None:
        """Sets `target_updated` of ((site, target item id, locale tag), lastUpdated) pairs."""
        self._update_many(
            "item_map",
            ["target_site_id", "target_item_id", "locale"],
            ["target_updated"],
            [[ts, *key] for key, ts in keyed],
        )

    def _map(
        self,
        name: str,
        site: str,
        sql: str,
        build: Callable[[list[tuple[Any, ...]]], dict[str, Any]] = dict,
    ) -> dict[str, Any]:
        """The write-through map `name` of `site` (caller holds the lock; callers must not
        change it): `build` of the rows of `sql` (one `?`, the site), read once after what is
        held back for its table is written, then kept current by its writers (`_keeping`)."""
        found = self._maps.get((name, site))
        if found is None:
            self._settle(frozenset({_MAP_TABLES[name]}))
            found = self._maps[(name, site)] = build(self._con.execute(sql, [site]).fetchall())
        return found

    @contextlib.contextmanager
    def _keeping(self, *keys: tuple[str, str]) -> Iterator[dict[tuple[str, str], dict[str, Any]]]:
        """For a writer that knows how its write changes these maps: they survive the write's
        invalidation (the caller updates them in the dict yielded). When the write raises they
        stay dropped, so the next read goes to the table."""
        with self._lock:
            kept = {k: self._maps[k] for k in keys if k in self._maps}
            yield kept
            self._maps.update(kept)

    def _arrow_rows(self, names: Sequence[str], rows: list[Sequence[Any]]) -> Any:
        """`rows` as an Arrow table with columns `names`, or None when Arrow cannot type them
        (e.g. mixed types in a column)."""
        if _pa is None:
            return None
        try:
            return _pa.table({n: _pa.array([r[i] for r in rows]) for i, n in enumerate(names)})
        except (_pa.ArrowInvalid, _pa.ArrowTypeError, _pa.ArrowNotImplementedError):
            return None

    @contextlib.contextmanager
    def _rows_as(
        self, names: Sequence[str], rows: list[Sequence[Any]]
    ) -> Iterator[tuple[str, list[Any]]]:
        """A `select` giving `rows` as columns `names`, with its parameters (caller holds the
        lock): one list parameter per column, unnested, or for thousands of rows an Arrow table
        registered as `_ledger_rows` (registering costs about a millisecond, several times what
        a few hundred rows cost as lists; DuckDB's executemany runs one statement per row)."""
        table = self._arrow_rows(names, rows) if len(rows) >= _ARROW_MIN_ROWS else None
        if table is None:
            columns = ", ".join(f"unnest(?) as {n}" for n in names)
            yield f"select {columns}", [list(c) for c in zip(*rows, strict=True)]
            return
        self._con.register("_ledger_rows", table)
        try:
            yield "select * from _ledger_rows", []
        finally:
            self._con.unregister("_ledger_rows")

    def _many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """`insert ... values (?, ...)` for many rows in one statement."""
        rows = list(rows)
        if not rows:
            return
        head, _, tuple_sql = sql.rpartition("values")
        if not _PLACEHOLDERS.match(tuple_sql.strip()):
            raise ValueError(f"not one placeholder per column: {sql}")
        with self._lock:
            self._invalidate(head)
            self._write()
            with self._rows_as([f"c{i}" for i in range(len(rows[0]))], rows) as (select, params):
                self._con.execute(f"{head} {select}", params)

    def _upsert(self, table: str, rows: list[Sequence[Any]], known: list[bool]) -> None:
        """Rows of all of `table`'s columns, `known[i]` telling whether row i's key may be there
        already: those go in with `insert or replace`, the others with a plain insert, which
        costs a fraction (an upsert is several milliseconds however few rows it has)."""
        marks = "(" + ", ".join("?" for _ in rows[0]) + ")" if rows else "()"
        old = [r for r, k in zip(rows, known, strict=True) if k]
        new = [r for r, k in zip(rows, known, strict=True) if not k]
        self._many(f"insert or replace into {table} values {marks}", old)
        self._many(f"insert into {table} values {marks}", new)

    def _update_many(self, table: str, key: Sequence[str], cols: Sequence[str], rows: list) -> None:
        """Updates `cols` of the rows matching `key` (both given per row) in one statement."""
        if not rows:
            return
        assign = ", ".join(f"{c} = v.{c}" for c in cols)
        match = " and ".join(f"{table}.{k} = v.{k}" for k in key)
        with self._lock:
            self._invalidate(table)
            self._write()
            with self._rows_as([*cols, *key], rows) as (select, params):
                self._con.execute(
                    f"update {table} set {assign} from ({select}) v where {match}", params
                )

    # locales, collections, fields, options

    def put_locale(
        self, site: str, tag: str, source_id: str, target_id: str, primary: bool
    ) -> None:
        self._exec(
            "insert or replace into locale_map values (?, ?, ?, ?, ?)",
            (site, tag, source_id, target_id, primary),
        )

    def locales(self, site: str) -> dict[str, str]:
        """Locale tag -> target cmsLocaleId."""
        rows = self._exec(
            "select tag, target_cms_locale_id from locale_map where target_site_id = ?", (site,)
        )
        return dict(rows)

    def put_collection(self, site: str, source_id: str, target_id: str, slug: str) -> None:
        self._exec(
            "insert or replace into collection_map values (?, ?, ?, ?)",
            (site, source_id, target_id, slug),
        )

    def collections(self, site: str) -> dict[str, str]:
        """Source collection id -> target collection id."""
        rows = self._exec(
            "select source_collection_id, target_collection_id from collection_map "
            "where target_site_id = ?",
            (site,),
        )
        return dict(rows)

    def put_fields(self, site: str, rows: Iterable[tuple[str, str, str, str, str]]) -> None:
        """Rows of (source collection id, source slug, target slug, target field id, type)."""
        self._many(
            "insert or replace into field_map values (?, ?, ?, ?, ?, ?)",
            ((site, *r) for r in rows),
        )

    def fields(self, site: str) -> dict[str, dict[str, str]]:
        """Source collection id -> source field slug -> target field slug."""
        out: dict[str, dict[str, str]] = {}
        for coll, src, tgt in self._exec(
            "select source_collection_id, source_slug, target_slug from field_map "
            "where target_site_id = ?",
            (site,),
        ):
            out.setdefault(coll, {})[src] = tgt
        return out

    def put_options(self, site: str, rows: Iterable[tuple[str, str, str, str]]) -> None:
        """Rows of (source collection id, field slug, option name, target option id)."""
        self._many(
            "insert or replace into option_map values (?, ?, ?, ?, ?)",
            ((site, *r) for r in rows),
        )

    def options(self, site: str) -> dict[tuple[str, str], dict[str, str]]:
        """(source collection id, source field slug) -> option name -> target option id."""
        out: dict[tuple[str, str], dict[str, str]] = {}
        for coll, fslug, name, oid in self._exec(
            "select source_collection_id, field_slug, option_name, target_option_id "
            "from option_map where target_site_id = ?",
            (site,),
        ):
            out.setdefault((coll, fslug), {})[name] = oid
        return out

    # folders and assets

    def put_folder(self, site: str, source_id: str, target_id: str, name: str) -> None:
        self._exec(
            "insert or replace into folder_map values (?, ?, ?, ?)",
            (site, source_id, target_id, name),
        )

    def folders(self, site: str) -> dict[str, str]:
        rows = self._exec(
            "select source_folder_id, target_folder_id from folder_map where target_site_id = ?",
            (site,),
        )
        return dict(rows)

    def put_asset(
        self,
        site: str,
        md5: str,
        target_id: str,
        target_url: str,
        file_name: str,
        alt_text: str | None = None,
        display_name: str | None = None,
    ) -> None:
        self.put_assets(site, [(md5, target_id, target_url, file_name, alt_text, display_name)])

    def put_assets(
        self, site: str, rows: Iterable[tuple[str, str, str, str, str | None, str | None]]
    ) -> None:
        """Rows of (md5, target asset id, target url, file name, alt text, display name), in one
        statement (an `insert or replace` costs milliseconds however few rows it has)."""
        rows = list(rows)
        with self._lock:
            known = self._assets(site)
            with self._keeping(("assets", site)) as kept:
                self._upsert(
                    "asset_map", [(site, *r) for r in rows], _known([r[0] for r in rows], known)
                )
                kept[("assets", site)].update(
                    (r[0], dict(zip(_ASSET_KEYS, r[1:], strict=True))) for r in rows
                )

    def assets(self, site: str) -> dict[str, dict[str, Any]]:
        """MD5 -> {target_asset_id, target_url, file_name, alt_text, display_name}."""
        with self._lock:
            return {md5: dict(a) for md5, a in self._assets(site).items()}

    def _assets(self, site: str) -> dict[str, dict[str, Any]]:
        """`assets`' map itself (callers must not change it)."""
        return self._map(
            "assets",
            site,
            "select md5, target_asset_id, target_url, file_name, alt_text, display_name "
            "from asset_map where target_site_id = ?",
            lambda rows: {r[0]: dict(zip(_ASSET_KEYS, r[1:], strict=True)) for r in rows},
        )

    def put_asset_sources(self, site: str, rows: Iterable[tuple[str, str]]) -> None:
        """Rows of (source asset id or source url, md5): the lookup by source key."""
        self._many(
            "insert or replace into asset_source values (?, ?, ?)", ((site, *r) for r in rows)
        )

    def asset_lookup(self, site: str) -> dict[str, dict[str, Any]]:
        """Source asset id / source url -> target asset (joined through the MD5)."""
        rows = self._exec(
            "select s.source_key, a.target_asset_id, a.target_url from asset_source s "
            "join asset_map a on a.target_site_id = s.target_site_id and a.md5 = s.md5 "
            "where s.target_site_id = ?",
            (site,),
        )
        return {r[0]: {"target_asset_id": r[1], "target_url": r[2]} for r in rows}

    # items

    def put_items(
        self,
        site: str,
        rows: Iterable[tuple[str, str, str, str, str, str | None, bool]],
    ) -> None:
        """Rows of (source coll, source item, locale, target item, slug, applied hash, live).

        A NULL applied hash marks an item created but not yet finished (links, publish, states):
        the next plan updates it again. Inside `deferred()`, rows of items the ledger has never
        mapped are held back and inserted with the transaction (`_flush_items`).
        """
        now = _now()
        rows = list(rows)
        with self._lock:
            mapped = self._ids(site) if self._deferring else None
            if mapped is not None and self._all_new(mapped, rows):
                for r in rows:
                    row = [site, *r, now, None]
                    self._new_items[(site, r[0], r[1], r[2])] = row
                    self._new_by_target[(site, r[3], r[2])] = row
                mapped.update((r[1], r[3]) for r in rows)
                return
            with self._keeping(("ids", site)) as kept:
                self._many(
                    f"insert or replace into item_map ({_ITEM_COLUMNS}) "
                    "values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    ((site, *r, now) for r in rows),
                )
                if ("ids", site) in kept:
                    kept[("ids", site)].update((r[1], r[3]) for r in rows)

    @staticmethod
    def _all_new(mapped: dict[str, str], rows: list[tuple[Any, ...]]) -> bool:
        """No item of `rows` is mapped yet (nor twice in `rows`): a plain insert can take them."""
        return not any(r[1] in mapped for r in rows) and len({r[:3] for r in rows}) == len(rows)

    def items(self, site: str) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
        """(source coll, source item) -> locale -> {target_item_id, slug, applied_hash, is_live,
        applied_data (the source version last applied, or None), target_updated (the target
        copy's lastUpdated after our last write, or None)}."""
        out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        for coll, item, loc, tid, slug, h, live, data, updated in self._exec(
            "select source_collection_id, source_item_id, locale, target_item_id, slug, "
            "applied_hash, is_live, applied_data, target_updated from item_map "
            "where target_site_id = ?",
            (site,),
        ):
            out.setdefault((coll, item), {})[loc] = {
                "target_item_id": tid,
                "slug": slug,
                "applied_hash": h,
                "is_live": live,
                "applied_data": json.loads(data) if data else None,
                "target_updated": updated,
            }
        return out

    def target_item_ids(self, site: str) -> dict[str, str]:
        """Source item id -> target item id (ids are the same in every locale)."""
        with self._lock:
            return dict(self._ids(site))

    def _ids(self, site: str) -> dict[str, str]:
        """`target_item_ids`' map itself (callers must not change it)."""
        return self._map(
            "ids",
            site,
            "select distinct source_item_id, target_item_id from item_map where target_site_id = ?",
        )

    def mark_applied(
        self, site: str, rows: Iterable[tuple[str, str, str, str, bool, str | None]]
    ) -> None:
        """Rows of (source coll, source item, locale, applied hash, live, applied version as
        JSON) after a finished run; the version lets the next run send only changed fields."""
        now = _now()
        with self._keeping(("ids", site)):
            self._update_many(
                "item_map",
                ["target_site_id", "source_collection_id", "source_item_id", "locale"],
                ["applied_hash", "is_live", "updated_at", "applied_data"],
                [[h, live, now, data, site, c, i, loc] for c, i, loc, h, live, data in rows],
            )

    def set_target_updated(self, site: str, rows: Iterable[tuple[str, str, str]]) -> None:
        """Rows of (target item id, target cmsLocaleId, lastUpdated) from the answers to our
        writes: a later lastUpdated in the target means someone else edited it (a conflict)."""
        self._put_target_updated(site, [(tid, loc, ts) for tid, loc, ts in rows if ts])

    def set_slugs(self, site: str, rows: Iterable[tuple[str, str, str, str]]) -> None:
        """Rows of (source coll, source item, locale, slug) after a slug was written."""
        with self._keeping(("ids", site)):
            self._update_many(
                "item_map",
                ["target_site_id", "source_collection_id", "source_item_id", "locale"],
                ["slug"],
                [[slug, site, c, i, loc] for c, i, loc, slug in rows],
            )

    def forget_target_updated(self, site: str, rows: Iterable[tuple[str, str]]) -> None:
        """Rows of (target item id, target cmsLocaleId) about to be written: until the answer
        is recorded their lastUpdated is unknown, so a lost answer (or kill -9) can never make
        our own write look like someone else's edit."""
        self._put_target_updated(site, [(tid, loc, None) for tid, loc in rows])

    def _put_target_updated(self, site: str, rows: list[tuple[str, str, str | None]]) -> None:
        """Sets `target_updated` of (target item id, target cmsLocaleId) rows (held back
        inside `deferred()`, see `_flush_items`)."""
        if not rows:
            return
        locales = {v: k for k, v in self.locales(site).items()}
        keyed = [((site, tid, locales.get(loc, loc)), ts) for tid, loc, ts in rows]
        with self._lock:
            if self._deferring:
                for key, ts in keyed:
                    row = self._new_by_target.get(key)
                    if row is not None:
                        row[-1] = ts
                    else:
                        self._updated[key] = ts
                return
            with self._keeping(("ids", site)):
                self._write_target_updated(keyed)

    def retire_items(self, site: str, collection: str, ids: Sequence[str], mark: str) -> None:
        """Marks items gone from the source that stay in the target (archived or kept)."""
        now = _now()
        with self._keeping(("ids", site)):
            self._update_many(
                "item_map",
                ["target_site_id", "source_collection_id", "source_item_id"],
                ["applied_hash", "is_live", "updated_at"],
                [[mark, False, now, site, collection, i] for i in ids],
            )

    def forget_items(self, site: str, rows: Iterable[tuple[str, str]]) -> None:
        """Drops (source coll, source item) mappings of items deleted in the target."""
        rows = list(rows)
        if not rows:
            return
        with self._lock, self._keeping(("ids", site)) as kept:
            self._invalidate("item_map")
            self._write()
            with self._rows_as(["c", "i"], rows) as (select, params):
                self._con.execute(
                    f"delete from item_map using ({select}) v where item_map.target_site_id = ? "
                    "and item_map.source_collection_id = v.c and item_map.source_item_id = v.i",
                    [*params, site],
                )
            if ("ids", site) in kept:
                for _c, i in rows:
                    kept[("ids", site)].pop(i, None)

    # what the target was seen to hold (so an incremental run need not read it again)

    def locale_rows(self, site: str) -> list[tuple[str, str, bool]]:
        """(tag, target cmsLocaleId, is primary) of the locales mapped so far."""
        rows = self._exec(
            "select tag, target_cms_locale_id, is_primary from locale_map "
            "where target_site_id = ? order by is_primary desc, tag",
            (site,),
        )
        return [(t, c, bool(p)) for t, c, p in rows]

    def folder_rows(self, site: str) -> list[tuple[str, str, str]]:
        """(source folder id, target folder id, name) of the folders mapped so far."""
        return self._exec(
            "select source_folder_id, target_folder_id, name from folder_map "
            "where target_site_id = ?",
            (site,),
        )

    def target_asset_count(self, site: str) -> int:
        """Distinct target assets the ledger knows (compared with the target's asset total)."""
        rows = self._exec(
            "select count(distinct target_asset_id) from asset_map where target_site_id = ?",
            (site,),
        )
        return int(rows[0][0]) if rows else 0

    def target_schema(self, site: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """Target collection id -> (its lastUpdated, its collection-details answer) as last read:
        still valid while list-collections shows the same lastUpdated."""
        rows = self._exec(
            "select target_collection_id, last_updated, body from target_schema "
            "where target_site_id = ?",
            (site,),
        )
        return {tid: (updated, json.loads(body)) for tid, updated, body in rows}

    def put_target_schema(self, site: str, rows: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        """Rows of (target collection id, lastUpdated, collection-details answer)."""
        self._many(
            "insert or replace into target_schema values (?, ?, ?, ?)",
            ((site, tid, updated, json.dumps(body)) for tid, updated, body in rows),
        )

    # conflict check: per collection, the target's changes before `since` have been looked at

    def conflict_watermarks(self, site: str) -> dict[str, str]:
        """Source collection id -> lastUpdated from which the target's changes are unseen."""
        rows = self._exec(
            "select source_collection_id, since from conflict_watermark where target_site_id = ?",
            (site,),
        )
        return dict(rows)

    def put_conflict_watermarks(self, site: str, rows: Iterable[tuple[str, str]]) -> None:
        """Rows of (source collection id, since)."""
        now = _now()
        self._many(
            "insert or replace into conflict_watermark values (?, ?, ?, ?)",
            ((site, c, since, now) for c, since in rows),
        )

    def target_edits(self, site: str) -> dict[tuple[str, str], str]:
        """(target item id, locale tag) -> the latest lastUpdated seen in the target that was
        not one of our writes (an edit made there; a conflict while it is later than ours)."""
        rows = self._exec(
            "select target_item_id, locale, last_updated from target_edit where target_site_id = ?",
            (site,),
        )
        return {(tid, loc): ts for tid, loc, ts in rows}

    def put_target_edits(self, site: str, rows: Iterable[tuple[str, str, str, str]]) -> None:
        """Rows of (target item id, locale tag, lastUpdated seen, source collection id)."""
        self._many(
            "insert or replace into target_edit values (?, ?, ?, ?, ?)",
            ((site, tid, loc, ts, c) for tid, loc, ts, c in rows),
        )

    # intents: a write about to be sent, so a lost response can be recovered by natural key

    def begin(self, site: str, op_key: str, kind: str, collection: str, payload: Any) -> None:
        """Records an intent, durably (commits what `deferred()` held back too)."""
        self.begin_many(site, [(op_key, kind, collection, payload)])

    def begin_many(self, site: str, rows: Sequence[tuple[str, str, str, Any]]) -> None:
        """Records intents of (op key, kind, collection, payload) in one statement, durably
        (commits what `deferred()` held back too): one commit before a batch's requests."""
        now = _now()
        with self._lock:
            status = self._intents(site)  # read before `_keeping`, so that it keeps it
            with self._keeping(("intents", site)) as kept:
                self._upsert(
                    "intents",
                    [(site, k, kind, c, json.dumps(p), "in_flight", now) for k, kind, c, p in rows],
                    _known([k for k, *_ in rows], status),
                )
                self.commit()
                kept[("intents", site)].update((r[0], "in_flight") for r in rows)

    def finish(self, site: str, op_key: str) -> None:
        self.finish_many(site, [op_key])

    def finish_many(self, site: str, op_keys: Sequence[str]) -> None:
        """Marks intents done (held back inside `deferred()` until its commit or the next
        `begin_many`)."""
        if not op_keys:
            return
        with self._keeping(("intents", site)) as kept:
            if self._deferring:
                self._done.update(((site, k), None) for k in op_keys)
            else:
                self._update_done([(site, k) for k in op_keys])
            if ("intents", site) in kept:
                kept[("intents", site)].update((k, "done") for k in op_keys)

    def _update_done(self, keys: list[tuple[str, str]]) -> None:
        now = _now()
        for site in {s for s, _k in keys}:
            op_keys = [k for s, k in keys if s == site]
            with self._keeping(("intents", site)):
                self._exec(
                    "update intents set status = 'done', updated_at = ? where target_site_id = ? "
                    f"and op_key in ({', '.join('?' for _ in op_keys)})",
                    (now, site, *op_keys),
                )

    def in_flight(self, site: str, kind: str | None = None) -> list[dict[str, Any]]:
        """Writes that were sent but whose answer was never recorded."""
        sql = (
            "select op_key, kind, collection, payload from intents "
            "where target_site_id = ? and status = 'in_flight'"
        )
        params: list[Any] = [site]
        if kind:
            sql += " and kind = ?"
            params.append(kind)
        return [
            {"op_key": k, "kind": kd, "collection": c, "payload": json.loads(p)}
            for k, kd, c, p in self._exec(sql, params)
        ]

    def op_status(self, site: str, op_key: str) -> str | None:
        """`in_flight`, `done` or None (never begun); from a map of the site's intents read
        once, since every op asks and `begin`/`finish` keep it current."""
        with self._lock:
            return self._intents(site).get(op_key)

    def _intents(self, site: str) -> dict[str, str]:
        """Op key -> status of the site's intents (`op_status`' map itself)."""
        return self._map(
            "intents", site, "select op_key, status from intents where target_site_id = ?"
        )

    # audit

    def audit(self, **row: Any) -> None:
        """One audit row (keywords of `audit_many`)."""
        self.audit_many([row])

    def audit_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Audit rows: dicts with run_id, site, phase, operation, status and optionally
        collection, source_id, target_id, locale, http_status, field, error."""
        now = _now()
        self._many(
            "insert into audit values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    now,
                    r["run_id"],
                    r["site"],
                    r["phase"],
                    r["operation"],
                    r.get("collection"),
                    r.get("source_id"),
                    r.get("target_id"),
                    r.get("locale"),
                    r["status"],
                    r.get("http_status"),
                    r.get("field"),
                    r.get("error"),
                )
                for r in rows
            ),
        )

    def audit_rows(self, site: str, run_id: str | None = None) -> list[dict[str, Any]]:
        sql = "select * from audit where target_site_id = ?"
        params: list[Any] = [site]
        if run_id:
            sql += " and run_id = ?"
            params.append(run_id)
        with self._lock:
            cur = self._con.execute(sql + " order by ts", params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
