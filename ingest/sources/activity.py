"""Which push sources delivered lately: a shop whose module stopped shows up here.

Read by ``kfsync status`` and the dashboard overview. Only push sources count: the catch-up
poll keeps syncing when every push has stopped, which is exactly what this must reveal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ingest.sources import PUSH_SOURCES
from store.models import InboundEvent, utcnow

WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class SourceActivity:
    source: str
    last_hour: int  # events received in the last hour
    last_at: datetime | None  # the latest event ever received from it (naive or aware UTC)

    @property
    def summary(self) -> str:
        if self.last_hour:
            return f"{self.last_hour} event(s) in the last hour"
        if self.last_at is None:
            return "no push events yet"
        return f"no push events since {self.last_at:%Y-%m-%d %H:%M} UTC"


def push_activity(s: Session, now: datetime | None = None) -> list[SourceActivity]:
    """One row per push source, in ``PUSH_SOURCES`` order."""
    since = (now or utcnow()) - WINDOW
    last = {src: at for src, at in s.execute(
        select(InboundEvent.source, func.max(InboundEvent.received_at))
        .where(InboundEvent.source.in_(PUSH_SOURCES)).group_by(InboundEvent.source))}
    recent = {src: n for src, n in s.execute(
        select(InboundEvent.source, func.count())
        .where(InboundEvent.source.in_(PUSH_SOURCES), InboundEvent.received_at >= since)
        .group_by(InboundEvent.source))}
    return [SourceActivity(name, int(recent.get(name, 0)), last.get(name))
            for name in PUSH_SOURCES]
