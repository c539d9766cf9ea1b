"""The project's one HTTP client for the Webflow Data API v2 (source, destination and verify).

Why a hand-written client and not dlt's RESTClient: Webflow asks clients to pace themselves on
`X-RateLimit-Remaining` (a fixed 60 s window per token), 429 must wait `Retry-After`, 4xx must
never be retried, writes need a guard (the source must be unable to write), and every request is
counted per operation so runs can report what they cost.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies

import requests
import urllib3
from dlt.common.exceptions import DltException, TerminalException, TransientException
from dlt.common.json import json as dlt_json
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from .settings import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_MAX_SECONDS,
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_RATE_LIMIT_RETRIES,
    MAX_TRANSIENT_ATTEMPTS,
    PAGE_LIMIT,
    RATE_LIMIT_WINDOW_SECONDS,
    WEBFLOW_FILE_HOSTS,
)

REDACTED = "***"
_SAFE_EXT = re.compile(r"\.[a-z0-9]{1,10}")
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})
_TRANSIENT_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
# what a download over urllib3 raises for a dropped connection or a timeout (requests wraps them)
_FILE_TRANSIENT_EXCEPTIONS = (
    *_TRANSIENT_EXCEPTIONS,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.TimeoutError,
    urllib3.exceptions.SSLError,
    urllib3.exceptions.ProxyError,
)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# a file up to this size is held in memory until its md5 is known: most are in the store already
# (each item's copy of a file has its own url), and then nothing is written at all
_IN_MEMORY_BYTES = 1 << 20


# errors


class WebflowError(DltException):
    """Base of every error raised by the Webflow client."""


class WebflowApiError(WebflowError):
    """An answer of the API that is an error. Carries no credentials: method, path, status, body."""

    def __init__(
        self,
        status: int | None,
        code: str | None,
        message: str,
        *,
        details: Sequence[Any] = (),
        operation: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details or [])
        self.operation = operation
        self.method = method
        self.path = path
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"{self.method} {self.path}" if self.method else (self.path or "")
        op = f" ({self.operation})" if self.operation else ""
        status = f" -> {self.status}" if self.status is not None else ""
        code = f" {self.code}:" if self.code else ""
        text = f"{where}{op}{status}{code} {self.message}".strip()
        if self.details:
            text += f" details={self.details}"
        return text


class WebflowAuthError(WebflowApiError, TerminalException):
    """401 (bad token) or 403 (missing scope: the message names it)."""

    @property
    def missing_scopes(self) -> list[str]:
        """Scopes named by a 403 `missing_scopes` body."""
        match = re.search(r"missing the following scopes\s*-\s*(.+)$", self.message or "")
        if not match:
            return []
        return [s.strip() for s in re.split(r"[,\s]+", match.group(1)) if s.strip()]


class WebflowValidationError(WebflowApiError, TerminalException):
    """400: the request was rejected; `details` holds `{param, description}` entries."""


class WebflowNotFoundError(WebflowApiError, TerminalException):
    """404: the site, collection, item or asset does not exist."""


class WebflowConflictError(WebflowApiError, TerminalException):
    """409: e.g. duplicate collection, live PATCH of a never-published item."""


class WebflowRateLimitError(WebflowApiError, TransientException):
    """429 answers kept coming after every allowed retry."""


class WebflowTransientError(WebflowApiError, TransientException):
    """5xx answers or broken connections after every allowed retry."""


class ReadOnlyClientError(WebflowError, TerminalException):
    """A write was attempted through a client created with `read_only=True`."""

    def __init__(self, method: str, path: str) -> None:
        self.method = method
        self.path = path
        super().__init__(f"{method} {path} refused: this Webflow client is read-only")


class DownloadRefusedError(WebflowError, TerminalException):
    """A file download was refused: host not allowed, not http(s), or larger than the cap."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"download of {url} refused: {reason}")


_STATUS_ERRORS: dict[int, type[WebflowApiError]] = {
    400: WebflowValidationError,
    401: WebflowAuthError,
    403: WebflowAuthError,
    404: WebflowNotFoundError,
    409: WebflowConflictError,
}


# internal retry signals (never leave the client)


class _RetrySignal(Exception):
    def __init__(self, response: requests.Response | None, exc: BaseException | None) -> None:
        super().__init__("retry")
        self.response = response
        self.exc = exc


class _RateLimited(_RetrySignal):
    def __init__(self, response: requests.Response, retry_after: float | None) -> None:
        super().__init__(response, None)
        self.retry_after = retry_after


class _Transient(_RetrySignal):
    pass


# stats


@dataclass
class ClientStats:
    """Counts of one client's traffic. Thread-safe; read it with `snapshot()`."""

    by_operation: Counter[str] = field(default_factory=Counter)
    by_method: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    paced_seconds: float = 0.0
    downloads: int = 0
    download_bytes: int = 0
    uploads: int = 0
    upload_bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_request(self, operation: str, method: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_operation[operation] += 1
            self.by_method[method] += 1

    def count_status(self, status: int) -> None:
        with self._lock:
            self.by_status[str(status)] += 1
            if status == 429:
                self.rate_limited += 1

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def count_pacing(self, seconds: float) -> None:
        with self._lock:
            self.paced_seconds += seconds

    def count_download(self, size: int) -> None:
        with self._lock:
            self.downloads += 1
            self.download_bytes += size

    def count_upload(self, size: int) -> None:
        with self._lock:
            self.uploads += 1
            self.upload_bytes += size

    def snapshot(self) -> dict[str, Any]:
        """A plain-dict copy, safe to log or store."""
        with self._lock:
            return {
                "requests": self.requests,
                "by_operation": dict(self.by_operation),
                "by_method": dict(self.by_method),
                "by_status": dict(self.by_status),
                "rate_limited": self.rate_limited,
                "retries": self.retries,
                "paced_seconds": round(self.paced_seconds, 3),
                "downloads": self.downloads,
                "download_bytes": self.download_bytes,
                "uploads": self.uploads,
                "upload_bytes": self.upload_bytes,
            }


# pacing


class RateLimitPacer:
    """Keeps a token under its fixed-window rate limit instead of provoking 429s.

    The window is learned from `X-RateLimit-Limit`/`X-RateLimit-Remaining`: an answer with
    Remaining == Limit - 1 was the first request of a window. When the budget is used up the next
    request waits until that window has ended. Without headers it counts its own requests against
    `requests_per_minute`. One lock serialises the bookkeeping, so threads can share it.
    """

    def __init__(
        self,
        requests_per_minute: int | None,
        window_seconds: float = RATE_LIMIT_WINDOW_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.requests_per_minute = requests_per_minute
        self.window_seconds = window_seconds
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._window_start: float | None = None
        self._remaining: int | None = None
        self._limit: int | None = None
        self._in_flight = 0

    def acquire(self) -> float:
        """Blocks until a request may be sent; returns the seconds waited."""
        waited = 0.0
        with self._lock:
            while True:
                now = self._clock()
                if (
                    self._window_start is not None
                    and now >= self._window_start + self.window_seconds
                ):
                    # the window is over; requests still in flight may land in the next one
                    self._window_start = None
                    self._remaining = (
                        None if self._limit is None else max(self._limit - self._in_flight, 0)
                    )
                if self._remaining is not None and self._remaining <= 0:
                    start = self._window_start if self._window_start is not None else now
                    delay = max(start + self.window_seconds - now, 0.0) + 0.001
                    self._sleep(delay)
                    waited += delay
                    continue
                if self._remaining is not None:
                    self._remaining -= 1
                elif self.requests_per_minute:
                    # no headers seen yet: count our own requests in a window starting now
                    self._window_start = now
                    self._remaining = self.requests_per_minute - 1
                self._in_flight += 1
                return waited

    def release(self, headers: Mapping[str, str] | None) -> None:
        """Learns the window from an answer's headers (None when the request failed)."""
        received = self._clock()
        with self._lock:
            self._in_flight = max(self._in_flight - 1, 0)
            limit = _int_header(headers, "X-RateLimit-Limit")
            remaining = _int_header(headers, "X-RateLimit-Remaining")
            if limit is None or remaining is None:
                return
            # pace under the configured limit when it is lower than the token's
            reserve = max(limit - self.requests_per_minute, 0) if self.requests_per_minute else 0
            if remaining >= limit - 1 or self._window_start is None:
                # first request of a window, or a window we know nothing about: conservative start
                self._window_start = received
            self._limit = limit - reserve
            self._remaining = max(remaining - reserve - self._in_flight, 0)

    def rate_limited(self, retry_after: float | None) -> None:
        """After a 429: nothing is left until the server's window ends."""
        with self._lock:
            self._in_flight = max(self._in_flight - 1, 0)
            now = self._clock()
            wait = retry_after if retry_after is not None else self.window_seconds
            # the window ends when Retry-After says; acquire() waits for it as well
            self._window_start = now + wait - self.window_seconds
            self._remaining = 0


def _int_header(headers: Mapping[str, str] | None, name: str) -> int | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def _retry_after_seconds(response: requests.Response) -> float | None:
    """`Retry-After` as seconds (fractional under the emulator's time scale) or an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


# pages and downloads


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint."""

    items: list[dict[str, Any]]
    offset: int
    limit: int
    total: int | None


@dataclass(frozen=True)
class DownloadedFile:
    """A file fetched into the content-addressed store."""

    url: str
    md5: str
    size: int
    path: Path
    content_type: str | None


class _FileResponse:
    """A file host's answer read through urllib3, with the few `requests.Response` members the
    download path uses. requests' per-request work (hooks, cookies, settings merging) was most
    of a download's CPU time; a 10k-item extract makes about 17,000 downloads."""

    def __init__(self, raw: urllib3.BaseHTTPResponse) -> None:
        self._raw = raw
        self._consumed = False
        self.status_code = raw.status
        self.reason = raw.reason
        self.headers = raw.headers

    @property
    def is_redirect(self) -> bool:
        return self.status_code in _REDIRECT_STATUSES and "Location" in self.headers

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        yield from self._raw.stream(chunk_size, decode_content=True)
        self._consumed = True

    def close(self) -> None:
        """Gives the connection back to the pool when the body was read; drops it otherwise."""
        if not self._consumed:
            self._raw.close()
        self._raw.release_conn()


class _BearerAuth(requests.auth.AuthBase):
    """Adds the token to API requests only; its repr never shows it."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return f"_BearerAuth({REDACTED})"


def safe_extension(name_or_url: str) -> str:
    """A lower-case extension made of [a-z0-9] only, or ""; never a path."""
    path = urlsplit(name_or_url).path if "://" in name_or_url else name_or_url
    base = path.rsplit("/", 1)[-1]
    ext = os.path.splitext(base)[1].lower()
    return ext if _SAFE_EXT.fullmatch(ext) else ""


def store_path(store: str | os.PathLike[str], md5: str, ext: str = "") -> Path:
    """`<store>/<md5[:2]>/<md5><ext>`: the only place a downloaded file is written to."""
    if not re.fullmatch(r"[0-9a-f]{32}", md5):
        raise ValueError("md5 must be 32 lower-case hex characters")
    if ext and not _SAFE_EXT.fullmatch(ext):
        ext = ""
    return Path(store) / md5[:2] / f"{md5}{ext}"


class WebflowClient:
    """HTTP client of the Webflow Data API v2: paced, retried, counted, redacted.

    Args:
        api_token (str): site or OAuth token. Never logged, never in messages or reprs.
        base_url (str): API root, e.g. the emulator's `http://127.0.0.1:PORT/v2`.
        read_only (bool): refuse every method but GET/HEAD (the source side uses True).
        requests_per_minute (int | None): pace under this many requests per window; the
            token's `X-RateLimit-*` headers are used when the server sends them.
        window_seconds (float): rate-limit window (60 on Webflow; shorter when the emulator
            compresses time).
        max_attempts (int): attempts for 5xx/connection failures, the first included.
        max_rate_limit_retries (int): 429 answers waited out per request.
        backoff_base (float) / backoff_max (float): exponential backoff with jitter, in seconds.
        timeout (float): seconds per request.
        download_hosts (Sequence[str]): extra hosts to download files from (`*.` = subdomains).
    """

    def __init__(
        self,
        api_token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        read_only: bool,
        requests_per_minute: int | None = 60,
        window_seconds: float = RATE_LIMIT_WINDOW_SECONDS,
        max_attempts: int = MAX_TRANSIENT_ATTEMPTS,
        max_rate_limit_retries: int = MAX_RATE_LIMIT_RETRIES,
        backoff_base: float = BACKOFF_BASE_SECONDS,
        backoff_max: float = BACKOFF_MAX_SECONDS,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        download_hosts: Sequence[str] = (),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        api_token = check_token(api_token)
        self.base_url = base_url.rstrip("/")
        self.read_only = read_only
        self.max_attempts = max(1, max_attempts)
        self.max_rate_limit_retries = max(0, max_rate_limit_retries)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.timeout = timeout
        self.stats = ClientStats()
        self.pacer = RateLimitPacer(requests_per_minute, window_seconds, sleep=sleep)
        self._sleep = sleep
        self._token = api_token
        self._auth = _BearerAuth(api_token)
        # one requests.Session per thread (the destination's load threads share this client);
        # downloads use a separate session that never carries the token
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._files: urllib3.PoolManager | None = None  # see _file_pool
        self._files_checked = False
        self._absolute: dict[str, str] = {}
        api = urlsplit(self.base_url)
        self._api_origin = f"{api.scheme}://{api.netloc}"
        self._download_hosts = tuple(h.lower() for h in (*WEBFLOW_FILE_HOSTS, *download_hosts))
        self._api_host = (api.hostname or "").lower()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"WebflowClient(base_url={self.base_url!r}, {mode}, api_token={REDACTED})"

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("WebflowClient holds a secret and is not picklable")

    def close(self) -> None:
        """Closes both HTTP sessions."""
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
            if self._files is not None:
                self._files.clear()

    def __enter__(self) -> WebflowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _thread_session(self, kind: str) -> requests.Session:
        session: requests.Session | None = getattr(self._local, kind, None)
        if session is None:
            session = requests.Session()
            if not getproxies():
                # requests reads the proxy environment on every request (0.5 ms each, a tenth
                # of a download from the emulator); without proxies only the CA bundle matters
                session.trust_env = False
                bundle = _ca_bundle()
                if bundle:
                    session.verify = bundle
            if kind == "api":
                session.headers.update({"Accept": "application/json"})
            setattr(self._local, kind, session)
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    @property
    def _session(self) -> requests.Session:
        return self._thread_session("api")

    @property
    def _download_session(self) -> requests.Session:
        return self._thread_session("download")

    def _file_pool(self) -> urllib3.PoolManager | None:
        """One urllib3 pool for downloads, shared by all threads; None when a proxy is set (the
        requests session honours the proxy environment, this pool does not)."""
        if not self._files_checked:
            with self._sessions_lock:
                if not self._files_checked:
                    if not getproxies():
                        self._files = urllib3.PoolManager(
                            num_pools=16,
                            maxsize=32,  # one connection per download thread, load threads too
                            cert_reqs="CERT_REQUIRED",
                            ca_certs=_ca_bundle() or requests.certs.where(),
                            timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                            retries=False,
                        )
                    self._files_checked = True
        return self._files

    def redact(self, text: str) -> str:
        """`text` with the token replaced by `***`."""
        return text.replace(self._token, REDACTED) if text else text

    # requests

    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, operation: str | None = None
    ) -> Any:
        """GET a JSON document."""
        return self.request("GET", path, params=params, operation=operation)

    def post(
        self,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        operation: str | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """POST JSON. Not retried after a broken connection unless `idempotent=True`."""
        return self.request(
            "POST", path, params=params, json=json, operation=operation, idempotent=idempotent
        )

    def patch(
        self,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        operation: str | None = None,
    ) -> Any:
        """PATCH JSON (retried like a GET: sending the same PATCH twice gives the same result)."""
        return self.request("PATCH", path, params=params, json=json, operation=operation)

    def delete(
        self,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        operation: str | None = None,
    ) -> Any:
        """DELETE (204 → None)."""
        return self.request("DELETE", path, params=params, json=json, operation=operation)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        operation: str | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Sends one API request (paced, retried) and returns the decoded JSON body or None."""
        method = method.upper()
        if self.read_only and method not in ("GET", "HEAD"):
            raise ReadOnlyClientError(method, self.redact(path))
        url = (
            path
            if path.startswith(("http://", "https://"))
            else f"{self.base_url}/{path.lstrip('/')}"
        )
        op = operation or f"{method.lower()} {path}"
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        response = self._send_with_retries(method, url, op, params, json, idempotent)
        self._local.server_time = _server_time(response)
        if response.status_code >= 400:
            raise self._error(response, op, method, path)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return _json_body(response)
        except ValueError as exc:
            raise WebflowApiError(
                response.status_code,
                None,
                "response is not JSON",
                operation=self.redact(op),
                method=method,
                path=self.redact(path),
            ) from exc

    def last_server_time(self) -> datetime | None:
        """A lower bound of the server's clock when it handled this thread's last request: its
        `Date` header (whole seconds, rounded down) minus the time the request took; None when
        the answer had no usable `Date`. Items changed after that request have a later
        `lastUpdated` (up to the skew between the server's clocks)."""
        return getattr(self._local, "server_time", None)

    def paginate(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        data_key: str = "items",
        *,
        operation: str | None = None,
        limit: int = PAGE_LIMIT,
        start_offset: int = 0,
    ) -> Iterator[Page]:
        """Yields pages of an offset/limit list until `pagination.total` (or a short page)."""
        offset = start_offset
        while True:
            query = {**(params or {}), "offset": offset, "limit": limit}
            body = self.get(path, query, operation=operation) or {}
            items = list(body.get(data_key) or [])
            pagination = body.get("pagination") or {}
            total = pagination.get("total")
            yield Page(items=items, offset=offset, limit=limit, total=total)
            offset += len(items)
            if not items or len(items) < limit or (total is not None and offset >= total):
                return

    def _send_with_retries(
        self,
        method: str,
        url: str,
        operation: str,
        params: Mapping[str, Any] | None,
        json: Any,
        idempotent: bool,
    ) -> requests.Response:
        retrying = Retrying(
            retry=retry_if_exception_type(_RetrySignal),
            stop=self._should_stop,
            wait=self._wait_seconds,
            sleep=self._sleep_counted,
            before_sleep=lambda _state: self.stats.count_retry(),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._send_once(method, url, operation, params, json, idempotent)
        except _RateLimited as signal:
            raise self._error(signal.response, operation, method, _path_of(url)) from None
        except _Transient as signal:
            if signal.response is not None:
                raise self._error(signal.response, operation, method, _path_of(url)) from None
            raise WebflowTransientError(
                None,
                "connection_error",
                self.redact(type(signal.exc).__name__ + ": " + str(signal.exc)),
                operation=self.redact(operation),
                method=method,
                path=self.redact(_path_of(url)),
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(
        self,
        method: str,
        url: str,
        operation: str,
        params: Mapping[str, Any] | None,
        json: Any,
        idempotent: bool,
    ) -> requests.Response:
        self.stats.count_pacing(self.pacer.acquire())
        self.stats.count_request(operation, method)
        try:
            response = self._session.request(
                method, url, params=params, json=json, auth=self._auth, timeout=self.timeout
            )
        except requests.exceptions.ConnectionError as exc:
            self.pacer.release(None)
            refused = isinstance(
                exc, requests.exceptions.ConnectTimeout
            ) or "NewConnectionError" in repr(exc)
            if idempotent or refused:
                raise _Transient(None, exc) from None
            raise self._connection_error(exc, operation, method, url) from None
        except _TRANSIENT_EXCEPTIONS as exc:
            self.pacer.release(None)
            if idempotent:
                raise _Transient(None, exc) from None
            raise self._connection_error(exc, operation, method, url) from None
        self.stats.count_status(response.status_code)
        if response.status_code == 429:
            retry_after = _retry_after_seconds(response)
            self.pacer.rate_limited(retry_after)
            raise _RateLimited(response, retry_after)
        self.pacer.release(response.headers)
        if response.status_code >= 500 and (idempotent or response.status_code == 503):
            raise _Transient(response, None)
        return response

    def _connection_error(
        self, exc: BaseException, operation: str, method: str, url: str
    ) -> WebflowTransientError:
        return WebflowTransientError(
            None,
            "connection_error",
            self.redact(f"{type(exc).__name__} (not retried: the request may have been applied)"),
            operation=self.redact(operation),
            method=method,
            path=self.redact(_path_of(url)),
        )

    @staticmethod
    def _failure_counts(state: RetryCallState) -> Counter[str]:
        """429s and transient failures so far; counted once per attempt (wait runs before stop)."""
        counts: Counter[str] = state.__dict__.setdefault("_webflow_counts", Counter())
        if counts["_attempt"] != state.attempt_number:
            counts["_attempt"] = state.attempt_number
            exc = state.outcome.exception() if state.outcome else None
            counts["rate_limited" if isinstance(exc, _RateLimited) else "transient"] += 1
        return counts

    def _should_stop(self, state: RetryCallState) -> bool:
        counts = self._failure_counts(state)
        return (
            counts["rate_limited"] > self.max_rate_limit_retries
            or counts["transient"] >= self.max_attempts
        )

    def _wait_seconds(self, state: RetryCallState) -> float:
        counts = self._failure_counts(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RateLimited):
            # the pacer knows when the window ends (Retry-After); acquire() waits for it
            return 0.0
        n = max(counts["transient"], 1)
        delay = min(self.backoff_max, self.backoff_base * (2 ** (n - 1)))
        return delay + random.uniform(0, self.backoff_base)

    def _sleep_counted(self, seconds: float) -> None:
        if seconds > 0:
            self.stats.count_pacing(seconds)
            self._sleep(seconds)

    def _error(
        self, response: requests.Response, operation: str, method: str, path: str
    ) -> WebflowApiError:
        status = response.status_code
        code: str | None = None
        message = response.reason or f"HTTP {status}"
        details: list[Any] = []
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            code = body.get("code") or None
            message = str(body.get("message") or message)
            raw_details = body.get("details") or []
            details = raw_details if isinstance(raw_details, list) else [raw_details]
        if status == 429:
            cls: type[WebflowApiError] = WebflowRateLimitError
        elif status >= 500:
            cls = WebflowTransientError
        else:
            cls = _STATUS_ERRORS.get(status, WebflowApiError)
        return cls(
            status,
            code,
            self.redact(message),
            details=[self.redact(d) if isinstance(d, str) else d for d in details],
            operation=self.redact(operation),
            method=method,
            path=self.redact(_path_of(path)),
        )

    # downloads

    def absolute_url(self, url: str) -> str:
        """Resolves a relative file url (`/files/...`) against the API's origin (memoized: an
        extract resolves each file url several times, ~140,000 calls for 10k items)."""
        got = self._absolute.get(url)
        if got is None:
            if len(self._absolute) >= 200_000:
                self._absolute.clear()
            got = self._absolute[url] = urljoin(self._api_origin + "/", url)
        return got

    def is_download_allowed(self, url: str) -> bool:
        """True for https (or the API's own scheme and host) on an allowed file host."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not host:
            return False
        if host == self._api_host:
            return parts.scheme in ("https", urlsplit(self.base_url).scheme)
        if parts.scheme != "https":
            return False
        for allowed in self._download_hosts:
            if allowed.startswith("*."):
                if host.endswith(allowed[1:]):
                    return True
            elif host == allowed:
                return True
        return False

    def download(
        self, url: str, dest_dir: str | os.PathLike[str], max_bytes: int
    ) -> DownloadedFile:
        """Streams a file into `<dest_dir>/<md5[:2]>/<md5><ext>`, never under the remote name.

        Refuses hosts outside the allowlist (redirects included) and files over `max_bytes`. Not an
        API call: not paced, counted separately in `stats.downloads`.
        """
        url = self.absolute_url(url)
        current = url
        for _hop in range(4):
            if not self.is_download_allowed(current):
                raise DownloadRefusedError(_strip_query(current), "host is not on the allowlist")
            response = self._download_with_retries(current)
            if response.is_redirect:  # requests' is_permanent_redirect implies it
                location = response.headers.get("Location", "")
                response.close()
                current = urljoin(current, location)
                continue
            break
        else:
            raise DownloadRefusedError(_strip_query(url), "too many redirects")
        with contextlib.closing(response):
            if response.status_code >= 400:
                raise self._download_error(response, url)
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise DownloadRefusedError(
                    _strip_query(url), f"size {declared} is over the cap of {max_bytes} bytes"
                )
            return self._store(response, url, dest_dir, max_bytes)

    def _download_with_retries(self, url: str) -> requests.Response | _FileResponse:
        pool = self._file_pool()
        send: Callable[[], requests.Response | _FileResponse]
        if pool is None:
            send = lambda: self._download_session.get(  # noqa: E731
                url, stream=True, timeout=self.timeout, allow_redirects=False
            )
        else:
            send = lambda: _FileResponse(  # noqa: E731
                pool.request("GET", url, preload_content=False, redirect=False)
            )
        return self._tokenless_with_retries(send, url, "download", "GET")

    def upload_form(
        self,
        url: str,
        fields: Sequence[tuple[str, str]],
        file_name: str,
        data: bytes,
        content_type: str | None = None,
    ) -> requests.Response:
        """The S3-style multipart POST of create-asset's `uploadUrl` (fields in order, file last).

        Presigned, so it never carries the token; retried on 5xx and broken connections (the
        object key is fixed, so a repeat overwrites the same bytes); counted in `stats.uploads`.
        Returns the final answer (201 on success; a 4xx is the caller's to report).
        """
        if self.read_only:
            raise ReadOnlyClientError("POST", _strip_query(url))
        files = {"file": (file_name, data, content_type or "application/octet-stream")}
        response = self._tokenless_with_retries(
            lambda: self._download_session.post(
                url, data=list(fields), files=files, timeout=self.timeout, allow_redirects=False
            ),
            url,
            "s3-upload",
            "POST",
        )
        self.stats.count_upload(len(data))
        return response

    def _tokenless_with_retries(
        self, send: Callable[[], Any], url: str, operation: str, method: str
    ) -> Any:
        """Sends a request to a file host (no token, not an API call, not paced) with retries."""
        retrying = Retrying(
            retry=retry_if_exception_type(_RetrySignal),
            stop=self._should_stop,
            wait=self._wait_seconds,
            sleep=self._sleep_counted,
            before_sleep=lambda _state: self.stats.count_retry(),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    try:
                        response = send()
                    except _FILE_TRANSIENT_EXCEPTIONS as exc:
                        raise _Transient(None, exc) from None
                    if response.status_code >= 500 or response.status_code == 429:
                        response.close()
                        raise _Transient(response, None)
                    return response
        except _RetrySignal as signal:
            if signal.response is not None:
                raise self._download_error(signal.response, url, operation, method) from None
            raise _connection_error(signal.exc, url, operation, method) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _download_error(
        self,
        response: requests.Response | _FileResponse,
        url: str,
        operation: str = "download",
        method: str = "GET",
    ) -> WebflowApiError:
        status = response.status_code
        cls: type[WebflowApiError]
        if status >= 500 or status == 429:
            cls = WebflowTransientError
        else:
            cls = _STATUS_ERRORS.get(status, WebflowApiError)
        return cls(
            status,
            None,
            response.reason or f"HTTP {status}",
            operation=operation,
            method=method,
            path=_strip_query(url),
        )

    def _store(
        self,
        response: requests.Response | _FileResponse,
        url: str,
        dest_dir: str | os.PathLike[str],
        max_bytes: int,
    ) -> DownloadedFile:
        """Writes the body to its content address, atomically (temp file, then rename).

        A body up to `_IN_MEMORY_BYTES` stays in memory until its md5 is known: when the store
        holds those bytes already (an asset and the RichText images showing the same bytes),
        nothing is written. Larger bodies stream to a temp file as they come.
        """
        dest = Path(dest_dir)
        digest = hashlib.md5()
        size = 0
        held: list[bytes] = []
        tmp: Any = None
        tmp_name: str | None = None
        try:
            try:
                for chunk in response.iter_content(chunk_size=64 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        raise DownloadRefusedError(
                            _strip_query(url), f"larger than the cap of {max_bytes} bytes"
                        )
                    digest.update(chunk)
                    if tmp is None and size <= _IN_MEMORY_BYTES:
                        held.append(chunk)
                        continue
                    if tmp is None:
                        dest.mkdir(parents=True, exist_ok=True)
                        fd, tmp_name = tempfile.mkstemp(prefix=".part-", dir=dest)
                        tmp = os.fdopen(fd, "wb")
                        tmp.writelines(held)
                        held.clear()
                    tmp.write(chunk)
            except _FILE_TRANSIENT_EXCEPTIONS as exc:
                raise _connection_error(exc, url, "download", "GET") from None
            if tmp is not None:
                tmp.close()
            md5 = digest.hexdigest()
            final = store_path(dest, md5, safe_extension(url))
            if final.exists():  # content-addressed: these bytes are stored already
                if tmp_name is not None:
                    os.unlink(tmp_name)
                    tmp_name = None
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                if tmp_name is None:
                    fd, tmp_name = tempfile.mkstemp(prefix=".part-", dir=final.parent)
                    with os.fdopen(fd, "wb") as out:
                        out.writelines(held)
                os.replace(tmp_name, final)
                tmp_name = None
        except BaseException:
            if tmp is not None:
                tmp.close()
            if tmp_name is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp_name)
            raise
        self.stats.count_download(size)
        return DownloadedFile(
            url=url,
            md5=md5,
            size=size,
            path=final,
            content_type=response.headers.get("Content-Type"),
        )


_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")


class MalformedTokenError(ValueError):
    """The token cannot be a Webflow token; the message never shows it."""


def _ca_bundle() -> str | None:
    """The CA bundle of the environment (`REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`), if set."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")


def _connection_error(
    exc: BaseException | None, url: str, operation: str, method: str
) -> WebflowTransientError:
    """A file host's dropped connection or timeout, as a transient error (url without query)."""
    return WebflowTransientError(
        None,
        "connection_error",
        type(exc).__name__,
        operation=operation,
        method=method,
        path=_strip_query(url),
    )


def _json_body(response: requests.Response) -> Any:
    """The decoded JSON body: orjson (dlt's json), twice as fast as requests' decoder (0.27
    instead of 0.57 s for the 376 pages of a 10k-item extract); requests' decoder for what
    orjson refuses (lone surrogates `\\ud800`, text that was not valid UTF-8: the source
    replaces them with a warning)."""
    try:
        return dlt_json.loadb(response.content)
    except ValueError:
        return response.json()


def _server_time(response: requests.Response) -> datetime | None:
    """`Date` minus the request's duration (see `WebflowClient.last_server_time`)."""
    try:
        date = parsedate_to_datetime(response.headers.get("Date") or "")
    except (TypeError, ValueError):
        return None
    if date.tzinfo is None:
        return None
    return date - response.elapsed


def check_token(token: str | None) -> str:
    """The token without surrounding whitespace (a pasted trailing newline is common).

    Refuses empty tokens and tokens with inner whitespace, control or non-ASCII characters
    before they reach an HTTP header: `requests` would reject the header with the token in its
    message.
    """
    value = (token or "").strip() if isinstance(token, str) else ""
    if not value:
        raise MalformedTokenError("api_token is empty")
    if not _TOKEN_CHARS.fullmatch(value):
        raise MalformedTokenError(
            f"api_token is malformed ({len(value)} characters; it contains whitespace, control "
            "or non-ASCII characters): copy the token again (it is not shown here)"
        )
    return value


def _path_of(url: str) -> str:
    """The path of a URL without query string or host (what error messages show)."""
    return urlsplit(url).path or url


def _strip_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every non-empty secret replaced by `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text
