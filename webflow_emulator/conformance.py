"""Check HTTP exchanges against Webflow's official OpenAPI spec, with a validator we did not write.

The emulator claims to speak the Webflow Data API v2. This module lets a third-party referee,
openapi-core, judge every request it receives and every response it sends against
``shared/webflow-openapi/v2-repaired.json`` (the official ``v2.yml`` with its schema defects
mechanically repaired). ``EmulatorServer(validate=True)`` calls :meth:`SpecValidator.check` for
every ``/v2`` exchange.

What is not checked, and why:

- OAuth2/bearer security: openapi-core cannot check OAuth2 schemes; the emulator's own tests cover
  401/403. The security step is skipped on purpose rather than left to emit warnings.
- The custom formats ``objectid`` and ``date-string``: no validator knows them.

Where the spec is known to be wrong, the deviation is tolerated only through the two explicit
allow-lists below, :data:`SPEC_PATCHES` and :data:`UNDECLARED_STATUSES`, each entry with its reason.
Nothing else is ignored.

For speed (the check runs on every exchange) this drives openapi-core's validators one level
below their public ``iter_errors`` (``_find_path``, ``_get_parameter``, ``_iter_body_errors``,
``_iter_errors``): one path lookup per exchange instead of three, and only the parameters that
are present. pyproject pins openapi-core below 0.24; the unit tests catch an API change.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from jsonschema.exceptions import ValidationError
from openapi_core import OpenAPI
from openapi_core.configurations import Config
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import OperationNotFound, PathError, PathNotFound
from openapi_core.validation.request.exceptions import (
    InvalidRequestBody,
    MissingParameter,
    ParameterValidationError,
)
from openapi_core.validation.request.validators import (
    V31RequestBodyValidator,
    V31RequestParametersValidator,
)
from openapi_core.validation.response.exceptions import InvalidData
from openapi_core.validation.response.validators import V31ResponseValidator
from openapi_schema_validator import OAS31Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

__all__ = [
    "SPEC_ENV_VAR",
    "SPEC_PATCHES",
    "UNDECLARED_STATUSES",
    "SpecNotFoundError",
    "SpecValidator",
    "find_spec_path",
    "validate_exchange",
]

SPEC_ENV_VAR = "WEBFLOW_OPENAPI_SPEC"
SPEC_FILE_NAME = "v2-repaired.json"
API_PREFIX = "/v2"
# Any host works: every `servers` entry is rewritten to the relative "/v2", so loopback URLs on
# any port match.
_HOST_URL = "http://127.0.0.1"


class SpecNotFoundError(FileNotFoundError):
    """The OpenAPI spec file could not be located."""


def find_spec_path() -> Path:
    """Locate ``v2-repaired.json``: env ``WEBFLOW_OPENAPI_SPEC``, else ``shared/webflow-openapi/``
    next to an ancestor of this package or of the working directory (the repo is cloned at
    ``X/main`` with the shared files at ``X/shared``). The 5 MB spec is not copied into the package.
    """
    env = os.environ.get(SPEC_ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise SpecNotFoundError(f"{SPEC_ENV_VAR}={env!r} does not name a file")
        return path.resolve()
    searched: list[Path] = []
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            candidate = folder / "shared" / "webflow-openapi" / SPEC_FILE_NAME
            if candidate in searched:
                continue
            searched.append(candidate)
            if candidate.is_file():
                return candidate
    raise SpecNotFoundError(
        f"{SPEC_FILE_NAME} not found. Set {SPEC_ENV_VAR} to its path, or keep the shared folder "
        f"beside the repository (X/main and X/shared). Searched: "
        + ", ".join(str(p) for p in searched)
    )


# --------------------------------------------------------------------------------------------
# Allow-list 1: in-memory corrections of spec defects that v2-repaired.json does not fix.
# Each patch must change at least one place; a patch that finds nothing to change fails loudly
# at load time, so an entry cannot outlive the defect it excuses.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpecPatch:
    """A documented correction of the spec, applied in memory before validation."""

    name: str
    reason: str
    apply: Callable[[dict[str, Any]], int]  # returns how many places it changed


def _iter_dicts(node: Any) -> Iterator[dict[str, Any]]:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            yield current
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)


def _json_schema(spec: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    return spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


def _honour_nullable(spec: dict[str, Any]) -> int:
    changed = 0
    for node in _iter_dicts(spec["paths"]):
        kind = node.get("type")
        if node.get("nullable") is True and isinstance(kind, str):
            node["type"] = [kind, "null"]
            changed += 1
    return changed


def _nullable_external_reference(spec: dict[str, Any]) -> int:
    changed = 0
    for node in _iter_dicts(spec["paths"]):
        props = node.get("properties")
        if isinstance(props, dict) and isinstance(props.get("externalReference"), dict):
            ref = props["externalReference"]
            if ref.get("type") == "string":
                ref["type"] = ["string", "null"]
                changed += 1
    return changed


# Properties typed as plain strings whose values are null in the spec's own response examples.
_NULL_IN_EXAMPLES = ("helpText", "parentFolder")


def _nullable_where_examples_are_null(spec: dict[str, Any]) -> int:
    changed = 0
    for item in spec["paths"].values():
        for op in item.values():
            if not isinstance(op, dict):
                continue
            for node in _iter_dicts(op.get("responses", {})):
                props = node.get("properties")
                if not isinstance(props, dict):
                    continue
                for name in _NULL_IN_EXAMPLES:
                    if isinstance(props.get(name), dict) and props[name].get("type") == "string":
                        props[name]["type"] = ["string", "null"]
                        changed += 1
    return changed


_ITEMS_PATH = "/collections/{collection_id}/items"


def _update_items_answer_items(spec: dict[str, Any]) -> int:
    changed = 0
    for path in (_ITEMS_PATH, f"{_ITEMS_PATH}/live"):
        schema = _json_schema(spec, path, "patch", "200")
        # A single item's `required` sits at the top of a list schema (update-items-live), or
        # above a oneOf of [item, list] (update-items), where `{items: [...]}` cannot meet it.
        if schema.pop("required", None) is None:
            continue
        branches = schema.get("oneOf", [schema])
        [listing] = [b for b in branches if "items" in b.get("properties", {})]
        # Without `required`, the list branch matches any object, a single item too.
        listing.update(type="object", required=["items"])
        changed += 1
    return changed


def _create_items_entries_cms_locale_id(spec: dict[str, Any]) -> int:
    schema = _json_schema(spec, f"{_ITEMS_PATH}/bulk", "post", "202")
    changed = 0
    for branch in schema["oneOf"]:
        entry = branch.get("properties", {}).get("items", {}).get("items")
        if entry and "cmsLocaleIds" in entry.get("required", []):
            entry["required"] = [r for r in entry["required"] if r != "cmsLocaleIds"]
            entry["properties"].setdefault("cmsLocaleId", {"type": "string"})
            changed += 1
    return changed


def _create_item_live_request(spec: dict[str, Any]) -> int:
    content = spec["paths"][f"{_ITEMS_PATH}/live"]["post"]["requestBody"]["content"]
    single, many = content["application/json"]["schema"]["oneOf"]
    changed = 0
    for schema in (single, many["properties"]["items"]["items"]):
        props = schema["properties"]
        kept = [r for r in schema["required"] if not props.get(r, {}).get("readOnly")]
        changed += len(schema["required"]) - len(kept)
        schema["required"] = kept
    if "required" not in many:
        many["required"] = ["items"]
        changed += 1
    return changed


SPEC_PATCHES: tuple[SpecPatch, ...] = (
    SpecPatch(
        name="oas30-nullable-keyword",
        reason=(
            "About 220 schemas say `nullable: true`, an OpenAPI 3.0 keyword that 3.1 ignores, so "
            "their null values (asset `altText`, site `parentFolderId`, locale `displayImageId`, "
            "field `validations`, ...) fail `type`. The authors' intent is honoured by adding "
            '"null" to `type`. v2-repaired.json fixes this only for `lastPublished`.'
        ),
        apply=_honour_nullable,
    ),
    SpecPatch(
        name="error-externalReference-nullable",
        reason=(
            "Every error schema types `externalReference` as string, but Webflow sends null "
            "(the spec's own 400/401/429 examples and the documented 401/429 bodies carry "
            '`"externalReference": null`). v2-repaired.json keeps `type: string` (654 schemas).'
        ),
        apply=_nullable_external_reference,
    ),
    SpecPatch(
        name="null-in-examples",
        reason=(
            "Field `helpText` (collection-details example: null for fields without help text) "
            "and asset-folder `parentFolder` (list-asset-folders example: null at the root) are "
            "typed as plain strings, without even `nullable`. Made nullable in response "
            "schemas only (10 places)."
        ),
        apply=_nullable_where_examples_are_null,
    ),
    SpecPatch(
        name="update-items-answer-items",
        reason=(
            "update-items and update-items-live (PATCH .../items, .../items/live) answer "
            "`{items: [...]}` in the spec's own examples and in Webflow's docs, but their 200 "
            "schemas put a single item's `required` (id, fieldData, ...) at the top, so no list "
            "can conform; and update-items' `oneOf: [item, list]` list branch has no `required`, "
            "so it matches a single item too and a single item fails `oneOf`. The top-level "
            "`required` goes; the list schema requires `items`."
        ),
        apply=_update_items_answer_items,
    ),
    SpecPatch(
        name="create-item-live-request",
        reason=(
            "create-item-live's request schema requires the readOnly `id`, `lastPublished`, "
            "`lastUpdated` and `createdOn` (an OpenAPI 3.0 spec would exempt readOnly properties "
            "in requests; 3.1 does not), so no `{items: [...]}` request can conform, and a single "
            "item passes only because the `items` branch, lacking `required`, matches anything. "
            "readOnly properties leave `required`; the `items` branch requires `items`, like "
            "create-item's."
        ),
        apply=_create_item_live_request,
    ),
    SpecPatch(
        name="create-items-entries-cmsLocaleId",
        reason=(
            "v2-repaired.json widened create-items' 202 to `{items: [...]}` but each entry still "
            "requires the single-object schema's `cmsLocaleIds`; the spec's two examples (and "
            "WEBFLOW_API.md section 4) give each entry a `cmsLocaleId` and no `cmsLocaleIds`."
        ),
        apply=_create_items_entries_cms_locale_id,
    ),
)


# --------------------------------------------------------------------------------------------
# Allow-list 2: error statuses Webflow really sends on operations whose spec entry omits them.
# The body is still validated, against the spec's common error schema.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UndeclaredStatus:
    """An error status tolerated on operations that do not declare it."""

    status: int
    reason: str


UNDECLARED_STATUSES: dict[int, UndeclaredStatus] = {
    s.status: s
    for s in (
        UndeclaredStatus(
            403,
            "Webflow answers 403 `missing_scopes` to a token without the operation's scope and "
            "403 `forbidden` to a token not authorized for the site (spec: authorized_by "
            "example; shared/notes/WEBFLOW_API.md sections 1 and 7), but the CMS and asset "
            "operations do not list 403.",
        ),
        UndeclaredStatus(
            502,
            "Bad gateway from Webflow's edge; no operation declares it. The emulator injects it "
            "as a fault (`faults.statuses`).",
        ),
        UndeclaredStatus(
            503,
            "Service unavailable from Webflow's edge; declared only for fonts. The emulator "
            "injects it as a fault (`faults.statuses`).",
        ),
        UndeclaredStatus(504, "Gateway timeout from Webflow's edge; no operation declares it."),
    )
}

# The shared shape of every error body, taken from the spec itself (after SPEC_PATCHES).
_ERROR_SCHEMA_POINTER = ("/collections/{collection_id}/items", "get", "400")


def _normalise(spec: dict[str, Any]) -> list[str]:
    """Spec changes that are not defects: servers made relative, ``allowEmptyValue`` removed.

    ``allowEmptyValue`` is deprecated in OpenAPI 3.1 and makes openapi-core emit a
    DeprecationWarning per parameter per call. Its meaning (an empty query value is allowed) is
    kept by :meth:`SpecValidator.check`, which drops empty values of the parameters that had it.
    Returns those parameters' names.
    """
    relative = [{"url": API_PREFIX}]
    spec["servers"] = relative
    empty_ok: set[str] = set()
    for item in spec["paths"].values():
        if "servers" in item:
            item["servers"] = relative
        for op in item.values():
            if not isinstance(op, dict):
                continue
            if "servers" in op:
                op["servers"] = relative
            for param in op.get("parameters", []):
                # pop first: the key goes whatever the parameter's location
                if param.pop("allowEmptyValue", False) and param.get("in") == "query":
                    empty_ok.add(param["name"])
    return sorted(empty_ok)


# --------------------------------------------------------------------------------------------
# Loading (once per process)
# --------------------------------------------------------------------------------------------


@dataclass
class _Loaded:
    path: Path
    params_validator: V31RequestParametersValidator
    body_validator: V31RequestBodyValidator
    response_validator: V31ResponseValidator
    error_validator: OAS31Validator
    empty_ok_params: frozenset[str]
    patch_counts: dict[str, int]
    load_seconds: float
    # openapi-core's path and schema resolution caches are not documented as thread-safe, and
    # validation is CPU-bound under the GIL anyway: one lock per loaded spec costs nothing.
    lock: threading.Lock
    operations: dict[tuple[str, str], _Operation] = field(default_factory=dict)
    exchanges: int = 0
    violations: int = 0


_LOADED: dict[Path, _Loaded] = {}
_LOAD_LOCK = threading.Lock()


def _load(path: Path) -> _Loaded:
    with _LOAD_LOCK:
        if path in _LOADED:
            return _LOADED[path]
        started = time.perf_counter()
        with path.open(encoding="utf-8") as fh:
            spec = json.load(fh)
        patch_counts: dict[str, int] = {}
        for patch in SPEC_PATCHES:
            changed = patch.apply(spec)
            if changed == 0:
                raise RuntimeError(
                    f"spec patch {patch.name!r} changed nothing in {path}: the spec fixes this "
                    "defect now, so remove the entry from SPEC_PATCHES"
                )
            patch_counts[patch.name] = changed
        empty_ok = _normalise(spec)
        pointer_path, pointer_method, pointer_status = _ERROR_SCHEMA_POINTER
        error_schema = {
            **_json_schema(spec, pointer_path, pointer_method, pointer_status),
            # No spec schema covers these statuses; hold them to the documented error shape
            # (WEBFLOW_API.md section 7), all four keys present.
            "required": ["code", "message", "externalReference", "details"],
        }
        # Spec validation of the repaired file takes ~5 s and openapi-spec-validator already
        # reports it valid; skip it at load.
        api = OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))
        loaded = _Loaded(
            path=path,
            params_validator=V31RequestParametersValidator(api.spec),
            body_validator=V31RequestBodyValidator(api.spec),
            response_validator=V31ResponseValidator(api.spec),
            error_validator=OAS31Validator(error_schema),
            empty_ok_params=frozenset(empty_ok),
            patch_counts=patch_counts,
            load_seconds=time.perf_counter() - started,
            lock=threading.Lock(),
        )
        _LOADED[path] = loaded
        return loaded


# --------------------------------------------------------------------------------------------
# openapi-core adapters
# --------------------------------------------------------------------------------------------


class _Request:
    """The openapi-core ``Request`` protocol over raw exchange parts."""

    def __init__(
        self,
        method: str,
        path: str,
        query: Iterable[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        self.host_url = _HOST_URL
        self.method = method.lower()
        self.path = path
        self.body = body or None
        header_values = Headers(list(headers.items()))
        self.content_type = (header_values.get("Content-Type") or "").lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(query)),
            header=header_values,
            cookie=ImmutableMultiDict(),
        )


class _Response:
    """The openapi-core ``Response`` protocol over raw exchange parts."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status_code = status
        self.headers = Headers(list(headers.items()))
        self.content_type = (self.headers.get("Content-Type") or "").lower()
        self.data = body


def _json_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def _schema_error_text(error: ValidationError) -> str:
    where = _json_path(error.absolute_path)
    text = error.message if where == "(root)" else f"{where}: {error.message}"
    if error.context:  # oneOf/anyOf: say which branch came closest and why it failed
        # The branch whose error lies deepest got furthest, so it is the one that was meant.
        closest = max(error.context, key=lambda e: len(e.absolute_path))
        text += f" (closest branch: {_json_path(closest.absolute_path)}: {closest.message})"
    return text


def _describe(exc: BaseException) -> list[str]:
    """Turn an openapi-core error and its cause chain into one line per concrete problem."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    # Bodies: openapi-core's own message repeats the whole document; name the part instead.
    context = "body" if isinstance(exc, (InvalidRequestBody, InvalidData)) else str(exc)
    for item in chain:
        schema_errors = getattr(item, "schema_errors", None)
        if schema_errors:
            return [f"{context}: {_schema_error_text(err)}" for err in schema_errors]
    texts = [context, *(str(item) for item in chain[1:])]
    # openapi-core often repeats a cause's message inside its own; keep each text once.
    kept = [t for i, t in enumerate(texts) if t and not any(t in o for o in texts[:i])]
    return [": ".join(kept) or type(exc).__name__]


def _split_query(query: str, empty_ok: frozenset[str]) -> list[tuple[str, str]]:
    pairs = parse_qsl(query.lstrip("?"), keep_blank_values=True)
    return [(k, v) for k, v in pairs if v != "" or k not in empty_ok]


@dataclass(frozen=True)
class _Param:
    name: str
    location: str
    required: bool
    deep_object: bool
    spec: Any  # SchemaPath of the Parameter Object


@dataclass(frozen=True)
class _Operation:
    """What :meth:`SpecValidator.check` needs of an operation, read from the spec once."""

    operation_id: str
    template: str
    params: tuple[_Param, ...]
    responses: Any  # SchemaPath of the Responses Object


def _operation(loaded: _Loaded, found: Any, method: str) -> _Operation:
    template = found.path.parts[-1]
    key = (template, method)
    cached = loaded.operations.get(key)
    if cached is None:
        op = found.operation
        params = []
        seen = set()
        # Operation-level parameters override path-level ones of the same name and location.
        for source in (op, found.path):
            for param in source.get("parameters", []):
                name, location = (param / "name").read_str(), (param / "in").read_str()
                if (name, location) in seen:
                    continue
                seen.add((name, location))
                params.append(
                    _Param(
                        name=name,
                        location=location,
                        required=(param / "required").read_bool(default=False),
                        deep_object=(param / "style").read_str(default="") == "deepObject",
                        spec=param,
                    )
                )
        cached = _Operation(
            operation_id=(op / "operationId").read_str(default="?"),
            template=template,
            params=tuple(params),
            responses=op / "responses",
        )
        loaded.operations[key] = cached
    return cached


def _parameter_errors(
    loaded: _Loaded, request: _Request, operation: _Operation
) -> Iterator[Exception]:
    """openapi-core's parameter check, run only on the parameters the request has (or must have).

    openapi-core walks every declared parameter, absent or not, at about 0.3-0.9 ms each (path
    reference resolution); list-collection-items declares 11. Checking only the present and
    required ones gives the same verdicts at a fraction of the cost.
    """
    values = request.parameters
    for param in operation.params:
        if not param.required and param.location != "path":
            location = values[param.location]
            if param.deep_object:
                prefix = f"{param.name}["
                present = any(key.startswith(prefix) for key in location)
            else:
                present = param.name in location
            if not present:
                continue
        try:
            loaded.params_validator._get_parameter(values, param.spec)
        except MissingParameter:
            continue
        except ParameterValidationError as exc:  # also MissingRequiredParameter
            yield exc


# --------------------------------------------------------------------------------------------
# The validator
# --------------------------------------------------------------------------------------------


class SpecValidator:
    """Validate one request/response exchange against the Webflow v2 spec; thread-safe.

    Instances are cheap: the spec is parsed once per process and path, and shared.
    """

    def __init__(self, spec_path: str | os.PathLike[str] | None = None) -> None:
        path = Path(spec_path).resolve() if spec_path is not None else find_spec_path()
        if not path.is_file():
            raise SpecNotFoundError(f"OpenAPI spec not found: {path}")
        self._loaded = _load(path)

    @property
    def spec_path(self) -> Path:
        return self._loaded.path

    @property
    def counts(self) -> dict[str, int]:
        """Exchanges checked and violations found so far, by every validator of this spec."""
        return {"exchanges": self._loaded.exchanges, "violations": self._loaded.violations}

    @property
    def patch_counts(self) -> dict[str, int]:
        """How many places each :data:`SPEC_PATCHES` entry changed."""
        return dict(self._loaded.patch_counts)

    def check(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        status: int,
        response_headers: dict[str, str],
        response_body: bytes,
    ) -> list[str]:
        """Return human-readable violations of the request and of the response (empty: conforms).

        ``path`` is the full path including ``/v2``; ``query`` the raw query string (without or
        with a leading ``?``). Each line starts with ``request`` or ``response``, then the
        operation.
        """
        loaded = self._loaded
        method = method.upper()
        request = _Request(method, path, _split_query(query, loaded.empty_ok_params), headers, body)
        response = _Response(status, response_headers, response_body)
        with loaded.lock:
            violations = self._check_locked(loaded, request, response, method, path)
            loaded.exchanges += 1
            loaded.violations += len(violations)
        return violations

    def _check_locked(
        self,
        loaded: _Loaded,
        request: _Request,
        response: _Response,
        method: str,
        path: str,
    ) -> list[str]:
        try:
            found = loaded.params_validator._find_path(request)
        except OperationNotFound:
            return [f"request {method} {path}: the spec has no {method} operation on this path"]
        except PathNotFound:
            return [f"request {method} {path}: no path of the spec matches"]
        except PathError as exc:
            return [f"request {method} {path}: {exc}"]
        operation = _operation(loaded, found, method)
        request.parameters.path = found.path_result.variables
        where = f"{method} {operation.template} ({operation.operation_id})"
        request_errors = [
            *_parameter_errors(loaded, request, operation),
            *loaded.body_validator._iter_body_errors(request, found.operation),
        ]
        violations = [
            f"request {where}: {text}" for exc in request_errors for text in _describe(exc)
        ]
        # openapi-core ignores query parameters the operation does not declare; Webflow ignores
        # them too, so a client relying on one would silently get what it did not ask for
        declared = {p.name for p in operation.params if p.location == "query"}
        violations += [
            f"request {where}: query parameter {key!r} is not declared by the spec"
            for key in request.parameters.query
            if key.split("[", 1)[0] not in declared
        ]
        prefix = f"response {response.status_code} {where}"
        violations += [
            f"{prefix}: {text}"
            for text in self._response_violations(loaded, response, found, operation)
        ]
        return violations

    def _response_violations(
        self, loaded: _Loaded, response: _Response, found: Any, operation: _Operation
    ) -> list[str]:
        declared = operation.responses
        status = str(response.status_code)
        key = next((k for k in (status, f"{status[0]}XX", "default") if k in declared), None)
        if key is None and response.status_code in UNDECLARED_STATUSES:
            return self._error_body_violations(loaded, response)
        problems: list[str] = []
        body = response.data or b""
        if response.status_code == 204 and body:
            problems.append(f"a 204 response must have no body, got {len(body)} bytes")
        errors = loaded.response_validator._iter_errors(
            response.status_code,
            response.data,
            response.headers,
            response.content_type,
            found.operation,
        )
        problems += [text for exc in errors for text in _describe(exc)]
        return problems

    @staticmethod
    def _error_body_violations(loaded: _Loaded, response: _Response) -> list[str]:
        if not response.content_type.startswith("application/json"):
            return [f"error body must be application/json, got {response.content_type!r}"]
        try:
            document = json.loads(response.data or b"")
        except ValueError as exc:
            return [f"error body is not JSON: {exc}"]
        return [
            f"error body {_schema_error_text(err)}"
            for err in loaded.error_validator.iter_errors(document)
        ]


# --------------------------------------------------------------------------------------------
# One recorded exchange, from Python or the command line
# --------------------------------------------------------------------------------------------


def _as_bytes(value: Any) -> bytes:
    """A body given as bytes, text, ``{"base64": ...}`` or any other JSON value."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, dict) and set(value) == {"base64"}:
        return base64.b64decode(value["base64"])
    return json.dumps(value).encode()


def validate_exchange(
    exchange: Mapping[str, Any], validator: SpecValidator | None = None
) -> list[str]:
    """Validate one recorded exchange given as a mapping.

    Keys: ``method``, ``path`` (may carry ``?query``), ``query``?, ``headers``?, ``body``?,
    ``status``, ``response_headers``?, ``response_body``?. Bodies may be JSON values, text, or
    ``{"base64": "..."}``. JSON bodies without explicit headers get ``Content-Type:
    application/json``.
    """
    validator = validator or SpecValidator()
    split = urlsplit(exchange["path"])
    query = exchange.get("query") or split.query
    headers = dict(exchange.get("headers") or {})
    response_headers = dict(exchange.get("response_headers") or {})
    body = _as_bytes(exchange.get("body"))
    response_body = _as_bytes(exchange.get("response_body"))
    if body and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    if response_body and not any(k.lower() == "content-type" for k in response_headers):
        response_headers["Content-Type"] = "application/json"
    return validator.check(
        str(exchange["method"]),
        split.path,
        query,
        headers,
        body,
        int(exchange["status"]),
        response_headers,
        response_body,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m webflow_emulator.conformance FILE...``: validate recorded exchanges.

    Each FILE holds one exchange as a JSON object, or JSON lines of them (``-`` reads stdin).
    Exit status 1 if any exchange violates the spec.
    """
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("files", nargs="+", help="JSON or JSON-lines exchange files, or -")
    parser.add_argument("--spec", help=f"path of {SPEC_FILE_NAME} (default: located)")
    args = parser.parse_args(argv)
    validator = SpecValidator(args.spec)
    failed = 0
    total = 0
    for name in args.files:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        try:
            document = json.loads(text)
            exchanges = document if isinstance(document, list) else [document]
        except ValueError:  # JSON lines
            exchanges = [json.loads(line) for line in text.splitlines() if line.strip()]
        for index, exchange in enumerate(exchanges):
            total += 1
            violations = validate_exchange(exchange, validator)
            label = (
                f"{name}#{index} {exchange['method']} {exchange['path']} -> {exchange['status']}"
            )
            if violations:
                failed += 1
                print(f"FAIL {label}")
                for line in violations:
                    print(f"  {line}")
            else:
                print(f"ok   {label}")
    print(f"{total - failed}/{total} exchanges conform to {validator.spec_path.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
