"""The catch-up poll and backfill: find Magento orders and credit memos no webhook announced.

Push is the accelerator, the poll is the guarantee. Every ``catch_up`` run reads orders
updated in a window that ends 60 s ago (so rows still being written are not half-read) and
starts 5 minutes before the previous window's end (clock skew, late commits), pages by
``entity_id`` (keyset: stable while new orders arrive), and turns each order into an ordinary
inbound event — unique per order and ``updated_at`` — so the normal pipeline does the rest and
nothing is synced twice. The cursor is stored in the database and survives restarts. Credit
memos updated in the same window are recorded once each as ``creditmemo.created`` events, and
credit memos waiting for their invoice are resumed when it has been synced. Magento invoices
(captures) updated in the window are recorded as ``invoice.created`` events for their order,
once per invoice version, unless the order's ledger already holds that capture: a late
capture no webhook announced is posted at the next pass (``workers.lifecycle``).
``kfsync backfill`` uses the same recorders for the orders, credit memos and invoices of its
date range.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core import pairs
from store.db import session_scope
from store.models import Cursor, InboundEvent, JobState, SyncJob, utcnow
from workers import context
from workers.app import celery_app
from workers.dispatch import publish_stored
from workers.maintenance import exclusive
from workers.refunds import resume_waiting

log = logging.getLogger(__name__)

MAGENTO_TIME = "%Y-%m-%d %H:%M:%S"
LAG_S = 60  # the window ends this far in the past
OVERLAP_S = 300  # and starts this far before the previous window's end
FIRST_LOOKBACK = timedelta(hours=24)  # the very first poll looks back this far
PAGE = 100
CURSOR = "catch_up:orders"


@celery_app.task(name="kfsync.maintenance.catch_up")
@exclusive("catch_up")
def catch_up() -> int:
    """One poll window per integration pair; returns how many orders became events."""
    return context.for_each_pair(_catch_up_pair)


def _catch_up_pair() -> int:
    """One poll window of the current pair's shop (its own cursor)."""
    url, cursor_name = context.db_url(), pairs.scoped_key(CURSOR)
    end = utcnow() - timedelta(seconds=LAG_S)
    with session_scope(url) as s:
        cursor = s.get(Cursor, cursor_name)
        last_end = (datetime.strptime(cursor.value["until"], MAGENTO_TIME) if cursor
                    else (end - FIRST_LOOKBACK).replace(tzinfo=None))
    start = last_end - timedelta(seconds=OVERLAP_S)
    window = [[("updated_at", start.strftime(MAGENTO_TIME), "gteq")],
              [("updated_at", end.strftime(MAGENTO_TIME), "lteq")]]
    found = sum(record_order(url, order, "poll") for order in keyset_orders(window))
    found += sum(record_creditmemo(url, memo) for memo in keyset_creditmemos(window))
    found += sum(record_invoice(url, invoice, "poll") for invoice in keyset_invoices(window))
    resume_waiting()  # credit memos whose invoice has been synced meanwhile
    with session_scope(url) as s:
        row = s.get(Cursor, cursor_name) or Cursor(name=cursor_name, value={})
        row.value = {"until": end.strftime(MAGENTO_TIME)}
        s.merge(row)
    if found:
        log.warning("catch-up poll found %s order change(s) no webhook announced", found)
    return found


def keyset_orders(filters: list[list[tuple[str, str, str]]], after_id: int = 0
                  ) -> Iterator[dict[str, Any]]:
    """Orders matching ``filters`` in ``entity_id`` order, a page at a time."""
    return _keyset(context.magento().search_orders, filters, after_id)


def keyset_creditmemos(filters: list[list[tuple[str, str, str]]]) -> Iterator[dict[str, Any]]:
    """Credit memos matching ``filters`` in ``entity_id`` order, a page at a time."""
    return _keyset(context.magento().search_creditmemos, filters, 0)


def keyset_invoices(filters: list[list[tuple[str, str, str]]]) -> Iterator[dict[str, Any]]:
    """Magento invoices matching ``filters`` in ``entity_id`` order, a page at a time."""
    return _keyset(context.magento().search_invoices, filters, 0)


def _keyset(search: Callable[..., dict[str, Any]], filters: list[list[tuple[str, str, str]]],
            after_id: int) -> Iterator[dict[str, Any]]:
    """Page through a Magento search by ``entity_id`` (stable while new rows arrive)."""
    while True:
        page = search([*filters, [("entity_id", str(after_id), "gt")]], page_size=PAGE,
                      sort=[("entity_id", "ASC")]).get("items") or []
        yield from page
        if len(page) < PAGE:
            return
        after_id = int(page[-1]["entity_id"])


def record_creditmemo(url: str, memo: dict[str, Any], source: str = "poll",
                      tag: str | None = None) -> bool:
    """A credit memo seen by the poll (or a backfill, ``tag`` its run's name) becomes a
    ``creditmemo.created`` event, unless its job exists already (a credit memo is credited
    once; later versions change nothing we post)."""
    entity_id = str(memo["entity_id"])
    with session_scope(url) as s:
        if s.scalar(select(SyncJob.id).where(SyncJob.kind == "creditmemo",
                                             SyncJob.magento_key == entity_id,
                                             SyncJob.pair == pairs.current())) is not None:
            return False
    return _record(url, InboundEvent(
        source=source, event_id=f"{tag or source}:creditmemo:{entity_id}",
        topic="creditmemo.created", resource_type="creditmemo", resource_key=entity_id,
        increment_id=memo.get("increment_id"), payload={"source": source}))


def record_invoice(url: str, invoice: dict[str, Any], source: str,
                   tag: str | None = None) -> bool:
    """A Magento invoice (a capture) seen by the poll or a backfill becomes an
    ``invoice.created`` event for its order, once per invoice version, unless the order's
    ledger holds its transaction already."""
    order_id, txn = str(invoice.get("order_id") or ""), str(invoice.get("transaction_id") or "")
    if not order_id:
        return False
    with session_scope(url) as s:
        plan = s.scalar(select(SyncJob.plan).where(SyncJob.kind == "order",
                                                   SyncJob.magento_key == order_id,
                                                   SyncJob.pair == pairs.current()))
        posted = {str(e.get("ref")) for e in (plan or {}).get("ledger") or []}
        if txn and txn in posted:
            return False  # this capture is on the order's ledger already
    return _record(url, InboundEvent(
        source=source, event_id=f"{tag or source}:invoice:{invoice['entity_id']}:"
                                f"{invoice.get('updated_at', '')}",
        topic="invoice.created", resource_type="order", resource_key=order_id,
        increment_id=None, payload={"source": source, "invoice_id": invoice["entity_id"]}))


def _record(url: str, event: InboundEvent) -> bool:
    """Store ``event`` (as the current pair's: its id scoped to it) as enqueued and publish
    it, as the webhook's hot path does (``workers.dispatch.publish_stored``); False when its
    id was recorded before."""
    event.pair, event.event_id = pairs.current(), pairs.scoped_key(event.event_id)
    event.enqueued_at = utcnow()
    try:
        with session_scope(url) as s:
            s.add(event)
            s.flush()
            row_id = event.id
    except IntegrityError:
        return False
    publish_stored(url, row_id, event.pair)
    return True


def record_order(url: str, order: dict[str, Any], source: str, tag: str | None = None) -> bool:
    """Turn one order seen by a poll or backfill into an inbound event, unless already known.

    ``tag`` prefixes the event id (a backfill run's name, so its events can be counted).
    Returns True when a new event was stored (and enqueued, or left for the relay).
    """
    entity_id, updated = str(order["entity_id"]), str(order.get("updated_at", ""))
    with session_scope(url) as s:  # the job's state and version, not its whole document
        job = s.execute(select(SyncJob.state, SyncJob.document["updated_at"].as_string())
                        .where(SyncJob.kind == "order", SyncJob.magento_key == entity_id,
                               SyncJob.pair == pairs.current())).first()
        if job is not None and job[0] in (JobState.DONE, JobState.DISCARDED) and (
                job[1] == updated):
            return False  # synced from this very version already
    # False from ``_record``: this version was already recorded by an earlier run.
    return _record(url, InboundEvent(
        source=source, event_id=f"{tag or source}:{entity_id}:{updated}", topic="order.updated",
        resource_type="order", resource_key=entity_id, increment_id=order.get("increment_id"),
        payload={"source": source, "updated_at": updated}))
