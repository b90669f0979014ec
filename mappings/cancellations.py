"""Cancellation after the invoice: a ``CX-`` credit note for what was cancelled, uncaptured.

kfsync posts the sales invoice when an order is ``processing`` (``mappings.lifecycle``), often
before the gateway has captured anything. When Magento then cancels the order (``canceled``),
cancels some of its items (``total_canceled``), or replaces it by an edit (``000000123-1``,
``relation_child_id`` on the original), the posted invoice overstates the sale. The credit
note puts it right, against the original invoice:

- an order **replaced by an edit**: the whole invoice (the edit is invoiced on its own); a
  payment already captured on the original stays on its invoice, where the operator sees it
  as an overpayment;
- an order **canceled**: the invoice's gross less what was captured (paid Magento invoices,
  tenders included): the captured part is a sale (a refund is a credit memo, ``CM-``);
- **items canceled** on an open order: Magento's ``total_canceled``, at most the uncaptured rest.

Less what earlier ``CX-`` notes credited; nothing when nothing is due. ``CustomerReference`` is
``"CX-" + increment_id``, the ``Number`` the invoice's + ``cancel_note_number_offset``
(deterministic: a retry looks it up before writing). Lines: a whole-invoice credit repeats the
invoice's lines negated (same VAT, nominals, products); a part credit is one line per VAT level
of the invoice, the amount shared in proportion to each level's gross (to the penny, largest
remainder), each split into net and VAT at its rate. Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from mappings.magento import MAGENTO_DATETIME, Order
from mappings.money import ZERO, round_money, to_decimal
from mappings.orders import exchange_rate
from mappings.refunds import CreditNoteDraft
from mappings.rules import Rules

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Cancellation:
    """What a ``CX-`` note must credit now (``amount`` 0: nothing) and why."""

    amount: Decimal
    reason: str
    whole: bool = False  # the whole invoice (an edit replaced the order, or nothing captured)


def cancellation_due(order: Order, gross: Decimal, captured: Decimal, credited: Decimal,
                     replaced_by: str | None = None) -> Cancellation:
    """The cancellation to credit on an invoice of ``gross`` posted for ``order``.

    Args:
        captured: what Magento captured (``captures.captured_total``).
        credited: what ``CX-`` notes credited already.
        replaced_by: the edit replacing the order, when the worker knows it (else the order's
            own ``relation_child_id``).
    """
    edit = replaced_by or order.replaced_by
    uncaptured = max(gross - captured, ZERO)
    if edit:
        target, why, whole = gross, f"replaced by edited order {edit}", True
    elif order.state == "canceled":
        target, why = uncaptured, f"canceled in Magento with {captured} captured"
        whole = captured <= ZERO
    elif order.total_canceled > ZERO:
        target = min(order.total_canceled, uncaptured)
        why, whole = f"items canceled in Magento ({order.total_canceled})", False
    else:
        return Cancellation(ZERO, "nothing canceled")
    due = max(target - credited, ZERO)
    if due == ZERO:
        return Cancellation(ZERO, f"{why}: credited already ({credited})")
    return Cancellation(due, why, whole and credited == ZERO)


def cancel_note_number(invoice_number: int, rules: Rules) -> int:
    """The ``CX-`` note's ``Number``: the invoice's + ``cancel_note_number_offset``."""
    return invoice_number + rules.cancel_note_number_offset


def build_cancellation_note(order: Order, invoice: Mapping[str, Any], due: Cancellation,
                            rules: Rules, date: str | None = None) -> CreditNoteDraft:
    """The ``CX-`` credit note for ``due`` against the posted ``invoice`` (its ``Number``,
    ``CustomerCode`` and ``LineItems`` as KashFlow answered them), dated ``date`` (when
    Magento cancelled: the order's ``updated_at``; else the invoice's date)."""
    lines = list(invoice.get("LineItems") or [])
    if due.whole:
        items = [_negated(line) for line in lines]
    else:
        items = _share_by_vat(lines, due.amount, rules)
    issued = date or str(invoice.get("IssuedDate") or order.created_at.strftime(MAGENTO_DATETIME))
    body: dict[str, Any] = {
        "Number": cancel_note_number(int(invoice["Number"]), rules),
        "CustomerCode": invoice["CustomerCode"],
        "CustomerReference": f"CX-{order.increment_id}",
        "IssuedDate": issued, "DueDate": issued,
        "Currency": {"Code": order.order_currency_code, "ExchangeRate": exchange_rate(order)},
        "LineItems": items,
    }
    return CreditNoteDraft(body, -due.amount)


def note_gross(items: Sequence[Mapping[str, Any]]) -> Decimal:
    """A credit note's gross as KashFlow computes it (negative)."""
    return sum((round_money(to_decimal(i["Quantity"]) * to_decimal(i["Rate"]))
                + to_decimal(i["VATAmount"]) for i in items), ZERO)


def _negated(line: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Description": f"Cancelled: {line.get('Description')}",
        "Quantity": -to_decimal(line["Quantity"]), "Rate": to_decimal(line["Rate"]),
        "VATLevel": to_decimal(line.get("VATLevel") or 0),
        "VATAmount": -to_decimal(line.get("VATAmount") or 0),
        "NominalCode": int(line["NominalCode"]),
    }
    if line.get("ProductCode"):
        out["ProductCode"] = line["ProductCode"]
    return out


def _share_by_vat(lines: Sequence[Mapping[str, Any]], amount: Decimal, rules: Rules
                  ) -> list[dict[str, Any]]:
    """``amount`` over the invoice's VAT levels in proportion to their gross, one line each."""
    levels: dict[Decimal, tuple[Decimal, int]] = {}  # level -> (gross, nominal of its largest)
    biggest: dict[Decimal, Decimal] = {}
    for line in lines:
        level = to_decimal(line.get("VATLevel") or 0)
        gross = round_money(to_decimal(line["Quantity"]) * to_decimal(line["Rate"])) + \
            to_decimal(line.get("VATAmount") or 0)
        total, nominal = levels.get(level, (ZERO, int(line["NominalCode"])))
        if gross > biggest.get(level, Decimal("-Infinity")):
            biggest[level], nominal = gross, int(line["NominalCode"])
        levels[level] = (total + gross, nominal)
    positive = {k: v for k, v in levels.items() if v[0] > ZERO} or \
        {ZERO: (amount, rules.default_nominal_code)}
    shares = _largest_remainder(amount, {k: v[0] for k, v in positive.items()})
    items = []
    for level, share in shares.items():
        if share == ZERO:
            continue
        vat = round_money(share * level / (100 + level))
        items.append({"Description": f"Cancelled ({level.normalize():f}% VAT)",
                      "Quantity": Decimal(-1), "Rate": share - vat, "VATLevel": level,
                      "VATAmount": -vat, "NominalCode": positive[level][1]})
    return items


def _largest_remainder(amount: Decimal, weights: Mapping[Decimal, Decimal]
                       ) -> dict[Decimal, Decimal]:
    """``amount`` split in proportion to ``weights``, to the penny, summing exactly."""
    total = sum(weights.values(), ZERO)
    raw = {k: amount * w / total for k, w in weights.items()}
    shares = {k: v.quantize(CENT, rounding=ROUND_DOWN) for k, v in raw.items()}
    left = amount - sum(shares.values(), ZERO)
    for key in sorted(raw, key=lambda k: raw[k] - shares[k], reverse=True):
        if left <= ZERO:
            break
        shares[key] += CENT
        left -= CENT
    return shares
