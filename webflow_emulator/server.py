"""HTTP layer: a stdlib ThreadingHTTPServer serving /v2 (auth, scopes, rate limit, faults,
accounting, optional spec validation), the admin interface, the CDN and the fake S3."""

from __future__ import annotations

import contextlib
import email.utils
import json
import re
import socket
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape

from . import errors, routes
from .accounting import Accounting
from .assets import UploadError
from .errors import ApiError
from .faults import Faults, error_body
from .model import World
from .pause import PauseGate
from .ratelimit import RateLimiter
from .util import dumps, is_object_id

JSON = "application/json"
# Tests that send deliberately invalid requests set this header: the spec validator then judges
# only the response of that exchange (request violations are expected there).
EXPECT_INVALID_HEADER = "X-Emulator-Expect-Invalid-Request"
DEFAULT_CONFIG: dict[str, Any] = {"rateLimit": None, "timeScale": 1.0}
# A header line as the stdlib's email parser takes it: a field name (no space, no colon) and ':'
HEADER_NAME_RE = re.compile(r"[\x21-\x39\x3b-\x7e]+:")
FAST_HEADER_LINES = 64  # more (or longer than a read buffer) goes to the stdlib's parser


def parse_query(raw: str) -> dict[str, Any]:
    """Query string -> dict; deepObject `a[b]=v` becomes {"a": {"b": v}}; last value wins."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if key.endswith("]") and "[" in key:
            name, sub = key[:-1].split("[", 1)
            target = out.get(name)
            if not isinstance(target, dict):
                target = out[name] = {}
            target[sub] = value
        else:
            out[key] = value
    return out


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """`Date:` as `BaseHTTPRequestHandler.date_time_string()` gives it, formatted once a second."""
    global _date_cache
    now = int(time.time())
    second, text = _date_cache
    if second != now:
        text = email.utils.formatdate(now, usegmt=True)
        _date_cache = (now, text)
    return text


def simple_headers(block: bytes) -> list[tuple[str, str]] | None:
    """CRLF-separated `Name: value` lines -> (name, value) as `http.client.parse_headers` stores
    them (value without its leading blanks); None when the block holds anything else (folded
    lines, a bare CR or LF, a line without a field name, many lines): the stdlib then parses it
    with its own checks and error answers."""
    text = block.decode("iso-8859-1")
    lines = text.split("\r\n")
    if (
        len(lines) > FAST_HEADER_LINES
        or text.count("\n") != len(lines) - 1
        or text.count("\r") != len(lines) - 1
    ):
        return None
    out = []
    for line in lines:
        name = HEADER_NAME_RE.match(line)
        if name is None:
            return None
        out.append((line[: name.end() - 1], line[name.end() :].lstrip(" \t")))
    return out


def header_index(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lowercased name -> first value, as `Message.get` picks it."""
    index: dict[str, str] = {}
    for name, value in pairs:
        index.setdefault(name.lower(), value)
    return index


def is_json_dumps_text(body: bytes) -> bool:
    """Whether a body is exactly what `json.dumps` writes for the value it holds: answers are
    composed from kept JSON parts (util.dumps), and this checks every validated exchange."""
    try:
        return json.dumps(json.loads(body)).encode() == body
    except ValueError:
        return False


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], bytes | None]:
    """Minimal multipart/form-data parser for the S3 POST: text fields until `file`;
    fields after `file` are ignored, as S3 does."""
    boundary = None
    for part in content_type.split(";"):
        part = part.strip()
        if part.lower().startswith("boundary="):
            boundary = part[9:].strip().strip('"')
    if not boundary:
        raise UploadError(400, "InvalidArgument", "Missing multipart boundary")
    delimiter = b"--" + boundary.encode()
    fields: dict[str, str] = {}
    data: bytes | None = None
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        head, sep, payload = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        payload = payload.removesuffix(b"\r\n")
        name = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if line.lower().startswith("content-disposition:"):
                for attr in line.split(";")[1:]:
                    k, _, v = attr.strip().partition("=")
                    if k.lower() == "name":
                        name = v.strip('"')
        if name is None:
            continue
        if name.lower() == "file":
            data = payload
            break
        fields[name] = payload.decode("utf-8", "replace")
    return fields, data


class Handler(BaseHTTPRequestHandler):
    """One connection; keep-alive HTTP/1.1."""

    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # without it Nagle + delayed ACK add ~40 ms per request
    server: EmulatorHTTPServer
    _fields: dict[str, str] | None = None  # the request's header_index, built on first use

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests make thousands of requests."""

    def parse_request(self) -> bool:
        """The stdlib's request parsing, with a fast path for the usual request (an HTTP/1.1
        request line and plain headers, all buffered already): the stdlib reads headers with the
        email package, a fifth of a download's CPU and more for a multipart upload (it compiles
        the boundary as a regex). Anything else takes the stdlib's path untouched."""
        self._fields = None
        return self._parse_plain_request() or super().parse_request()

    def _parse_plain_request(self) -> bool:
        """Sets what `parse_request` sets, as it would, and consumes the headers; False (nothing
        consumed) when the request is not of the plain kind."""
        requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = requestline.split()
        if len(words) != 3 or words[2] != "HTTP/1.1":
            return False
        buffered = self.rfile.peek()
        if buffered.startswith(b"\r\n"):
            end, pairs = 2, []
        else:
            cut = buffered.find(b"\r\n\r\n")
            pairs = simple_headers(buffered[:cut]) if cut > 0 else None
            end = cut + 4
        if pairs is None:
            return False
        fields = header_index(pairs)
        if "expect" in fields:  # 100-continue: the stdlib's handling
            return False
        headers = self.MessageClass()
        for name, value in pairs:
            headers.set_raw(name, value)
        self.rfile.read(end)
        self.requestline = requestline
        self.command, path, self.request_version = words
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path
        self.headers = headers
        self._fields = fields
        self.close_connection = (self._header("Connection") or "").lower() == "close"
        return True

    def _header(self, name: str) -> str | None:
        """What `self.headers.get(name)` gives (the first value, any case), from an index built
        once per request: each `get` lowercases and compares every header."""
        if self._fields is None:
            self._fields = header_index(self.headers.items())
        return self._fields.get(name.lower())

    # --- plumbing --------------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if "chunked" in (self._header("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self._header("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None = JSON,
        headers: dict[str, str] | None = None,
    ) -> dict[str, str]:
        sent: dict[str, str] = {}
        if status != 204:
            if content_type:
                sent["Content-Type"] = content_type
            sent["Content-Length"] = str(len(body))
        sent.update(headers or {})
        if self.request_version == "HTTP/0.9" or any(k.lower() == "connection" for k in sent):
            self.send_response(status)  # the stdlib's way, for what it treats specially
            for k, v in sent.items():
                self.send_header(k, v)
            self.end_headers()
        else:
            self.wfile.write(self._head(status, sent))
        if status != 204 and self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        return sent

    def _head(self, status: int, headers: dict[str, str]) -> bytes:
        """The status line and headers `send_response` + `send_header` + `end_headers` write
        (Server and Date first), built at once: those calls were a third of a small answer's
        CPU."""
        reason = self.responses[status][0] if status in self.responses else ""
        lines = [
            f"{self.protocol_version} {status} {reason}\r\n"
            f"Server: {self.version_string()}\r\nDate: {http_date()}\r\n"
        ]
        lines += [f"{k}: {v}\r\n" for k, v in headers.items()]
        lines.append("\r\n")
        return "".join(lines).encode("latin-1", "strict")

    def _drop(self) -> None:
        """Closes the socket without an answer: the client sees a ConnectionError."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = b"" if status == 204 else json.dumps(payload).encode()
        self._send(status, body, JSON, headers)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        """No CORS preflight here: an unknown method gets Webflow's JSON error shape, not HTML."""
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        path = url.path
        try:
            if path == "/v2" or path.startswith("/v2/"):
                self._api(path[3:] or "/", url.query, body)
            elif path.startswith("/_emulator/"):
                self._admin(path, body)
            elif path.startswith("/_cdn/") and self.command in ("GET", "HEAD"):
                self._cdn(path)
            elif path.startswith("/_s3/") and self.command == "POST":
                self._s3(path, body)
            else:
                self._json(404, errors.not_found().body())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # --- /v2 -------------------------------------------------------------------------------------
    def _api(self, path: str, query: str, raw: bytes) -> None:
        srv = self.server
        method = self.command
        route, params, known = routes.match(method, path)
        op = route.operation if route else "unknown"
        if not srv.pause.arrive(op):  # held by a test, then released as "never arrived"
            srv.accounting.record(op, method, None, None, "reset")
            self._drop()
            return
        try:
            self._api_handle(route, known, op, path, params, query, raw)
        finally:
            srv.pause.leave()

    def _api_handle(
        self,
        route: routes.Route | None,
        known: bool,
        op: str,
        path: str,
        params: dict[str, str],
        query: str,
        raw: bytes,
    ) -> None:
        srv = self.server
        method = self.command
        req = routes.Request(method, path, params, {}, None)
        headers: dict[str, str] = {}
        fault: str | None = None
        lost = False
        status: int | None = None
        payload: Any = None
        try:
            req.token = self._token()
            limit = srv.limit_for(req.token)
            # every /v2 answer carries the limit headers, even 401/404, when a limit is set
            # (deviations: ratelimit-off-no-headers)
            if limit:
                key = req.token.token if req.token else "anonymous"
                decision = srv.limiter.check(key, limit, srv.time_scale)
                headers.update(decision.headers())
                if not decision.allowed:
                    raise ApiError(429, "too_many_requests", "Too many requests")
            if route is None:
                if known:
                    raise ApiError(405, "bad_request", "Method Not Allowed")
                raise errors.not_found()
            if req.token is None:
                raise errors.not_authorized()
            req.site_id = self._site_hint(route, req)
            plan = srv.faults.draw(op, srv.time_scale)
            if plan.latency_s:
                time.sleep(plan.latency_s)
            if plan.error_status:
                fault = "error"
                status, payload = plan.error_status, error_body(plan.error_status)
            elif plan.reset:
                fault = "reset"
            else:
                lost = plan.lost  # the request is applied (or refused) either way
                status, payload = self._call(route, req, query, raw)
        except ApiError as exc:
            status, payload = exc.status, exc.body()
            headers.update(exc.headers)
        except Exception:
            traceback.print_exc()
            status, payload = 500, errors.internal_error().body()
        if lost and fault is None:
            fault = "lost"
        if req.token is not None:
            req.token.last_used = int(time.time() * 1000)
        srv.accounting.record(
            op, method, None if fault in ("reset", "lost") else status, req.site_id, fault
        )
        if fault in ("reset", "lost"):
            self._drop()
            return
        assert status is not None
        body = b"" if status == 204 else dumps(payload).encode()
        if srv.validator is None:
            self._send(status, body, JSON, headers)
            return
        # validated after the answer is sent, so it is counted as in flight until then: a
        # session-end check must not read the count while the last exchange is still judged
        with srv.validation_in_flight():
            sent = self._send(status, body, JSON, headers)
            srv.validate(
                op, method, "/v2" + path, query, dict(self.headers.items()), raw, status, sent, body
            )

    def _site_hint(self, route: routes.Route, req: routes.Request) -> str | None:
        """The site a request concerns, for stats even when it fails or is faulted."""
        token = req.token
        if route.resource is None:
            return token.site_ids[0] if token is not None and len(token.site_ids) == 1 else None
        value = req.params.get(route.resource[1], "")
        if not is_object_id(value):
            return None
        try:
            return self.server.world.site_of(route.resource[0], value)
        except ApiError:
            return None

    def _token(self) -> Any:
        auth = self._header("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.server.world.token(token.strip())

    def _call(
        self, route: routes.Route, req: routes.Request, query: str, raw: bytes
    ) -> tuple[int, Any]:
        srv = self.server
        token = req.token
        assert token is not None
        if route.scope and route.scope not in token.scopes:
            raise errors.missing_scopes(route.scope)  # deviations: missing-scope-403
        for name, value in req.params.items():
            if not is_object_id(value):
                raise errors.invalid_id(name)  # deviations: invalid-path-id-400
        if route.resource is not None:
            kind, param = route.resource
            req.site_id = srv.world.site_of(kind, req.params[param])
            if req.site_id not in token.site_ids:
                raise errors.forbidden()  # deviations: foreign-site-403
        req.query = parse_query(query)
        if raw.strip():
            if "json" not in (self._header("Content-Type") or "").lower():
                # deviations: json-content-type
                raise errors.bad_request("Bad Request: Content-Type must be application/json")
            try:
                req.body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise errors.bad_request() from None
        elif route.needs_body:
            raise errors.bad_request("Bad Request: Request body is required")
        if route.needs_body and not isinstance(req.body, dict):
            raise errors.bad_request("Bad Request: Request body must be a JSON object")
        return route.handler(srv.world, req)

    # --- admin -----------------------------------------------------------------------------------
    def _admin(self, path: str, raw: bytes) -> None:
        if self.client_address[0] not in ("127.0.0.1", "::1", "localhost"):
            self._json(403, errors.forbidden().body())
            return
        srv = self.server
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            self._json(400, errors.bad_request().body())
            return
        m, p = self.command, path.rstrip("/")
        try:
            if (m, p) == ("POST", "/_emulator/reset"):
                srv.reset()
                self._json(204, None)
            elif (m, p) == ("POST", "/_emulator/sites"):
                self._json(
                    200,
                    srv.world.create_site(
                        body.get("displayName"), body.get("shortName"), body.get("locales")
                    ),
                )
            elif (m, p) == ("POST", "/_emulator/tokens"):
                token = srv.world.mint_token(
                    list(body.get("siteIds") or []), body.get("scopes"), body.get("rateLimit")
                )
                self._json(200, {"token": token})
            elif p == "/_emulator/config" and m in ("GET", "PATCH", "POST"):
                if m != "GET":
                    srv.configure(body)
                self._json(200, srv.config_snapshot())
            elif (m, p) == ("GET", "/_emulator/pause"):
                self._json(200, srv.pause.snapshot())
            elif (m, p) == ("POST", "/_emulator/pause/release"):
                land = body.get("landBefore")
                if land is not None and not isinstance(land, str):
                    raise ValueError("landBefore must be an operationId or null")
                released = srv.pause.release(bool(body.get("apply", True)), land)
                self._json(200, {"released": released})
            elif (m, p) == ("GET", "/_emulator/stats"):
                self._json(200, srv.accounting.snapshot())
            elif (m, p) == ("POST", "/_emulator/stats/reset"):
                srv.accounting.reset()
                self._json(204, None)
            elif m == "GET" and p.startswith("/_emulator/sites/") and p.endswith("/export"):
                self._json(200, srv.world.export_site(p.split("/")[3]))
            elif (m, p) == ("POST", "/_emulator/seed"):
                self._json(200, srv.run_seed(str(body.get("name") or ""), body))
            else:
                self._json(404, errors.not_found().body())
        except ApiError as exc:
            self._json(exc.status, exc.body())
        except (ValueError, TypeError, KeyError) as exc:
            self._json(400, errors.bad_request(f"Bad Request: {exc}").body())
        except Exception as exc:  # a seed or admin bug: answer, don't drop the connection
            traceback.print_exc()
            self._json(500, {**errors.internal_error().body(), "details": [repr(exc)]})

    # --- CDN and S3 ------------------------------------------------------------------------------
    def _cdn(self, path: str) -> None:
        parts = path[len("/_cdn/") :].split("/", 1)
        rec = None
        if len(parts) == 2 and "_" in parts[1]:
            file_id, _, name = parts[1].partition("_")
            rec = self.server.world.cdn_file(parts[0], file_id)
            if rec is not None and unquote(name) != rec.name:
                rec = None
        self.server.accounting.record_external("cdn-download")
        if rec is None:
            self._send(404, b"Not Found", "text/plain")
            return
        self._send(
            200,
            rec.data,
            rec.content_type,
            {"Cache-Control": "max-age=31536000", "ETag": f'"{rec.md5}"'},
        )

    def _s3(self, path: str, raw: bytes) -> None:
        bucket = path[len("/_s3/") :].strip("/")
        self.server.accounting.record_external("s3-upload")
        try:
            fields, data = parse_multipart(raw, self._header("Content-Type") or "")
            result = self.server.world.s3_upload(bucket, fields, data)
        except UploadError as exc:
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'
                f"{escape(exc.code)}</Code><Message>{escape(exc.message)}</Message></Error>"
            )
            self._send(exc.status, xml.encode(), "application/xml")
            return
        key, etag = result
        location = f"{self.server.root_url}/_s3/{bucket}/{key}"
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>'
            f"<Location>{escape(location)}</Location><Bucket>{escape(bucket)}</Bucket>"
            f'<Key>{escape(key)}</Key><ETag>"{etag}"</ETag></PostResponse>'
        )
        self._send(
            201, xml.encode(), "application/xml", {"ETag": f'"{etag}"', "Location": location}
        )


class EmulatorHTTPServer(ThreadingHTTPServer):
    """The server object shared by all handler threads: world, limiter, faults, stats."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], validate: bool = False) -> None:
        super().__init__(address, Handler)
        host, port = self.server_address[:2]
        self.root_url = f"http://{host}:{port}"
        self.world = World(self.root_url)
        self.limiter = RateLimiter()
        self.faults = Faults()
        self.accounting = Accounting()
        self.pause = PauseGate()
        self.config: dict[str, Any] = dict(DEFAULT_CONFIG)
        self.violations: list[dict[str, Any]] = []
        self.validated_count = 0
        self._validation_lock = threading.Lock()
        self._in_flight = 0
        self._idle = threading.Condition(self._validation_lock)
        self.validator: Any = None
        if validate:
            try:
                from .conformance import SpecValidator  # written by a colleague
            except ImportError:
                self.validator = None
            else:
                self.validator = SpecValidator()

    @property
    def time_scale(self) -> float:
        return float(self.config.get("timeScale") or 1.0)

    def limit_for(self, token: Any) -> int | None:
        if token is not None and token.rate_limit:
            return int(token.rate_limit)
        return self.config.get("rateLimit")

    def reset(self) -> None:
        self.world.reset()
        self.limiter.reset()
        self.faults.configure({})
        self.accounting.reset()
        self.pause.configure(None, None)
        self.config = dict(DEFAULT_CONFIG)

    def configure(self, body: dict[str, Any]) -> None:
        if not isinstance(body, dict):
            raise ValueError("config must be an object")
        if "rateLimit" in body:
            rl = body["rateLimit"]
            if rl is not None and (not isinstance(rl, int) or isinstance(rl, bool) or rl < 1):
                raise ValueError("rateLimit must be a positive integer or null")
            self.config["rateLimit"] = rl
        if "timeScale" in body:
            ts = body["timeScale"]
            if not isinstance(ts, int | float) or isinstance(ts, bool) or ts <= 0:
                raise ValueError("timeScale must be a positive number")
            self.config["timeScale"] = float(ts)
            self.limiter.reset()
        if "pauseAfterRequests" in body or "pauseOperation" in body:
            after = body.get("pauseAfterRequests", self.pause.after)
            if after is not None and (
                not isinstance(after, int) or isinstance(after, bool) or after < 1
            ):
                raise ValueError("pauseAfterRequests must be a positive integer or null")
            operation = body.get("pauseOperation")
            if operation is not None and not isinstance(operation, str):
                raise ValueError("pauseOperation must be an operationId or null")
            self.pause.configure(after, operation)
        if "faults" in body:
            f = body["faults"]
            if not isinstance(f, dict):
                raise ValueError("faults must be an object")
            allowed = {
                "seed",
                "errorRate",
                "resetRate",
                "lostResponseRate",
                "latencyMs",
                "statuses",
                "operations",
            }
            unknown = set(f) - allowed
            if unknown:
                raise ValueError(f"unknown fault settings: {sorted(unknown)}")
            for rate in ("errorRate", "resetRate", "lostResponseRate"):
                v = f.get(rate, 0)
                if not isinstance(v, int | float) or isinstance(v, bool) or not 0 <= v <= 1:
                    raise ValueError(f"{rate} must be a number between 0 and 1")
            if "latencyMs" in f and (
                not isinstance(f["latencyMs"], int | float) or f["latencyMs"] < 0
            ):
                raise ValueError("latencyMs must be a non-negative number")
            statuses = f.get("statuses", [500])
            if (
                not isinstance(statuses, list)
                or not statuses
                or not all(isinstance(x, int) and 500 <= x <= 599 for x in statuses)
            ):
                raise ValueError("statuses must be a non-empty list of 5xx codes")
            ops = f.get("operations")
            if ops is not None and not (
                isinstance(ops, list) and all(isinstance(o, str) for o in ops)
            ):
                raise ValueError("operations must be a list of operationIds or null")
            merged = {k: v for k, v in self.faults.config.items() if k in allowed}
            merged.update(f)
            self.faults.configure(merged)

    def config_snapshot(self) -> dict[str, Any]:
        faults = {k: v for k, v in self.faults.config.items()}
        pause = {"pauseAfterRequests": self.pause.after, "pauseOperation": self.pause.operation}
        return {**self.config, **pause, "faults": faults}

    def run_seed(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Runs webflow_emulator.seeds.<name>.build(base_url, admin) outside the world lock
        (the seed talks to this server over HTTP)."""
        from .admin_client import AdminClient
        from .seeds import get_seed

        build = get_seed(name)
        result = build(self.root_url + "/v2", AdminClient(self.root_url))
        self.accounting.reset()  # deviations: stats-exclude-seed
        return result

    @contextlib.contextmanager
    def validation_in_flight(self) -> Iterator[None]:
        with self._idle:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def wait_validations(self, timeout: float = 10.0) -> bool:
        """Waits until no exchange is being validated; False if that took longer than timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def validate(
        self,
        op: str,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        status: int,
        response_headers: dict[str, str],
        response_body: bytes,
    ) -> None:
        """Runs the colleague's SpecValidator on one exchange; records violations."""
        try:
            found = self.validator.check(
                method, path, query, headers, body, status, response_headers, response_body
            )
        except Exception as exc:
            found = [f"validator error: {exc!r}"]
        if any(k.lower() == EXPECT_INVALID_HEADER.lower() for k in headers):
            # a test sending a deliberately invalid request: judge only the answer
            found = [v for v in found if not v.startswith("request ")]
        if response_body and not is_json_dumps_text(response_body):
            found = [*found, "response body: not the text json.dumps gives for its value"]
        with self._validation_lock:
            self.validated_count += 1
            if found:
                self.violations.append(
                    {
                        "operation": op,
                        "method": method,
                        "path": path,
                        "status": status,
                        "violations": list(found),
                    }
                )
