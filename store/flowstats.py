"""Today's counts per node of the flow page (``workers.flowgraph``): a few grouped queries.

- a step: its attempts since midnight UTC, ``ok`` as done, every failure class as failed
  (``started`` is in flight, neither);
- an entity's decision: its jobs touched today, by state (``waiting``, ``skipped``,
  ``needs_review`` and ``dead`` are what the decision held back);
- an event source: the inbound events received today, by topic;
- stock: today's passes (failed: a pass with errors); reconciliation: today's items (failed:
  still open).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import Attempt, InboundEvent, SyncJob
from store.reconcile_models import ReconciliationItem
from store.stock_models import StockRun

FAILED_OUTCOMES = ("transient", "ambiguous", "auth", "rejected", "not_found", "error")
HELD_STATES = ("waiting", "skipped", "needs_review", "dead")


@dataclass(frozen=True)
class Count:
    done: int = 0
    failed: int = 0


@dataclass(frozen=True)
class FlowStats:
    """Today's numbers, keyed as the graph's nodes ask for them."""

    steps: dict[str, Count]
    decided: dict[str, Count]  # job kind -> (carried on, held back)
    topics: dict[str, int]
    stock: Count
    reconciliation: Count


def midnight(now: datetime | None = None) -> datetime:
    """Today's start, UTC (naive, as the store keeps times)."""
    moment = now or datetime.now(UTC)
    return datetime.combine(moment.date(), time.min)


def flow_stats(session: Session, since: datetime | None = None) -> FlowStats:
    """The counts since ``since`` (default: midnight UTC today)."""
    start = since or midnight()
    steps: dict[str, list[int]] = {}
    rows = session.execute(select(Attempt.step, Attempt.outcome, func.count())
                           .where(Attempt.created_at >= start)
                           .group_by(Attempt.step, Attempt.outcome))
    for step, outcome, count in rows:
        entry = steps.setdefault(step, [0, 0])
        if outcome == "ok":
            entry[0] += count
        elif outcome in FAILED_OUTCOMES:
            entry[1] += count
    decided: dict[str, list[int]] = {}
    rows = session.execute(select(SyncJob.kind, SyncJob.state, func.count())
                           .where(SyncJob.updated_at >= start)
                           .group_by(SyncJob.kind, SyncJob.state))
    for kind, state, count in rows:
        decided.setdefault(kind, [0, 0])[1 if state in HELD_STATES else 0] += count
    topics = {topic: count for topic, count in session.execute(
        select(InboundEvent.topic, func.count()).where(InboundEvent.received_at >= start)
        .group_by(InboundEvent.topic))}
    runs = session.execute(select(func.count(), func.count().filter(StockRun.errors > 0))
                           .where(StockRun.started_at >= start)).one()
    items = session.execute(select(func.count(), func.count().filter(
        ReconciliationItem.status == "open")).where(ReconciliationItem.created_at >= start)).one()
    return FlowStats(
        steps={k: Count(*v) for k, v in steps.items()},
        decided={k: Count(*v) for k, v in decided.items()},
        topics=topics,
        stock=Count(runs[0] - runs[1], runs[1]),
        reconciliation=Count(items[0] - items[1], items[1]),
    )
