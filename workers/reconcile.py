"""Payment reconciliation of one day, and the operator's actions on its items.

``reconcile_day`` reads the Magento orders created that day (UTC), each order's transactions
and its KashFlow invoice's payment lines, compares them (``mappings.reconcile``), keeps one
``ReconciliationItem`` per difference (a re-run finds the same item; an open item whose
difference has gone is ``cleared``), alerts on new items, and returns the report per payment
method. ``resolve_item`` is the operator's match / post / dismiss, audited.
A day is reconciled for the current integration pair (``core.pairs``): its shop's orders
against its KashFlow company; its items carry the pair (a fingerprint of another pair than
``default`` ends in ``@<pair>``), and a post runs with the item's pair's clients.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from connectors.errors import NotFound
from core import pairs
from mappings.errors import MappingError
from mappings.magento import parse_order
from mappings.money import ZERO, to_decimal
from mappings.reconcile import Difference, captures, compare
from mappings.tenders import tender_payments
from store.db import session_scope
from store.models import AuditEntry, utcnow
from store.reconcile_models import ItemReason, ItemStatus, ReconciliationItem
from workers import context
from workers.alerts import alert
from workers.operations import OperationError
from workers.runner import find_link

ACTIONS = ("match", "post", "dismiss")
DONE_BY_ACTION = {"match": ItemStatus.MATCHED, "dismiss": ItemStatus.DISMISSED}


@dataclass
class MethodRow:
    """One line of the daily report."""

    method: str
    orders: int = 0
    magento_captured: Decimal = ZERO
    kashflow_received: Decimal = ZERO
    refunds: Decimal = ZERO
    difference: Decimal = ZERO
    open_items: int = 0


def _money(value: Any) -> Decimal:
    return to_decimal(value) if value is not None else ZERO


def _tender_refs(doc: dict[str, Any]) -> list[str]:
    try:
        return [d.txn_id for d in tender_payments(parse_order(doc), context.rules())]
    except MappingError:
        return []


def _order_differences(doc: dict[str, Any], row: MethodRow) -> tuple[list[Difference], int | None]:
    url, entity_id = context.db_url(), int(doc["entity_id"])
    payment = doc.get("payment") or {}
    caps = captures(context.magento().search_transactions(entity_id),
                    _money(payment.get("amount_paid")))
    number = find_link(url, "invoice", f"order:{entity_id}")
    lines = None
    if number is not None:
        try:
            lines = list(context.kashflow().get_invoice(int(number)).get("PaymentLines") or [])
        except NotFound:  # deleted in KashFlow since: the capture has no invoice there
            number = None
    refs = _tender_refs(doc)
    row.orders += 1
    row.magento_captured += sum((c.amount for c in caps), ZERO)
    row.kashflow_received += sum((_money(line.get("Amount")) for line in lines or []
                                  if not any(ref in str(line.get("Note") or "") for ref in refs)),
                                 ZERO)
    row.refunds += _money(doc.get("total_refunded"))
    return compare(caps, lines, refs), int(number) if number is not None else None


def reconcile_day(day: date) -> list[dict[str, Any]]:
    """Reconcile the orders created on ``day``; returns the report rows (one per method)."""
    from workers.catchup import keyset_orders

    window = [[("created_at", f"{day.isoformat()} 00:00:00", "gteq")],
              [("created_at", f"{day.isoformat()} 23:59:59", "lteq")]]
    rows: dict[str, MethodRow] = {}
    found: list[tuple[dict[str, Any], str, Difference, int | None]] = []
    orders: list[str] = []
    for doc in keyset_orders(window):
        method = str((doc.get("payment") or {}).get("method") or "unknown")
        row = rows.setdefault(method, MethodRow(method))
        diffs, number = _order_differences(doc, row)
        orders.append(str(doc["entity_id"]))
        found += [(doc, method, diff, number) for diff in diffs]
    new = _store(day, orders, found)
    if new:
        alert("reconciliation", f"{len(new)} new payment reconciliation item(s) for {day}: "
                                + "; ".join(new[:5]))
    with session_scope(context.db_url()) as s:
        open_by_method = dict(s.execute(
            select(ReconciliationItem.payment_method, func.count())
            .where(ReconciliationItem.day == day, ReconciliationItem.status == ItemStatus.OPEN,
                   ReconciliationItem.pair == pairs.current())
            .group_by(ReconciliationItem.payment_method)).all())
    for row in rows.values():
        row.difference = row.magento_captured - row.kashflow_received
        row.open_items = int(open_by_method.get(row.method, 0))
    return [asdict(row) for row in sorted(rows.values(), key=lambda r: r.method)]


def _store(day: date, orders: list[str],
           found: list[tuple[dict[str, Any], str, Difference, int | None]]) -> list[str]:
    """Upsert the items by fingerprint and clear the open ones no longer found; returns the
    new items' one-line descriptions."""
    new: list[str] = []
    with session_scope(context.db_url()) as s:
        prints = set()
        for doc, method, diff, number in found:
            fingerprint = pairs.scoped_key(f"{diff.reason}:{doc['entity_id']}:{diff.txn_id or ''}")
            prints.add(fingerprint)
            item = s.scalar(select(ReconciliationItem)
                            .where(ReconciliationItem.fingerprint == fingerprint))
            if item is None:
                item = ReconciliationItem(fingerprint=fingerprint, pair=pairs.current(),
                                          day=day, reason=diff.reason,
                                          status=ItemStatus.OPEN, order_key=str(doc["entity_id"]))
                s.add(item)
                new.append(f"order {doc.get('increment_id')} {diff.reason} ({diff.detail})")
            item.order_ref, item.payment_method, item.txn_id = (
                doc.get("increment_id"), method, diff.txn_id)
            item.invoice_number, item.detail = number, diff.detail
            item.magento_amount, item.kashflow_amount = diff.magento_amount, diff.kashflow_amount
        for item in s.scalars(select(ReconciliationItem).where(
                ReconciliationItem.order_key.in_(orders),
                ReconciliationItem.pair == pairs.current(),
                ReconciliationItem.status == ItemStatus.OPEN)):
            if item.fingerprint not in prints:
                item.status, item.resolved_at, item.resolved_by = (
                    ItemStatus.CLEARED, utcnow(), "reconcile")
    return new


def describe_item(item: ReconciliationItem) -> dict[str, Any]:
    """An item as plain data (CLI, API)."""
    return {name: getattr(item, name) for name in (
        "id", "pair", "day", "reason", "status", "order_key", "order_ref", "payment_method",
        "txn_id",
        "invoice_number", "magento_amount", "kashflow_amount", "detail", "created_at",
        "resolved_at", "resolved_by", "resolution_note")}


def resolve_item(url: str, item_id: int, action: str, *, actor: str,
                 note: str | None = None, post_inline: bool = True) -> dict[str, Any]:
    """Match, post or dismiss open item ``item_id`` in database ``url`` (audited); returns
    the item.

    ``post`` claims the item (``posting``, committed with its audit entry), then writes the
    missing amount (Magento's less KashFlow's) as a payment on the order's invoice, exactly
    once (``workers.reconcile_queue.post_claimed``): here (``post_inline``, the CLI), or on
    the payments worker (the dashboard and the API). A ``post`` of an item left ``posting``
    resumes it.

    Raises:
        OperationError: unknown id, the item is not open, a dismiss without a reason, or a
            post for an item that has no invoice or no amount to post.
        connectors.errors.ConnectorError: an inline post failed (the item stays ``posting``;
            posting it again resumes, looking the payment up first).
    """
    from workers.reconcile_queue import enqueue_post, post_claimed

    if action not in ACTIONS:
        raise OperationError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    note = (note or "").strip() or None
    if action == "dismiss" and not note:
        raise OperationError("a dismiss needs a reason")
    with session_scope(url) as s:
        item = s.get(ReconciliationItem, item_id)
        if item is None:
            raise OperationError(f"no reconciliation item with id {item_id}")
        resume = action == "post" and item.status == ItemStatus.POSTING
        if item.status != ItemStatus.OPEN and not resume:
            raise OperationError(f"reconciliation item {item_id} is already {item.status}")
        if action == "post":
            _check_postable(item)
        item.status = ItemStatus.POSTING if action == "post" else DONE_BY_ACTION[action]
        item.resolved_at = None if action == "post" else utcnow()
        item.resolved_by, item.resolution_note = actor, note
        s.add(AuditEntry(actor=actor, action=f"reconcile_{action}",
                         target=f"reconciliation_items/{item_id}", note=note))
    if action == "post":
        if post_inline:
            post_claimed(url, item_id)
        else:
            enqueue_post(item_id)
    with session_scope(url) as s:
        done = s.get(ReconciliationItem, item_id)
        assert done is not None
        return describe_item(done)


def _check_postable(item: ReconciliationItem) -> None:
    amount = (item.magento_amount or ZERO) - (item.kashflow_amount or ZERO)
    if item.reason not in (ItemReason.MISSING_PAYMENT, ItemReason.AMOUNT_DIFFERS) or (
            item.invoice_number is None or amount <= ZERO):
        raise OperationError(f"reconciliation item {item.id} has no payment to post "
                             f"({item.reason}); match or dismiss it, or replay the order")
