"""Payment reconciliation: Magento captured transactions vs KashFlow payment lines (pure).

Magento side (``GET /V1/transactions`` of the order): every ``capture`` that no ``void``
names as its parent. Its amount: the transaction's ``amount`` when the gateway stores one
(an extension field; some gateways put it in ``additional_information`` as ``amount=..``),
else, for an order with one capture, the order's ``payment.amount_paid``; several captures
without amounts share ``amount_paid`` as one total and are checked as a whole.

KashFlow side: the ``PaymentLines`` of the order's invoice. A line is the capture's when its
``Note`` contains the capture's ``txn_id`` (kfsync writes it into the payment ``Comment``); a
line that names a tender of the order (store credit, gift card...) is the tender's.

Differences, one per transaction: ``missing_payment`` (captured, no line), ``amount_differs``
(a line, another amount), ``payment_without_invoice`` (captured, and the order has no KashFlow
invoice), ``unknown_transaction`` (a line no capture or tender explains).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mappings.money import ZERO, to_decimal


@dataclass(frozen=True)
class Capture:
    txn_id: str
    amount: Decimal


@dataclass(frozen=True)
class Difference:
    reason: str
    txn_id: str | None
    magento_amount: Decimal | None
    kashflow_amount: Decimal | None
    detail: str


def _amount(txn: Mapping[str, Any]) -> Decimal | None:
    if txn.get("amount") is not None:
        return to_decimal(txn["amount"])
    for entry in txn.get("additional_information") or ():
        key, _, value = str(entry).partition("=")
        if key.strip() == "amount" and value.strip():
            return to_decimal(value)
    return None


def captures(transactions: Iterable[Mapping[str, Any]], amount_paid: Decimal) -> list[Capture]:
    """The order's live captures with their amounts (see the module docstring)."""
    txns = list(transactions)
    voided = {str(t.get("parent_txn_id")) for t in txns if t.get("txn_type") == "void"}
    live = [t for t in txns
            if t.get("txn_type") == "capture" and str(t.get("txn_id")) not in voided]
    amounts = [_amount(t) for t in live]
    known = sum((a for a in amounts if a is not None), ZERO)
    unknown = [t for t, a in zip(live, amounts, strict=True) if a is None]
    result = [Capture(str(t["txn_id"]), a) for t, a in zip(live, amounts, strict=True)
              if a is not None]
    if unknown:  # what the order says was paid, less what the captures say themselves
        share = amount_paid - known
        result.append(Capture(str(unknown[0]["txn_id"]), share))
        result += [Capture(str(t["txn_id"]), ZERO) for t in unknown[1:]]
    return result


def refunded(transactions: Iterable[Mapping[str, Any]]) -> Decimal:
    """The refunds Magento's transactions state amounts for (0 when they state none)."""
    return sum((_amount(t) or ZERO for t in transactions if t.get("txn_type") == "refund"), ZERO)


def naming(txn_id: str, lines: Sequence[Mapping[str, Any]]) -> list[int]:
    """The indexes of the payment ``lines`` whose ``Note`` names transaction ``txn_id``: the
    payments KashFlow holds for that capture."""
    return [i for i, line in enumerate(lines) if txn_id in str(line.get("Note") or "")]


def paid_for(txn_id: str, lines: Sequence[Mapping[str, Any]]) -> Decimal:
    """What the payment ``lines`` naming ``txn_id`` add up to."""
    return sum((to_decimal(lines[i].get("Amount")) for i in naming(txn_id, lines)), ZERO)


def compare(caps: Sequence[Capture], lines: Sequence[Mapping[str, Any]] | None,
            tender_refs: Iterable[str] = ()) -> list[Difference]:
    """The differences between an order's captures and its invoice's payment lines
    (``lines`` None: the order has no KashFlow invoice)."""
    if lines is None:
        return [Difference("payment_without_invoice", c.txn_id, c.amount, None,
                           "captured in Magento, but the order has no KashFlow invoice")
                for c in caps if c.amount]
    diffs: list[Difference] = []
    used: set[int] = set()
    for cap in caps:
        mine = naming(cap.txn_id, lines)
        used.update(mine)
        paid = paid_for(cap.txn_id, lines)
        if not mine and cap.amount:
            diffs.append(Difference("missing_payment", cap.txn_id, cap.amount, None,
                                    "captured in Magento, no KashFlow payment names it"))
        elif mine and paid != cap.amount:
            diffs.append(Difference("amount_differs", cap.txn_id, cap.amount, paid,
                                    f"Magento captured {cap.amount}, KashFlow has {paid}"))
    refs = tuple(tender_refs)
    for i, line in enumerate(lines):
        note = str(line.get("Note") or "")
        if i in used or any(ref in note for ref in refs):
            continue
        amount = to_decimal(line.get("Amount"))
        diffs.append(Difference("unknown_transaction", f"kashflow-line:{line.get('Id')}", None,
                                amount, f"KashFlow payment {amount} ({note or 'no note'}) "
                                        "matches no Magento capture"))
    return diffs
