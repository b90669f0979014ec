"""A row's net as KashFlow lines with 2-decimal rates, and its VAT spread over them exactly.

KashFlow (API-SUBSET ``POST /invoices``): ``Rate`` has at most 2 decimals, a line's net is
round(Quantity x Rate, 2), and its ``VATAmount`` must lie within 0.01 of
round(Quantity x Rate x VATLevel / 100, 2). Magento's row net need not divide by the quantity
(3 for 10.00; any tax-inclusive price), so per ``unit_price_rounding``:

- ``rounding_line`` (default): one line at the nearest 2-decimal unit price (3 x 3.33 = 9.99),
  plus a labelled rounding line for the difference (1 x 0.01; negative when the nearest price
  overshoots: 1000 washers for 19.00 -> 1000 x 0.02 and -1.00). One priced line per ordered
  item with its true quantity; the rounding is visible, never silent.
- ``split``: two lines at adjacent prices (2 x 3.33 + 1 x 3.34); a fractional quantity that
  does not divide falls back to one line "1.5 x ...".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from mappings.errors import MappingError
from mappings.money import (
    ZERO,
    from_cents,
    is_integral,
    is_whole_cents,
    plain,
    round_money,
    to_cents,
)
from mappings.rules import UnitPriceRounding
from mappings.vat import kashflow_vat

ONE = Decimal("1")


@dataclass(frozen=True)
class PricePart:
    """A quantity at a 2-decimal unit price; ``prefix`` goes before the description.

    ``rounding`` marks the labelled line that carries the pence a unit price cannot.
    """

    quantity: Decimal
    rate: Decimal
    prefix: str = ""
    rounding: bool = False

    @property
    def net(self) -> Decimal:
        return round_money(self.quantity * self.rate)


def price_parts(net: Decimal, quantity: Decimal, label: str,
                style: UnitPriceRounding = "split") -> list[PricePart]:
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
    if style == "rounding_line":
        return _with_rounding_line(net, quantity)
    return _split(net, quantity)


def _with_rounding_line(net: Decimal, quantity: Decimal) -> list[PricePart]:
    rate = round_money(net / quantity)
    parts = [PricePart(quantity, rate)]
    left = net - round_money(quantity * rate)
    if left:
        parts.append(PricePart(ONE, left, rounding=True))
    return parts


def _split(net: Decimal, quantity: Decimal) -> list[PricePart]:
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
    """Spread Magento's ``tax`` over lines at one level, each within KashFlow's 0.01.

    Each line starts from KashFlow's own figure; the pence by which Magento's total differs go
    one per line, largest line first, so no line moves by more than 0.01.

    Raises:
        MappingError: Magento's tax cannot be spread within tolerance (KashFlow would reject).
    """
    if not is_whole_cents(tax):
        raise MappingError(f"{label}: tax {tax} has more than 2 decimal places")
    expected = [kashflow_vat(part.quantity, part.rate, level) for part in parts]
    cents = [to_cents(amount) for amount in expected]
    diff = to_cents(tax) - sum(cents)
    if abs(diff) > len(parts):
        net = sum((part.net for part in parts), ZERO)
        raise MappingError(
            f"{label}: Magento tax {tax} is not within 0.01 of {sum(expected, ZERO)} "
            f"({level}% of {net}) that KashFlow computes: KashFlow would reject the line; review"
        )
    step = 1 if diff > 0 else -1
    by_size = sorted(range(len(parts)), key=lambda i: -abs(parts[i].quantity * parts[i].rate))
    for index in by_size[: abs(diff)]:
        cents[index] += step
    return [from_cents(amount) for amount in cents]
