"""The server's fast request parsing reads what the stdlib reads, and hands it everything else."""

from __future__ import annotations

import http.client
import io
import json
import re
import socket
from typing import Any

import pytest

from webflow_emulator import routes
from webflow_emulator.server import Handler, header_index, http_date, simple_headers
from webflow_emulator.util import RawJSON, carries_raw, dumps, to_json

from .conftest import World

PLAIN_BLOCKS = [
    b"Host: x",
    b"Host: 127.0.0.1:8080\r\nAccept: */*\r\nAuthorization: Bearer abc",
    b"X-Empty:\r\nX-Spaces:   \t v a l  \r\nX-Colon: a:b:c",
    b"x-lower: 1\r\nX-LOWER: 2\r\nContent-Type: multipart/form-data; boundary=zz",
    b"X-Latin: caf\xe9\r\nX-Trailing: kept   ",
    b"Weird!#$%&'*+-.^_`|~name: v",
]
OTHER_BLOCKS = [
    b"Folded: a\r\n  b",  # obsolete line folding
    b"Host: x\nAccept: y",  # bare LF
    b"Host: x\rAccept: y",  # bare CR
    b"No colon here",
    b": no name",
    b"Spaced Name: v",
    b"From me: v",
    b"\tLeading: tab",
    b"\r\n".join(b"X-%d: v" % i for i in range(100)),
]


@pytest.mark.parametrize("block", PLAIN_BLOCKS)
def test_plain_headers_are_read_as_the_stdlib_reads_them(block: bytes) -> None:
    stdlib = http.client.parse_headers(io.BytesIO(block + b"\r\n\r\n"))
    pairs = simple_headers(block)
    assert pairs == stdlib.items()
    index = header_index(pairs)
    for name in [k for k, _ in pairs] + ["X-LOWER", "host", "Absent"]:
        assert index.get(name.lower()) == stdlib.get(name), name


@pytest.mark.parametrize("block", OTHER_BLOCKS)
def test_other_headers_are_left_to_the_stdlib(block: bytes) -> None:
    assert simple_headers(block) is None


def _raw(world: World, request: bytes) -> bytes:
    """One request on a fresh connection; the whole answer (the server closes after it)."""
    with socket.create_connection((world.emu.host, world.emu.port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _answer(raw: bytes) -> tuple[bytes, list[bytes], bytes]:
    """(status line, header lines without Date, body)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    return status, [x for x in lines if not x.startswith(b"Date:")], body


def test_both_parsing_paths_give_the_same_answer(world: World) -> None:
    """The same GET, plain (fast path) and in forms only the stdlib parses (HTTP/1.0, bare LF,
    headers sent after the request line): one answer."""
    auth = b"Authorization: Bearer " + world.token.encode()
    path = b"/v2/sites/" + world.site_id.encode()
    plain = b"GET " + path + b" HTTP/1.1\r\nHost: h\r\n" + auth + b"\r\nConnection: close\r\n\r\n"
    http10 = b"GET " + path + b" HTTP/1.0\r\nHost: h\r\n" + auth + b"\r\n\r\n"
    bare_lf = b"GET " + path + b" HTTP/1.1\nHost: h\n" + auth + b"\nConnection: close\n\n"
    expected = _answer(_raw(world, plain))
    assert expected[0] == b"HTTP/1.1 200 OK" and world.site_id.encode() in expected[2]
    assert b"Connection: close" not in b"".join(expected[1])
    for request in (http10, bare_lf):
        assert _answer(_raw(world, request)) == expected
    with socket.create_connection((world.emu.host, world.emu.port), timeout=5) as sock:
        sock.sendall(plain[: plain.index(b"\r\n") + 2])  # request line first, headers later
        sock.sendall(plain[plain.index(b"\r\n") + 2 :])
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    assert _answer(b"".join(chunks)) == expected


def test_keep_alive_and_close_on_the_fast_path(world: World) -> None:
    """Two requests on one connection; `Connection: close` on the second ends it."""
    auth = b"Authorization: Bearer " + world.token.encode()
    one = b"GET /v2/sites HTTP/1.1\r\nHost: h\r\n" + auth + b"\r\n\r\n"
    two = b"GET /v2/sites HTTP/1.1\r\nHost: h\r\n" + auth + b"\r\nConnection: close\r\n\r\n"
    answer = _raw(world, one + two)
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 2


def _bare_handler() -> Handler:
    handler = Handler.__new__(Handler)
    handler.request_version, handler.command = "HTTP/1.1", "GET"
    handler.requestline, handler.close_connection = "GET /v2/sites HTTP/1.1", False
    handler.wfile = io.BytesIO()
    return handler


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (200, {"Content-Type": "application/json", "Content-Length": "2"}),
        (429, {"Content-Length": "9", "Retry-After": "0.250", "X-RateLimit-Remaining": "0"}),
        (204, {}),
        (599, {"ETag": '"abc"'}),  # no reason phrase known
    ],
)
def test_response_head_is_what_the_stdlib_writes(status: int, headers: dict[str, str]) -> None:
    stdlib = _bare_handler()
    stdlib.send_response(status)
    for k, v in headers.items():
        stdlib.send_header(k, v)
    stdlib.end_headers()
    ours = _bare_handler()._head(status, headers)
    date = re.compile(rb"Date: [^\r]+\r\n")
    assert date.sub(b"", ours) == date.sub(b"", stdlib.wfile.getvalue())
    assert date.search(ours)[0] == b"Date: " + http_date().encode() + b"\r\n"


def test_http_date_is_the_stdlib_date_string() -> None:
    for _ in range(3):  # both read the clock: retry when a second ticked in between
        ours, stdlib = http_date(), _bare_handler().date_time_string()
        if ours == stdlib:
            break
    assert ours == stdlib


@pytest.mark.parametrize("route", routes.ROUTES, ids=lambda r: f"{r.method} {r.pattern}")
def test_every_route_is_found_with_its_params(route: routes.Route) -> None:
    """Each pattern, filled with ids, routes to itself (a literal `live` segment beats an id);
    with an empty param or a trailing slash it routes nowhere."""
    values = {name: f"{i:024x}" for i, name in enumerate(route.param_names.values(), 1)}
    path = route.pattern.format(**values)
    assert routes.match(route.method, path) == (route, values, True)
    for wrong in (path + "/", path.replace(next(iter(values.values()), "-"), "")):
        if wrong != path:
            assert routes.match(route.method, wrong)[0] is None, wrong


def test_path_of_another_method_is_405_and_unknown_is_404() -> None:
    assert routes.match("PUT", "/sites/" + "a" * 24)[1:] == ({}, True)
    assert routes.match("GET", "/sites/" + "a" * 24 + "/nope") == (None, {}, False)
    live = routes.match("GET", "/collections/" + "a" * 24 + "/items/live")[0]
    assert live is not None and live.operation == "list-collection-items-live"


JSON_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -7,
    2**70,
    1.5,
    -0.0,
    1e-05,
    1.5e16,
    float("nan"),
    float("inf"),
    "",
    "plain",
    'caf\u00e9 \u2603 \U0001f600 \u2028 \x00 \x1f \x7f \t \n " \\ /',
    [],
    {},
    (1, "t"),
    [1, [2, [3, {}]], {"a": []}],
    {"k": {"nested": [None, True, 1.25]}, "\u00e9": "v", "": 0},
    {1: "int key", None: "none key", 2.5: "float key", False: "bool key"},
    {"items": [{"id": "x", "fieldData": {"name": "n", "gallery": [{"url": "u", "alt": None}]}}]},
]


@pytest.mark.parametrize("value", JSON_VALUES, ids=repr)
def test_to_json_and_dumps_write_what_json_dumps_writes(value: Any) -> None:
    assert to_json(value) == json.dumps(value) == dumps(value)


COMPOSITES = [
    v
    for v in JSON_VALUES
    if isinstance(v, list) or (isinstance(v, dict) and all(isinstance(k, str) for k in v))
]


@pytest.mark.parametrize("value", COMPOSITES, ids=repr)
def test_raw_json_parts_are_spliced_in_as_json_dumps_would_write_them(value: Any) -> None:
    """Each part of a dict (str keys: only those carry RawJSON) or list replaced by its own
    json.dumps text, as RawJSON: the whole comes out as json.dumps of the original."""
    if isinstance(value, dict):
        parts: Any = {k: RawJSON(json.dumps(v)) for k, v in value.items()}
    else:
        parts = [RawJSON(json.dumps(v)) for v in value]
    assert to_json(parts) == json.dumps(value)
    assert to_json({"wrapped": [parts]}) == json.dumps({"wrapped": [value]})
    answer = {"items": [RawJSON(json.dumps(value)), value], "pagination": {"total": 2}}
    assert dumps(answer) == json.dumps({"items": [value, value], "pagination": {"total": 2}})


def test_raw_json_where_dumps_does_not_look_is_refused_not_quoted() -> None:
    hidden = {"outer": {"inner": RawJSON("{}")}}
    assert not carries_raw(hidden)
    with pytest.raises(TypeError):
        dumps(hidden)
    assert dumps(RawJSON('{"a": 1}')) == '{"a": 1}'
