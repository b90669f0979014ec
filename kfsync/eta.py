"""Time left for a long run whose work items finish at a steady rate (``kfsync backfill``).

A backfill is paced by KashFlow's rate limit, so its orders settle at a nearly constant rate
once it runs — but not in its first seconds: the first orders queue at once (up to the
backlog limit), the worker logs in and reads its lookups, and the rate limiter starts with a
full bucket. An average over the whole run, or rich's default (the speed over its last 30 s
of updates, counted from the first), carries that start into the estimate for a long time.

``SteadyRate`` measures over a recent window only: the later half of the time elapsed so far,
at most ``window_s`` long. Early on that drops the start; later it follows the current pace
(a shop's rate limit changing, another deployment sharing it). The estimate is of settled
work, the count that ends the run, not of work queued.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0  # long enough to average the rate limiter's jitter, short enough to follow
MIN_SPAN_S = 2.0  # no estimate from less than this much observed time


class SteadyRate:
    """Counts of finished items over time -> items per second and seconds left.

    ``update(done)`` records the count finished so far (monotonic, from the same clock).
    """

    def __init__(self, total: int, done: int = 0, *, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``done``: already finished at the start (a resumed run), not counted as pace."""
        self.total = total
        self.window_s = window_s
        self._clock = clock
        self._start = clock()
        self._samples: deque[tuple[float, float]] = deque([(self._start, float(done))])

    def update(self, done: int) -> None:
        now = self._clock()
        self._samples.append((now, float(done)))
        # keep one sample older than any window we may still ask for
        horizon = now - self.window_s
        while len(self._samples) > 2 and self._samples[1][0] <= horizon:
            self._samples.popleft()

    def rate(self) -> float | None:
        """Items per second over the window (None until there is enough to tell)."""
        now, done = self._samples[-1]
        span = min(self.window_s, (now - self._start) / 2)
        if span < MIN_SPAN_S:
            return None
        since = now - span
        # the count at the window's start, interpolated between the samples around it
        older = [s for s in self._samples if s[0] <= since]
        t0, n0 = older[-1] if older else self._samples[0]
        newer = next((s for s in self._samples if s[0] > since), None)
        if older and newer is not None and newer[0] > t0:
            t1, n1 = newer
            n0 += (n1 - n0) * (since - t0) / (t1 - t0)
            t0 = since
        if now <= t0:
            return None
        return max(0.0, (done - n0) / (now - t0))

    def seconds_left(self) -> float | None:
        """Seconds until ``total`` at the current rate (0 when done; None when unknown)."""
        done = self._samples[-1][1]
        if done >= self.total:
            return 0.0
        rate = self.rate()
        if not rate:
            return None
        return (self.total - done) / rate
