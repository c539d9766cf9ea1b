"""webflow_emulator: a local, stateful emulator of the Webflow Data API v2 (see README.md)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from .admin_client import AdminClient
from .model import World
from .server import EmulatorHTTPServer

__all__ = ["AdminClient", "EmulatorServer", "World"]


class EmulatorServer:
    """The emulator serving in a daemon thread on a loopback port (port=0: a free one).

    With validate=True every /v2 exchange is checked by `conformance.SpecValidator` (if that
    module exists); findings land in `violations`, the count in `validated_count`.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", validate: bool = False) -> None:
        self.host = host
        self.port = port
        self.validate = validate
        self._httpd: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._last: EmulatorHTTPServer | None = None  # keeps violations readable after stop()
        self.admin: AdminClient = AdminClient(f"http://{host}:{port}")  # rebound by start()

    def start(self) -> EmulatorServer:
        if self._httpd is not None:
            return self
        self._httpd = EmulatorHTTPServer((self.host, self.port), validate=self.validate)
        self._last = self._httpd
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"webflow-emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        self.admin = AdminClient(self.root_url)
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.wait_validations()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def httpd(self) -> EmulatorHTTPServer:
        if self._httpd is None:
            raise RuntimeError("EmulatorServer is not started")
        return self._httpd

    @property
    def root_url(self) -> str:
        return self.httpd.root_url

    @property
    def base_url(self) -> str:
        return self.root_url + "/v2"

    @property
    def state(self) -> World:
        """The in-memory model (for white-box assertions; prefer the admin export)."""
        return self.httpd.world

    @property
    def validator(self) -> Any:
        return self.httpd.validator

    @property
    def violations(self) -> list[dict[str, Any]]:
        return self._last.violations if self._last is not None else []

    @property
    def validated_count(self) -> int:
        return self._last.validated_count if self._last is not None else 0
