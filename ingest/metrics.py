"""``GET /metrics``: Prometheus text for the whole deployment (see ``core/metrics.py``).

Recorded series (webhooks, task durations, API calls, rate-limit waits) are read from Redis;
the gauges are computed at scrape: jobs by state and open dead letters from the database,
queue lengths (each pair's ingest queue too) and open circuits from Redis. Every series but
webhooks and queue lengths carries the integration pair (``pair``: pair names only). Open
like ``/healthz``: keep the web port on the private network or put the scrape behind the
proxy's auth (``docs/deploy.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import Blueprint, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from core import metrics as m
from core.pairs import DEFAULT, ingest_queue
from core.settings import Settings
from ingest import queries
from ingest.app import current_settings
from services.pairs import known
from store.db import session_scope

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)


class KfsyncCollector(Collector):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        yield from self._recorded()
        names = known(self.settings)  # every pair, default first: the gauges' pair label
        yield from self._store(names)
        yield from self._redis(names)

    def _recorded(self) -> Iterator[Metric]:
        rec = m.recorder(self.settings.redis_url)
        for metric in m.RECORDED:
            try:
                fields = rec.read(metric)
            except Exception as exc:  # Redis down: the scrape still shows the database gauges
                log.warning("metric %s unavailable: %s", metric.name, type(exc).__name__)
                continue
            if metric.kind == "counter":
                family = CounterMetricFamily(metric.name, metric.help, labels=metric.labels)
                for values, value in m.counter_samples(fields, metric):
                    family.add_metric(values, value)
                yield family
            else:
                hist = HistogramMetricFamily(metric.name, metric.help, labels=metric.labels)
                for values, buckets, total in m.histogram_samples(metric, fields):
                    hist.add_metric(values, buckets, total)
                yield hist

    def _store(self, names: list[str]) -> Iterator[Metric]:
        with session_scope(self.settings.database_url) as s:
            by_pair = queries.jobs_by_pair_and_state(s, names)
            letters = queries.open_letters_by_pair_and_class(s)
        jobs = GaugeMetricFamily("kfsync_jobs", "Sync jobs by state and integration pair "
                                 "(from the database).", labels=["state", "pair"])
        for pair, by_state in by_pair.items():
            for state, count in by_state.items():
                jobs.add_metric([state, pair], count)
        yield jobs
        open_letters = GaugeMetricFamily(
            "kfsync_dead_letters_open", "Dead letters waiting for an operator, by error class "
            "and integration pair.", labels=["error_class", "pair"])
        for (pair, cls), count in sorted(letters.items()):
            open_letters.add_metric([cls, pair], count)
        yield open_letters

    def _redis(self, pairs: list[str]) -> Iterator[Metric]:
        backlog = GaugeMetricFamily("kfsync_queue_length",
                                    "Messages waiting per Celery queue (LLEN).", labels=["queue"])
        extra = tuple(ingest_queue(name) for name in pairs if name != DEFAULT)
        for queue, length in queries.queue_lengths(self.settings.redis_url, extra).items():
            if length is not None:
                backlog.add_metric([queue], length)
        yield backlog
        circuits = GaugeMetricFamily("kfsync_circuit_open", "1 while a circuit is open, per "
                                     "integration pair.", labels=["system", "pair"])
        for name in pairs:
            circuits.add_metric(["kashflow", name], 1 if queries.open_circuits(
                self.settings.redis_url, name) else 0)
        yield circuits


@bp.get("/metrics")
def metrics() -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(KfsyncCollector(current_settings()))
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


WEBHOOK_OUTCOMES = {202: "accepted", 400: "invalid", 401: "unauthorized", 413: "too_large",
                    503: "unavailable"}


WEBHOOK_ENDPOINT = "webhooks.receive"  # POST /webhooks/magento and /webhooks/magento/<pair>


def record_webhook(response: Response) -> Response:
    """After ``POST /webhooks/magento[/<pair>]``: count the outcome the sender saw (unless the
    publish already counted it in its round trip: ``ingest.sources.intake.accept``), with
    the pair of the path once the view found it (``receive``); before that (no such pair,
    disabled, too large) under pair ``none``: the label never takes a name from the URL."""
    if (request.endpoint == WEBHOOK_ENDPOINT and request.method == "POST"
            and not g.get("kfsync_webhook_counted", False)):
        outcome = WEBHOOK_OUTCOMES.get(response.status_code)
        if outcome is None and response.status_code == 200:
            outcome = str((response.get_json(silent=True) or {}).get("status", "ok"))
        m.recorder(current_settings().redis_url).webhook(
            outcome or str(response.status_code), str(g.get("kfsync_webhook_pair", "none")))
    return response
