"""The read side of the ops surface, shared by the JSON API, the dashboard and ``/metrics``.

Plain functions over the state store and Redis; writes (requeue, discard) belong to
``workers.operations``. Times are UTC (SQLite hands back naive datetimes: ``as_utc``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import Select, func, literal_column, or_, select
from sqlalchemy.orm import Session, selectinload

from celeryconfig import DEAD_LETTER_QUEUE, QUEUES
from core import redis_clients
from core.pairs import DEFAULT as DEFAULT_PAIR
from core.pairs import ingest_queue
from store.models import (
    Attempt,
    DeadLetter,
    EntityLink,
    InboundEvent,
    JobState,
    Step,
    SyncJob,
    utcnow,
)
from store.pair_models import IntegrationPair

STEP_ENTITY = {Step.ENSURE_CUSTOMER: "customer", Step.CREATE_INVOICE: "invoice",
               Step.POST_PAYMENT: "payment", Step.CREDIT_CANCELLATION: "credit note"}
FAILED_OUTCOMES = ("transient", "ambiguous", "auth", "rejected", "not_found", "error")
STATS_WINDOW_H = 24


def as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    page: int
    per_page: int


def paginate(s: Session, query: Select[Any], page: int, per_page: int) -> Page:
    total = int(s.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
    items = list(s.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items, total, page, per_page)


def jobs_query(state: str | None = None, kind: str | None = None, q: str | None = None,
               pair: str | None = None) -> Select[Any]:
    """Jobs, most recently updated first; ``q`` matches the order number or entity id, the
    KashFlow customer code or invoice number, or the reason."""
    query = select(SyncJob).order_by(SyncJob.updated_at.desc(), SyncJob.id.desc())
    if state:
        query = query.where(SyncJob.state == state)
    if kind:
        query = query.where(SyncJob.kind == kind)
    if pair:  # an integration pair's jobs only (docs/pairs.md)
        query = query.where(SyncJob.pair == pair)
    if q:
        q = q.strip()
        like = f"%{q}%"
        terms = [SyncJob.magento_ref.ilike(like), SyncJob.magento_key == q,
                 SyncJob.customer_code.ilike(like), SyncJob.reason.ilike(like)]
        if re.fullmatch(r"[0-9]{1,9}", q):  # ASCII digits only: "²".isdigit() is True
            terms.append(SyncJob.invoice_number == int(q))
        query = query.where(or_(*terms))
    return query


def job_with_attempts(s: Session, job_id: int) -> SyncJob | None:
    return s.scalar(select(SyncJob).where(SyncJob.id == job_id)
                    .options(selectinload(SyncJob.attempts)))


def job_links(s: Session, job: SyncJob) -> dict[str, str]:
    """KashFlow keys linked to this job's order (invoice, payment)."""
    rows = s.execute(select(EntityLink.kind, EntityLink.kashflow_key)
                     .where(EntityLink.magento_key == f"order:{job.magento_key}",
                            EntityLink.pair == job.pair)).all()
    return {kind: key for kind, key in rows}


def open_letters_for_job(s: Session, job_id: int) -> list[DeadLetter]:
    return list(s.scalars(select(DeadLetter).where(DeadLetter.job_id == job_id,
                                                   DeadLetter.resolved_at.is_(None))))


# -- stats ---------------------------------------------------------------------------------
def _letter_pair() -> Any:
    """A dead letter's pair as a column: its job's, else its event's (``default`` for a letter
    with neither: it predates pairs)."""
    # a literal, not a bound parameter: PostgreSQL must see the same expression in GROUP BY
    return func.coalesce(SyncJob.pair, InboundEvent.pair, literal_column(f"'{DEFAULT_PAIR}'"))


def _letters_with_pairs(query: Any) -> Any:
    return (query.select_from(DeadLetter).outerjoin(SyncJob, SyncJob.id == DeadLetter.job_id)
            .outerjoin(InboundEvent, InboundEvent.id == DeadLetter.event_id))


def jobs_by_state(s: Session, pair: str | None = None) -> dict[str, int]:
    query = select(SyncJob.state, func.count()).group_by(SyncJob.state)
    if pair:
        query = query.where(SyncJob.pair == pair)
    counts: dict[str, int] = dict(s.execute(query).all())
    return {state.value: int(counts.get(state.value, 0)) for state in JobState}


def open_letters_by_class(s: Session, pair: str | None = None) -> dict[str, int]:
    query = (select(DeadLetter.error_class, func.count())
             .where(DeadLetter.resolved_at.is_(None)).group_by(DeadLetter.error_class))
    if pair:
        query = _letters_with_pairs(query).where(_letter_pair() == pair)
    return {cls: int(n) for cls, n in s.execute(query).all()}


def jobs_by_pair_and_state(s: Session, names: list[str]) -> dict[str, dict[str, int]]:
    """Per pair (every one in ``names``, and any other with jobs): its jobs by state."""
    counts: dict[str, dict[str, int]] = {name: {} for name in names}
    for name, state, n in s.execute(select(SyncJob.pair, SyncJob.state, func.count())
                                    .group_by(SyncJob.pair, SyncJob.state)):
        counts.setdefault(name, {})[state] = int(n)
    return {name: {st.value: by_state.get(st.value, 0) for st in JobState}
            for name, by_state in counts.items()}


def open_letters_by_pair_and_class(s: Session) -> dict[tuple[str, str], int]:
    """Open dead letters per (pair, error class)."""
    rows = s.execute(_letters_with_pairs(
        select(_letter_pair(), DeadLetter.error_class, func.count())
        .where(DeadLetter.resolved_at.is_(None))).group_by(_letter_pair(),
                                                           DeadLetter.error_class)).all()
    return {(pair, cls): int(n) for pair, cls, n in rows}


def synced_per_hour(s: Session, now: datetime | None = None, hours: int = STATS_WINDOW_H,
                    pair: str | None = None) -> list[dict[str, Any]]:
    """Orders that reached ``done`` in each of the last ``hours`` hours, oldest first."""
    now = (now or utcnow()).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(hours=hours - 1)
    buckets = {start + timedelta(hours=i): 0 for i in range(hours)}
    query = select(SyncJob.updated_at).where(
        SyncJob.kind == "order", SyncJob.state == JobState.DONE, SyncJob.updated_at >= start)
    for (updated,) in s.execute(query.where(SyncJob.pair == pair) if pair else query):
        hour = as_utc(updated)
        assert hour is not None
        key = hour.replace(minute=0, second=0, microsecond=0)
        if key in buckets:
            buckets[key] += 1
    return [{"hour": hour, "orders": n} for hour, n in buckets.items()]


def _attempts_of(query: Any, pair: str | None) -> Any:
    if not pair:
        return query
    return query.join(SyncJob, SyncJob.id == Attempt.job_id).where(SyncJob.pair == pair)


def error_rate(s: Session, hours: int = STATS_WINDOW_H, pair: str | None = None
               ) -> dict[str, Any]:
    """Failed step attempts over finished ones in the last ``hours``."""
    since = utcnow() - timedelta(hours=hours)
    rows: dict[str, int] = dict(s.execute(_attempts_of(select(Attempt.outcome, func.count()).where(
        Attempt.created_at >= since).group_by(Attempt.outcome), pair)).all())
    failed = sum(int(n) for outcome, n in rows.items() if outcome in FAILED_OUTCOMES)
    finished = failed + int(rows.get("ok", 0))
    return {"window_hours": hours, "attempts": finished, "failed": failed,
            "rate": round(failed / finished, 4) if finished else 0.0}


def last_success(s: Session, pair: str | None = None) -> dict[str, datetime | None]:
    """When each kind of KashFlow record (customer, invoice, payment) was last written."""
    query = _attempts_of(select(Attempt.step, func.max(Attempt.created_at))
                         .where(Attempt.outcome == "ok").group_by(Attempt.step), pair)
    rows: dict[str, datetime] = dict(s.execute(query).all())
    return {entity: as_utc(rows.get(step.value)) for step, entity in STEP_ENTITY.items()}


def queue_lengths(redis_url: str, extra: tuple[str, ...] = ()) -> dict[str, int | None]:
    """Messages waiting per queue (LLEN), and in the ``extra`` queues (the pairs' ingest
    queues); ``None`` for every queue when Redis is down."""
    names = (*QUEUES, *extra, DEAD_LETTER_QUEUE)
    try:
        pipe = redis_clients.client(redis_url).pipeline(transaction=False)
        for name in names:
            pipe.llen(name)
        return {name: int(n) for name, n in zip(names, pipe.execute(), strict=True)}
    except redis.RedisError:
        return dict.fromkeys(names)


def open_circuits(redis_url: str, pair: str | None = None) -> dict[str, str]:
    """Open circuits by system, with the reason (empty when every circuit is closed): pair
    ``pair``'s (each pair has its own KashFlow circuit), ``default``'s when None."""
    from core.pairs import scope
    from services import circuit

    with scope(pair):
        reason = circuit.open_reason(redis_url)
    return {"kashflow": reason} if reason else {}


def stats(s: Session, redis_url: str, pair: str | None = None,
          pairs: tuple[str, ...] = ()) -> dict[str, Any]:
    """Everything the overview shows, in one dict: of every pair, or of ``pair`` only.

    ``pairs`` (every pair's name, when there are several) adds, for the whole deployment,
    each pair's ingest queue to the backlog and each pair's open circuit (``kashflow@shopb``).
    """
    names = (pair,) if pair else pairs
    extra = tuple(ingest_queue(name) for name in names if name != DEFAULT_PAIR)
    circuits = open_circuits(redis_url, pair)
    if not pair:
        for name in pairs:
            if name != DEFAULT_PAIR and (reason := open_circuits(redis_url, name)):
                circuits[f"kashflow@{name}"] = reason["kashflow"]
    return {"jobs_by_state": jobs_by_state(s, pair),
            "synced_per_hour": synced_per_hour(s, pair=pair),
            "backlog": queue_lengths(redis_url, extra), "error_rate": error_rate(s, pair=pair),
            "last_success": last_success(s, pair), "open_circuits": circuits,
            "dead_letters_open": open_letters_by_class(s, pair)}


def pair_overview(s: Session, redis_url: str, names: list[str]) -> list[dict[str, Any]]:
    """One row per pair in ``names``: its jobs by state, open dead letters, orders synced in
    the last 24 hours, events waiting on its ingest queue and whether its circuit is open."""
    since = utcnow() - timedelta(hours=STATS_WINDOW_H)
    states = jobs_by_pair_and_state(s, names)
    synced = dict(s.execute(select(SyncJob.pair, func.count()).where(
        SyncJob.kind == "order", SyncJob.state == JobState.DONE, SyncJob.updated_at >= since)
        .group_by(SyncJob.pair)).all())
    letters: dict[str, int] = dict(s.execute(_letters_with_pairs(
        select(_letter_pair(), func.count()).where(DeadLetter.resolved_at.is_(None)))
        .group_by(_letter_pair())).all())
    waiting = queue_lengths(redis_url, tuple(ingest_queue(n) for n in names if n != "default"))
    disabled = set(s.scalars(select(IntegrationPair.name).where(
        IntegrationPair.disabled_at.is_not(None))))
    return [{"pair": name, "enabled": name not in disabled, "jobs_by_state": states[name],
             "synced_24h": int(synced.get(name, 0)), "dead_letters_open": int(letters.get(name, 0)),
             "ingest_waiting": waiting.get(ingest_queue(name)),
             "circuit_open": bool(open_circuits(redis_url, name))} for name in states]
