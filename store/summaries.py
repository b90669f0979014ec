"""Every statement that moves a summary (``store.summary_models``), in one module.

- ``add_entry``: a document joins the open summary of its (kind, store, currency, day), or,
  when that day is closed already, the next open one (``late``); one entry per document, so
  a replay finds the first;
- ``claim``: the closer takes a summary (``open`` -> ``closing``, under a lease; an expired
  lease is taken over);
- ``begin_post``: a post begun, counted before any KashFlow write (a count above 0 means an
  earlier post may have landed: look it up first);
- ``mark_posted``: what KashFlow answered.

Adding and closing exclude each other by the summary row: ``add_entry`` bumps ``documents``
with ``WHERE state = 'open'`` before it inserts its entry (a row lock on PostgreSQL, the
write lock on SQLite), and ``claim`` flips the state with ``WHERE state = 'open'``; so an
entry is in a summary before it closes, or goes to the next open one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import utcnow
from store.summary_models import Summary, SummaryEntry, SummaryState

MAX_HOPS = 400  # days a late document may be carried forward (a bound, never reached)


@dataclass(frozen=True)
class Doc:
    """A document to book in a summary."""

    pair: str
    kind: str        # summary kind: invoice, credit
    doc_kind: str    # order, creditmemo
    magento_key: str
    magento_ref: str | None
    job_id: int | None
    store: str
    currency: str
    day: date
    net: Decimal
    vat: Decimal
    part: dict[str, Any]


@dataclass(frozen=True)
class Booked:
    """Where a document is booked: its summary, that summary's day, whether it was late, and
    whether it was booked before (a replay)."""

    summary_id: int
    day: date
    late: bool
    again: bool


def entry_of(s: Session, pair: str, doc_kind: str, magento_key: str) -> Booked | None:
    row = s.execute(select(SummaryEntry.summary_id, Summary.day, SummaryEntry.late)
                    .join(Summary, Summary.id == SummaryEntry.summary_id)
                    .where(SummaryEntry.pair == pair, SummaryEntry.doc_kind == doc_kind,
                           SummaryEntry.magento_key == magento_key)).first()
    return None if row is None else Booked(int(row[0]), row[1], bool(row[2]), True)


def _summary_id(s: Session, doc: Doc, day: date) -> int:
    where = (Summary.pair == doc.pair, Summary.kind == doc.kind, Summary.store == doc.store,
             Summary.currency == doc.currency, Summary.day == day)
    found = s.scalar(select(Summary.id).where(*where))
    if found is not None:
        return int(found)
    try:
        with s.begin_nested():  # another worker may insert the same period at once
            s.add(Summary(pair=doc.pair, kind=doc.kind, store=doc.store,
                          currency=doc.currency, day=day, state=SummaryState.OPEN,
                          documents=0))
    except IntegrityError:
        pass
    return int(s.scalars(select(Summary.id).where(*where)).one())


def add_entry(s: Session, doc: Doc, today: date) -> Booked:
    """Book ``doc`` in its summary (see the module docstring), in ``s``'s transaction."""
    booked = entry_of(s, doc.pair, doc.doc_kind, doc.magento_key)
    if booked is not None:
        return booked
    day = doc.day
    for _ in range(MAX_HOPS):
        summary_id = _summary_id(s, doc, day)
        taken = s.execute(update(Summary).where(
            Summary.id == summary_id, Summary.state == SummaryState.OPEN
        ).values(documents=Summary.documents + 1)).rowcount  # type: ignore[attr-defined]
        if taken:
            s.add(SummaryEntry(summary_id=summary_id, pair=doc.pair, doc_kind=doc.doc_kind,
                               magento_key=doc.magento_key, magento_ref=doc.magento_ref,
                               job_id=doc.job_id, doc_day=doc.day, late=day != doc.day,
                               net=doc.net, vat=doc.vat, gross=doc.net + doc.vat,
                               part=doc.part))
            s.flush()
            return Booked(summary_id, day, day != doc.day, False)
        day = max(day + timedelta(days=1), today) if day == doc.day else day + timedelta(days=1)
    raise RuntimeError(f"no open summary within {MAX_HOPS} days of {doc.day}")


def due(s: Session, before: date, now: datetime, pair: str | None = None) -> list[int]:
    """Summaries of days before ``before`` that are open, or closing under a lapsed lease."""
    query = select(Summary.id).where(Summary.day < before, or_(
        Summary.state == SummaryState.OPEN,
        (Summary.state == SummaryState.CLOSING) & (Summary.lease_until < now)))
    if pair is not None:
        query = query.where(Summary.pair == pair)
    return [int(x) for x in s.scalars(query.order_by(Summary.day, Summary.id))]


def claim(s: Session, summary_id: int, task: str, until: datetime) -> bool:
    """Take summary ``summary_id`` for closing: open, or closing under a lapsed lease or
    ``task``'s own. False: posted, or another closer holds it."""
    now = utcnow()
    return bool(s.execute(update(Summary).where(Summary.id == summary_id, or_(
        Summary.state == SummaryState.OPEN,
        (Summary.state == SummaryState.CLOSING)
        & or_(Summary.lease_until < now, Summary.lease_task == task))
    ).values(state=SummaryState.CLOSING, lease_task=task, lease_until=until,
             closed_at=now)).rowcount)  # type: ignore[attr-defined]


def begin_post(s: Session, summary_id: int, task: str) -> int | None:
    """Count a post begun; the count before it (None: the lease is no longer ``task``'s)."""
    row = s.execute(select(Summary.post_attempts, Summary.lease_task, Summary.state)
                    .where(Summary.id == summary_id).with_for_update()).first()
    if row is None or row[1] != task or row[2] != SummaryState.CLOSING:
        return None
    s.execute(update(Summary).where(Summary.id == summary_id)
              .values(post_attempts=Summary.post_attempts + 1))
    return int(row[0])


def mark_posted(s: Session, summary_id: int, **values: Any) -> None:
    s.execute(update(Summary).where(Summary.id == summary_id).values(
        state=SummaryState.POSTED, posted_at=utcnow(), lease_task=None, lease_until=None,
        error=None, **values))


def note_error(s: Session, summary_id: int, error: str) -> None:
    """Why the last close failed. The summary stays ``closing`` and its lease is given up, so
    the next run takes it over at once (looking its document up first: ``post_attempts``)."""
    s.execute(update(Summary).where(Summary.id == summary_id, Summary.state != "posted")
              .values(error=error[:2000], lease_until=utcnow()))


def entries(s: Session, summary_id: int) -> list[SummaryEntry]:
    return list(s.scalars(select(SummaryEntry).where(SummaryEntry.summary_id == summary_id)
                          .order_by(SummaryEntry.id)))


def order_payments(s: Session, pair: str, order_key: str) -> dict[str, Decimal]:
    """What the summaries hold as paid for order ``order_key``, per method: its own entry's
    payments and those of its capture entries (``mappings.summary_life``)."""
    rows = s.scalars(select(SummaryEntry.part).where(
        SummaryEntry.pair == pair,
        ((SummaryEntry.doc_kind == "order") & (SummaryEntry.magento_key == order_key))
        | ((SummaryEntry.doc_kind == "capture")
           & SummaryEntry.magento_key.like(f"{order_key}@%"))))
    out: dict[str, Decimal] = {}
    for part in rows:
        for pay in part.get("payments") or []:
            method = str(pay["method"])
            out[method] = out.get(method, Decimal(0)) + Decimal(str(pay["amount"]))
    return out


def order_entry(s: Session, pair: str, order_key: str) -> SummaryEntry | None:
    return s.scalar(select(SummaryEntry).where(
        SummaryEntry.pair == pair, SummaryEntry.doc_kind == "order",
        SummaryEntry.magento_key == order_key))


def remove_open(s: Session, entry: SummaryEntry) -> bool:
    """Take ``entry`` out of its summary while that is open (as ``add_entry`` bumps, so a
    close cannot slip between); False: the summary is closing or posted."""
    taken = s.execute(update(Summary).where(
        Summary.id == entry.summary_id, Summary.state == SummaryState.OPEN
    ).values(documents=Summary.documents - 1)).rowcount  # type: ignore[attr-defined]
    if taken:
        s.delete(entry)
        s.flush()
    return bool(taken)


def posted_number(s: Session, summary_id: int) -> int | None:
    """The KashFlow number of summary ``summary_id`` once posted, else None."""
    row = s.execute(select(Summary.number, Summary.state)
                    .where(Summary.id == summary_id)).first()
    return None if row is None or row[1] != SummaryState.POSTED else row[0]
