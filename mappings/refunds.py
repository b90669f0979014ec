"""What happens to a refund: Magento credit memo -> KashFlow credit note and refund payment.

Pure functions. A credit note is (**assumed**, API-SUBSET) a ``POST /invoices`` whose lines all
have a negative ``Quantity``; it is billed to the original invoice's customer, in the order's
currency, with ``CustomerReference`` = ``"CM-" + increment_id``. Lines:

- each refunded row: ``Quantity`` = -qty at the net unit rate (``row_total`` less the row's
  discount, over qty) when that rate is exact to the penny, else one unit at the row's net;
  ``VATAmount`` = -the row's ``tax_amount``, VAT level and nominal code as on the invoice;
- the shipping refund with its own VAT;
- ``adjustment_positive`` (an extra refund) and ``adjustment_negative`` (a fee withheld: a
  negative rate, so it reduces the credit) on the default nominal, outside the scope of VAT.

The lines must add up to minus the credit memo's ``grand_total`` exactly, or the credit memo
goes to review. The ``Number`` is deterministic (``credit_note_number``), which makes a
retried create safe, as for invoices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mappings.errors import MappingError
from mappings.lines import sku_target
from mappings.magento import MAGENTO_DATETIME, Order
from mappings.money import ZERO, round_money, to_decimal
from mappings.numbering import invoice_number
from mappings.orders import exchange_rate
from mappings.rules import Rules
from mappings.tenders import PaymentDraft
from mappings.vat import item_vat_level, shipping_vat_level


@dataclass(frozen=True)
class CreditNoteDraft:
    """The ``POST /invoices`` body of the credit note and the gross KashFlow must report."""

    body: dict[str, Any]
    expected_gross: Decimal  # negative: minus the credit memo's grand_total


def _money(doc: Mapping[str, Any], key: str) -> Decimal:
    value = doc.get(key)
    return to_decimal(value) if value is not None else ZERO


def credit_note_number(memo: Mapping[str, Any], rules: Rules) -> int:
    """The credit note's ``Number``: the memo's increment id + ``credit_note_number_offset``.

    Raises:
        MappingError: the increment id is not all digits after its store prefix.
    """
    store_id = memo.get("store_id")
    base = invoice_number(str(memo.get("increment_id") or ""), rules,
                          int(store_id) if store_id is not None else None)
    return base - rules.invoice_number_offset + rules.credit_note_number_offset


def is_online_refund(memo: Mapping[str, Any]) -> bool:
    """An online refund carries the gateway's refund id in ``transaction_id``."""
    return bool(str(memo.get("transaction_id") or "").strip())


def _line(description: str, qty: Decimal, rate: Decimal, level: Decimal, vat: Decimal,
          nominal: int, product: str | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {"Description": description, "Quantity": -qty, "Rate": rate,
                            "VATLevel": level, "VATAmount": -vat, "NominalCode": nominal}
    if product:
        line["ProductCode"] = product
    return line


def _item_lines(memo: Mapping[str, Any], order: Order, rules: Rules) -> list[dict[str, Any]]:
    by_id = {item.item_id: item for item in order.items}
    lines = []
    for raw in memo.get("items") or []:
        qty = _money(raw, "qty")
        net = _money(raw, "row_total") - _money(raw, "discount_amount")
        tax = _money(raw, "tax_amount")
        if qty <= ZERO or (net == ZERO and tax == ZERO):
            continue  # nothing refunded on this row (a configurable's child carries no money)
        item = by_id.get(int(raw.get("order_item_id") or 0))
        if item is None:
            raise MappingError(f"credit memo {memo.get('increment_id')}: order item "
                               f"{raw.get('order_item_id')} is not on order {order.increment_id}")
        label = f"{item.sku} {item.name or ''}".strip()
        level = item_vat_level(order, item, rules, label)
        nominal, product = sku_target(item.sku, rules)
        rate = net / qty
        if rate == round_money(rate) and qty == qty.to_integral_value():
            lines.append(_line(f"Refund: {label}", qty, round_money(rate), level, tax, nominal,
                               product))
        else:
            lines.append(_line(f"Refund: {label} x {qty.normalize()}", Decimal(1), net, level,
                               tax, nominal, product))
    return lines


def _extra_lines(memo: Mapping[str, Any], order: Order, rules: Rules) -> list[dict[str, Any]]:
    lines = []
    shipping, ship_tax = _money(memo, "shipping_amount"), _money(memo, "shipping_tax_amount")
    if shipping or ship_tax:
        level = shipping_vat_level(order, shipping, ship_tax, rules)
        lines.append(_line("Refund: shipping", Decimal(1), shipping, level, ship_tax,
                           rules.shipping_nominal_code))
    positive, negative = _money(memo, "adjustment_positive"), _money(memo, "adjustment_negative")
    if positive:
        lines.append(_line("Adjustment refund", Decimal(1), positive, ZERO, ZERO,
                           rules.default_nominal_code))
    if negative:
        lines.append(_line("Adjustment fee (withheld)", Decimal(1), -negative, ZERO, ZERO,
                           rules.default_nominal_code))
    return lines


def build_credit_note(memo: Mapping[str, Any], order: Order, rules: Rules,
                      customer_code: str) -> CreditNoteDraft:
    """The credit note for ``memo`` (a ``GET /V1/creditmemo/{id}`` document) against the
    invoice of ``order``, billed to ``customer_code``.

    Raises:
        MappingError: a row not on the order, a VAT rate not mapped, or lines that do not add
            up to the credit memo's ``grand_total``.
    """
    lines = _item_lines(memo, order, rules) + _extra_lines(memo, order, rules)
    grand = _money(memo, "grand_total")
    total = sum((round_money(Decimal(line["Quantity"]) * Decimal(line["Rate"]))
                 + Decimal(line["VATAmount"]) for line in lines), ZERO)
    if not lines or total != -grand:
        raise MappingError(f"credit memo {memo.get('increment_id')}: credit note would total "
                           f"{total} but the credit memo's grand_total is {grand}")
    created = str(memo.get("created_at") or order.created_at.strftime(MAGENTO_DATETIME))
    body: dict[str, Any] = {
        "Number": credit_note_number(memo, rules),
        "CustomerCode": customer_code,
        "CustomerReference": f"CM-{memo.get('increment_id')}",
        "IssuedDate": created, "DueDate": created,
        "Currency": {"Code": order.order_currency_code, "ExchangeRate": exchange_rate(order)},
        "LineItems": lines,
    }
    return CreditNoteDraft(body, -grand)


def build_refund_payment(memo: Mapping[str, Any], order: Order,
                         rules: Rules) -> PaymentDraft | None:
    """The refund payment (negative) for an online refund, else None.

    Account and method are the order's payment method's (mapping, else resolved by name as
    for payments); the refund's ``transaction_id`` goes into the ``Comment``, which is what a
    retry looks for in the credit note's payment notes.
    """
    if not is_online_refund(memo):
        return None
    txn = str(memo["transaction_id"]).strip()
    magento_method = order.payment.method if order.payment else ""
    method = rules.payment_methods.get(magento_method)
    created = str(memo.get("created_at") or order.created_at.strftime(MAGENTO_DATETIME))
    return PaymentDraft(
        amount=-_money(memo, "grand_total"), date=created,
        comment=f"Magento refund {txn} (credit memo {memo.get('increment_id')})",
        txn_id=txn, magento_method=magento_method,
        method_id=method.method_id if method else None,
        account_id=method.account_id if method else None,
        method_name=method.method_name if method else None,
    )
