"""What happens to an order: Magento ``Order`` -> KashFlow customer, invoice and payment bodies.

Pure functions; the worker calls them between reading Magento and writing KashFlow::

    order = parse_order(doc)
    decision = decide(order, rules)           # invoice / wait / skip / review, pay or not
    code = customer_code(order, rules)        # after matching by normalised email
    build_customer(order, code)               # POST /customers (when no match)
    build_invoice(order, rules, code)         # POST /invoices, penny-checked
    build_payment(order, rules)               # POST /invoices/bulk/payments, or None
    expected_gross(order)                     # compare with KashFlow's GrossAmount

Currency: the invoice is in ``order_currency_code`` with amounts from the non-``base_`` fields.
``Currency.ExchangeRate`` is **units of the order currency per 1 unit of the home (base)
currency**, i.e. Magento's ``base_to_order_rate`` passed through unchanged (GBP shop, EUR order
at 1.17 -> ``ExchangeRate`` 1.17; home amount = amount / rate). That is how KashFlow quotes
rates ("1 GBP = 1.17 EUR") and it keeps Magento's own figure, with no re-rounding.

Dates: ``IssuedDate`` is the order's ``created_at`` (UTC, as Magento stores it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from mappings.customers import build_customer, customer_code, normalise_email
from mappings.errors import MappingError
from mappings.lifecycle import Decision, decide
from mappings.lines import InvoiceLine, item_lines, shipping_line
from mappings.magento import MAGENTO_DATETIME, Order
from mappings.money import ZERO, plain
from mappings.rules import Rules

__all__ = [
    "Decision",
    "PaymentDraft",
    "build_customer",
    "build_invoice",
    "build_payment",
    "customer_code",
    "decide",
    "exchange_rate",
    "expected_gross",
    "invoice_lines",
    "invoice_number",
    "normalise_email",
]

ONE = Decimal("1")


@dataclass(frozen=True)
class PaymentDraft:
    """A payment to post on the invoice. ``None`` ids are resolved by ``method_name``."""

    amount: Decimal
    date: str
    comment: str
    txn_id: str
    magento_method: str
    method_id: int | None
    account_id: int | None
    method_name: str | None


def invoice_number(increment_id: str, rules: Rules) -> int:
    """KashFlow invoice ``Number``: the digits-only increment id plus ``invoice_number_offset``.

    Raises:
        MappingError: an increment id that is not all digits (edited orders such as
            ``000000123-1``, store prefixes); those need a numbering rule not in this version.
    """
    text = increment_id.strip()
    if not text.isascii() or not text.isdigit():
        raise MappingError(
            f"order number {increment_id!r} is not all digits (an edited order or a prefixed "
            "store?): kfsync cannot derive a KashFlow invoice number from it yet; review"
        )
    return int(text) + rules.invoice_number_offset


def exchange_rate(order: Order) -> Decimal:
    """Order-currency units per home-currency unit (see the module docstring).

    Raises:
        MappingError: a foreign-currency order with no usable rate.
    """
    if order.order_currency_code == order.base_currency_code:
        return ONE
    rate = order.base_to_order_rate
    if rate is None or rate <= ZERO:
        raise MappingError(
            f"order in {order.order_currency_code} (base {order.base_currency_code}) has no "
            "base_to_order_rate"
        )
    return plain(rate)


def invoice_lines(order: Order, rules: Rules) -> list[InvoiceLine]:
    """Item lines then the shipping line, penny-checked against ``grand_total``.

    Raises:
        MappingError: any line problem, or ``invoice would total X but Magento grand_total is Y``.
    """
    lines = item_lines(order, rules)
    shipping = shipping_line(order, rules)
    if shipping is not None:
        lines.append(shipping)
    total = sum((line.net + line.vat_amount for line in lines), ZERO)
    if total != order.grand_total:
        raise MappingError(
            f"invoice would total {total} but Magento grand_total is {order.grand_total}"
        )
    return lines


def build_invoice(order: Order, rules: Rules, customer_code: str) -> dict[str, Any]:
    """The ``POST /invoices`` body for ``order``, billed to ``customer_code``.

    It does not consult ``decide``: call it only when the decision is ``invoice``.

    Raises:
        MappingError: see ``invoice_number``, ``exchange_rate`` and ``invoice_lines``.
    """
    issued = order.created_at
    body: dict[str, Any] = {
        "Number": invoice_number(order.increment_id, rules),
        "CustomerCode": customer_code,
        "CustomerReference": order.increment_id,
        "IssuedDate": issued.strftime(MAGENTO_DATETIME),
        "DueDate": (issued + timedelta(days=rules.due_days)).strftime(MAGENTO_DATETIME),
        "Currency": {"Code": order.order_currency_code, "ExchangeRate": exchange_rate(order)},
        "LineItems": [line.to_kashflow() for line in invoice_lines(order, rules)],
    }
    customer = build_customer(order, customer_code)
    if customer["Addresses"]:
        body["Address"] = customer["Addresses"][0]
    if "DeliveryAddresses" in customer:
        body["DeliveryAddress"] = customer["DeliveryAddresses"][0]
    return body


def build_payment(order: Order, rules: Rules) -> PaymentDraft | None:
    """The payment to post for ``order``, or ``None`` when ``decide`` says not to pay.

    Amount is ``payment.amount_paid`` (order currency); the date is the order's ``created_at``
    (card gateways capture at checkout); the comment carries the gateway transaction id.
    """
    decision = decide(order, rules)
    payment = order.payment
    if not decision.pay or payment is None or not payment.last_trans_id:
        return None
    method = rules.payment_methods.get(payment.method)
    return PaymentDraft(
        amount=payment.amount_paid,
        date=order.created_at.strftime(MAGENTO_DATETIME),
        comment=f"Magento {payment.method} txn {payment.last_trans_id}",
        txn_id=payment.last_trans_id,
        magento_method=payment.method,
        method_id=method.method_id if method else None,
        account_id=method.account_id if method else None,
        method_name=method.method_name if method else None,
    )


def expected_gross(order: Order) -> Decimal:
    """The gross KashFlow must report for the invoice (Magento's ``grand_total``)."""
    return order.grand_total
