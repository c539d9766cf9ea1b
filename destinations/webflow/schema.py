"""Collections, fields, options and locales: mapping onto the target and creating what is missing.

Mapping rules: a collection maps by ledger, then slug, then displayName; a field by ledger, then
slug, then displayName + type. A mapped field of another type, an Option field without one of the
source's option names, or a reference to another collection is incompatible: the planner reports
every such problem before anything is written (SchemaMismatchError).

Creation: static and Option fields go with `create-collection`; a Reference/MultiReference field
too when its target collection already exists by then (collections are created in the order that
needs the fewest `create-field` calls); the rest (self-references, cycles) follow with one
`create-field` each once every collection exists. Reference fields are created not required, so
items can be created before their references are set.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from sources.webflow.client import (
    WebflowConflictError,
)

from .context import OpContext
from .model import Collection, Field, SourceSite, TargetSite
from .ops import Op
from .settings import (
    MAX_EXHAUSTIVE_COLLECTIONS,
    MAX_FIELDS,
    NOT_WRITABLE_TYPES,
    PHASE_REFERENCE_FIELDS,
    PHASE_SCHEMA,
    REFERENCE_TYPES,
    SYSTEM_FIELD_SLUGS,
)
from .target import parse_collection, parse_field


@dataclass
class SchemaPlan:
    ops: list[Op] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    """Source ids of collections to create."""
    mapped: dict[str, str] = field(default_factory=dict)
    """Source collection id -> existing target collection id."""
    new_fields: dict[str, int] = field(default_factory=dict)
    """Source collection id -> fields to create."""


def field_spec(f: Field) -> dict[str, Any]:
    """A source field as ops carry it (JSON-able)."""
    return {
        "slug": f.slug,
        "displayName": f.display_name,
        "type": f.type,
        "isRequired": f.is_required and f.type not in REFERENCE_TYPES,
        "helpText": f.help_text,
        "options": sorted(set(f.options.values()), key=list(f.options.values()).index),
        "ref": f.reference_collection_id,
    }


def field_body(spec: dict[str, Any], target_collection_ids: dict[str, str]) -> dict[str, Any]:
    """FieldCreate body (WEBFLOW_API.md 3.2): options and reference target in `metadata`."""
    body: dict[str, Any] = {
        "type": spec["type"],
        "displayName": spec["displayName"],
        "slug": spec["slug"],
        "isRequired": bool(spec.get("isRequired")),
    }
    if spec.get("helpText"):
        body["helpText"] = spec["helpText"]
    if spec["type"] == "Option":
        body["metadata"] = {"options": [{"name": n} for n in spec["options"]]}
    elif spec["type"] in REFERENCE_TYPES:
        body["metadata"] = {"collectionId": target_collection_ids[spec["ref"]]}
    return body


def _user_fields(c: Collection) -> list[Field]:
    return [
        f for f in c.fields if f.slug not in SYSTEM_FIELD_SLUGS and f.type not in NOT_WRITABLE_TYPES
    ]


def match_collection(c: Collection, target: TargetSite, ledger_id: str | None) -> Collection | None:
    by_id = {t.id: t for t in target.collections}
    if ledger_id and ledger_id in by_id:
        return by_id[ledger_id]
    for t in target.collections:
        if t.slug == c.slug:
            return t
    for t in target.collections:
        if t.display_name == c.display_name:
            return t
    return None


def match_field(f: Field, t: Collection, ledger_slug: str | None) -> Field | None:
    by_slug = t.field_by_slug()
    if ledger_slug and ledger_slug in by_slug:
        return by_slug[ledger_slug]
    if f.slug in by_slug:
        return by_slug[f.slug]
    for tf in t.fields:
        if tf.display_name == f.display_name and tf.type == f.type:
            return tf
    return None


def creation_order(source: SourceSite, to_create: list[str], mapped: set[str]) -> list[str]:
    """Order of collection creation with the fewest reference fields left for create-field."""

    def cost(order: tuple[str, ...]) -> int:
        done = set(mapped)
        n = 0
        for cid in order:
            for f in _user_fields(source.collection(cid)):
                if f.type in REFERENCE_TYPES and f.reference_collection_id not in done:
                    n += 1
            done.add(cid)
        return n

    if len(to_create) <= MAX_EXHAUSTIVE_COLLECTIONS:
        return list(min(itertools.permutations(to_create), key=cost, default=()))
    # greedy: next the collection whose references are most satisfied
    order: list[str] = []
    left = list(to_create)
    done = set(mapped)
    while left:
        best = min(
            left,
            key=lambda cid: sum(
                1
                for f in _user_fields(source.collection(cid))
                if f.type in REFERENCE_TYPES and f.reference_collection_id not in done
            ),
        )
        order.append(best)
        left.remove(best)
        done.add(best)
    return order


def plan_schema(
    source: SourceSite,
    target: TargetSite,
    ledger_collections: dict[str, str],
    ledger_fields: dict[str, dict[str, str]],
) -> SchemaPlan:
    """Maps every source collection/field/option/locale and plans the creates."""
    plan = SchemaPlan()
    target_tags = {loc.tag: loc for loc in target.locales}
    locale_rows = []
    for loc in source.locales:
        t = target_tags.get(loc.tag)
        if t is None:
            plan.problems.append(
                f"locale {loc.tag} does not exist in the target (enable it in the Designer)"
            )
            continue
        locale_rows.append([loc.tag, loc.cms_locale_id, t.cms_locale_id, loc.is_primary])
    mapped_targets: dict[str, Collection] = {}
    to_create: list[str] = []
    for c in source.collections:
        t = match_collection(c, target, ledger_collections.get(c.id))
        if t is None:
            to_create.append(c.id)
        else:
            mapped_targets[c.id] = t
    plan.mapped = {cid: t.id for cid, t in mapped_targets.items()}
    plan.created = creation_order(source, to_create, set(mapped_targets))
    creating = set(plan.created)

    map_payload: dict[str, Any] = {"locales": locale_rows, "collections": [], "fields": []}
    map_payload["options"] = []
    static_new: list[Op] = []
    ref_new: list[Op] = []
    for cid, t in mapped_targets.items():
        c = source.collection(cid)
        map_payload["collections"].append([cid, t.id, t.slug])
        map_payload["fields"].extend(
            [cid, s, s, tf.id, tf.type]
            for s in SYSTEM_FIELD_SLUGS
            if (tf := t.field_by_slug().get(s)) is not None
        )
        for f in _user_fields(c):
            tf = match_field(f, t, ledger_fields.get(cid, {}).get(f.slug))
            if tf is None:
                spec = field_spec(f)
                op = Op(
                    PHASE_REFERENCE_FIELDS if f.type in REFERENCE_TYPES else PHASE_SCHEMA,
                    "create_field",
                    cid,
                    {"field": spec},
                    count=1,
                )
                (ref_new if f.type in REFERENCE_TYPES else static_new).append(op)
                plan.new_fields[cid] = plan.new_fields.get(cid, 0) + 1
                continue
            where = f"{c.slug}.{f.slug} -> {t.slug}.{tf.slug}"
            if tf.type != f.type:
                plan.problems.append(f"field {where}: type {tf.type} in the target, {f.type} here")
                continue
            if f.type == "Option":
                missing = sorted(set(f.options.values()) - set(tf.options.values()))
                if missing:
                    plan.problems.append(f"field {where}: options missing in the target {missing}")
                by_name = {name: oid for oid, name in tf.options.items()}
                map_payload["options"].extend(
                    [cid, f.slug, n, by_name[n]] for n in f.options.values() if n in by_name
                )
            if f.type in REFERENCE_TYPES and f.reference_collection_id:
                expected = mapped_targets.get(f.reference_collection_id)
                if f.reference_collection_id in creating or (
                    expected is not None and expected.id != tf.reference_collection_id
                ):
                    plan.problems.append(
                        f"field {where}: references another collection in the target"
                    )
            map_payload["fields"].append([cid, f.slug, tf.slug, tf.id, tf.type])
    for cid, t in mapped_targets.items():
        new = [
            op.payload["field"]["slug"]
            for op in static_new + ref_new
            if op.collection == cid and op.kind == "create_field"
        ]
        if new and len(t.fields) + len(new) > MAX_FIELDS:
            plan.problems.append(
                f"collection {source.collection(cid).slug} -> {t.slug}: the target has "
                f"{len(t.fields)} fields, {len(new)} more ({', '.join(sorted(new))}) would exceed "
                f"Webflow's limit of {MAX_FIELDS} fields per collection"
            )
    ops: list[Op] = [Op(PHASE_SCHEMA, "map_schema", None, map_payload, requests=0)]
    done = set(mapped_targets)
    for cid in plan.created:
        c = source.collection(cid)
        at_creation = []
        for f in _user_fields(c):
            if f.type in REFERENCE_TYPES and f.reference_collection_id not in done:
                ref_new.append(
                    Op(
                        PHASE_REFERENCE_FIELDS,
                        "create_field",
                        cid,
                        {"field": field_spec(f)},
                        count=1,
                    )
                )
            else:
                at_creation.append(field_spec(f))
        ops.append(
            Op(
                PHASE_SCHEMA,
                "create_collection",
                cid,
                {
                    "displayName": c.display_name,
                    "singularName": c.singular_name,
                    "slug": c.slug,
                    "fields": at_creation,
                },
                count=1,
            )
        )
        plan.new_fields[cid] = len(at_creation)
        done.add(cid)
    plan.ops = ops + static_new + ref_new
    # read back what this run's schema writes changed (their lastUpdated moved), so that the
    # next run finds them in the ledger's schema cache instead of reading their details again
    changed = dict.fromkeys([*plan.created, *(op.collection for op in static_new + ref_new)])
    plan.ops += [Op(PHASE_REFERENCE_FIELDS, "cache_schema", cid, {}) for cid in changed if cid]
    for op in ref_new:
        if op.collection in creating:
            plan.new_fields[op.collection] = plan.new_fields.get(op.collection, 0) + 1
    return plan


class SchemaOps(OpContext):
    """Executes schema ops: map, create collections and fields, with recovery."""

    def _op_map_schema(self, _c: str, p: dict[str, Any]) -> None:
        for tag, src, tgt, primary in p.get("locales", []):
            self.ledger.put_locale(self.site, tag, src, tgt, primary)
        for cid, tid, slug in p.get("collections", []):
            self.ledger.put_collection(self.site, cid, tid, slug)
        self.ledger.put_fields(self.site, [tuple(r) for r in p.get("fields", [])])
        self.ledger.put_options(self.site, [tuple(r) for r in p.get("options", [])])

    def _record_collection(self, cid: str, source_specs: list[dict[str, Any]], body: dict) -> None:
        coll = parse_collection(body)
        if any(f.type == "Option" and not f.options for f in coll.fields):
            coll = parse_collection(
                self.client.get(f"/collections/{coll.id}", operation="collection-details")
            )
        self.ledger.put_collection(self.site, cid, coll.id, coll.slug)
        self._record_fields(cid, coll.fields, source_specs)

    def _record_fields(self, cid: str, target_fields: list[Any], specs: list[dict]) -> None:
        by_slug = {f.slug: f for f in target_fields}
        by_name = {(f.display_name, f.type): f for f in target_fields}
        rows, options = [], []
        for s in ("name", "slug"):
            if s in by_slug:
                rows.append((cid, s, s, by_slug[s].id, by_slug[s].type))
        for spec in specs:
            tf = by_slug.get(spec["slug"]) or by_name.get((spec["displayName"], spec["type"]))
            if tf is None:
                continue
            rows.append((cid, spec["slug"], tf.slug, tf.id, tf.type))
            names = {name: oid for oid, name in tf.options.items()}
            options.extend(
                (cid, spec["slug"], n, names[n]) for n in spec.get("options") or [] if n in names
            )
        self.ledger.put_fields(self.site, rows)
        self.ledger.put_options(self.site, options)

    def _op_cache_schema(self, cid: str, _p: dict[str, Any]) -> None:
        """Caches the details of a collection this run created or added fields to."""
        tcid = self.ledger.collections(self.site).get(cid)
        if tcid is None:
            return
        details = self.client.get(f"/collections/{tcid}", operation="collection-details")
        if isinstance(details, dict) and details.get("lastUpdated"):
            self.ledger.put_target_schema(self.site, [(tcid, details["lastUpdated"], details)])

    def _op_create_collection(self, cid: str, p: dict[str, Any]) -> None:
        if cid in self.ledger.collections(self.site):
            return
        earlier = self._begin("create_collection", cid, {"slug": p["slug"]})
        if earlier and self._recover_collection(cid, p):
            self._finish()
            return
        targets = self.ledger.collections(self.site)
        body = {
            "displayName": p["displayName"],
            "singularName": p["singularName"],
            "slug": p["slug"],
            "fields": [field_body(s, targets) for s in p["fields"]],
        }
        try:
            created = self.client.post(
                f"/sites/{self.site}/collections", body, operation="create-collection"
            )
        except WebflowConflictError:
            if not self._recover_collection(cid, p):
                raise
            self._finish()
            return
        self._record_collection(cid, p["fields"], created)
        self._audit(
            "create-collection", "ok", collection=cid, source_id=cid, target_id=created["id"]
        )
        self._finish()

    def _recover_collection(self, cid: str, p: dict[str, Any]) -> bool:
        listed = self.client.get(f"/sites/{self.site}/collections", operation="list-collections")
        for c in (listed or {}).get("collections") or []:
            if c.get("slug") == p["slug"] or c.get("displayName") == p["displayName"]:
                details = self.client.get(f"/collections/{c['id']}", operation="collection-details")
                self._record_collection(cid, p["fields"], details)
                self._audit("create-collection", "recovered", collection=cid, target_id=c["id"])
                return True
        return False

    def _op_create_field(self, cid: str, p: dict[str, Any]) -> None:
        spec = p["field"]
        if spec["slug"] in self.ledger.fields(self.site).get(cid, {}):
            return
        tcid = self.ledger.collections(self.site)[cid]
        earlier = self._begin("create_field", cid, {"slug": spec["slug"]})
        if earlier and self._recover_field(cid, tcid, spec):
            self._finish()
            return
        body = field_body(spec, self.ledger.collections(self.site))
        try:
            created = self.client.post(
                f"/collections/{tcid}/fields", body, operation="create-field"
            )
        except WebflowConflictError:
            if not self._recover_field(cid, tcid, spec):
                raise
            self._finish()
            return
        field = parse_field(created)
        if field.type == "Option" and not field.options:
            self._recover_field(cid, tcid, spec)
        else:
            self._record_fields(cid, [field], [spec])
        self._audit(
            "create-field", "ok", collection=cid, source_id=spec["slug"], target_id=field.id
        )
        self._finish()

    def _recover_field(self, cid: str, tcid: str, spec: dict[str, Any]) -> bool:
        coll = parse_collection(
            self.client.get(f"/collections/{tcid}", operation="collection-details")
        )
        before = len(self.ledger.fields(self.site).get(cid, {}))
        self._record_fields(cid, coll.fields, [spec])
        return len(self.ledger.fields(self.site).get(cid, {})) > before
