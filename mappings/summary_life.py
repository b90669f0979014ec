"""Summary mode after booking, pure: what a summarised order's later life adds to summaries.

An order booked in a summary (``mappings.summary.order_part``) carries its captures at
booking time. Two things can follow:

- **a later capture** (an authorise-only gateway captures at shipment): what Magento has
  captured now, per method, less what the summaries hold for the order, is a *capture*
  entry: payments only, no lines. It joins the order's own summary while that is open, else
  the next open one; either way its money is paid on the invoice that holds the order
  (``workers.summary_post``), dated the day of the summary that carries it;
- **a cancellation** (the whole order canceled with nothing captured): before its summary
  closes the order leaves it; after, its lines go on the next open summary credit note as a
  *cancel* entry.

``summary_gap`` says which, from the job's ``plan["summary"]`` (``workers.summary``), as
``mappings.ledger.ledger_gap`` does for an order invoiced on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mappings.captures import captured_total, payment_drafts
from mappings.magento import Order
from mappings.money import ZERO, round_money, to_decimal
from mappings.rules import Rules
from mappings.summary import INVOICE, Part, PaymentPart

CAPTURE, CANCEL = "capture", "cancel"


def captured_by_method(order: Order, rules: Rules) -> dict[str, PaymentPart]:
    """What Magento has captured for ``order`` now (tenders included), per method, as
    summary payments (none with ``post_payments`` off)."""
    by: dict[str, PaymentPart] = {}
    for d in payment_drafts(order, rules):
        seen = by.get(d.magento_method)
        by[d.magento_method] = PaymentPart(
            d.magento_method, (seen.amount if seen else ZERO) + d.amount, d.account_id,
            d.method_id, d.method_name, d.kind)
    return by


def capture_delta(order: Order, rules: Rules, booked: Mapping[str, Decimal]
                  ) -> tuple[PaymentPart, ...]:
    """The captures not yet in a summary: per method, captured now less ``booked``."""
    out = []
    for method, part in sorted(captured_by_method(order, rules).items()):
        more = part.amount - booked.get(method, ZERO)
        if more > ZERO:
            out.append(PaymentPart(method, more, part.account_id, part.method_id,
                                   part.method_name, part.kind))
    return tuple(out)


def capture_key(order_key: str, order: Order, rules: Rules) -> str:
    """The capture entry's key: the order and what Magento has captured in all, so the same
    news again finds its entry, and the next partial capture is a new one."""
    total = sum((p.amount for p in captured_by_method(order, rules).values()), ZERO)
    return f"{order_key}@{round_money(total):.2f}"


def summary_gap(order: Order, rules: Rules, booked: Mapping[str, Any]) -> tuple[str, str] | None:
    """What the summaries lack for summarised ``order`` now: ``(CAPTURE | CANCEL, why)``, or
    None. ``booked`` is the job's ``plan["summary"]`` (``paid``: what they hold for it)."""
    if booked.get("kind") != INVOICE or booked.get("cancelled"):
        return None
    if order.state == "canceled":
        if captured_total(order, ()) > ZERO:
            return None  # captured money stands: a credit memo refunds it
        return CANCEL, "canceled in Magento after it was summarised, nothing captured"
    paid = to_decimal(booked.get("paid", booked.get("gross", 0)))
    captured = sum((p.amount for p in captured_by_method(order, rules).values()), ZERO)
    if captured > paid:
        return CAPTURE, f"Magento captured {captured}, its summaries hold {paid}"
    return None


def cancel_part(order_part: Mapping[str, Any]) -> Part:
    """A cancelled order's part of a summary credit note: its lines, no payment."""
    return Part(Part.from_json(order_part).lines)
