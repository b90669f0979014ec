"""VAT levels (percentages) for invoice lines, and KashFlow's tolerance on line VAT.

DESIGN §5: use ``extension_attributes.item_applied_taxes`` when present, else the item's
``tax_percent``. Several rates applied to one row (stacked taxes) add up to one level.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from mappings.errors import MappingError
from mappings.magento import AppliedTax, Order, OrderItem
from mappings.money import CENT, HUNDRED, ZERO, plain, round_money

VAT_TOLERANCE = CENT  # KashFlow keeps a line's VATAmount within 0.01 of its own computation


def _level(taxes: Iterable[AppliedTax]) -> Decimal:
    return plain(sum((tax.percent for tax in taxes), ZERO))


def item_vat_level(order: Order, item: OrderItem) -> Decimal:
    """The VAT percentage on an item row."""
    for entry in order.item_applied_taxes:
        if entry.type == "product" and entry.item_id == item.item_id and entry.applied_taxes:
            return _level(entry.applied_taxes)
    return plain(item.tax_percent) if item.tax_percent is not None else ZERO


def shipping_vat_level(
    order: Order, net: Decimal, tax: Decimal, known: Iterable[Decimal]
) -> Decimal:
    """The VAT percentage on the shipping line.

    From ``item_applied_taxes`` of type ``shipping`` when Magento sent one; otherwise the rate
    nearest to ``tax / net`` among ``known`` (configured rates) and the rates on the order.

    Raises:
        MappingError: shipping tax charged on a zero net (no rate can explain it).
    """
    for entry in order.item_applied_taxes:
        if entry.type == "shipping" and entry.applied_taxes:
            return _level(entry.applied_taxes)
    if tax == ZERO:
        return ZERO
    if net == ZERO:
        raise MappingError(f"shipping tax {tax} is charged on a shipping net of 0: review")
    candidates = set(known) | {t.percent for t in order.applied_taxes}
    candidates |= {i.tax_percent for i in order.items if i.tax_percent is not None}
    ratio = tax / net * HUNDRED
    return plain(min(sorted(candidates), key=lambda rate: abs(rate - ratio)))


def kashflow_vat(quantity: Decimal, rate: Decimal, level: Decimal) -> Decimal:
    """The VAT KashFlow computes for a line: round(Quantity x Rate x VATLevel / 100, 2)."""
    return round_money(quantity * rate * level / HUNDRED)
