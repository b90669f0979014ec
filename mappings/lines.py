"""Invoice lines: Magento rows -> KashFlow ``LineItems`` that KashFlow accepts, to the penny.

KashFlow's rules (API-SUBSET ``POST /invoices``): ``Rate`` has at most 2 decimals, a line's
net is round(Quantity x Rate, 2), and its ``VATAmount`` must lie within 0.01 of
round(Quantity x Rate x VATLevel / 100, 2). Magento's row net (``row_total - discount_amount``,
tax-exclusive prices) need not divide by the quantity, so a row whose unit price is not whole
pence is split into two lines at adjacent prices (3 for 10.00 -> 2 x 3.33 + 1 x 3.34): the
nets add up exactly and the quantities still add up to what was sold (KashFlow lowers stock by
``Quantity``). A fractional quantity that does not divide falls back to one line "1.5 x ...".
The row's Magento tax is spread over its lines without losing a cent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mappings.errors import MappingError
from mappings.items import billable_items
from mappings.magento import Order
from mappings.money import (
    ZERO,
    from_cents,
    is_integral,
    is_whole_cents,
    plain,
    round_money,
    to_cents,
)
from mappings.rules import Rules
from mappings.vat import item_vat_level, kashflow_vat, shipping_vat_level

ONE = Decimal("1")


@dataclass(frozen=True)
class InvoiceLine:
    """One KashFlow invoice line; ``rate`` at 2 decimals, ``vat_amount`` at 2 decimals."""

    description: str
    quantity: Decimal
    rate: Decimal
    vat_level: Decimal
    vat_amount: Decimal
    nominal_code: int
    product_code: str | None = None

    @property
    def net(self) -> Decimal:
        """The net KashFlow computes for this line."""
        return round_money(self.quantity * self.rate)

    def to_kashflow(self) -> dict[str, Any]:
        """The ``LineItems[]`` entry (``ProductCode`` only when the SKU maps to a product)."""
        body: dict[str, Any] = {
            "Description": self.description,
            "Quantity": plain(self.quantity),
            "Rate": self.rate,
            "VATLevel": self.vat_level,
            "VATAmount": self.vat_amount,
            "NominalCode": self.nominal_code,
        }
        if self.product_code:
            body["ProductCode"] = self.product_code
        return body


@dataclass(frozen=True)
class PricePart:
    """A quantity at a 2-decimal unit price; ``prefix`` goes before the description."""

    quantity: Decimal
    rate: Decimal
    prefix: str = ""


def price_parts(net: Decimal, quantity: Decimal, label: str) -> list[PricePart]:
    """Express ``net`` for ``quantity`` units as lines with 2-decimal rates, exactly.

    Raises:
        MappingError: zero or negative quantity, negative net, or a net with sub-cent digits.
    """
    if quantity <= ZERO:
        raise MappingError(f"{label}: quantity {plain(quantity)} is not positive")
    if net < ZERO:
        raise MappingError(f"{label}: net {net} is negative (discount larger than the row)")
    if not is_whole_cents(net):
        raise MappingError(f"{label}: net {net} has more than 2 decimal places")
    if is_integral(quantity):
        count = int(quantity)
        unit, extra = divmod(to_cents(net), count)
        parts = [PricePart(Decimal(count - extra), from_cents(unit))]
        if extra:  # the leftover pence go one each on `extra` units
            parts.append(PricePart(Decimal(extra), from_cents(unit + 1)))
        return [part for part in parts if part.quantity]
    rate = net / quantity
    if is_whole_cents(rate) and round_money(quantity * rate) == net:
        return [PricePart(quantity, round_money(rate))]
    return [PricePart(ONE, round_money(net), prefix=f"{plain(quantity)} x ")]


def allocate_vat(
    parts: Sequence[PricePart], level: Decimal, tax: Decimal, label: str
) -> list[Decimal]:
    """Spread a row's Magento ``tax`` over its lines, each within KashFlow's 0.01 tolerance.

    Each line starts from KashFlow's own figure; the pence by which Magento's total differs go
    one per line, largest line first, so no line moves by more than 0.01.

    Raises:
        MappingError: Magento's tax cannot be spread within tolerance (KashFlow would reject).
    """
    expected = [kashflow_vat(part.quantity, part.rate, level) for part in parts]
    if not is_whole_cents(tax):
        raise MappingError(f"{label}: tax {tax} has more than 2 decimal places")
    cents = [to_cents(amount) for amount in expected]
    diff = to_cents(tax) - sum(cents)
    if abs(diff) > len(parts):
        net = sum((round_money(p.quantity * p.rate) for p in parts), ZERO)
        raise MappingError(
            f"{label}: Magento tax {tax} is not within 0.01 of {sum(expected, ZERO)} "
            f"({level}% of {net}) that KashFlow computes: KashFlow would reject the line; review"
        )
    step = 1 if diff > 0 else -1
    by_size = sorted(range(len(parts)), key=lambda i: -(parts[i].quantity * parts[i].rate))
    for index in by_size[: abs(diff)]:
        cents[index] += step
    return [from_cents(amount) for amount in cents]


def _sku_target(sku: str, rules: Rules) -> tuple[int, str | None]:
    rule = rules.skus.get(sku)
    if rule is not None:
        return rule.nominal_code, rule.product_code
    if rules.unmapped_sku == "review":
        raise MappingError(
            f"SKU {sku} is not in the mapping and unmapped_sku is 'review': add it under skus "
            "or set unmapped_sku to default_nominal"
        )
    return rules.default_nominal_code, None


def item_lines(order: Order, rules: Rules) -> list[InvoiceLine]:
    """Lines for the billable item rows (see ``mappings.items``).

    Raises:
        MappingError: unmapped SKU under the ``review`` policy, unsupported product type,
            tax-inclusive discount compensation, or a row KashFlow would reject.
    """
    lines: list[InvoiceLine] = []
    for billable in billable_items(order):
        row = billable.row
        label = f"item {billable.sku}"
        if row.discount_tax_compensation_amount != ZERO:
            raise MappingError(
                f"{label}: discount on tax-inclusive prices (discount_tax_compensation_amount "
                f"{row.discount_tax_compensation_amount}) is not mapped yet: review"
            )
        nominal, product = _sku_target(billable.sku, rules)
        level = item_vat_level(order, row)
        parts = price_parts(row.row_total - row.discount_amount, row.qty_ordered, label)
        vats = allocate_vat(parts, level, row.tax_amount, label)
        name, sku = billable.name, billable.sku
        text = sku if name == sku else f"{name} ({sku})"
        lines.extend(
            InvoiceLine(part.prefix + text, part.quantity, part.rate, level, vat, nominal, product)
            for part, vat in zip(parts, vats, strict=True)
        )
    return lines


def shipping_line(order: Order, rules: Rules) -> InvoiceLine | None:
    """The shipping line (net of shipping discount, with its own VAT), or ``None``.

    ``None`` when nothing was charged for shipping, or a discount made it free with no tax.
    """
    if order.shipping_amount <= ZERO:
        return None
    net = order.shipping_amount - order.shipping_discount_amount
    tax = order.shipping_tax_amount
    if net == ZERO and tax == ZERO:
        return None
    parts = price_parts(net, ONE, "shipping")
    level = shipping_vat_level(order, net, tax, rules.vat_rates)
    (vat,) = allocate_vat(parts, level, tax, "shipping")
    return InvoiceLine(
        rules.shipping_description, ONE, parts[0].rate, level, vat, rules.shipping_nominal_code
    )
