"""Dead letters: the database row is the source of truth; a parked broker message on the
``dead_letter`` queue (which no worker consumes) makes the depth visible in Flower."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Connection, Table, insert, update
from sqlalchemy.orm import Session

from celeryconfig import DEAD_LETTER_QUEUE
from core import redis_clients
from store.db import session_scope
from store.models import DeadLetter, utcnow

log = logging.getLogger(__name__)

PARKED_TASK = "kfsync.dead_letter.parked"


@dataclass(frozen=True)
class Letter:
    """A dead letter written in a transaction, to ``announce`` once that commits."""

    id: int
    ref: str
    step: str
    error_class: str
    reason: str


def dead_letter(url: str, *, step: str, error_class: str, reason: str,
                job_id: int | None = None, event_id: int | None = None,
                alert_kind: str = "dead_letter") -> int:
    """Store a dead letter and park its marker message; returns the dead letter's id.

    Review holds are recorded the same way (``alert_kind="needs_review"``), so an operator
    finds every piece of stuck work in one list and requeues it the same way.
    """
    with session_scope(url) as s:
        letter = add_dead_letter(s, step=step, error_class=error_class, reason=reason,
                                 job_id=job_id, event_id=event_id)
    announce(letter, alert_kind)
    return letter.id


def add_dead_letter(bind: Session | Connection, *, step: str, error_class: str, reason: str,
                    job_id: int | None = None, event_id: int | None = None) -> Letter:
    """Insert a dead letter in the caller's transaction, the one that stores the job state it
    explains (so no job is dead or held without its letter); ``announce`` it after commit."""
    ref = f"sync_jobs/{job_id}" if job_id is not None else f"inbound_events/{event_id}"
    letter_id = bind.execute(insert(LETTERS).values(
        job_id=job_id, event_id=event_id, step=step, error_class=error_class,
        reason=reason[:4000], payload_ref=ref).returning(LETTERS.c.id)).scalar_one()
    return Letter(int(letter_id), ref, step, error_class, reason)


def announce(letter: Letter, alert_kind: str = "dead_letter") -> None:
    """Log a committed dead letter, park its marker and raise its alert."""
    log.error("dead letter %s: %s at %s: %s", letter.id, letter.ref, letter.step, letter.reason)
    _park(letter.id)
    from workers.alerts import alert

    alert(alert_kind, f"{alert_kind.replace('_', ' ')} {letter.id} ({letter.ref}, "
                      f"{letter.step}, {letter.error_class}): {letter.reason} — kfsync dlq "
                      f"show {letter.id}")


LETTERS = cast(Table, DeadLetter.__table__)


def _park(letter_id: int) -> None:
    from workers.dispatch import publish_task  # the row is the truth: a missing marker only
                                               # hides the letter from Flower
    publish_task(PARKED_TASK, [letter_id], queue=DEAD_LETTER_QUEUE,
                 then=f"dead letter {letter_id} is listed by kfsync dlq but not in Flower")


def resolve_dead_letters(session: Session, job_id: int, resolution: str, note: str = "") -> None:
    """Close the job's open dead letters (it is being worked on again)."""
    session.execute(
        update(DeadLetter)
        .where(DeadLetter.job_id == job_id, DeadLetter.resolved_at.is_(None))
        .values(resolved_at=utcnow(), resolution=resolution, resolution_note=note or None)
    )


def unpark(redis_url: str, letter_ids: set[int]) -> int:
    """Remove the parked marker messages of ``letter_ids`` from the ``dead_letter`` queue."""
    import base64

    import simplejson

    client = redis_clients.client(redis_url)
    removed = 0
    for raw in client.lrange(DEAD_LETTER_QUEUE, 0, -1):
        try:
            message = simplejson.loads(raw)
            args = simplejson.loads(base64.b64decode(message["body"]))[0]
        except (ValueError, KeyError, IndexError, TypeError):
            continue  # not one of ours: leave it alone
        if args and args[0] in letter_ids:
            removed += int(client.lrem(DEAD_LETTER_QUEUE, 1, raw))  # type: ignore[arg-type]
    return removed
