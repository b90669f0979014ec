"""Money arithmetic: ``Decimal`` only, rounded the way Magento rounds (half up, 2 places).

Callers parse JSON with ``parse_float=Decimal``; these helpers still accept ``int``, ``str``
and ``float`` defensively, converting through ``str`` so ``0.1`` becomes ``Decimal("0.1")``
and never ``Decimal(0.1000000000000000055...)``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from mappings.errors import MappingError

CENT = Decimal("0.01")
ZERO = Decimal("0")
HUNDRED = Decimal("100")


def to_decimal(value: object) -> Decimal:
    """Convert a JSON-ish number (Decimal, int, str, float) to a finite ``Decimal``.

    Raises:
        MappingError: for ``None``, booleans, non-numeric strings, NaN and infinities.
    """
    if isinstance(value, bool) or value is None:
        raise MappingError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | float | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise MappingError(f"not a number: {value!r}") from None
    else:
        raise MappingError(f"not a number: {value!r}")
    if not result.is_finite():
        raise MappingError(f"not a finite number: {value!r}")
    return result


def round_money(value: Decimal) -> Decimal:
    """Round to 2 decimal places, half up (Magento's ``PriceCurrency::round``)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def is_whole_cents(value: Decimal) -> bool:
    """True when ``value`` has no significant digit beyond the second decimal place."""
    return value == value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_cents(value: Decimal) -> int:
    """Whole cents of an amount that is already at 2 decimal places.

    Raises:
        MappingError: when ``value`` carries sub-cent digits (the caller would lose them).
    """
    if not is_whole_cents(value):
        raise MappingError(f"amount {value} has more than 2 decimal places")
    return int(value * HUNDRED)


def from_cents(cents: int) -> Decimal:
    """``Decimal`` amount at 2 decimal places from whole cents."""
    return (Decimal(cents) / HUNDRED).quantize(CENT)


def plain(value: Decimal) -> Decimal:
    """Drop trailing zeros without scientific notation: ``20.0000`` -> ``20``, ``2.50`` -> ``2.5``.

    For quantities and VAT percentages, where ``3.0000`` from Magento should read ``3``.
    """
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return normal.quantize(Decimal(1))
    return normal


def is_integral(value: Decimal) -> bool:
    """True for whole numbers (``3``, ``3.0000``)."""
    return value == value.to_integral_value()
