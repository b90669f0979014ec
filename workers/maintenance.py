"""Periodic upkeep run by beat on the ``maintenance`` queue. Each task holds a Redis lock, so
a slow run never overlaps the next tick (and two beats could not double it either).

- ``relay_events``: webhooks committed while Redis was unreachable (no ``enqueued_at``), and
  events whose message was lost (enqueued long ago, never processed), are published again.
- ``redrive_stalled``: jobs whose chain message was lost (a worker killed with its message,
  Redis restarted without it) are started again from their step; steps are idempotent.
- ``release_parked``: jobs parked in the database (circuit open, long Retry-After) whose time
  has come are enqueued, unless the circuit is still open.
- ``probe_kashflow``: while the circuit is open, one cheap call at most every 10 minutes.
- ``flush_alerts``: summaries of alerts held back by de-duplication.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar, cast

import redis
from sqlalchemy import select, update

from connectors.errors import ConnectorError
from core import leases, pairs, redis_clients
from core.settings import ConfigError, Settings
from services import circuit
from services import pairs as pairs_store
from services.clients import kashflow_client
from store.db import session_scope
from store.models import InboundEvent, JobState, SyncJob, utcnow
from workers import alerts, context
from workers.app import celery_app
from workers.dispatch import enqueue_event, publish_chain

log = logging.getLogger(__name__)

RELAY_GRACE_S = 30  # longer than the web process needs to publish and mark an event
# Due this long ago while the step queues are empty: the message is gone (a Redis restart
# lost it, or a worker killed whole took it: it sits unacked until the broker's visibility
# timeout). A retry's event is due when its retry is (``workers.dispatch.mark_retry_due``).
# A duplicate is harmless (every step claims its job), so this is short: a lost order waits
# about this plus one relay tick (bench/NOTES.md).
LOST_AFTER_S = 30
BATCH = 500
# Where events and job chains wait (a credit memo's chain on "refunds"): while any holds a
# message, a queued job or an unprocessed event may simply be waiting its turn.
STEP_QUEUES = ("ingest", "orders", "customers", "payments", "refunds")
F = TypeVar("F", bound=Callable[..., int])


def exclusive(name: str) -> Callable[[F], F]:
    """Run the task body only if no other run of ``name`` holds its lock; else return 0. The
    lock is a lease (``core.leases.locked``): kept while the run lasts, gone within
    ``leases.LEASE_S`` of a killed worker."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> int:
            client = redis_clients.client(context.settings().redis_url)
            with leases.locked(client, f"kfsync:lock:{name}") as mine:
                return fn(*args, **kwargs) if mine else 0
        return cast(F, run)
    return wrap


@celery_app.task(name="kfsync.maintenance.relay_events")
@exclusive("relay_events")
def relay_events() -> int:
    """Publish stored events that were never enqueued, or whose message was lost."""
    lost_after = LOST_AFTER_S if _step_queues_empty() else None
    return relay_pending(context.db_url(), RELAY_GRACE_S, lost_after)


def relay_pending(url: str, grace_s: float, lost_after_s: float | None) -> int:
    """Publish unsent events, and (``lost_after_s`` set) events enqueued but never processed."""
    now = utcnow()
    never_sent = InboundEvent.enqueued_at.is_(None) & (
        InboundEvent.received_at <= now - timedelta(seconds=grace_s))
    lost = never_sent if lost_after_s is None else (
        InboundEvent.enqueued_at < now - timedelta(seconds=lost_after_s))
    with session_scope(url) as s:
        rows = list(s.execute(select(InboundEvent.id, InboundEvent.pair)
                              .where(InboundEvent.processed_at.is_(None), never_sent | lost)
                              .order_by(InboundEvent.id).limit(BATCH)))
    sent = 0
    for row_id, pair in rows:
        if not enqueue_event(url, row_id, pair):
            break  # the broker is still down: try again next tick
        sent += 1
    return sent


@celery_app.task(name="kfsync.maintenance.redrive_stalled")
@exclusive("redrive_stalled")
def redrive_stalled() -> int:
    """Restart chains whose message is gone; returns how many jobs were re-driven.

    A job running with an expired lease lost its worker; a job retrying past its retry's due
    time (plus grace) lost its retry message. A queued job untouched for ``LOST_AFTER_S``
    lost its message only if the step queues are empty — during a long backlog (a backfill
    under the rate limit) it is simply waiting its turn.
    """
    now = utcnow()
    orphaned = SyncJob.state.in_([JobState.RUNNING, JobState.RETRYING]) & (
        SyncJob.lease_until < now)
    stalled = orphaned
    if _step_queues_empty():
        stalled = stalled | ((SyncJob.state == JobState.QUEUED)
                             & (SyncJob.updated_at < now - timedelta(seconds=LOST_AFTER_S)))
    return _restart(select(SyncJob).where(stalled).limit(BATCH))


def step_queues(settings: Settings) -> list[str]:
    """``STEP_QUEUES`` and each stored pair's ingest queue (``core.pairs.ingest_queue``):
    every queue where an event or a job's chain waits its turn."""
    return [*STEP_QUEUES, *(pairs.ingest_queue(name) for name in pairs_store.names(settings)[1:])]


def backlog(client: redis.Redis, queues: Sequence[str]) -> int:
    """Messages waiting on ``queues``, read in one round trip."""
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.llen(queue)
    return sum(int(n) for n in pipe.execute())


def _step_queues_empty() -> bool:
    client = redis_clients.client(context.settings().redis_url)
    return backlog(client, step_queues(context.base_settings())) == 0


@celery_app.task(name="kfsync.maintenance.release_parked")
@exclusive("release_parked")
def release_parked() -> int:
    """Enqueue parked jobs that are due (not those of a pair whose circuit is open)."""
    return context.for_each_pair(_release_parked_pair)


def _release_parked_pair() -> int:
    if circuit.open_reason(context.settings().redis_url):
        return 0
    return _restart(select(SyncJob).where(SyncJob.due_at <= utcnow(),
                                          SyncJob.pair == pairs.current()).limit(BATCH))


def _restart(query: Any) -> int:
    url = context.db_url()
    with session_scope(url) as s:
        candidates = [(j.id, j.step, j.updated_at) for j in s.scalars(query)]
    started = 0
    for job_id, step, seen in candidates:
        with session_scope(url) as s:  # claim the restart: only if nobody touched the job
            job = s.get(SyncJob, job_id)
            if job is None or job.updated_at != seen:
                continue
            job.due_at, job.state, job.lease_task, job.lease_until = (
                None, JobState.QUEUED, None, None)
            pay = bool((job.plan or {}).get("pay"))
        if not publish_chain(job_id, step, pay):
            break  # the broker is down: the job stays queued for the next tick
        started += 1
    if started:
        log.warning("restarted %s stalled or parked job(s)", started)
    return started


@celery_app.task(name="kfsync.maintenance.probe_kashflow")
@exclusive("probe_kashflow")
def probe_kashflow() -> int:
    """Each pair's circuit: while it is open, try one read with a fresh login; close it on
    success."""
    return context.for_each_pair(_probe_pair)


def _probe_pair() -> int:
    settings = context.settings()
    if not circuit.open_reason(settings.redis_url) or not circuit.probe_due(settings.redis_url):
        return 0
    try:
        kashflow_client(settings).bank_accounts()
    except ConnectorError as exc:
        log.warning("KashFlow probe failed, the circuit stays open: %s", exc)
        return 0
    circuit.close(settings.redis_url)
    context.reset_clients()
    alerts.alert("circuit_open", "KashFlow answers again: circuit closed, parked work resumes")
    with session_scope(settings.database_url) as s:
        s.execute(update(SyncJob).where(SyncJob.due_at.is_not(None),
                                        SyncJob.pair == pairs.current()).values(due_at=utcnow())
                  .execution_options(synchronize_session=False))
    return 1


@celery_app.task(name="kfsync.maintenance.flush_alerts")
@exclusive("flush_alerts")
def flush_alerts() -> int:
    settings = context.settings()
    return alerts.flush(settings.redis_url, settings.alert_webhook_url)


@celery_app.task(name="kfsync.maintenance.refresh_catalogue")
@exclusive("refresh_catalogue")
def refresh_catalogue(actor: str = "beat") -> int:
    """Re-read the KashFlow catalogue (daily, and when the studio asks) and validate the
    profile in force against it; its progress is marked for the studio
    (``services.catalogue.mark_refresh``).

    A product, account or method the profile points at that KashFlow no longer has makes its
    row *broken*: that is alerted (once per day and problem set), and the studio shows it.
    Returns how many errors the profile in force has (0 when the refresh failed). Beat's
    daily refresh reads each enabled pair's KashFlow company into that pair's catalogue
    (``context.for_each_pair``); the studio's button refreshes pair ``default``'s.
    """
    if actor == "beat":
        return context.for_each_pair(functools.partial(_refresh_marked, actor))
    return _refresh_marked(actor)


def _refresh_marked(actor: str) -> int:
    """The current pair's refresh, its progress marked (``services.catalogue.mark_refresh``)."""
    from services import catalogue

    redis_url = context.settings().redis_url
    catalogue.mark_refresh(redis_url, "running", actor)
    try:
        report, errors = _refresh_and_check()
    except (ConnectorError, ConfigError) as exc:
        catalogue.mark_refresh(redis_url, "failed", actor, str(exc))
        log.warning("catalogue refresh failed: %s", exc)
        return 0
    except Exception as exc:
        catalogue.mark_refresh(redis_url, "failed", actor, f"{type(exc).__name__}: {exc}")
        raise
    catalogue.mark_refresh(redis_url, "done", actor, f"{str(report).capitalize()}; "
                           f"{len(errors)} error(s) in the profile in force")
    return len(errors)


def _refresh_and_check() -> tuple[Any, list[Any]]:
    from services import catalogue, profiles, studio

    url = context.db_url()
    try:
        magento: Any = context.magento()
    except ConfigError:
        magento = None  # KashFlow alone still checks every reference
    report = catalogue.refresh(url, context.kashflow(), magento,
                               redis_url=context.settings().redis_url)
    log.info("%s", report)
    version = profiles.active(url)
    errors = [p for p in studio.problems(url, version.document) if p.severity == "error"]
    if errors:
        shown = "; ".join(str(p) for p in errors[:5]) + (" ..." if len(errors) > 5 else "")
        alerts.alert("mapping_broken", f"mapping profile version {version.id} has "
                     f"{len(errors)} broken row(s) after the catalogue refresh: {shown}")
    return report, errors


@celery_app.task(name="kfsync.maintenance.run_suggestions")
@exclusive("run_suggestions")
def run_suggestions(actor: str = "kfsync") -> int:
    """The studio's "Run suggestions" when ``KFSYNC_SEMANTIC_SUGGESTIONS`` is on: the
    embedding model loads here, in a worker, never in the web process. Returns how many
    suggestions wait for a decision."""
    from services import studio_suggestions

    report = studio_suggestions.run_suggestions(context.db_url(), actor,
                                    semantic=context.settings().semantic_suggestions)
    log.info("suggestions: %s applied, %s waiting; %s of %s recent SKUs mapped",
             report.applied, report.waiting, *report.covered)
    return report.waiting
