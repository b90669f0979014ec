"""The accounting fixtures (``acc_*``), under every display rule, and their worked examples.

Every fixture, with discounts as reduced lines or a discount line and unit-price rounding as a
rounding line or a split, gives lines KashFlow accepts whose VAT is ``tax_amount`` and whose
gross is ``grand_total`` + tenders. The worked examples are the ones in docs/mapping.md.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from mapping_helpers import FIXTURES, fixture_order, line_table, totals

from mappings.orders import build_invoice, build_payments, decide
from mappings.rules import Rules

ACC = sorted(p.stem for p in FIXTURES.glob("acc_*.json"))
RULE_SETS = {f"{d}+{u}": Rules(discounts=d, unit_price_rounding=u)  # type: ignore[arg-type]
             for d in ("reduce_lines", "discount_line") for u in ("rounding_line", "split")}
CENT = Decimal("0.01")


def invoice_for(name: str, rules: Rules | None = None) -> dict[str, Any]:
    return build_invoice(fixture_order(name), rules or Rules(), "C1")


@pytest.mark.parametrize("style", sorted(RULE_SETS))
@pytest.mark.parametrize("name", ACC)
def test_fixture_adds_up_to_the_penny(name: str, style: str) -> None:
    order, rules = fixture_order(name), RULE_SETS[style]
    assert decide(order, rules).action == "invoice"
    invoice = build_invoice(order, rules, "C1")
    for line in invoice["LineItems"]:
        expected = (line["Quantity"] * line["Rate"] * line["VATLevel"] / 100).quantize(
            CENT, rounding="ROUND_HALF_UP")
        assert line["Rate"] == line["Rate"].quantize(CENT)
        assert abs(line["VATAmount"] - expected) <= CENT, line
    net, vat, gross = totals(invoice)
    assert vat == order.tax_amount
    assert net + vat == gross == order.grand_total + order.tenders.total


def test_worked_example_configurable() -> None:
    # Parent row carries the money, the child row the SKU: one line, never two.
    assert line_table(invoice_for("acc_configurable")) == [
        ("Heavy Hoodie (HOODIE)", "2", "34.00", "20", "13.60", 4000),
        ("Enamel Mug (MUG)", "1", "7.99", "20", "1.60", 4000),
        ("Shipping", "1", "4.95", "20", "0.99", 4000),
    ]


def test_worked_example_dynamic_bundle() -> None:
    # Children carry the money (at their own VAT rates); the parent row is only a heading.
    assert line_table(invoice_for("acc_bundle_dynamic")) == [
        ("Gift box: Tea tin (TEA-TIN)", "2", "6.49", "20", "2.60", 4000),
        ("Gift box: Shortbread (BISCUITS)", "3", "3.29", "0", "0.00", 4000),
        ("Gift box: Greeting card (CARD)", "1", "1.99", "20", "0.39", 4000),
        ("Enamel Mug (MUG)", "1", "7.99", "20", "1.60", 4000),
        ("Shipping", "1", "3.95", "20", "0.79", 4000),
    ]


def test_fixed_bundle_is_one_line_for_the_parent() -> None:
    assert line_table(invoice_for("acc_bundle_fixed"))[0] == (
        "Gift box (GIFTBOX)", "2", "24.99", "20", "10.00", 4000)


def test_worked_example_tax_inclusive_discounted() -> None:
    name = "acc_tax_inclusive_discount"
    # net = row_total - discount_amount + discount_tax_compensation_amount
    assert line_table(invoice_for(name)) == [
        ("Organic T-shirt (TSHIRT)", "3", "9.74", "20", "5.85", 4000),  # 32.47 - 3.90 + 0.65
        ("Enamel Mug (MUG)", "2", "7.12", "20", "2.84", 4000),  # 15.82 - 1.90 + 0.32
        ("Shipping", "1", "3.74", "20", "0.75", 4000),  # 4.16 - 0.50 + 0.08
    ]
    assert totals(invoice_for(name)) == (Decimal("47.20"), Decimal("9.44"), Decimal("56.64"))
    # The same order with a discount line: full prices, then the discount net of its VAT.
    assert line_table(invoice_for(name, Rules(discounts="discount_line"))) == [
        ("Organic T-shirt (TSHIRT)", "3", "10.82", "20", "6.50", 4000),
        ("Rounding: Organic T-shirt (TSHIRT), 3 for 32.47", "1", "0.01", "20", "0.00", 4000),
        ("Enamel Mug (MUG)", "2", "7.91", "20", "3.16", 4000),
        ("Shipping", "1", "4.16", "20", "0.83", 4000),
        ("Discount", "1", "-5.25", "20", "-1.05", 4000),
    ]


def test_tenders_are_payments_and_the_invoice_shows_the_full_goods() -> None:
    order = fixture_order("acc_gift_card")
    assert totals(invoice_for("acc_gift_card"))[2] == order.grand_total + Decimal("25.50")
    payments = build_payments(order, Rules())
    assert [(p.kind, p.amount, p.txn_id) for p in payments] == [
        ("gift_card", Decimal("25.50"), "gift_card:000005031"),
        ("gateway", order.grand_total, "txn-5031-9f3c")]
    assert "gift card GC-7Q2W-88KD, GC-1M0P-42ZX" in payments[0].comment
    assert payments[0].method_name == "Cash"


def test_tenders_are_paid_even_when_no_gateway_took_money() -> None:
    order = fixture_order("acc_tenders_pay_all")
    decision = decide(order)
    assert decision.pay and "tenders" in decision.pay_reason
    assert [p.kind for p in build_payments(order, Rules())] == ["store_credit", "gift_card"]
    assert sum(p.amount for p in build_payments(order, Rules())) == totals(
        invoice_for("acc_tenders_pay_all"))[2]


def test_edited_order_replaces_its_original_and_takes_its_number() -> None:
    order = fixture_order("acc_edited_order")
    decision = decide(order)
    assert (decision.action, decision.replaces, decision.replaces_ref) == (
        "invoice", 5099, "000005099")
    assert "edit of order 000005099" in decision.reason
    invoice = invoice_for("acc_edited_order")
    assert (invoice["Number"], invoice["CustomerReference"]) == (5099, "000005099-1")


def test_foreign_currency_keeps_order_amounts_and_the_rate() -> None:
    invoice = invoice_for("acc_usd_discount")
    assert invoice["Currency"] == {"Code": "USD", "ExchangeRate": Decimal("1.2734")}
