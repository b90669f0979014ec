"""``GET /metrics``: Prometheus text for the whole deployment (see ``core/metrics.py``).

Recorded series (webhooks, task durations, API calls, rate-limit waits) are read from Redis;
the gauges are computed at scrape: jobs by state and open dead letters from the database,
queue lengths and open circuits from Redis. Open like ``/healthz``: keep the web port on the
private network or put the scrape behind the proxy's auth (``docs/deploy.md``).
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
from core.settings import Settings
from ingest import queries
from ingest.app import current_settings
from store.db import session_scope

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)


class KfsyncCollector(Collector):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        yield from self._recorded()
        yield from self._store()
        yield from self._redis()

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
                for values, value in m.counter_samples(fields):
                    family.add_metric(values, value)
                yield family
            else:
                hist = HistogramMetricFamily(metric.name, metric.help, labels=metric.labels)
                for values, buckets, total in m.histogram_samples(metric, fields):
                    hist.add_metric(values, buckets, total)
                yield hist

    def _store(self) -> Iterator[Metric]:
        with session_scope(self.settings.database_url) as s:
            by_state = queries.jobs_by_state(s)
            letters = queries.open_letters_by_class(s)
        jobs = GaugeMetricFamily("kfsync_jobs", "Sync jobs by state (from the database).",
                                 labels=["state"])
        for state, count in by_state.items():
            jobs.add_metric([state], count)
        yield jobs
        open_letters = GaugeMetricFamily(
            "kfsync_dead_letters_open", "Dead letters waiting for an operator, by error class.",
            labels=["error_class"])
        for cls, count in letters.items():
            open_letters.add_metric([cls], count)
        yield open_letters

    def _redis(self) -> Iterator[Metric]:
        backlog = GaugeMetricFamily("kfsync_queue_length",
                                    "Messages waiting per Celery queue (LLEN).", labels=["queue"])
        for queue, length in queries.queue_lengths(self.settings.redis_url).items():
            if length is not None:
                backlog.add_metric([queue], length)
        yield backlog
        circuits = GaugeMetricFamily("kfsync_circuit_open", "1 while a circuit is open.",
                                     labels=["system"])
        circuits.add_metric(["kashflow"],
                            1 if queries.open_circuits(self.settings.redis_url) else 0)
        yield circuits


@bp.get("/metrics")
def metrics() -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(KfsyncCollector(current_settings()))
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


WEBHOOK_OUTCOMES = {202: "accepted", 400: "invalid", 401: "unauthorized", 413: "too_large",
                    503: "unavailable"}


def record_webhook(response: Response) -> Response:
    """After ``POST /webhooks/magento``: count the outcome the sender saw (unless the publish
    already counted it in its round trip: ``ingest.sources.intake.accept``)."""
    if (request.path == "/webhooks/magento" and request.method == "POST"
            and not g.get("kfsync_webhook_counted", False)):
        outcome = WEBHOOK_OUTCOMES.get(response.status_code)
        if outcome is None and response.status_code == 200:
            outcome = str((response.get_json(silent=True) or {}).get("status", "ok"))
        m.recorder(current_settings().redis_url).webhook(outcome or str(response.status_code))
    return response
