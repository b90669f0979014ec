"""Prometheus metrics kept in Redis, so every process on every machine adds to one set.

Why Redis and not ``PROMETHEUS_MULTIPROC_DIR``: the web process (several gunicorn workers) and
the Celery workers are separate processes, and a deployment may run worker groups on other
machines (``docs/deploy.md``). A multiprocess directory only joins processes on one host;
Redis is already shared by all of them (it is the broker). ``/metrics`` on any web process reads
the hashes and renders them with ``prometheus_client`` (``ingest/metrics.py``), together with
the gauges computed at scrape from the database and Redis (jobs by state, open dead letters,
queue lengths, circuits).

Writing: each field is a ``HINCRBYFLOAT``. By default an event is written at once, in one
pipelined round trip (the web process records this way: one webhook, one event). A thread can
``Recorder.hold`` its events instead: they are summed in memory per field and ``flush`` writes
them all in one pipelined round trip. Celery workers hold for the length of each task
(``workers/telemetry.py``), so a task's API calls and its duration cost one round trip, not
two per call. A held buffer is also written out early, and held on, once it has
``MAX_HELD_FIELDS`` fields or its oldest event is ``MAX_HOLD_S`` old (checked as events
arrive): a long task neither grows it without bound nor hides its calls from ``/metrics``
until it ends. Held events never flushed (the process dies mid-task) are lost, like any event
whose write fails.

Counters live as long as Redis keeps its data (AOF in production); Prometheus treats a reset
like a process restart. Recording never raises: when Redis does not answer, events are dropped
for ``DOWN_BACKOFF_S`` instead of slowing every webhook or task down.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

import redis

from core import pairs

log = logging.getLogger(__name__)

PREFIX = "kfsync:metrics:"
DOWN_BACKOFF_S = 5.0  # after a Redis error, skip recording this long (no latency per event)
# A task touches a few dozen fields (per system: a counter per method and status, 16 histogram
# fields); 500 is only reached by labels that keep changing, and is still one pipeline of
# ~70 KB (~140 bytes per HINCRBYFLOAT), well within one round trip.
MAX_HELD_FIELDS = 500
# Below a usual 15-30 s scrape interval: a stock pass running for minutes still shows its
# calls in about one scrape, at one round trip per 10 s instead of per call.
MAX_HOLD_S = 10.0
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
                  "unavailable) and integration pair of the path.", ("outcome", "pair"))
# ``pair`` (last, so series recorded before pairs read as pair "default"): the integration
# pair the work was for (core.pairs). Its values are pair names only, which kfsync pairs add
# validates: as many series per label set as there are pairs, never an id or a URL.
TASK_DURATION = Metric("kfsync_task_duration_seconds", "histogram",
                       "Celery task run time, by task name, final state and integration pair.",
                       ("task", "state", "pair"))
API_CALLS = Metric("kfsync_api_calls", "counter", "Calls to Magento and KashFlow, by system, "
                   "method, HTTP status (\"none\": no response) and integration pair.",
                   ("system", "method", "status", "pair"))
API_CALL_DURATION = Metric("kfsync_api_call_duration_seconds", "histogram",
                           "Magento and KashFlow call time, by system and integration pair.",
                           ("system", "pair"))
RATE_LIMIT_WAITS = Metric("kfsync_rate_limit_waits", "counter",
                          "Calls that waited for their pair's KashFlow rate limit.",
                          ("system", "pair"))
RATE_LIMIT_WAIT_SECONDS = Metric("kfsync_rate_limit_wait_seconds", "counter",
                                 "Seconds spent waiting for a pair's KashFlow rate limit.",
                                 ("system", "pair"))
RECORDED = (WEBHOOKS, TASK_DURATION, API_CALLS, API_CALL_DURATION, RATE_LIMIT_WAITS,
            RATE_LIMIT_WAIT_SECONDS)


class _Held(threading.local):
    """One thread's held events: summed amounts by (hash key, field)."""

    def __init__(self) -> None:
        self.on = False
        self.fields: dict[tuple[str, str], float] = {}
        self.since = 0.0  # monotonic time of the oldest buffered event


class Recorder:
    """Adds events to the Redis-backed metrics. Safe to share between threads.

    Never raises on Redis errors: a failed write drops its events and pauses writing for
    ``DOWN_BACKOFF_S``.
    """

    def __init__(self, redis_url: str) -> None:
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=1,
                                           socket_connect_timeout=1)
        self._down_until = 0.0
        self._held = _Held()  # per thread: gunicorn threads share this recorder, unheld

    def hold(self) -> None:
        """Buffer this thread's events until ``flush`` (see the module docstring).

        Other threads keep writing at once. Holding again while held keeps the buffer.
        """
        self._held.on = True

    def flush(self) -> None:
        """Write this thread's held events in one round trip (none if there are none) and stop
        holding. Never raises."""
        self._held.on = False
        self._write_held()

    def inc(self, metric: Metric, *values: str, amount: float = 1.0) -> None:
        self._write([(metric, _SEP.join(values), amount)])

    def observe(self, metric: Metric, value: float, *values: str) -> None:
        key = _SEP.join(values)
        bucket = next(b for b in metric.buckets if value <= b)
        self._write([(metric, f"{key}{_SUFFIX}{bucket}", 1.0),
                     (metric, f"{key}{_SUFFIX}sum", value),
                     (metric, f"{key}{_SUFFIX}count", 1.0)])

    # -- hooks handed to other parts --------------------------------------------------------
    def webhook(self, outcome: str, pair: str = pairs.DEFAULT) -> None:
        self.inc(WEBHOOKS, *webhook_labels(outcome, pair))

    def api_call(self, system: str, method: str, _path: str, status: int | None,
                 seconds: float) -> None:
        """A ``connectors.http.CallObserver`` (the path is left out: it holds ids), labelled
        with the pair the running work is for (``core.pairs.current``)."""
        pair = pairs.current()
        self.inc(API_CALLS, system, method, str(status) if status is not None else "none", pair)
        self.observe(API_CALL_DURATION, seconds, system, pair)

    def rate_limit_wait(self, seconds: float, system: str = "kashflow") -> None:
        """A ``connectors.ratelimit.TokenBucket`` ``on_wait`` hook."""
        pair = pairs.current()
        self.inc(RATE_LIMIT_WAITS, system, pair)
        self.inc(RATE_LIMIT_WAIT_SECONDS, system, pair, amount=seconds)

    def task_finished(self, task: str, state: str, seconds: float,
                      pair: str = pairs.DEFAULT) -> None:
        self.observe(TASK_DURATION, seconds, task, state, pair)

    # -- storage -------------------------------------------------------------------------
    def _write(self, items: list[tuple[Metric, str, float]]) -> None:
        held = self._held
        if not held.on:
            self._send((PREFIX + metric.name, field, amount) for metric, field, amount in items)
            return
        if not held.fields:
            held.since = time.monotonic()
        for metric, field, amount in items:
            key = (PREFIX + metric.name, field)
            held.fields[key] = held.fields.get(key, 0.0) + amount
        if (len(held.fields) >= MAX_HELD_FIELDS
                or time.monotonic() - held.since >= MAX_HOLD_S):
            self._write_held()  # and keep holding

    def _write_held(self) -> None:
        fields, self._held.fields = self._held.fields, {}
        if fields:
            self._send((name, field, amount) for (name, field), amount in fields.items())

    def _send(self, items: Iterable[tuple[str, str, float]]) -> None:
        """One pipelined round trip of ``HINCRBYFLOAT`` (hash, field, amount); never raises."""
        if time.monotonic() < self._down_until:
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for name, field, amount in items:
                pipe.hincrbyfloat(name, field, amount)
            pipe.execute()
        except redis.RedisError as exc:
            self._down_until = time.monotonic() + DOWN_BACKOFF_S
            log.warning("metrics not recorded (Redis: %s)", type(exc).__name__)

    def read(self, metric: Metric) -> dict[str, float]:
        """The raw fields of ``metric`` (for the collector)."""
        raw = self._redis.hgetall(PREFIX + metric.name)
        return {k.decode(): float(v) for k, v in raw.items()}  # type: ignore[union-attr]


def webhook_labels(outcome: str, pair: str) -> tuple[str, ...]:
    """A webhook's label values. Pair ``default``'s are stored as they were before pairs
    (the outcome alone), which the collector reads as pair ``default`` (``_full``)."""
    return (outcome,) if pair == pairs.DEFAULT else (outcome, pair)


def increment(metric: Metric, *values: str, amount: float = 1.0) -> tuple[str, str, float]:
    """One counter increment as (hash, field, amount), for a caller that writes it in a round
    trip of its own (``workers.dispatch.publish_event``)."""
    return PREFIX + metric.name, _SEP.join(values), amount


@cache
def recorder(redis_url: str) -> Recorder:
    """The process's recorder for ``redis_url``."""
    return Recorder(redis_url)


def _full(metric: Metric, labels: str) -> str:
    """``labels`` with every label of ``metric``: a field written before a label was added
    (``pair``) gets ``default`` for it, so old and new series add up instead of clashing."""
    values = labels.split(_SEP)
    missing = len(metric.labels) - len(values)
    return _SEP.join([*values, *([pairs.DEFAULT] * missing)]) if missing > 0 else labels


def counter_samples(fields: dict[str, float], metric: Metric | None = None
                    ) -> Iterator[tuple[list[str], float]]:
    merged: dict[str, float] = {}
    for key, value in fields.items():
        full = _full(metric, key) if metric is not None else key
        merged[full] = merged.get(full, 0.0) + value
    for key, value in sorted(merged.items()):
        yield key.split(_SEP), value


def histogram_samples(metric: Metric, fields: dict[str, float]
                      ) -> Iterator[tuple[list[str], list[tuple[str, float]], float]]:
    """Per label set: the cumulative buckets (``le``, count) and the sum."""
    series: dict[str, dict[str, float]] = {}
    for key, value in fields.items():
        labels, _, suffix = key.partition(_SUFFIX)
        parts = series.setdefault(_full(metric, labels), {})
        parts[suffix] = parts.get(suffix, 0.0) + value
    for labels, parts in sorted(series.items()):
        running, buckets = 0.0, []
        for bound in metric.buckets:
            running += parts.get(str(bound), 0.0)
            buckets.append(("+Inf" if math.isinf(bound) else str(bound), running))
        yield labels.split(_SEP), buckets, parts.get("sum", 0.0)
