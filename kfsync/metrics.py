"""Prometheus metrics kept in Redis, so every process on every machine adds to one set.

Why Redis and not ``PROMETHEUS_MULTIPROC_DIR``: the web process (several gunicorn workers) and
the Celery workers are separate processes, and a deployment may run worker groups on other
machines (``docs/deploy.md``). A multiprocess directory only joins processes on one host;
Redis is already shared by all of them (it is the broker). Each event is one pipelined
``HINCRBYFLOAT`` round trip; ``/metrics`` on any web process reads the hashes and renders them
with ``prometheus_client`` (``ingest/metrics.py``), together with the gauges computed at scrape
from the database and Redis (jobs by state, open dead letters, queue lengths, circuits).

Counters live as long as Redis keeps its data (AOF in production); Prometheus treats a reset
like a process restart. Recording never raises: when Redis does not answer, events are dropped
for ``DOWN_BACKOFF_S`` instead of slowing every webhook or task down.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import redis

log = logging.getLogger(__name__)

PREFIX = "kfsync:metrics:"
DOWN_BACKOFF_S = 5.0  # after a Redis error, skip recording this long (no latency per event)
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    math.inf)
_SEP, _SUFFIX = "\x1f", "\x1e"


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # counter | histogram
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = DURATION_BUCKETS


WEBHOOKS = Metric("kfsync_webhooks", "counter", "Webhooks received, by outcome "
                  "(accepted, duplicate, ignored, unauthorized, invalid, too_large, "
                  "unavailable).", ("outcome",))
TASK_DURATION = Metric("kfsync_task_duration_seconds", "histogram",
                       "Celery task run time, by task name and final state.", ("task", "state"))
API_CALLS = Metric("kfsync_api_calls", "counter", "Calls to Magento and KashFlow, by system, "
                   "method and HTTP status (\"none\": no response).",
                   ("system", "method", "status"))
API_CALL_DURATION = Metric("kfsync_api_call_duration_seconds", "histogram",
                           "Magento and KashFlow call time, by system.", ("system",))
RATE_LIMIT_WAITS = Metric("kfsync_rate_limit_waits", "counter",
                          "Calls that waited for the global KashFlow rate limit.", ("system",))
RATE_LIMIT_WAIT_SECONDS = Metric("kfsync_rate_limit_wait_seconds", "counter",
                                 "Seconds spent waiting for the KashFlow rate limit.",
                                 ("system",))
RECORDED = (WEBHOOKS, TASK_DURATION, API_CALLS, API_CALL_DURATION, RATE_LIMIT_WAITS,
            RATE_LIMIT_WAIT_SECONDS)


class Recorder:
    """Adds events to the Redis-backed metrics. Safe to share between threads."""

    def __init__(self, redis_url: str) -> None:
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=1,
                                           socket_connect_timeout=1)
        self._down_until = 0.0

    def inc(self, metric: Metric, *values: str, amount: float = 1.0) -> None:
        self._write([(metric, _SEP.join(values), amount)])

    def observe(self, metric: Metric, value: float, *values: str) -> None:
        key = _SEP.join(values)
        bucket = next(b for b in metric.buckets if value <= b)
        self._write([(metric, f"{key}{_SUFFIX}{bucket}", 1.0),
                     (metric, f"{key}{_SUFFIX}sum", value),
                     (metric, f"{key}{_SUFFIX}count", 1.0)])

    # -- hooks handed to other parts --------------------------------------------------------
    def webhook(self, outcome: str) -> None:
        self.inc(WEBHOOKS, outcome)

    def api_call(self, system: str, method: str, _path: str, status: int | None,
                 seconds: float) -> None:
        """A ``connectors.http.CallObserver`` (the path is left out: it holds ids)."""
        self.inc(API_CALLS, system, method, str(status) if status is not None else "none")
        self.observe(API_CALL_DURATION, seconds, system)

    def rate_limit_wait(self, seconds: float, system: str = "kashflow") -> None:
        """A ``connectors.ratelimit.TokenBucket`` ``on_wait`` hook."""
        self.inc(RATE_LIMIT_WAITS, system)
        self.inc(RATE_LIMIT_WAIT_SECONDS, system, amount=seconds)

    def task_finished(self, task: str, state: str, seconds: float) -> None:
        self.observe(TASK_DURATION, seconds, task, state)

    # -- storage -------------------------------------------------------------------------
    def _write(self, items: list[tuple[Metric, str, float]]) -> None:
        if time.monotonic() < self._down_until:
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for metric, field, amount in items:
                pipe.hincrbyfloat(PREFIX + metric.name, field, amount)
            pipe.execute()
        except redis.RedisError as exc:
            self._down_until = time.monotonic() + DOWN_BACKOFF_S
            log.warning("metrics not recorded (Redis: %s)", type(exc).__name__)

    def read(self, metric: Metric) -> dict[str, float]:
        """The raw fields of ``metric`` (for the collector)."""
        raw = self._redis.hgetall(PREFIX + metric.name)
        return {k.decode(): float(v) for k, v in raw.items()}  # type: ignore[union-attr]


@cache
def recorder(redis_url: str) -> Recorder:
    """The process's recorder for ``redis_url``."""
    return Recorder(redis_url)


def counter_samples(fields: dict[str, float]) -> Iterator[tuple[list[str], float]]:
    for key, value in sorted(fields.items()):
        yield key.split(_SEP), value


def histogram_samples(metric: Metric, fields: dict[str, float]
                      ) -> Iterator[tuple[list[str], list[tuple[str, float]], float]]:
    """Per label set: the cumulative buckets (``le``, count) and the sum."""
    series: dict[str, dict[str, float]] = {}
    for key, value in fields.items():
        labels, _, suffix = key.partition(_SUFFIX)
        series.setdefault(labels, {})[suffix] = value
    for labels, parts in sorted(series.items()):
        running, buckets = 0.0, []
        for bound in metric.buckets:
            running += parts.get(str(bound), 0.0)
            buckets.append(("+Inf" if math.isinf(bound) else str(bound), running))
        yield labels.split(_SEP), buckets, parts.get("sum", 0.0)
