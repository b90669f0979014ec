"""An order's ledger: what kfsync posted for it, and whether that still matches Magento.

The worker keeps the ledger on the order job's plan (``plan["ledger"]``), one entry per
document or payment it posted, each with its reference, KashFlow number, amount, when and
why (``entry``). ``ledger_gap`` compares it with the current Magento order (as re-read on
every ``order.updated``, ``invoice.created`` and catch-up pass) and names what is missing:

- ``payments``: a capture not yet posted (a late capture of an authorise-only gateway, the
  next part of a partial capture); the order's own totals tell (``total_paid`` and its last
  transaction id), the payment step then reads Magento's invoices for the captures;
- ``cancellation``: the order was canceled, had items canceled, or was replaced by an edit
  after its invoice was posted (``mappings.cancellations``).

A finished order is one whose ledger has no gap. Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mappings.cancellations import cancellation_due
from mappings.captures import captured_total, payment_drafts
from mappings.magento import Order
from mappings.money import ZERO, to_decimal
from mappings.rules import Rules

PAYMENTS, CANCELLATION = "payments", "cancellation"


@dataclass(frozen=True)
class Posted:
    """What the ledger says kfsync posted: the invoice's gross, payments by reference,
    the total of its ``CX-`` notes, and the edit that replaced the order (if known)."""

    gross: Decimal | None
    payments: Mapping[str, Decimal] = field(default_factory=dict)
    cancelled: Decimal = ZERO
    replaced_by: str | None = None


def entry(doc: str, ref: str, number: int | None, amount: Decimal, at: str,
          why: str) -> dict[str, Any]:
    """One ledger entry, JSON-safe (amount as text): ``doc`` is ``invoice``, ``payment`` or
    ``credit_note``; ``ref`` its Magento-side reference (increment id, transaction id,
    ``CX-``/``CM-`` reference); ``number`` the KashFlow invoice or note it sits on."""
    return {"doc": doc, "ref": ref, "number": number, "amount": str(amount), "at": at,
            "why": why}


def posted_of(plan: Mapping[str, Any]) -> Posted:
    """The ledger recorded on a job's ``plan`` (older jobs: their invoice and payments)."""
    entries = list(plan.get("ledger") or [])
    invoice = plan.get("kashflow_invoice") or {}
    gross = next((to_decimal(e["amount"]) for e in entries if e["doc"] == "invoice"),
                 to_decimal(invoice["GrossAmount"]) if invoice.get("GrossAmount") is not None
                 else None)
    payments = {str(e["ref"]): to_decimal(e["amount"]) for e in entries if e["doc"] == "payment"}
    if not entries:  # recorded before the ledger: the payments the step kept on the plan
        payments = {str(p["reference"]): to_decimal(p["amount"])
                    for p in plan.get("kashflow_payments") or []}
    cancelled = sum((to_decimal(e["amount"]) for e in entries
                     if e["doc"] == "credit_note" and str(e["ref"]).startswith("CX-")), ZERO)
    replaced = plan.get("replaced_by")
    return Posted(gross, payments, cancelled, str(replaced) if replaced else None)


def ledger_gap(order: Order, rules: Rules, posted: Posted) -> tuple[str, str] | None:
    """What the posted ledger lacks for ``order`` now: ``(PAYMENTS | CANCELLATION, why)``,
    or None when it matches (or nothing was invoiced)."""
    if posted.gross is None:
        return None
    drafts = payment_drafts(order, rules)
    wanted = sum((d.amount for d in drafts), ZERO)
    paid = sum(posted.payments.values(), ZERO)
    # By amount, not by reference: the order names only its last transaction, and Magento's
    # invoices (which the payment step reads) name each capture.
    if wanted > paid and paid < posted.gross:
        return PAYMENTS, f"Magento captured {wanted}, kfsync posted {paid}"
    due = cancellation_due(order, posted.gross, captured_total(order, ()), posted.cancelled,
                           posted.replaced_by)
    if due.amount > ZERO:
        return CANCELLATION, f"{due.reason}: {due.amount} to credit"
    return None
