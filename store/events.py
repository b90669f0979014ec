"""A stored webhook's outcome: ``mark_processed``, on its own or inside another statement.

The event is marked in the transaction that acts on it (the job's upsert), so a redelivered
task sees it processed. This module imports nothing above ``store``.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CTE, Connection, Table, bindparam, update
from sqlalchemy.orm import Session

from store.models import InboundEvent, utcnow

EVENTS = cast(Table, InboundEvent.__table__)
# Built once (see store/jobs.py): the order path runs it for every event.
_MARK_PROCESSED = update(EVENTS).where(EVENTS.c.id == bindparam("e_id")).values(
    processed_at=bindparam("e_at"), outcome=bindparam("e_outcome"))


def processed_params(event_id: int, outcome: str) -> dict[str, Any]:
    """The parameters of ``mark_processed``'s statement (and of ``processed_cte``)."""
    return {"e_id": event_id, "e_at": utcnow(), "e_outcome": outcome[:255]}


def mark_processed(s: Session | Connection, event_id: int | None, outcome: str) -> None:
    """Store ``outcome`` on event ``event_id`` (None: no event, nothing to mark)."""
    if event_id is not None:
        s.execute(_MARK_PROCESSED, processed_params(event_id, outcome))


def processed_cte() -> CTE:
    """``mark_processed`` as a PostgreSQL data-modifying CTE, to run inside another
    statement (``store.attempts.open_attempts``); its parameters: ``processed_params``."""
    return _MARK_PROCESSED.cte("kfsync_event")
