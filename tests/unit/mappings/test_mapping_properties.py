"""Money invariants over random orders computed the way Magento computes them.

``tests.fixtures.magento_builder`` reproduces Magento's arithmetic (per-row rounding with the
"total" algorithm's carried delta or the "row" one, tax-inclusive catalogs with discount tax
compensation, percentage and fixed cart discounts, shipping discounts, composite products,
foreign currencies, Adobe Commerce tenders). Whatever the numbers and whichever display rules,
the invoice must be one KashFlow accepts (Rate at most 2 decimals, each VATAmount within 0.01
of round(Q x Rate x VATLevel / 100, 2)) and add up exactly: VAT = ``tax_amount``, gross =
``grand_total`` + tenders, with one priced line per ordered item.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings.items import billable_items
from mappings.lines import invoice_lines
from mappings.magento import parse_order
from mappings.orders import build_invoice, decide
from mappings.pricing import PricePart, price_parts
from mappings.rules import Rules
from tests.fixtures.magento_builder import Item, Spec, build_order

CENT = Decimal("0.01")
RATES = [Decimal(0), Decimal(5), Decimal(20)]
RULE_SETS = [Rules(discounts=d, unit_price_rounding=u)  # type: ignore[arg-type]
             for d in ("reduce_lines", "discount_line") for u in ("rounding_line", "split")]


def r2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


prices = st.one_of(
    st.integers(min_value=0, max_value=50_000).map(lambda c: Decimal(c) / 100),
    st.integers(min_value=1, max_value=500_000).map(lambda c: Decimal(c) / 10_000),  # 4 dp
)
quantities = st.one_of(
    st.integers(min_value=1, max_value=25).map(Decimal),
    st.sampled_from([Decimal("0.5"), Decimal("1.5"), Decimal("2.25"), Decimal("0.333")]),
)
percents = st.one_of(st.just(Decimal(0)), st.integers(1, 100).map(Decimal))


@st.composite
def simple_items(draw: st.DrawFn, kind: str = "simple") -> Item:
    return Item(f"SKU{draw(st.integers(1, 99))}", "Thing", draw(prices), draw(quantities),
                rate=draw(st.sampled_from(RATES)), discount_pct=draw(percents), type=kind)


@st.composite
def items(draw: st.DrawFn) -> Item:
    kind = draw(st.sampled_from(["simple", "virtual", "downloadable", "grouped",
                                 "configurable", "bundle_fixed", "bundle_dynamic"]))
    if kind in ("simple", "virtual", "downloadable", "grouped"):
        return draw(simple_items(kind))
    parent = draw(simple_items())
    if kind == "configurable":
        return Item(parent.sku, parent.name, parent.price, parent.qty, parent.rate,
                    parent.discount_pct, "configurable", [Item("CHILD", "Child", Decimal(0))])
    children = draw(st.lists(simple_items(), min_size=1, max_size=3))
    if kind == "bundle_fixed":
        return Item(parent.sku, "Bundle", parent.price, parent.qty, parent.rate,
                    parent.discount_pct, "bundle", [Item(c.sku, c.name, Decimal(0), c.qty)
                                                    for c in children], "fixed")
    return Item(parent.sku, "Bundle", Decimal(0), Decimal(1), type="bundle",
                children=children, bundle="dynamic")


@st.composite
def magento_orders(draw: st.DrawFn) -> dict[str, Any]:
    currency, rate = draw(st.sampled_from([("GBP", Decimal(1)), ("EUR", Decimal("1.1700")),
                                           ("USD", Decimal("1.2734"))]))
    spec = Spec(
        1, draw(st.lists(items(), min_size=1, max_size=4)),
        shipping=Decimal(draw(st.integers(0, 3_000))) / 100,
        shipping_rate=draw(st.sampled_from(RATES)),
        shipping_discount_pct=draw(percents), name_shipping_rate=draw(st.booleans()),
        incl_tax=draw(st.booleans()), carry=draw(st.booleans()), currency=currency, rate=rate,
    )
    doc = build_order(spec)
    if draw(st.booleans()):  # Adobe Commerce store credit / gift card / reward points
        doc["extension_attributes"]["customer_balance_amount"] = min(
            doc["grand_total"], Decimal(draw(st.integers(0, 2_000))) / 100)
        doc["grand_total"] -= doc["extension_attributes"]["customer_balance_amount"]
        doc.pop("base_grand_total")
    return doc


def _check(doc: dict[str, Any], rules: Rules) -> None:
    order = parse_order(doc)
    decision = decide(order, rules)
    assert decision.action == "invoice", decision.reason
    invoice = build_invoice(order, rules, "G0000000000")
    net_total = vat_total = Decimal(0)
    for line in invoice["LineItems"]:
        quantity, rate, level = line["Quantity"], line["Rate"], line["VATLevel"]
        assert rate == rate.quantize(CENT), line
        assert line["VATAmount"] == line["VATAmount"].quantize(CENT), line
        assert abs(line["VATAmount"] - r2(quantity * rate * level / 100)) <= CENT, line
        net_total += r2(quantity * rate)
        vat_total += line["VATAmount"]
    assert vat_total == order.tax_amount
    assert net_total + vat_total == order.grand_total + order.tenders.total


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=magento_orders(), rules=st.sampled_from(RULE_SETS))
def test_invoices_match_magento_to_the_penny(doc: dict[str, Any], rules: Rules) -> None:
    _check(doc, rules)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=magento_orders())
def test_one_priced_line_per_ordered_item_with_its_quantity(doc: dict[str, Any]) -> None:
    """Default rules: one item line per billable row, carrying the row's quantity."""
    order = parse_order(doc)
    lines, skipped = invoice_lines(order, Rules())
    assert not skipped
    item_lines = [line for line in lines if line.kind == "item"]
    billed = billable_items(order)
    assert len(item_lines) == len(billed)
    assert [line.quantity for line in item_lines] == [b.row.qty_ordered for b in billed]
    assert all(line.kind in ("item", "rounding", "shipping") for line in lines)


@given(
    net=st.integers(0, 10_000_000).map(lambda c: Decimal(c) / 100),
    quantity=st.one_of(st.integers(1, 1000).map(Decimal), quantities),
    style=st.sampled_from(["rounding_line", "split"]),
)
def test_price_parts_are_exact(net: Decimal, quantity: Decimal, style: str) -> None:
    parts: list[PricePart] = price_parts(net, quantity, "item X", style)  # type: ignore[arg-type]
    assert sum(r2(part.quantity * part.rate) for part in parts) == net
    assert all(part.rate == part.rate.quantize(CENT) for part in parts)
    assert len(parts) <= 2
