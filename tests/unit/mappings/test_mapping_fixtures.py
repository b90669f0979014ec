"""One test per named Magento fixture: order in, KashFlow invoice/payment out, to the penny.

Default rules throughout (every SKU on nominal 4000, no product codes) unless a test says so.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mapping_helpers import fixture_order, line_table, totals

from mappings.orders import (
    build_customer,
    build_invoice,
    build_payment,
    customer_code,
    decide,
    expected_gross,
)
from mappings.rules import Rules, SkuRule

RULES = Rules()


def invoice_for(name: str, rules: Rules = RULES) -> dict[str, Any]:
    order = fixture_order(name)
    return build_invoice(order, rules, customer_code(order, rules))


def test_order_simple_guest() -> None:
    order = fixture_order("order_simple_guest")
    invoice = invoice_for("order_simple_guest")

    assert decide(order).action == "invoice"
    assert line_table(invoice) == [
        ("Organic T-shirt (TSHIRT)", "2", "12.50", "20", "5.00", 4000),
        ("Enamel Mug (MUG)", "1", "7.99", "20", "1.60", 4000),
        ("Shipping", "1", "4.95", "20", "0.99", 4000),
    ]
    assert totals(invoice) == (Decimal("37.94"), Decimal("7.59"), Decimal("45.53"))
    assert expected_gross(order) == Decimal("45.53")
    assert invoice["Number"] == 101
    assert invoice["CustomerReference"] == "000000101"
    assert invoice["CustomerCode"] == "Ga8228624fa"  # guest: sha256 of zoe.bronte@example.com
    assert invoice["IssuedDate"] == invoice["DueDate"] == "2024-05-01 09:58:12"
    assert invoice["Currency"] == {"Code": "GBP", "ExchangeRate": Decimal("1")}
    assert invoice["Address"] == {
        "Line1": "14 Wharf Road", "Line2": "Flat 3", "Line3": "Bristol",
        "PostCode": "BS1 4RN", "CountryCode": "GB",
    }
    payment = build_payment(order, RULES)
    assert payment is not None
    assert (payment.amount, payment.date) == (Decimal("45.53"), "2024-05-01 09:58:12")
    assert payment.comment == "Magento braintree txn 8xk2m9qp"
    assert (payment.txn_id, payment.magento_method) == ("8xk2m9qp", "braintree")
    assert (payment.method_id, payment.account_id) == (None, None)
    assert payment.method_name == "Credit/Debit Card"
    customer = build_customer(order, invoice["CustomerCode"])
    assert customer["Name"] == "Zoë Brontë"  # non-ASCII kept
    assert customer["Email"] == "zoe.bronte@example.com"


def test_order_registered_two_rates() -> None:
    order = fixture_order("order_registered_two_rates")
    invoice = invoice_for("order_registered_two_rates")

    assert decide(order).action == "invoice"
    assert line_table(invoice) == [
        ("Organic T-shirt (TSHIRT)", "3", "12.50", "20", "7.50", 4000),
        ("Enamel Mug (MUG)", "2", "7.99", "5", "0.80", 4000),  # 0.799 rounded per row
        ("Field Guide to Ferns (BOOK)", "1", "9.99", "0", "0.00", 4000),
        ("Shipping", "1", "5.00", "20", "1.00", 4000),
    ]
    assert totals(invoice) == (Decimal("68.47"), Decimal("9.30"), Decimal("77.77"))
    assert invoice["CustomerCode"] == "M501"
    assert invoice["DeliveryAddress"] == {
        "Line1": "Unit 7, Brunel Way", "Line2": "Newport", "PostCode": "NP20 2AB",
        "CountryCode": "GB",
    }
    customer = build_customer(order, "M501")
    assert customer["Name"] == "Ann Lee"
    assert customer["Addresses"] == [{
        "Line1": "21 High Street", "Line2": "Leeds", "Line3": "West Yorkshire",
        "PostCode": "LS1 1AA", "CountryCode": "GB",
    }]
    payment = build_payment(order, RULES)
    assert payment is not None
    assert payment.amount == Decimal("77.77")
    assert payment.comment == "Magento paypal_express txn 9XK12345AB678901C"
    assert payment.method_name == "PayPal"


def test_order_configurable() -> None:
    order = fixture_order("order_configurable")
    rules = Rules(skus={"HOODIE": SkuRule(nominal_code=4000, product_code="HOODIE")})
    invoice = invoice_for("order_configurable", rules)

    # One hoodie line from the parent row's money; the child row (price 0) is not billed.
    assert line_table(invoice) == [
        ("Heavy Hoodie (HOODIE)", "2", "34.00", "20", "13.60", 4000),
        ("Enamel Mug (MUG)", "1", "7.99", "20", "1.60", 4000),
        ("Shipping", "1", "3.95", "20", "0.79", 4000),
    ]
    assert invoice["LineItems"][0]["ProductCode"] == "HOODIE"
    assert "ProductCode" not in invoice["LineItems"][1]  # MUG is unmapped: default nominal
    assert totals(invoice) == (Decimal("79.94"), Decimal("15.99"), Decimal("95.93"))
    assert invoice["CustomerCode"] == "M502"
    assert build_customer(order, "M502")["Name"] == "Acme Ltd"
    assert invoice["Address"]["Line4"] == "Leeds, West Yorkshire"  # 5 parts fit in 4 lines
    payment = build_payment(order, RULES)
    assert payment is not None and payment.amount == Decimal("95.93")


def test_order_discount() -> None:
    order = fixture_order("order_discount")
    invoice = invoice_for("order_discount")

    # 10% coupon SPRING10: item discounts reduce line nets, the shipping discount the
    # shipping net; VAT is Magento's, charged after discount.
    assert line_table(invoice) == [
        ("Organic T-shirt (TSHIRT)", "2", "11.25", "20", "4.50", 4000),  # 25.00 - 2.50
        ("Field Guide to Ferns (BOOK)", "1", "8.99", "0", "0.00", 4000),  # 9.99 - 1.00
        ("Enamel Mug (MUG)", "3", "7.19", "20", "4.31", 4000),  # 23.97 - 2.40
        ("Shipping", "1", "4.50", "20", "0.90", 4000),  # 5.00 - 0.50
    ]
    assert totals(invoice) == (Decimal("57.56"), Decimal("9.71"), Decimal("67.27"))
    assert order.discount_amount == Decimal("-6.40")
    payment = build_payment(order, RULES)
    assert payment is not None and payment.amount == Decimal("67.27")
    assert payment.comment == "Magento stripe_payments txn pi_3PDx7c2eZvKYlo2C0q1r2s3t"


def test_order_offline_checkmo() -> None:
    order = fixture_order("order_offline_checkmo")
    invoice = invoice_for("order_offline_checkmo")
    decision = decide(order)

    assert (decision.action, decision.pay) == ("invoice", False)
    assert "offline" in decision.pay_reason
    assert line_table(invoice) == [
        ("Field Guide to Ferns (BOOK)", "2", "9.99", "0", "0.00", 4000),
        ("Shipping", "1", "2.99", "20", "0.60", 4000),
    ]
    assert totals(invoice) == (Decimal("22.97"), Decimal("0.60"), Decimal("23.57"))
    assert order.total_paid == Decimal("23.57")  # Magento says paid...
    assert build_payment(order, RULES) is None  # ...but no money moved through a gateway


def test_order_pending_payment() -> None:
    order = fixture_order("order_pending_payment")
    decision = decide(order)

    assert decision.action == "wait"
    assert decision.pay is False
    assert build_payment(order, RULES) is None
    # Built only to show the fixture is consistent for when it later turns processing.
    assert totals(invoice_for("order_pending_payment"))[2] == Decimal("14.33")


def test_order_canceled() -> None:
    order = fixture_order("order_canceled")
    decision = decide(order)

    assert decision.action == "skip"
    assert decision.reason == "canceled before invoice: nothing to post"
    assert build_payment(order, RULES) is None
    assert expected_gross(order) == Decimal("20.94")


def test_order_eur() -> None:
    order = fixture_order("order_eur")
    invoice = invoice_for("order_eur")

    # Amounts in the order currency (EUR), not the GBP base amounts.
    assert line_table(invoice) == [
        ("Organic T-shirt (TSHIRT)", "2", "14.63", "20", "5.85", 4000),
        ("Enamel Mug (MUG)", "1", "9.35", "20", "1.87", 4000),
        ("Shipping", "1", "5.79", "20", "1.16", 4000),
    ]
    assert totals(invoice) == (Decimal("44.40"), Decimal("8.88"), Decimal("53.28"))
    # ExchangeRate = EUR per 1 GBP (Magento's base_to_order_rate).
    assert invoice["Currency"] == {"Code": "EUR", "ExchangeRate": Decimal("1.17")}
    assert order.base_grand_total == Decimal("45.53")
    customer = build_customer(order, invoice["CustomerCode"])
    assert customer["Currency"] == {"Code": "EUR"}
    assert customer["Addresses"][0]["CountryCode"] == "IE"
    payment = build_payment(order, RULES)
    assert payment is not None and payment.amount == Decimal("53.28")


def test_order_non_exact_rate() -> None:
    order = fixture_order("order_non_exact_rate")
    invoice = invoice_for("order_non_exact_rate")

    # 3 mugs for 10.00 has no 2-decimal unit price: one line at the nearest price with its true
    # quantity, and a labelled rounding line for the penny; Magento's 2.00 VAT is kept.
    assert line_table(invoice) == [
        ("Enamel Mug (3 for 10.00) (MUG)", "3", "3.33", "20", "2.00", 4000),
        ("Rounding: Enamel Mug (3 for 10.00) (MUG), 3 for 10.00", "1", "0.01", "20", "0.00",
         4000),
        ("Shipping", "1", "3.00", "20", "0.60", 4000),
    ]
    assert totals(invoice) == (Decimal("13.00"), Decimal("2.60"), Decimal("15.60"))
    payment = build_payment(order, RULES)
    assert payment is not None and payment.amount == Decimal("15.60")


def test_order_non_exact_rate_split() -> None:
    # unit_price_rounding: split -> adjacent pence, quantities still add up to 3.
    invoice = invoice_for("order_non_exact_rate", Rules(unit_price_rounding="split"))
    assert line_table(invoice)[:2] == [
        ("Enamel Mug (3 for 10.00) (MUG)", "2", "3.33", "20", "1.33", 4000),
        ("Enamel Mug (3 for 10.00) (MUG)", "1", "3.34", "20", "0.67", 4000),
    ]
    assert totals(invoice) == (Decimal("13.00"), Decimal("2.60"), Decimal("15.60"))
