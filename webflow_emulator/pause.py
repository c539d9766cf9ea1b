"""A one-shot gate that holds the N-th /v2 request until a test releases it.

Why: a crash test must kill its client at an exact request, not after a guessed delay. The
emulator cannot kill the client, but it can stop answering: the test arms the gate
(`pauseAfterRequests: N`, optionally `pauseOperation: opId` to count only that operation), waits
until `GET /_emulator/pause` says `paused`, SIGKILLs the client, then releases the request
(`POST /_emulator/pause/release {"apply": true|false}`): applied = the write landed but its answer
was lost with the process; not applied = the process died before the write arrived.

`{"apply": true, "landBefore": opId}` keeps holding it until the next request of `opId` arrives,
applies it, then lets that request go on: a write that lands late, after the next run has read
the target (a server still working on a dead client's request), on cue instead of by a guessed
delay.
"""

from __future__ import annotations

import threading
from typing import Any


class PauseGate:
    """Counts /v2 requests (or one operation's) and holds the N-th one until released."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.configure(None, None)

    def configure(self, after: int | None, operation: str | None) -> None:
        """Arms the gate (None disarms it) and releases a request held by the previous arming."""
        with self._lock:
            self._apply = False
            self._released.set()
            self._released = threading.Event()
            self.after = after
            self.operation = operation
            self.count = 0
            self.paused: str | None = None
            self.triggered = False
            self._land_before: str | None = None
            self._held_thread: int | None = None
            self._landed = threading.Event()

    def arrive(self, operation: str) -> bool:
        """Called for every /v2 request before it is handled; blocks the N-th one.

        Returns False when the held request must be dropped (released with `apply: false`).
        """
        with self._lock:
            cue = self._land_before is not None and operation == self._land_before
            if cue:
                self._land_before = None
                self._released.set()
            landed = self._landed
        if cue:
            landed.wait(30.0)  # the late write is applied before this request is handled
        with self._lock:
            if self.after is None or self.triggered:
                return True
            if self.operation is not None and operation != self.operation:
                return True
            self.count += 1
            if self.count < self.after:
                return True
            self.triggered = True
            self.paused = operation
            self._held_thread = threading.get_ident()
            released = self._released
        released.wait()
        with self._lock:
            self.paused = None
            return self._apply

    def leave(self) -> None:
        """Called when a /v2 request has been handled: marks the held one as landed."""
        with self._lock:
            if self._held_thread == threading.get_ident():
                self._held_thread = None
                self._landed.set()

    def release(self, apply: bool, land_before: str | None = None) -> bool:
        """Lets the held request go on (applied or dropped), or with `land_before` applies it
        just before the next request of that operation; False when none is held."""
        with self._lock:
            held = self.paused is not None
            self._apply = apply or land_before is not None
            if land_before is not None and held:
                self._land_before = land_before
            else:
                self._released.set()
            return held

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "pauseAfterRequests": self.after,
                "pauseOperation": self.operation,
                "counted": self.count,
                "paused": self.paused is not None,
                "operation": self.paused,
            }
