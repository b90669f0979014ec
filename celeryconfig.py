"""Celery settings for kfsync (loaded by ``workers.app``; the broker URL comes from settings).

Reliability choices (DESIGN §4, reference market-and-celery.md §B):
late acks + reject on worker lost + prefetch 1, so a killed worker's task is redelivered, not
lost; every task is idempotent, so redelivery is safe. Countdowns stay far below the Redis
visibility timeout, or a waiting retry would be redelivered and run twice.
"""

import os
from typing import Any

from celery.schedules import crontab
from kombu.entity import Queue

from core.settings import ConfigError, Settings
from mappings.stock_rules import beat_interval_s

QUEUES = ("ingest", "orders", "customers", "payments", "refunds", "stock", "maintenance")
DEAD_LETTER_QUEUE = "dead_letter"  # parked messages only: no worker consumes it
MAX_COUNTDOWN_S = 600  # the longest retry wait we schedule on the broker
VISIBILITY_TIMEOUT_S = 3600  # > MAX_COUNTDOWN_S, so a scheduled retry is never redelivered early
# How often beat looks for jobs whose worker died (their short lease ran out, workers/lease.py):
# a crashed worker's jobs resume within the lease plus this.
REDRIVE_S = 10.0

try:
    _settings = Settings.load()
except ConfigError:  # reported, as one line, by the command that loads the settings itself
    _settings = Settings()
broker_url = _settings.redis_url
# KFSYNC_CATCH_UP_INTERVAL_S: how often beat polls Magento for what no push announced.
catch_up_interval_s = _settings.catch_up_interval_s
broker_connection_retry_on_startup = True
broker_transport_options = {"visibility_timeout": VISIBILITY_TIMEOUT_S}
# Publishing from the web process must fail fast when Redis is down: the event is already
# committed and the beat relay enqueues it later.
broker_transport_options |= {"socket_connect_timeout": 1, "socket_timeout": 5}
task_publish_retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
                             "interval_max": 0.2}

task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
task_ignore_result = True
task_store_errors_even_if_ignored = False
task_serializer = "json"
accept_content = ["json"]

task_queues = [Queue(name) for name in (*QUEUES, DEAD_LETTER_QUEUE)]
task_default_queue = "maintenance"
task_routes = {
    "kfsync.events.*": {"queue": "ingest"},
    "kfsync.orders.*": {"queue": "orders"},
    "kfsync.customers.*": {"queue": "customers"},
    "kfsync.payments.*": {"queue": "payments"},
    "kfsync.refunds.*": {"queue": "refunds"},
    "kfsync.maintenance.*": {"queue": "maintenance"},
    "kfsync.stock.*": {"queue": "stock"},
}

worker_send_task_events = True  # Flower
# No "task-sent" event: it costs the web process a second Redis write per webhook, and
# Flower shows each task from the moment a worker receives it.
task_send_sent_event = False
worker_hijack_root_logger = False
# Worker processes: one per core this process may use, plus one to use a core while another
# waits on KashFlow, Magento or the database. More only adds switching between processes: on
# 2 cores, 3 processes synced about 15% more orders a second than 4 (bench/NOTES.md).
worker_concurrency = len(os.sched_getaffinity(0)) + 1 if hasattr(os, "sched_getaffinity") \
    else (os.cpu_count() or 1) + 1
worker_max_tasks_per_child = 1000
worker_soft_shutdown_timeout = 10  # give late-ack tasks time to requeue on SIGTERM

beat_schedule = {
    "relay-events": {"task": "kfsync.maintenance.relay_events", "schedule": REDRIVE_S},
    "redrive-stalled": {"task": "kfsync.maintenance.redrive_stalled", "schedule": REDRIVE_S},
    "release-parked": {"task": "kfsync.maintenance.release_parked", "schedule": 30.0},
    "probe-kashflow": {"task": "kfsync.maintenance.probe_kashflow", "schedule": 60.0},
    "flush-alerts": {"task": "kfsync.maintenance.flush_alerts", "schedule": 60.0},
    "catch-up-poll": {"task": "kfsync.maintenance.catch_up", "schedule": catch_up_interval_s},
    "stock-sync": {"task": "kfsync.stock.sync_all", "schedule": beat_interval_s()},
    # Summary mode: close and post the summaries of days past (docs/accounting-modes.md).
    "close-summaries": {"task": "kfsync.maintenance.close_summaries", "schedule": 300.0},
    # The KashFlow catalogue for the mapping studio, and the profile validated against it.
    "refresh-catalogue": {"task": "kfsync.maintenance.refresh_catalogue", "schedule": 86400.0},
}


def reconcile_entry(at: str) -> dict[str, Any] | None:
    """Beat's entry for the daily payment reconciliation at ``at`` (``"HH:MM"`` UTC, from
    KFSYNC_RECONCILE_AT), or None for ``"off"``."""
    if at == "off":
        return None
    hour, minute = at.split(":")
    return {"task": "kfsync.maintenance.reconcile_payments",
            "schedule": crontab(hour=int(hour), minute=int(minute))}


_reconcile = reconcile_entry(_settings.reconcile_at)
if _reconcile is not None:
    beat_schedule["reconcile-payments"] = _reconcile


def routine_task_names() -> list[str]:
    """The tasks of the beat schedule, whose routine log lines ``core.logs`` demotes to DEBUG."""
    return sorted({str(entry["task"]) for entry in beat_schedule.values()})
