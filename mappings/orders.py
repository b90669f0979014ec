"""What happens to an order: Magento ``Order`` -> KashFlow customer, invoice and payment bodies.

Pure functions; the worker calls them between reading Magento and writing KashFlow::

    order = parse_order(doc)
    decision = decide(order, rules)           # invoice / wait / skip / review, pay or not
    code = customer_code(order, rules)        # after matching by normalised email
    build_customer(order, code, rules)        # POST /customers (when no match)
    draft = build_invoice_draft(order, rules, code)   # POST /invoices body + what to check
    build_payments(order, rules)              # POST /invoices/bulk/payments, one per draft
    expected_gross(order, rules)              # compare with KashFlow's GrossAmount

Currency: the invoice is in ``order_currency_code`` with amounts from the non-``base_`` fields.
``Currency.ExchangeRate`` is **units of the order currency per 1 unit of the home (base)
currency**, i.e. Magento's ``base_to_order_rate`` passed through unchanged (GBP shop, EUR order
at 1.17 -> ``ExchangeRate`` 1.17; home amount = amount / rate). That is how KashFlow quotes
rates ("1 GBP = 1.17 EUR") and it keeps Magento's own figure, with no re-rounding. The base
amounts are the cross-check (``mappings.validation``).

Gross: the invoice carries the full goods, so its gross is ``grand_total`` plus the tenders
(store credit, gift cards, reward points: ``mappings.tenders``), less any row skipped under
``invalid_lines: skip_line``.

Dates: ``IssuedDate`` is the order's ``created_at`` (UTC, as Magento stores it).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mappings.customers import build_customer, customer_code, kashflow_address, normalise_email
from mappings.errors import MappingError
from mappings.lifecycle import Decision, decide, gateway_decision
from mappings.lines import InvoiceLine, Skipped, invoice_lines
from mappings.magento import MAGENTO_DATETIME, Order
from mappings.money import ZERO, plain
from mappings.numbering import due_date, invoice_number, order_invoice_number
from mappings.routing import route
from mappings.rules import Rules
from mappings.skus import SUGGESTED, UNMAPPED_RULE
from mappings.tenders import PaymentDraft, tender_payments

__all__ = [
    "Decision",
    "InvoiceDraft",
    "PaymentDraft",
    "build_customer",
    "build_invoice",
    "build_invoice_draft",
    "build_payment",
    "build_payments",
    "customer_code",
    "decide",
    "exchange_rate",
    "expected_gross",
    "invoice_number",
    "normalise_email",
]

ONE = Decimal("1")


@dataclass(frozen=True)
class InvoiceDraft:
    """The ``POST /invoices`` body, the gross KashFlow must report, and the rows left out."""

    body: dict[str, Any]
    expected_gross: Decimal
    skipped: tuple[Skipped, ...]
    lines: tuple[InvoiceLine, ...] = ()

    @property
    def notes(self) -> list[str]:
        """Every policy that filled a gap (an unmapped SKU...), for the job page."""
        seen: dict[str, str] = {}
        for line in self.lines:
            if line.kind == "item" and line.sku and line.rule.startswith(UNMAPPED_RULE):
                hint = (f"; several KashFlow products match it ({line.rule.rsplit(': ', 1)[-1]})"
                        f": map it under skus" if line.how == SUGGESTED else "")
                seen.setdefault(line.sku, (
                    f"SKU {line.sku} is not mapped: posted on nominal {line.nominal_code} with "
                    f"no product ({UNMAPPED_RULE}){hint}"))
        return list(seen.values())

    @property
    def line_mapping(self) -> list[dict[str, Any]]:
        """How each item line's SKU was mapped, in line order (the job page and the studio)."""
        return [{"line": n, "sku": line.sku, "how": line.how, "nominal_code": line.nominal_code,
                 "product_code": line.product_code, "rule": line.rule}
                for n, line in enumerate(self.lines, start=1)
                if line.kind in ("item", "rounding") and line.sku]

    @property
    def skipped_reason(self) -> str | None:
        """For the review queue: which rows the posted invoice leaves out, and why."""
        if not self.skipped:
            return None
        rows = "; ".join(f"{s.label} ({s.gross}): {s.reason}" for s in self.skipped)
        return f"invoice posted without {len(self.skipped)} invalid row(s): {rows}"


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


def checked_lines(order: Order, rules: Rules) -> tuple[list[InvoiceLine], tuple[Skipped, ...],
                                                       Decimal]:
    """The lines, the skipped rows and the expected gross, penny-checked against each other.

    Raises:
        MappingError: any line problem, or ``invoice would total X but Magento ... is Y``.
    """
    lines, skipped = invoice_lines(order, rules)
    wanted = order.grand_total + order.tenders.total - sum((s.gross for s in skipped), ZERO)
    total = sum((line.net + line.vat_amount for line in lines), ZERO)
    if total != wanted:
        raise MappingError(f"invoice would total {total} but Magento grand_total is "
                           f"{order.grand_total} (expected gross {wanted})")
    return lines, tuple(skipped), wanted


def build_invoice_draft(order: Order, rules: Rules, customer_code: str,
                        own_number: bool = False) -> InvoiceDraft:
    """The invoice to post for ``order``, billed to ``customer_code`` (``own_number``: an
    edit whose original is invoiced already, ``numbering.order_invoice_number``).

    It does not consult ``decide``: call it only when the decision is ``invoice``.

    Raises:
        MappingError: see ``invoice_number``, ``exchange_rate`` and ``checked_lines``.
    """
    lines, skipped, gross = checked_lines(order, rules)
    body: dict[str, Any] = {
        "Number": order_invoice_number(order, rules, own_number),
        "CustomerCode": customer_code,
        "CustomerReference": order.increment_id,
        "IssuedDate": order.created_at.strftime(MAGENTO_DATETIME),
        "DueDate": due_date(order, rules).strftime(MAGENTO_DATETIME),
        "Currency": {"Code": order.order_currency_code, "ExchangeRate": exchange_rate(order)},
        "LineItems": [line.to_kashflow() for line in lines],
    }
    if order.billing_address is not None:
        body["Address"] = kashflow_address(order.billing_address)
    if order.shipping_address is not None:
        body["DeliveryAddress"] = kashflow_address(order.shipping_address)
    return InvoiceDraft(body, gross, skipped, tuple(lines))


def build_invoice(order: Order, rules: Rules, customer_code: str) -> dict[str, Any]:
    """The ``POST /invoices`` body (``build_invoice_draft(...).body``)."""
    return build_invoice_draft(order, rules, customer_code).body


def build_payment(order: Order, rules: Rules) -> PaymentDraft | None:
    """The gateway payment to post for ``order``, or ``None`` when none is due.

    Amount is ``payment.amount_paid`` (order currency); the date is the order's ``created_at``
    (card gateways capture at checkout); the comment carries the gateway transaction id.
    """
    pay, _ = gateway_decision(order, rules)
    payment = order.payment
    if not pay or payment is None or not payment.last_trans_id:
        return None
    if decide(order, rules).action != "invoice":
        return None
    method = rules.payment_methods.get(payment.method)
    account = route(order, rules).number("use_bank_account")
    return PaymentDraft(
        amount=payment.amount_paid,
        date=order.created_at.strftime(MAGENTO_DATETIME),
        comment=f"Magento {payment.method} txn {payment.last_trans_id}",
        txn_id=payment.last_trans_id,
        magento_method=payment.method,
        method_id=method.method_id if method else None,
        account_id=account or (method.account_id if method else None),
        method_name=method.method_name if method else None,
    )


def build_payments(order: Order, rules: Rules) -> list[PaymentDraft]:
    """Every payment to post on the invoice: the tenders first, then the gateway's."""
    if (decide(order, rules).action != "invoice" or not rules.steps.post_payments
            or route(order, rules).says("skip_payment")):
        return []
    gateway = build_payment(order, rules)
    return tender_payments(order, rules) + ([gateway] if gateway else [])


def expected_gross(order: Order, rules: Rules | None = None) -> Decimal:
    """The gross KashFlow must report: ``grand_total`` + tenders (- skipped rows with rules)."""
    if rules is None:
        return order.grand_total + order.tenders.total
    return checked_lines(order, rules)[2]
