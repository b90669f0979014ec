"""VAT levels (percentages) for invoice lines, and KashFlow's tolerance on line VAT.

DESIGN §5: use ``extension_attributes.item_applied_taxes`` when present, else the item's
``tax_percent``. Several rates applied to one row (stacked taxes) add up to one level. The
Magento rate is then looked up in the mapping's ``vat_levels`` (by tax code first, then by
percentage): a rate that is not there is an *unknown VAT rate*, a validation problem.
Zero-rated and exempt lines both carry ``VATLevel`` 0 in KashFlow; map them to their own
nominal codes through ``skus`` when the books must tell them apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from mappings.errors import MappingError
from mappings.magento import AppliedTax, Order, OrderItem
from mappings.money import CENT, HUNDRED, ZERO, plain, round_money
from mappings.rules import Rules, vat_key

VAT_TOLERANCE = CENT  # KashFlow keeps a line's VATAmount within 0.01 of its own computation


def _applied(order: Order, kind: str, item_id: int | None) -> tuple[AppliedTax, ...]:
    for entry in order.item_applied_taxes:
        if entry.type == kind and entry.applied_taxes and (
                kind == "shipping" or entry.item_id == item_id):
            return entry.applied_taxes
    return ()


def _level(taxes: Iterable[AppliedTax], percent: Decimal | None, rules: Rules,
           label: str) -> Decimal:
    """KashFlow level for Magento's taxes: all codes mapped, else the summed percentage."""
    taxes = tuple(taxes)
    levels = rules.vat_levels
    codes = [vat_key(tax.code) for tax in taxes if tax.code]
    if taxes and len(codes) == len(taxes) and all(code in levels for code in codes):
        return plain(sum((levels[code] for code in codes), ZERO))
    if taxes:
        percent = sum((tax.percent for tax in taxes), ZERO)
    percent = percent if percent is not None else ZERO
    level = levels.get(vat_key(percent))
    if level is None:
        known = ", ".join(f"{key}" for key in levels)
        raise MappingError(f"{label}: VAT rate {plain(percent)}% is not in vat_levels "
                           f"(known: {known}): add it to the mapping or review")
    return plain(level)


def item_vat_level(order: Order, item: OrderItem, rules: Rules, label: str) -> Decimal:
    """The KashFlow VAT level of an item row.

    Raises:
        MappingError: the row's rate is not in ``vat_levels``.
    """
    return _level(_applied(order, "product", item.item_id), item.tax_percent, rules, label)


def shipping_vat_level(order: Order, net: Decimal, tax: Decimal, rules: Rules) -> Decimal:
    """The VAT level of the shipping line.

    From ``item_applied_taxes`` of type ``shipping`` when Magento sent one; otherwise the rate
    nearest to ``tax / net`` among the mapping's percentages and the rates on the order.

    Raises:
        MappingError: shipping tax charged on a zero net, or a rate not in ``vat_levels``.
    """
    taxes = _applied(order, "shipping", None)
    if taxes:
        return _level(taxes, None, rules, "shipping")
    if tax == ZERO:
        return _level((), ZERO, rules, "shipping")
    if net == ZERO:
        raise MappingError(f"shipping tax {tax} is charged on a shipping net of 0: review")
    candidates = set(rules.known_vat_percents) | {t.percent for t in order.applied_taxes}
    candidates |= {i.tax_percent for i in order.items if i.tax_percent is not None}
    ratio = tax / net * HUNDRED
    nearest = min(sorted(candidates), key=lambda rate: abs(rate - ratio))
    return _level((), nearest, rules, "shipping")


def kashflow_vat(quantity: Decimal, rate: Decimal, level: Decimal) -> Decimal:
    """The VAT KashFlow computes for a line: round(Quantity x Rate x VATLevel / 100, 2)."""
    return round_money(quantity * rate * level / HUNDRED)
