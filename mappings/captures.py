"""Captures: every capture of an order is posted once, whenever it happens.

Magento's invoices are the record of what was billed and captured (magento-rest.md §4.6): an
invoice in state 2 (paid) is one capture, its ``transaction_id`` the gateway's capture id and
its ``grand_total`` the amount. An authorise-only order has no paid invoice until the shop
captures (at shipment, say); a partial capture is several invoices, each with its own
transaction. A Magento that lists no invoice at all for the order (an order placed and
captured in one go by a module that writes no invoice record, or the sandbox's plain orders)
falls back to the order's own payment: one capture of ``payment.amount_paid`` under
``payment.last_trans_id`` (DESIGN §5).

``payments_due`` compares them with what kfsync has posted (payments keyed by reference: the
transaction id that also travels in the payment's ``Comment``): each capture not yet posted
is due once; one that would take the payments past the invoice's gross is not posted and the
order goes to review. Pure functions; the worker reads the invoices and posts
(``workers.payments``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mappings.lifecycle import gateway_decision
from mappings.magento import MAGENTO_DATETIME, Order
from mappings.money import ZERO, to_decimal
from mappings.routing import route
from mappings.rules import Rules
from mappings.tenders import PaymentDraft, tender_payments

INVOICE_PAID = 2  # Magento invoice state: 1 open, 2 paid (captured), 3 canceled


@dataclass(frozen=True)
class Capture:
    """Money the gateway took for the order: ``reference`` is the transaction id."""

    reference: str
    amount: Decimal
    date: str  # Magento's created_at of the capture
    source: str  # "Magento invoice 000000123", or "order payment"


@dataclass(frozen=True)
class PaymentsDue:
    """What to post now, in order; ``review`` set: a capture was held back, and why."""

    payments: tuple[PaymentDraft, ...]
    review: str | None = None


def captures_of(order: Order, invoices: Sequence[Mapping[str, Any]]) -> list[Capture]:
    """The order's captures, from its Magento invoices (or, when Magento lists none, its
    payment): one per paid invoice, in the order given."""
    if not invoices:
        payment = order.payment
        if payment is None or not payment.last_trans_id or payment.amount_paid <= ZERO:
            return []
        return [Capture(payment.last_trans_id, payment.amount_paid,
                        order.created_at.strftime(MAGENTO_DATETIME), "order payment")]
    found = []
    for invoice in invoices:
        if int(invoice.get("state") or 0) != INVOICE_PAID:
            continue
        amount = to_decimal(invoice.get("grand_total") or 0)
        if amount <= ZERO:
            continue
        ref = str(invoice.get("transaction_id") or "").strip() or \
            f"invoice:{invoice.get('increment_id') or invoice.get('entity_id')}"
        date = str(invoice.get("created_at") or order.created_at.strftime(MAGENTO_DATETIME))
        found.append(Capture(ref, amount, date,
                             f"Magento invoice {invoice.get('increment_id') or ''}".strip()))
    return found


def captured_total(order: Order, invoices: Sequence[Mapping[str, Any]]) -> Decimal:
    """What Magento has captured (paid invoices, else ``total_paid``), tenders included:
    what a cancellation leaves standing."""
    if invoices:
        paid = sum((c.amount for c in captures_of(order, invoices)), ZERO)
    else:
        paid = max(order.total_paid, ZERO)
    return paid + order.tenders.total


def payment_drafts(order: Order, rules: Rules,
                   invoices: Sequence[Mapping[str, Any]] = ()) -> list[PaymentDraft]:
    """Every payment the order should have on its KashFlow invoice: the tenders, then one per
    gateway capture (none for offline methods or with ``post_payments`` off)."""
    routed = route(order, rules)
    if not rules.steps.post_payments or routed.says("skip_payment"):
        return []
    drafts = tender_payments(order, rules)
    pay, _ = gateway_decision(order, rules)
    if not pay or order.payment is None:
        return drafts
    method = rules.payment_methods.get(order.payment.method)
    account = routed.number("use_bank_account") or (method.account_id if method else None)
    for capture in captures_of(order, invoices):
        drafts.append(PaymentDraft(
            amount=capture.amount, date=capture.date,
            comment=f"Magento {order.payment.method} txn {capture.reference}",
            txn_id=capture.reference, magento_method=order.payment.method,
            method_id=method.method_id if method else None,
            account_id=account,
            method_name=method.method_name if method else None))
    return drafts


def payments_due(drafts: Sequence[PaymentDraft], posted: Mapping[str, Decimal],
                 gross: Decimal) -> PaymentsDue:
    """The ``drafts`` not yet ``posted`` (reference -> amount), in order, as long as the
    payments stay within the invoice's ``gross``; a capture beyond it is held for review."""
    paid = sum(posted.values(), ZERO)
    due: list[PaymentDraft] = []
    for draft in drafts:
        if draft.txn_id in posted or any(d.txn_id == draft.txn_id for d in due):
            continue
        if paid + draft.amount > gross:
            return PaymentsDue(tuple(due), (
                f"capture {draft.txn_id} of {draft.amount} would take the payments to "
                f"{paid + draft.amount}, over the invoice's {gross}: not posted"))
        due.append(draft)
        paid += draft.amount
    return PaymentsDue(tuple(due))


def posted_in(notes: Sequence[tuple[str, Decimal]], drafts: Sequence[PaymentDraft]
              ) -> dict[str, Decimal]:
    """The ``drafts`` found among an invoice's payment lines (``Note``, ``Amount``): a line
    whose note names the draft's reference as a word (``txn-1`` never matches ``txn-10``)."""
    found: dict[str, Decimal] = {}
    for draft in drafts:
        for note, amount in notes:
            words = {w.strip("()") for w in note.split()}
            if draft.txn_id in words:
                found[draft.txn_id] = amount
                break
    return found
