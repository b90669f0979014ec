"""Checks with reasons: a row that cannot be billed, and an order whose totals do not add up.

Row problems (``row_problem``) are per item: the invalid-line policy (``invalid_lines``) skips
that row or holds the whole order. Order problems (``reconcile``) always hold the order: if
Magento's own totals disagree with its rows, no invoice can be trusted to match it.

Magento's relations (magento-rest.md §4.1.1; tax-inclusive discounts add back the VAT inside
the discount, ``discount_tax_compensation_amount``):

    subtotal        = sum of billed rows' row_total
    tax_amount      = sum of rows' tax_amount + shipping_tax_amount
    discount_amount = -(sum of rows' discount_amount + shipping_discount_amount)
    grand_total     = subtotal + shipping_amount + discount_amount + tax_amount
                      + discount_tax_compensation_amount
                      + shipping_discount_tax_compensation_amount - tenders
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from mappings.errors import MappingError
from mappings.items import BillableItem
from mappings.magento import Order, OrderItem
from mappings.money import CENT, HUNDRED, ZERO, is_whole_cents, plain

HALF_CENT = Decimal("0.005")  # Magento rounds each unit price and row to the cent
# row_total vs price x qty: the row's own rounding, plus (tax-inclusive catalogs) the rounding
# of the VAT taken out of it with its carried delta: 2p, plus half a cent per unit of price
ROW_TOLERANCE = 2 * CENT
ROW_TAX_TOLERANCE = CENT  # Magento's per-row rounding (with its carried delta) stays within 1p


def row_problem(item: OrderItem) -> str | None:
    """Why this row's money cannot be billed as it stands, or ``None``."""
    qty = item.qty_ordered
    if qty <= ZERO:
        return f"quantity {plain(qty)} is not positive"
    amounts = {"row_total": item.row_total, "tax_amount": item.tax_amount,
               "discount_amount": item.discount_amount,
               "discount_tax_compensation_amount": item.discount_tax_compensation_amount}
    for name, amount in amounts.items():
        # the compensation may be -0.01: Magento rounds VAT before and after discount apart
        if amount < ZERO and name != "discount_tax_compensation_amount":
            return f"{name} {amount} is negative"
        if not is_whole_cents(amount):
            return f"{name} {amount} has more than 2 decimal places"
    expected = item.price * qty
    if abs(item.row_total - expected) > ROW_TOLERANCE + HALF_CENT * qty:
        return (f"row_total {item.row_total} is not price {plain(item.price)} x qty "
                f"{plain(qty)} (= {plain(expected)}): the row does not add up")
    if item.discount_net > item.row_total:
        return f"discount {item.discount_amount} is larger than the row ({item.row_total})"
    return None


def tax_problem(item: OrderItem, level: Decimal) -> str | None:
    """Why the row's tax is not ``level``% of its net (within Magento's rounding), or ``None``.

    The tolerance is Magento's 1p per row, scaled by ``1 + level/100``: in a tax-inclusive
    catalogue the net is the gross less the rounded tax, so the tax's rounding shows twice
    (a 0.06 gross at 20% may carry 0.02 tax on a 0.04 net: 1.2p from 20% of the net).
    """
    expected = item.net * level / HUNDRED
    if abs(item.tax_amount - expected) > ROW_TAX_TOLERANCE * (HUNDRED + level) / HUNDRED:
        return (f"tax {item.tax_amount} is not {level}% of the net {item.net} "
                f"(= {plain(expected)}): the row's VAT does not add up")
    return None


def _sum(values: Sequence[Decimal]) -> Decimal:
    return sum(values, ZERO)


def reconcile(order: Order, billable: Sequence[BillableItem]) -> None:
    """Check Magento's totals against its billed rows (see the module docstring).

    Raises:
        MappingError: ``totals do not reconcile: ...`` naming the total and both figures.
    """
    rows = [b.row for b in billable]
    checks = [
        ("subtotal", _sum([r.row_total for r in rows]), order.subtotal, "rows' row_total"),
        ("tax_amount", _sum([r.tax_amount for r in rows]) + order.shipping_tax_amount,
         order.tax_amount, "rows' tax_amount + shipping_tax_amount"),
        ("discount_amount",
         -(_sum([r.discount_amount for r in rows]) + order.shipping_discount_amount),
         order.discount_amount, "rows' discount_amount + shipping_discount_amount"),
        ("discount_tax_compensation_amount",
         _sum([r.discount_tax_compensation_amount for r in rows]),
         order.discount_tax_compensation_amount, "rows' discount_tax_compensation_amount"),
        ("grand_total", order.subtotal + order.shipping_amount + order.discount_amount
         + order.tax_amount + order.discount_tax_compensation_amount
         + order.shipping_discount_tax_compensation_amount - order.tenders.total,
         order.grand_total, "subtotal + shipping + discount + tax - tenders"),
    ]
    for total, computed, stated, what in checks:
        if computed != stated:
            raise MappingError(f"totals do not reconcile: {what} come to {computed} but "
                               f"Magento's {total} is {stated}: review")
    _check_base(order, len(rows))


def _check_base(order: Order, rows: int) -> None:
    """Cross-check ``grand_total`` against ``base_grand_total`` x ``base_to_order_rate``.

    Magento converts each row and total from base to order currency and rounds each, so the
    two may differ by a few pence: half a cent per rounded figure (about three per row).
    """
    if order.base_grand_total is None:
        return
    rate = order.base_to_order_rate
    if rate is None or rate <= ZERO:
        if order.order_currency_code != order.base_currency_code:
            return  # no rate to check with: exchange_rate() reports it
        rate = Decimal(1)
    converted = order.base_grand_total * rate
    tolerance = HALF_CENT * (3 * rows + 4) * max(rate, Decimal(1))
    if abs(converted - order.grand_total) > tolerance:
        raise MappingError(
            f"totals do not reconcile: base_grand_total {order.base_grand_total} x "
            f"base_to_order_rate {plain(rate)} = {plain(converted)}, but grand_total is "
            f"{order.grand_total} ({order.order_currency_code}): review the exchange rate")
