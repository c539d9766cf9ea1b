"""Seeded fault injection for /v2 requests: latency, error answers, resets, lost responses."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

ERROR_BODIES: dict[int, dict[str, Any]] = {
    500: {"code": "internal_error", "message": "An Internal Error occurred"},
    502: {"code": "internal_error", "message": "Bad Gateway"},
    503: {"code": "service_unavailable", "message": "Service Unavailable"},
    504: {"code": "internal_error", "message": "Gateway Timeout"},
}


@dataclass
class FaultPlan:
    """What to do with one request, drawn in the order latency, error, reset, lost."""

    latency_s: float = 0.0
    error_status: int | None = None
    reset: bool = False
    lost: bool = False


class Faults:
    """Draws a FaultPlan per request from a seeded RNG, so a run is reproducible."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.configure({})

    def configure(self, config: dict[str, Any]) -> None:
        with self._lock:
            self.config = {
                "seed": 0,
                "errorRate": 0.0,
                "resetRate": 0.0,
                "lostResponseRate": 0.0,
                "latencyMs": 0.0,
                "statuses": [500, 502, 503],
                "operations": None,
                **config,
            }
            self._rng = random.Random(self.config["seed"])

    def active(self) -> bool:
        c = self.config
        return bool(c["errorRate"] or c["resetRate"] or c["lostResponseRate"] or c["latencyMs"])

    def draw(self, operation: str, time_scale: float) -> FaultPlan:
        c = self.config
        plan = FaultPlan()
        ops = c["operations"]
        if not self.active() or (ops is not None and operation not in ops):
            return plan
        with self._lock:
            rng = self._rng
            if c["latencyMs"]:
                plan.latency_s = float(c["latencyMs"]) / 1000.0 / time_scale
            if rng.random() < c["errorRate"]:
                plan.error_status = int(rng.choice(c["statuses"]))
                return plan
            if rng.random() < c["resetRate"]:
                plan.reset = True
                return plan
            if rng.random() < c["lostResponseRate"]:
                plan.lost = True
        return plan


def error_body(status: int) -> dict[str, Any]:
    base = ERROR_BODIES.get(
        status, {"code": "internal_error", "message": "An Internal Error occurred"}
    )
    return {**base, "externalReference": None, "details": []}
