"""What to do with an order now: invoice it, wait, skip it, or send it to review; and pay or not.

Driven by ``state`` plus the money totals, never by the merchant-editable ``status`` alone
(magento-rest.md §5, DESIGN §5). The only status consulted is Adobe Commerce's async
``received``, which sits under a normal state before the order is really placed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from mappings.magento import Order
from mappings.money import ZERO
from mappings.rules import Rules

Action = Literal["invoice", "wait", "skip", "review"]

WAIT_STATUSES: Mapping[str, str] = {
    "received": "async order placement has not finished (status 'received')",
}

STATE_ACTIONS: Mapping[str, tuple[Action, str]] = {
    "processing": ("invoice", "order is processing: post the sales invoice"),
    "complete": ("invoice", "order is complete: post the sales invoice"),
    "new": ("wait", "order is new: nothing invoiced yet"),
    "pending_payment": ("wait", "waiting for the payment gateway to confirm"),
    "payment_review": ("wait", "payment is under review at the gateway"),
    "holded": ("wait", "order is on hold"),
}

# States whose outcome depends on whether anything had been invoiced before.
ENDED_STATES = frozenset({"canceled", "closed"})


@dataclass(frozen=True)
class Decision:
    """The verdict on an order. ``reason`` and ``pay_reason`` are for the operator."""

    action: Action
    reason: str
    pay: bool = False
    pay_reason: str = "no invoice, so no payment"


def decide(order: Order, rules: Rules | None = None) -> Decision:
    """Decide what to post for ``order`` (payment rule from ``rules``, defaults when ``None``).

    - status ``received`` -> wait;
    - ``processing``/``complete`` -> invoice, with a payment when ``payment_decision`` agrees;
    - ``new``, ``pending_payment``, ``payment_review``, ``holded`` -> wait;
    - ``canceled``/``closed`` with nothing invoiced -> skip; with something invoiced -> review
      (needs a credit note: a later version posts it);
    - any other state -> review.
    """
    rules = rules or Rules()
    wait_reason = WAIT_STATUSES.get(order.status or "")
    if wait_reason is not None:
        return Decision("wait", wait_reason)
    if order.state in ENDED_STATES:
        if order.total_invoiced <= ZERO:
            return Decision("skip", f"{order.state} before invoice: nothing to post")
        return Decision(
            "review",
            f"{order.state} after {order.total_invoiced} was invoiced: needs an invoice and a "
            "credit note, which this version does not post",
        )
    known = STATE_ACTIONS.get(order.state)
    if known is None:
        return Decision("review", f"unknown order state '{order.state}'")
    action, reason = known
    if action != "invoice":
        return Decision(action, reason)
    pay, pay_reason = payment_decision(order, rules)
    return Decision(action, reason, pay=pay, pay_reason=pay_reason)


def payment_decision(order: Order, rules: Rules) -> tuple[bool, str]:
    """DESIGN §5: pay when the method is online, has a transaction id and money was taken."""
    payment = order.payment
    if payment is None:
        return False, "the order has no payment"
    if payment.method in rules.offline_payment_methods:
        return False, f"offline method {payment.method}: the invoice stays unpaid"
    if not payment.last_trans_id:
        return False, f"{payment.method} has no gateway transaction id"
    if order.total_paid <= ZERO:
        return False, f"nothing paid yet (total_paid {order.total_paid})"
    if payment.amount_paid <= ZERO:
        return False, f"payment.amount_paid is {payment.amount_paid}"
    return True, f"paid {payment.amount_paid} via {payment.method} (txn {payment.last_trans_id})"
