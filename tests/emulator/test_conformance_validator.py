"""The spec validator catches real violations and accepts valid exchanges (no emulator needed).

Valid payloads are the spec's own examples wherever it has them, so these tests also pin down
which of Webflow's examples break Webflow's schemas.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from webflow_emulator import conformance
from webflow_emulator.conformance import (
    SPEC_PATCHES,
    UNDECLARED_STATUSES,
    SpecNotFoundError,
    SpecValidator,
    find_spec_path,
    validate_exchange,
)

ID = "580e63fc8c9a982ac9b8b745"
ITEMS = f"/v2/collections/{ID}/items"
JSON_HEADERS = {"Content-Type": "application/json"}
AUTH = {"Authorization": "Bearer test-token"}
SPEC: dict[str, Any] = json.loads(find_spec_path().read_text(encoding="utf-8"))

# The operations the emulator implements (webflow_emulator/README.md); the other ~80 operations
# of the spec (pages, forms, ecommerce, ...) are none of its business.
EMULATED = frozenset(
    """
    list-sites get-site introspect list-collections create-collection collection-details
    delete-collection create-field update-field delete-field list-collection-items create-item
    update-items delete-items create-items list-collection-items-live create-item-live
    update-items-live delete-items-live Get-Item update-item delete-item get-item-live
    update-item-live delete-item-live publish-item list-assets create-asset get-asset patch-asset
    delete-asset list-asset-folders create-asset-folder get-asset-folder
    """.split()  # noqa: SIM905 - a word list reads better than 34 quoted strings
)

# Examples of the spec that break the spec's schema even after conformance.SPEC_PATCHES. They
# are wrong examples, not wrong schemas: a server must not copy them. Key: (operationId, status
# or "request", index of the example).
BROKEN_EXAMPLES = {
    ("create-collection", "200", 0): "the collection and its fields lack `id`",
    ("create-item", "202", 1): "the {items} answer is a copy of the request: no ids, no dates",
    ("update-items", "request", 1): "a copy of create-item's example: the items lack `id`",
    ("update-items-live", "request", 1): "a copy of create-item's example: the items lack `id`",
}


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in SPEC["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and op.get("operationId") in EMULATED
    ]


def concrete(template: str) -> str:
    return "/v2" + re.sub(r"\{[^}]+\}", ID, template)


def examples(content: dict[str, Any]) -> list[Any]:
    media = content.get("application/json") or {}
    found = [media["example"]] if "example" in media else []
    found += [e["value"] for e in (media.get("examples") or {}).values() if "value" in e]
    schema = media.get("schema") or {}
    return found or ([schema["example"]] if "example" in schema else [])


def response_example(path: str, method: str, status: str) -> bytes:
    content = SPEC["paths"][path][method]["responses"][status]["content"]
    return json.dumps(examples(content)[0]).encode()


def example_cases(kind: str) -> list[Any]:
    """(method, path, status, example) for each response example, or request-body example."""
    cases = []
    for method, path, op in operations():
        if kind == "request":
            sources = [("request", op.get("requestBody", {}))]
        else:
            sources = list(op["responses"].items())
        for status, source in sources:
            for n, example in enumerate(examples(source.get("content") or {})):
                reason = BROKEN_EXAMPLES.get((op["operationId"], status, n))
                marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
                case_id = f"{op['operationId']}-{status}-{n}"
                cases.append(pytest.param(method, path, status, example, id=case_id, marks=marks))
    return cases


@pytest.fixture(scope="module")
def validator() -> SpecValidator:
    return SpecValidator()


def response_lines(violations: list[str]) -> list[str]:
    return [v for v in violations if v.startswith("response")]


def list_items(
    validator: SpecValidator, body: Any, status: int = 200, query: str = ""
) -> list[str]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return validator.check("GET", ITEMS, query, AUTH, b"", status, JSON_HEADERS, raw)


def valid_page() -> dict[str, Any]:
    return json.loads(response_example("/collections/{collection_id}/items", "get", "200"))


# --- valid exchanges are accepted -------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "status", "example"), example_cases("response"))
def test_response_examples_of_the_spec_conform(
    validator: SpecValidator, method: str, path: str, status: str, example: Any
) -> None:
    code = int(status.replace("XX", "00"))  # "4XX" ranges: any status in the range
    body = json.dumps(example).encode()
    violations = validator.check(
        method.upper(), concrete(path), "", AUTH, b"", code, JSON_HEADERS, body
    )
    assert response_lines(violations) == []


@pytest.mark.parametrize(("method", "path", "status", "example"), example_cases("request"))
def test_request_examples_of_the_spec_conform(
    validator: SpecValidator, method: str, path: str, status: str, example: Any
) -> None:
    body = json.dumps(example).encode()
    headers = {**AUTH, **JSON_HEADERS}
    violations = validator.check(
        method.upper(), concrete(path), "", headers, body, 500, JSON_HEADERS, b"{}"
    )
    assert [v for v in violations if v.startswith("request")] == []


def test_valid_items_page_and_filters(validator: SpecValidator) -> None:
    query = (
        "offset=0&limit=100&sortBy=lastUpdated&sortOrder=asc&lastUpdated[gte]=2024-01-01T00:00:00Z"
    )
    assert list_items(validator, valid_page(), query=query) == []


def test_empty_query_values_are_allowed(validator: SpecValidator) -> None:
    # every query parameter of the spec says allowEmptyValue: true
    assert list_items(validator, valid_page(), query="name=&slug=&cmsLocaleId=") == []


def test_live_endpoint_with_its_own_servers_matches(validator: SpecValidator) -> None:
    body = json.dumps(valid_page()).encode()
    assert validator.check("GET", f"{ITEMS}/live", "", AUTH, b"", 200, JSON_HEADERS, body) == []


def test_delete_answers_204_without_body(validator: SpecValidator) -> None:
    assert validator.check("DELETE", f"{ITEMS}/{ID}", "", AUTH, b"", 204, {}, b"") == []


def test_json_with_charset_is_json(validator: SpecValidator) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    body = json.dumps(valid_page()).encode()
    assert validator.check("GET", ITEMS, "", AUTH, b"", 200, headers, body) == []


def test_error_with_null_external_reference_is_accepted(validator: SpecValidator) -> None:
    # the spec's own 401 example: externalReference null against `type: string` (SPEC_PATCHES)
    body = response_example("/collections/{collection_id}/items", "get", "401")
    assert json.loads(body)["externalReference"] is None
    assert list_items(validator, body, status=401) == []


def test_multi_item_update_answers_items(validator: SpecValidator) -> None:
    page = valid_page()
    body = json.dumps({"items": page["items"]}).encode()
    single = json.dumps(page["items"][0]).encode()
    request = json.dumps({"items": [{"id": ID, "fieldData": {"name": "x"}}]}).encode()
    for answer in (body, single):
        violations = validator.check(
            "PATCH", ITEMS, "", {**AUTH, **JSON_HEADERS}, request, 200, JSON_HEADERS, answer
        )
        assert violations == []


def test_undeclared_403_missing_scopes_is_allowed_with_an_error_body(
    validator: SpecValidator,
) -> None:
    assert 403 in UNDECLARED_STATUSES
    body = {
        "code": "missing_scopes",
        "message": "OAuthForbidden: You are missing the following scopes - cms:read",
        "externalReference": None,
        "details": [],
    }
    assert list_items(validator, body, status=403) == []


# --- violations are caught --------------------------------------------------------------------


def test_missing_required_property(validator: SpecValidator) -> None:
    page = valid_page()
    del page["items"][0]["lastUpdated"]
    [violation] = list_items(validator, page)
    assert violation.startswith("response 200 GET /collections/{collection_id}/items")
    assert "(list-collection-items)" in violation
    assert "items[0]: 'lastUpdated' is a required property" in violation


def test_wrong_type(validator: SpecValidator) -> None:
    page = valid_page()
    page["pagination"]["total"] = "2"
    page["items"][0]["id"] = 123
    violations = list_items(validator, page)
    assert any("pagination.total: '2' is not of type 'integer'" in v for v in violations)
    assert any("items[0].id: 123 is not of type 'string'" in v for v in violations)
    assert len(violations) == 2


def test_wrong_type_in_error_body(validator: SpecValidator) -> None:
    body = {"code": "no_such_code", "message": 7, "externalReference": None, "details": []}
    violations = list_items(validator, body, status=400)
    assert any("code: 'no_such_code' is not one of" in v for v in violations)
    assert any("message: 7 is not of type 'string'" in v for v in violations)


def test_undeclared_status(validator: SpecValidator) -> None:
    [violation] = list_items(validator, valid_page(), status=201)
    assert "Unknown response http status: 201" in violation


def test_undeclared_403_with_a_non_error_body(validator: SpecValidator) -> None:
    violations = list_items(validator, {"error": "forbidden"}, status=403)
    assert "error body 'code' is a required property" in violations[0]
    assert len(violations) == 4  # code, message, externalReference, details


def test_bad_enum_in_the_request(validator: SpecValidator) -> None:
    [violation] = list_items(validator, valid_page(), query="sortBy=bogus")
    assert violation.startswith("request GET /collections/{collection_id}/items")
    assert "sortBy" in violation and "'bogus' is not one of" in violation


def test_uncastable_query_value(validator: SpecValidator) -> None:
    [violation] = list_items(validator, valid_page(), query="limit=abc")
    assert "limit" in violation and "integer" in violation


def test_bad_request_body(validator: SpecValidator) -> None:
    headers = {**AUTH, **JSON_HEADERS}
    bad = json.dumps({"fieldData": "not-an-object"}).encode()
    answer = response_example("/collections/{collection_id}/items", "post", "400")
    [violation] = validator.check("POST", ITEMS, "", headers, bad, 400, JSON_HEADERS, answer)
    assert violation.startswith("request POST /collections/{collection_id}/items (create-item)")
    assert "fieldData: 'not-an-object' is not of type 'object'" in violation
    [missing] = validator.check("POST", ITEMS, "", headers, b"", 400, JSON_HEADERS, answer)
    assert "Missing request body" in missing


def test_204_with_a_body(validator: SpecValidator) -> None:
    [violation] = validator.check(
        "DELETE", f"{ITEMS}/{ID}", "", AUTH, b"", 204, JSON_HEADERS, b"{}"
    )
    assert "204 response must have no body" in violation


def test_body_without_content_type(validator: SpecValidator) -> None:
    body = json.dumps(valid_page()).encode()
    [violation] = validator.check("GET", ITEMS, "", AUTH, b"", 200, {}, body)
    assert "mimetype not found" in violation


def test_missing_body(validator: SpecValidator) -> None:
    [violation] = validator.check("GET", ITEMS, "", AUTH, b"", 200, JSON_HEADERS, b"")
    assert "Missing response data" in violation


def test_bad_response_header(validator: SpecValidator) -> None:
    answer = response_example("/collections/{collection_id}/items", "get", "429")
    headers = {**JSON_HEADERS, "X-RateLimit-Remaining": "many"}
    [violation] = validator.check("GET", ITEMS, "", AUTH, b"", 429, headers, answer)
    assert "number" in violation and "many" in violation


def test_unknown_path_and_method(validator: SpecValidator) -> None:
    [path] = validator.check("GET", f"/v2/collections/{ID}/itemz", "", AUTH, b"", 404, {}, b"")
    assert "no path of the spec matches" in path
    [method] = validator.check("PUT", ITEMS, "", AUTH, b"", 405, {}, b"")
    assert "no PUT operation" in method


# --- loading, allow-lists, threads, CLI ---------------------------------------------------------


def test_spec_is_loaded_once(validator: SpecValidator) -> None:
    again = SpecValidator()
    assert again._loaded is validator._loaded
    assert again.spec_path == find_spec_path()


def test_missing_spec_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(conformance.SPEC_ENV_VAR, str(tmp_path / "nope.json"))
    with pytest.raises(SpecNotFoundError, match="WEBFLOW_OPENAPI_SPEC"):
        find_spec_path()


def test_every_spec_patch_still_fixes_something(validator: SpecValidator) -> None:
    counts = validator.patch_counts
    assert set(counts) == {patch.name for patch in SPEC_PATCHES}
    assert all(n > 0 for n in counts.values()), counts
    assert all(len(patch.reason) > 40 for patch in SPEC_PATCHES)
    assert all(len(allowance.reason) > 20 for allowance in UNDECLARED_STATUSES.values())


def test_patch_that_changes_nothing_fails_loudly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec_copy = tmp_path / "spec.json"
    spec_copy.write_text(json.dumps(SPEC), encoding="utf-8")
    stale = conformance.SpecPatch("stale", "fixed upstream long ago", lambda spec: 0)
    monkeypatch.setattr(conformance, "SPEC_PATCHES", (*SPEC_PATCHES, stale))
    with pytest.raises(RuntimeError, match="remove the entry"):
        SpecValidator(spec_copy)


def test_threads_share_one_validator(validator: SpecValidator) -> None:
    good = json.dumps(valid_page()).encode()
    bad_page = valid_page()
    del bad_page["items"][0]["id"]
    bad = json.dumps(bad_page).encode()
    results: list[tuple[int, int]] = []

    def work() -> None:
        for _ in range(20):
            ok = validator.check("GET", ITEMS, "limit=5", AUTH, b"", 200, JSON_HEADERS, good)
            ko = validator.check("GET", ITEMS, "limit=5", AUTH, b"", 200, JSON_HEADERS, bad)
            results.append((len(ok), len(ko)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [(0, 1)] * 160


def test_recorded_exchange_from_python_and_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = {
        "method": "GET",
        "path": f"{ITEMS}?offset=0&limit=2",
        "status": 200,
        "response_body": valid_page(),
    }
    bad = {**good, "path": f"{ITEMS}?sortBy=bogus"}
    assert validate_exchange(good) == []
    assert len(validate_exchange(bad)) == 1
    one = tmp_path / "one.json"
    one.write_text(json.dumps(good, indent=2), encoding="utf-8")
    lines = tmp_path / "many.jsonl"
    lines.write_text(f"{json.dumps(good)}\n{json.dumps(bad)}\n", encoding="utf-8")
    assert conformance.main([str(one)]) == 0
    assert conformance.main([str(lines)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "'bogus' is not one of" in out and "1/2 exchanges conform" in out


def test_undeclared_query_parameter(validator: SpecValidator) -> None:
    """openapi-core alone lets these through; Webflow would silently ignore them."""
    [violation] = list_items(validator, valid_page(), query="offset=0&pageSize=10")
    assert "'pageSize' is not declared" in violation
    assert list_items(validator, valid_page(), query="lastUpdated[gte]=2024-01-01T00:00:00Z") == []
