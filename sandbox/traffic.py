"""Traffic bookkeeping shared by both sandboxes: a token bucket and the call counters."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; one token per API call.

    Not thread-safe on its own: the owner (``FaultRegistry``) holds its lock around ``take``.
    """

    def __init__(self, rate: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def take(self) -> int | None:
        """Spend one token; ``None`` when allowed, else the whole seconds to wait (>= 1)."""
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        return max(1, math.ceil((1 - self._tokens) / self.rate))

    def describe(self) -> dict[str, Any]:
        return {"rate": self.rate, "burst": self.burst}


class CallLog:
    """Counts of API calls per ``"METHOD /path-template"``, per status, and faults fired."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._calls: dict[str, int] = {}
            self._statuses: dict[str, int] = {}
            self._route_statuses: dict[str, dict[str, int]] = {}
            self._faults: dict[str, int] = {}
            self._total = 0

    def record(self, template: str, status: str) -> None:
        with self._lock:
            self._total += 1
            self._calls[template] = self._calls.get(template, 0) + 1
            self._statuses[status] = self._statuses.get(status, 0) + 1
            by_status = self._route_statuses.setdefault(template, {})
            by_status[status] = by_status.get(status, 0) + 1

    def fault_fired(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] = self._faults.get(kind, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self._total,
                "calls": dict(sorted(self._calls.items())),
                "statuses": dict(sorted(self._statuses.items())),
                "by_route": {route: dict(sorted(counts.items())) for route, counts
                             in sorted(self._route_statuses.items())},
                "rate_limited": self._statuses.get("429", 0),
                "faults": dict(sorted(self._faults.items())),
            }
