"""Rules as data: status table, VAT levels, invalid rows, guests, numbering, terms."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from mapping_helpers import fixture_doc, fixture_order, line_table

from mappings.customers import build_customer, customer_code
from mappings.errors import MappingError
from mappings.magento import parse_order
from mappings.numbering import due_date, invoice_number
from mappings.orders import build_invoice, build_invoice_draft, decide
from mappings.rules import PaymentMethodRule, Rules, StoreNumbering, parse_rules


def test_status_policy_is_a_table() -> None:
    doc = fixture_doc("acc_simple_guest")
    doc["total_invoiced"] = 0
    rules = parse_rules({"state_actions": {"processing": "invoice_if_invoiced"},
                         "status_actions": {"fraud": "review"}})
    assert decide(parse_order(doc), rules).action == "wait"  # authorised, not invoiced yet
    doc["total_invoiced"] = doc["grand_total"]
    assert decide(parse_order(doc), rules).action == "invoice"
    doc["status"] = "fraud"
    assert decide(parse_order(doc), rules).action == "review"
    assert rules.state_actions["complete"] == "invoice"  # merged over the defaults


def test_unknown_vat_rate_and_vat_level_by_tax_code() -> None:
    order = fixture_order("invalid_unknown_vat_rate")
    decision = decide(order)
    assert decision.action == "review"
    assert "item CANDLE: VAT rate 7.5% is not in vat_levels" in decision.reason
    rules = parse_rules({"vat_levels": {"20": 20, "5": 5, "0": 0, "7.5": 7.5}})
    assert decide(order, rules).action == "invoice"
    exempt = parse_rules({"vat_levels": {"20": 20, "0": 0, "GB VAT 20%": 20}})
    assert decide(fixture_order("acc_simple_guest"), exempt).action == "invoice"


def test_skip_line_policy_leaves_the_row_out_and_says_so() -> None:
    order = fixture_order("invalid_unknown_vat_rate")
    draft = build_invoice_draft(order, Rules(invalid_lines="skip_line"), "C1")
    assert [row[0] for row in line_table(draft.body)] == ["Organic T-shirt (TSHIRT)", "Shipping"]
    assert draft.expected_gross == order.grand_total - Decimal("10.75")
    assert draft.skipped_reason is not None and "item CANDLE (10.75)" in draft.skipped_reason


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("qty_ordered", Decimal("-1"), "quantity -1 is not positive"),
    ("row_total", Decimal("30.00"), "row_total 30.00 is not price 12.5 x qty 2"),
    ("discount_amount", Decimal("26.00"), "discount 26.00 is larger than the row"),
])
def test_invalid_rows_are_named_with_a_reason(field: str, value: Decimal, reason: str) -> None:
    doc = fixture_doc("acc_simple_guest")
    item = doc["items"][0]
    delta = value - item[field] if field != "qty_ordered" else 0
    item[field] = value
    if field == "row_total":
        doc["subtotal"] += delta
        doc["grand_total"] += delta
        item["tax_amount"] = Decimal("6.00")
        doc["tax_amount"] += Decimal("1.00")
        doc["grand_total"] += Decimal("1.00")
    if field == "discount_amount":
        doc["discount_amount"] -= delta
        doc["grand_total"] -= delta
    doc.pop("base_grand_total")
    with pytest.raises(MappingError, match=f"item TSHIRT: {reason}"):
        build_invoice(parse_order(doc), Rules(), "C1")


def test_unmapped_sku_under_review_is_an_invalid_row() -> None:
    decision = decide(fixture_order("acc_simple_guest"), Rules(unmapped_sku="review"))
    assert decision.action == "review"
    assert "SKU TSHIRT is not in the mapping" in decision.reason
    assert "SKU MUG is not in the mapping" in decision.reason


def test_shared_guest_policy() -> None:
    order = fixture_order("acc_simple_guest")
    rules = Rules(guest_policy="shared", shared_guest_code="WEB", shared_guest_name="Web Sales")
    assert customer_code(order, rules) == "WEB"
    body = build_customer(order, "WEB", rules)
    assert (body["Name"], body["Email"], body["Addresses"]) == ("Web Sales", "", [])
    assert build_invoice(order, rules, "WEB")["Address"]["PostCode"] == "LS1 1AA"
    registered = fixture_order("acc_registered_customer")
    assert customer_code(registered, rules) == "M9502"  # registered customers keep their own


@pytest.mark.parametrize(("increment_id", "store", "edited", "number"), [
    ("200005037", 2, False, 5037),
    ("200005037", 1, False, 200005037),
    ("000000123-1", 1, True, 123),
    ("UK-000123", 3, False, 1000123),
])
def test_invoice_numbers_per_store(increment_id: str, store: int, edited: bool,
                                   number: int) -> None:
    rules = Rules(stores={"2": StoreNumbering(prefix="2"),
                          "3": StoreNumbering(prefix="UK-", offset=1_000_000)})
    assert invoice_number(increment_id, rules, store, edited) == number


def test_due_date_terms() -> None:
    order = fixture_order("acc_offline_banktransfer")  # created 2026-11-24
    assert due_date(order, Rules(due_days=14)) == datetime(2026, 12, 8, 10, 0)
    assert due_date(order, Rules(due_days=30, due_from="month_end")) == datetime(
        2026, 12, 30, 10, 0)
    methods = {"banktransfer": PaymentMethodRule(due_days=7)}
    assert due_date(order, Rules(due_days=30, payment_methods=methods)) == datetime(
        2026, 12, 1, 10, 0)


def test_totals_that_do_not_reconcile_hold_the_order() -> None:
    doc = fixture_doc("acc_eur")
    doc["base_grand_total"] = Decimal("40.00")
    decision = decide(parse_order(doc))
    assert decision.action == "review"
    assert "base_grand_total 40.00 x base_to_order_rate 1.17" in decision.reason
