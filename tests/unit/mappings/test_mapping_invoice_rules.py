"""build_invoice edge cases: SKU policy, product codes, numbering, dates, VAT tolerance, pennies."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from mapping_helpers import fixture_doc, fixture_order, line_table

from mappings.errors import MappingError
from mappings.magento import parse_order
from mappings.orders import build_invoice, invoice_number
from mappings.rules import Rules, SkuRule


def invoice(doc: dict[str, Any], rules: Rules | None = None) -> dict[str, Any]:
    return build_invoice(parse_order(doc), rules or Rules(), "C1")


@pytest.mark.parametrize(("increment_id", "offset", "number"),
                         [("000000123", 0, 123), ("100000045", 0, 100000045), ("7", 1000, 1007)])
def test_invoice_number(increment_id: str, offset: int, number: int) -> None:
    assert invoice_number(increment_id, Rules(invoice_number_offset=offset)) == number


@pytest.mark.parametrize("increment_id", ["000000123-1", "UK-000123", "", "\uff11\uff12\uff13"])
def test_invoice_number_rejects_non_digits(increment_id: str) -> None:
    with pytest.raises(MappingError, match="not all digits"):
        invoice_number(increment_id, Rules())


def test_mapped_sku_gets_product_and_nominal() -> None:
    rules = Rules(skus={"TSHIRT": SkuRule(nominal_code=4001, product_code="TSHIRT")})
    lines = invoice(fixture_doc("order_simple_guest"), rules)["LineItems"]
    assert lines[0]["ProductCode"] == "TSHIRT" and lines[0]["NominalCode"] == 4001
    assert "ProductCode" not in lines[1] and lines[1]["NominalCode"] == 4000


def test_unmapped_sku_under_review_policy_names_the_sku() -> None:
    rules = Rules(unmapped_sku="review", skus={"TSHIRT": SkuRule(4000, "TSHIRT")})
    with pytest.raises(MappingError, match="SKU MUG is not in the mapping"):
        invoice(fixture_doc("order_simple_guest"), rules)


def test_configurable_maps_by_the_child_sku() -> None:
    doc = fixture_doc("order_configurable")
    doc["items"][0]["sku"] = "HOODIE-CONFIGURABLE"  # parent; child row keeps "HOODIE"
    rules = Rules(unmapped_sku="review", skus={"HOODIE": SkuRule(4000, "HOODIE"),
                                               "MUG": SkuRule(4000, "MUG")})
    lines = invoice(doc, rules)["LineItems"]
    assert lines[0]["ProductCode"] == "HOODIE"
    assert lines[0]["Description"] == "Heavy Hoodie (HOODIE)"


def test_unknown_product_type_goes_to_review() -> None:
    doc = fixture_doc("order_configurable")
    doc["items"][0]["product_type"] = "subscription"
    with pytest.raises(MappingError, match="product type 'subscription' is not one kfsync maps"):
        invoice(doc)


def test_shipping_and_due_date_follow_rules() -> None:
    rules = Rules(shipping_nominal_code=4900, shipping_description="Delivery", due_days=30)
    body = invoice(fixture_doc("order_simple_guest"), rules)
    assert line_table(body)[-1] == ("Delivery", "1", "4.95", "20", "0.99", 4900)
    assert body["DueDate"] == "2024-05-31 09:58:12"


def test_shipping_rate_derived_when_magento_names_none() -> None:
    doc = fixture_doc("order_registered_two_rates")
    taxes = doc["extension_attributes"]["item_applied_taxes"]
    doc["extension_attributes"]["item_applied_taxes"] = [
        tax for tax in taxes if tax["type"] != "shipping"
    ]
    assert line_table(invoice(doc))[-1] == ("Shipping", "1", "5.00", "20", "1.00", 4000)


def test_tax_percent_used_without_item_applied_taxes() -> None:
    doc = fixture_doc("order_registered_two_rates")
    doc["extension_attributes"]["item_applied_taxes"] = []
    assert [row[3] for row in line_table(invoice(doc))] == ["20", "5", "0", "20"]


def test_no_shipping_line_when_nothing_charged() -> None:
    doc = fixture_doc("order_simple_guest")
    for key in ("shipping_amount", "shipping_tax_amount"):
        doc[key] = Decimal("0")
    doc["tax_amount"] = Decimal("6.60")
    doc["grand_total"] = Decimal("39.59")
    del doc["base_grand_total"]
    assert [row[0] for row in line_table(invoice(doc))] == [
        "Organic T-shirt (TSHIRT)", "Enamel Mug (MUG)"]


def test_row_tax_outside_kashflow_tolerance_goes_to_review() -> None:
    doc = fixture_doc("order_simple_guest")
    doc["items"][0]["tax_amount"] = Decimal("5.02")  # 20% of 25.00 is 5.00
    for key in ("tax_amount", "grand_total", "base_grand_total"):
        doc[key] += Decimal("0.02")
    with pytest.raises(MappingError, match=r"item TSHIRT: tax 5.02 is not 20% of the net 25.00"):
        invoice(doc)


def test_penny_check() -> None:
    doc = fixture_doc("order_simple_guest")
    doc["grand_total"] = Decimal("45.54")
    with pytest.raises(MappingError, match=r"totals do not reconcile: subtotal \+ shipping \+ "
                       r"discount \+ tax - tenders come to 45\.53 but Magento's grand_total "
                       r"is 45\.54"):
        invoice(doc)


def test_fractional_quantity_keeps_its_quantity_with_a_rounding_line() -> None:
    doc = fixture_doc("order_non_exact_rate")
    item = doc["items"][0]
    item.update(qty_ordered=Decimal("1.5"), price=Decimal("6.6667"), row_total=Decimal("10.00"))
    assert line_table(invoice(doc))[:2] == [
        ("Enamel Mug (3 for 10.00) (MUG)", "1.5", "6.67", "20", "2.00", 4000),
        ("Rounding: Enamel Mug (3 for 10.00) (MUG), 1.5 for 10.00", "1", "-0.01", "20", "0.00",
         4000)]


def test_fractional_quantity_that_does_not_divide_is_one_line_when_splitting() -> None:
    doc = fixture_doc("order_non_exact_rate")
    item = doc["items"][0]
    item.update(qty_ordered=Decimal("1.5"), price=Decimal("6.6667"), row_total=Decimal("10.00"))
    assert line_table(invoice(doc, Rules(unit_price_rounding="split")))[0] == (
        "1.5 x Enamel Mug (3 for 10.00) (MUG)", "1", "10.00", "20", "2.00", 4000)


def test_foreign_order_without_rate_is_an_error() -> None:
    doc = fixture_doc("order_eur")
    del doc["base_to_order_rate"]
    with pytest.raises(MappingError, match="no base_to_order_rate"):
        invoice(doc)


def test_fixture_orders_are_consistent_in_base_currency_too() -> None:
    for name in ("order_simple_guest", "order_discount", "order_eur"):
        doc = fixture_doc(name)
        base = (doc["base_subtotal"] + doc["base_discount_amount"] + doc["base_shipping_amount"]
                + doc["base_tax_amount"])
        assert base == doc["base_grand_total"] == fixture_order(name).base_grand_total
