"""Money invariants over random orders built the way Magento rounds them.

Magento rounds each row: row_total = round(price x qty), discount = round(row x pct), tax =
round((row - discount) x rate) ("row" algorithm) or the same with the rounding remainder carried
from row to row per rate ("total" algorithm, Magento's default). Whatever the numbers,
build_invoice must give lines KashFlow accepts (Rate at most 2 decimals, VATAmount within 0.01
of round(Q x Rate x VATLevel / 100, 2)) that add up exactly to grand_total.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.lines import PricePart, price_parts
from mappings.magento import parse_order
from mappings.orders import build_invoice
from mappings.rules import Rules

CENT = Decimal("0.01")
RATES = [Decimal(0), Decimal(5), Decimal(20)]


def r2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class TaxCalculator:
    """Magento's per-row tax, optionally carrying the rounding delta per rate ("total")."""

    def __init__(self, carry: bool) -> None:
        self.carry = carry
        self.delta: dict[Decimal, Decimal] = {}

    def tax(self, net: Decimal, rate: Decimal) -> Decimal:
        if not net:
            return Decimal("0.00")
        exact = net * rate / 100 + (self.delta.get(rate, Decimal(0)) if self.carry else 0)
        rounded = r2(exact)
        self.delta[rate] = exact - rounded
        return rounded


prices = st.one_of(
    st.integers(min_value=0, max_value=50_000).map(lambda c: Decimal(c) / 100),
    st.integers(min_value=1, max_value=500_000).map(lambda c: Decimal(c) / 10_000),  # 4 dp
)
quantities = st.one_of(
    st.integers(min_value=1, max_value=25).map(Decimal),
    st.sampled_from([Decimal("0.5"), Decimal("1.5"), Decimal("2.25"), Decimal("0.333")]),
)
item_specs = st.tuples(prices, quantities, st.sampled_from(RATES), st.integers(0, 100))


@st.composite
def magento_orders(draw: st.DrawFn) -> dict[str, Any]:
    calculator = TaxCalculator(carry=draw(st.booleans()))
    specs = draw(st.lists(item_specs, min_size=1, max_size=5))
    items, applied = [], []
    total = Decimal(0)
    for number, (price, qty, rate, discount_pct) in enumerate(specs, start=1):
        row = r2(price * qty)
        discount = r2(row * discount_pct / 100)
        tax = calculator.tax(row - discount, rate)
        total += row - discount + tax
        items.append({
            "item_id": number, "sku": f"SKU{number}", "name": f"Item {number}",
            "product_type": "simple", "qty_ordered": qty, "price": price, "row_total": row,
            "tax_amount": tax, "tax_percent": rate, "discount_amount": discount,
        })
        if rate:
            taxes = [{"code": f"VAT{rate}", "percent": rate, "amount": tax}]
            applied.append({"type": "product", "item_id": number, "applied_taxes": taxes})
    shipping = Decimal(draw(st.integers(0, 3_000))) / 100
    ship_discount = r2(shipping * draw(st.integers(0, 100)) / 100)
    ship_rate = draw(st.sampled_from(RATES))
    ship_tax = calculator.tax(shipping - ship_discount, ship_rate)
    if ship_tax and draw(st.booleans()):  # sometimes Magento names the shipping rate
        applied.append({"type": "shipping",
                        "applied_taxes": [{"code": "S", "percent": ship_rate, "amount": ship_tax}]})
    total += shipping - ship_discount + ship_tax
    return {
        "entity_id": 1, "increment_id": "000000001", "state": "processing",
        "created_at": "2024-05-01 09:58:12", "customer_email": "a@b.co",
        "customer_is_guest": 1, "order_currency_code": "GBP", "base_currency_code": "GBP",
        "items": items, "shipping_amount": shipping, "shipping_discount_amount": ship_discount,
        "shipping_tax_amount": ship_tax, "grand_total": total,
        "extension_attributes": {"item_applied_taxes": applied},
    }


@settings(max_examples=400, deadline=None)
@given(magento_orders())
def test_invoice_lines_obey_kashflow_rules_and_total_grand_total(doc: dict[str, Any]) -> None:
    invoice = build_invoice(parse_order(doc), Rules(), "G0000000000")

    net_total = vat_total = Decimal(0)
    for line in invoice["LineItems"]:
        quantity, rate, level = line["Quantity"], line["Rate"], line["VATLevel"]
        assert rate == rate.quantize(CENT) and rate >= 0, line
        assert line["VATAmount"] == line["VATAmount"].quantize(CENT), line
        assert abs(line["VATAmount"] - r2(quantity * rate * level / 100)) <= CENT, line
        net_total += r2(quantity * rate)
        vat_total += line["VATAmount"]
    assert net_total + vat_total == doc["grand_total"]


@settings(max_examples=400, deadline=None)
@given(doc=magento_orders())
def test_whole_quantities_survive_splitting(doc: dict[str, Any]) -> None:
    """KashFlow lowers stock by Quantity, so a split row must keep its total quantity."""
    invoice = build_invoice(parse_order(doc), Rules(), "G0000000000")
    for item in doc["items"]:
        if item["qty_ordered"] != item["qty_ordered"].to_integral_value():
            continue
        suffix = f"({item['sku']})"
        lines = [li for li in invoice["LineItems"] if li["Description"].endswith(suffix)]
        assert sum(li["Quantity"] for li in lines) == item["qty_ordered"]


@given(
    net=st.integers(0, 10_000_000).map(lambda c: Decimal(c) / 100),
    quantity=st.one_of(st.integers(1, 1000).map(Decimal), quantities),
)
def test_price_parts_are_exact(net: Decimal, quantity: Decimal) -> None:
    parts: list[PricePart] = price_parts(net, quantity, "item X")
    assert sum(r2(part.quantity * part.rate) for part in parts) == net
    assert all(part.rate == part.rate.quantize(CENT) for part in parts)
    assert len(parts) <= 2
