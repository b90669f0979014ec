"""The reconciliation queue's own work: the daily run on beat, and posting a missing payment
exactly once when an operator asks for it.

``reconcile_payments`` (beat, daily at ``KFSYNC_RECONCILE_AT`` UTC) reconciles each of the
last ``KFSYNC_RECONCILE_DAYS`` days (``workers.reconcile.reconcile_day``: new differences
become queue items and raise a ``reconciliation`` alert), then resumes posts left half-way.
A Redis lock (``workers.maintenance.exclusive``) keeps two runs from overlapping, and a re-run
of a day finds the same items, so a second beat or a redelivered message adds nothing.
The run reconciles each enabled integration pair in turn (``context.for_each_pair``): its
shop, its company, its own items; a pair whose shop or company is down is alerted and the
others are still reconciled.

Posting follows the order path's rules (DESIGN §4.2): the item is claimed (``posting``) and
each attempt is counted in the database *before* the KashFlow call; an attempt after one that
may have reached KashFlow first looks for the payment on the invoice (its comment names the
item) and adopts it. The post runs on the ``payments`` queue
(``kfsync.payments.post_reconciliation``) for the dashboard and API, inline for the CLI.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis
from sqlalchemy import select

from connectors.errors import ConnectorError, NotFound, Rejected, Transient
from core import pairs, redis_clients
from mappings.money import ZERO
from mappings.reconcile import paid_for
from mappings.tenders import PaymentDraft
from store.db import session_scope
from store.links import add_links
from store.models import AuditEntry, utcnow
from store.reconcile_models import ItemStatus, ReconciliationItem
from workers import context
from workers.alerts import alert
from workers.app import celery_app
from workers.dispatch import publish_task
from workers.maintenance import exclusive
from workers.payments import bank_account_id, payment_method_id, sole_writer

log = logging.getLogger(__name__)

POST_TASK = "kfsync.payments.post_reconciliation"
BUSY_RETRY_S = 10  # a post that found the invoice's payments locked tries again after this
LAST_RUN_KEY = "kfsync:reconcile:last_run"  # the dashboard shows it: when, which days, found


@celery_app.task(name="kfsync.maintenance.reconcile_payments")
@exclusive("reconcile_payments")
def reconcile_payments() -> int:
    """Reconcile the last ``reconcile_days`` days (UTC) of every enabled pair; returns their
    open items."""
    open_items = context.for_each_pair(_reconcile_pair)
    for item_id in stuck_posts(context.db_url()):
        enqueue_post(item_id)
    return open_items


def _reconcile_pair() -> int:
    """The current pair's days; its last run is kept for the dashboard (``last_run``)."""
    from workers.reconcile import reconcile_day

    of = "" if pairs.is_default() else f" of pair {pairs.current()}"
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=back)
            for back in range(context.settings().reconcile_days, 0, -1)]
    open_items = 0
    for day in days:
        try:
            open_items += sum(int(row["open_items"]) for row in reconcile_day(day))
        except ConnectorError as exc:  # Magento or KashFlow down: the next run covers the day
            alert("reconciliation", f"payment reconciliation{of} of {day} failed: {exc}; "
                                    "tomorrow's run covers it again (or kfsync reconcile "
                                    f"payments --date {day})")
    log.info("payment reconciliation%s of %s to %s: %s open item(s)", of, days[0], days[-1],
             open_items)
    run = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "first_day": str(days[0]),
           "last_day": str(days[-1]), "open_items": open_items}
    redis_clients.client(context.settings().redis_url).set(pairs.scoped_key(LAST_RUN_KEY),
                                                           json.dumps(run))
    return open_items


def last_run(redis_url: str, pair: str | None = None) -> dict[str, Any] | None:
    """The last daily run of ``pair`` (None: the current pair) — ``at``, ``first_day``,
    ``last_day``, ``open_items`` — or None."""
    try:
        raw = redis_clients.client(redis_url).get(pairs.scoped_key(LAST_RUN_KEY, pair))
    except redis.RedisError:
        return None
    return dict(json.loads(raw)) if raw else None


def stuck_posts(url: str) -> list[int]:
    """Items an operator asked to post that are not posted yet (the broker was down, or the
    worker died): the daily run sends them again."""
    with session_scope(url) as s:
        return list(s.scalars(select(ReconciliationItem.id).where(
            ReconciliationItem.status == ItemStatus.POSTING)))


def enqueue_post(item_id: int) -> bool:
    """Send the post of claimed item ``item_id`` to the payments worker (after commit)."""
    return publish_task(POST_TASK, (item_id,), queue="payments",
                        then="the item stays 'posting'; the daily reconciliation sends it again")


@celery_app.task(name=POST_TASK, bind=True, autoretry_for=(Transient,), retry_backoff=True,
                 retry_backoff_max=600, retry_jitter=True, max_retries=8)
def post_reconciliation(self: Any, item_id: int) -> str:
    """Post claimed item ``item_id``'s missing payment; returns the item's status. While
    another process writes on the invoice's payments, tried again a little later."""
    status = post_claimed(context.db_url(), item_id)
    if status == ItemStatus.POSTING:
        raise self.retry(countdown=BUSY_RETRY_S)
    return status


def post_claimed(url: str, item_id: int) -> str:
    """Post the missing payment of item ``item_id`` (status ``posting``) once; returns the
    item's status afterwards (``posted``; ``open`` again when KashFlow refused it; still
    ``posting`` when another process is posting it right now).

    Raises:
        connectors.errors.Transient: KashFlow failed in a way worth retrying (the item stays
            ``posting``; the attempt is counted, so the retry looks the payment up first).
    """
    with session_scope(url) as s:  # the item's pair's company and rules
        row = s.execute(select(ReconciliationItem.pair, ReconciliationItem.invoice_number)
                        .where(ReconciliationItem.id == item_id)).one_or_none()
    if row is None:
        return "missing"
    pairs.enter(row.pair)
    # One writer of the invoice's payments at a time (this item's retry and the daily resend,
    # the CLI, or the order's own payment step could meet): the lookup-then-write below is
    # only safe when nobody writes in between.
    with sole_writer(int(row.invoice_number or 0)) as mine:
        return _post_once(url, item_id) if mine else ItemStatus.POSTING


def _post_once(url: str, item_id: int) -> str:
    with session_scope(url) as s:
        item = s.get(ReconciliationItem, item_id)
        if item is None or item.status != ItemStatus.POSTING:
            return item.status if item is not None else "missing"
        draft, number = _draft(item), int(item.invoice_number or 0)
        found, captured = item.kashflow_amount or ZERO, item.magento_amount or ZERO
    # Look first, every time: an earlier attempt of this post may have reached KashFlow, and
    # since the reconciliation found the payment missing the order's own job may have posted
    # it (a requeued or re-opened order), or someone by hand.
    try:
        lines = list(context.kashflow().get_invoice(number).get("PaymentLines") or ())
    except NotFound:
        return _refused(url, item_id, f"invoice {number} is no longer in KashFlow")
    if any(_marker(item_id) in str(line.get("Note") or "") for line in lines):
        log.warning("reconciliation item %s: its payment was posted before; adopted", item_id)
        return _posted(url, item_id, draft, number)
    paid = paid_for(draft.txn_id, lines)
    if paid != found:  # KashFlow's payments for the capture changed since the run found them
        return _changed(url, item_id, number, paid, captured)
    with session_scope(url) as s:  # the attempt, committed before the call
        claimed = s.get(ReconciliationItem, item_id)
        assert claimed is not None
        claimed.post_attempts += 1
    try:
        context.kashflow().post_invoice_payment(
            date=draft.date, account_id=bank_account_id(draft), method=payment_method_id(draft),
            comment=draft.comment, items=[(number, draft.amount)])
    except (Rejected, NotFound) as exc:  # a business refusal: a human decides, no retry
        return _refused(url, item_id, str(exc))
    return _posted(url, item_id, draft, number)


def _marker(item_id: int) -> str:
    return f"(reconciliation {item_id})"


def _draft(item: ReconciliationItem) -> PaymentDraft:
    amount = (item.magento_amount or ZERO) - (item.kashflow_amount or ZERO)
    method = context.rules().payment_methods.get(item.payment_method or "")
    return PaymentDraft(
        amount=amount, date=utcnow().strftime("%Y-%m-%d %H:%M:%S"),
        comment=f"Magento {item.payment_method} txn {item.txn_id} {_marker(item.id)}",
        txn_id=str(item.txn_id), magento_method=item.payment_method or "",
        method_id=method.method_id if method else None,
        account_id=method.account_id if method else None,
        method_name=method.method_name if method else None)


def _posted(url: str, item_id: int, draft: PaymentDraft, number: int) -> str:
    with session_scope(url) as s:
        item = s.get(ReconciliationItem, item_id)
        assert item is not None
        item.status, item.resolved_at = ItemStatus.POSTED, utcnow()
        item.kashflow_amount = (item.kashflow_amount or ZERO) + draft.amount
        # The payment is kfsync's now: a settlement row with this transaction id matches it.
        add_links(s, [("payment", f"txn:{draft.txn_id}", str(number))])
        s.add(AuditEntry(actor="kfsync", action="reconcile_posted",
                         target=f"reconciliation_items/{item_id}",
                         note=f"payment {draft.amount} on invoice {number}"))
    return ItemStatus.POSTED


def _changed(url: str, item_id: int, number: int, paid: Decimal, captured: Decimal) -> str:
    """KashFlow now holds ``paid`` for the item's capture: settled when that covers what
    Magento ``captured`` (nothing is posted), else open again for a person to look at."""
    if paid < captured:
        return _reopened(url, item_id, "not posted", (
            f"invoice {number} holds {paid} for this capture now, not what the reconciliation "
            "found: run the reconciliation of its day again"), "reconcile_post_stale")
    with session_scope(url) as s:
        item = s.get(ReconciliationItem, item_id)
        assert item is not None
        item.status, item.resolved_at, item.kashflow_amount = ItemStatus.CLEARED, utcnow(), paid
        s.add(AuditEntry(actor="kfsync", action="reconcile_post_cleared",
                         target=f"reconciliation_items/{item_id}",
                         note=f"invoice {number} already holds {paid} for this capture: "
                              "nothing posted"))
    log.warning("reconciliation item %s: invoice %s already holds %s for its capture; "
                "nothing posted", item_id, number, paid)
    return ItemStatus.CLEARED


def _refused(url: str, item_id: int, reason: str) -> str:
    return _reopened(url, item_id, "KashFlow refused the payment", reason,
                     "reconcile_post_refused")


def _reopened(url: str, item_id: int, what: str, reason: str, action: str) -> str:
    """The post did not happen (``what``, ``reason``): the item is open again, audited and
    alerted, for a person to match, dismiss or post it again."""
    with session_scope(url) as s:
        item = s.get(ReconciliationItem, item_id)
        assert item is not None
        item.status, item.resolved_at = ItemStatus.OPEN, None
        item.detail = f"{item.detail or ''} | {what}: {reason}"[-2000:]
        s.add(AuditEntry(actor="kfsync", action=action,
                         target=f"reconciliation_items/{item_id}", note=reason[:2000]))
    alert("reconciliation", f"reconciliation item {item_id}: {what} ({reason}); it is open again")
    return ItemStatus.OPEN
