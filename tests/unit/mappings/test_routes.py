"""Conditional routes (``mappings.routes``, ``mappings.routing``): what a valid route changes
for an order (decision, lines, payments), and every refusal with its reason."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kfsync.samples import Buyer, Line, make_order
from mappings.captures import payment_drafts
from mappings.errors import MappingError
from mappings.lifecycle import decide
from mappings.magento import Order, parse_order
from mappings.orders import build_invoice_draft, build_payments
from mappings.profile import document_hash, dump_rules, parse_document
from mappings.routing import route
from mappings.rules import Rules
from mappings.studio import Catalogue, CatalogueProduct, validate

BUYER = Buyer("route@example.com", "Rita", "Route", customer_id=41)
PO_RULE = {"node": "decide", "action": "invoice_if_invoiced",
           "when": [{"field": "payment_method", "op": "is", "value": "purchaseorder"}]}


def order(method: str = "purchaseorder", invoiced: bool = False, **extra: Any) -> Order:
    doc = make_order(901, BUYER, [Line("MUG", "Mug", Decimal("7.99"), 3),
                                  Line("BOOK", "Book", Decimal("9.99"), 1, vat=Decimal(0))],
                     method=method)
    if not invoiced:
        doc["total_paid"] = doc["total_invoiced"] = Decimal(0)
        doc["payment"]["amount_paid"] = Decimal(0)
    doc.update(extra)
    return parse_order(doc)


def rules_with(*routes: dict[str, Any]) -> Rules:
    return parse_document({"routes": list(routes)})


def refusal(*routes: dict[str, Any]) -> str:
    with pytest.raises(MappingError) as caught:
        rules_with(*routes)
    return str(caught.value)


def test_purchase_orders_wait_for_magentos_invoice_and_others_do_not() -> None:
    rules = rules_with(PO_RULE)
    waiting = decide(order(), rules)
    assert waiting.action == "wait"
    assert waiting.reason == ("order is processing, route 1: when payment method is "
                              "purchaseorder then invoice when Magento invoices; nothing "
                              "invoiced in Magento yet")
    assert "nothing invoiced in Magento yet" in waiting.reason
    assert decide(order(invoiced=True), rules).action == "invoice"
    assert decide(order(), Rules()).action == "invoice"  # the old path: invoice at once
    assert decide(order(method="checkmo"), rules).action == "invoice"


def test_hold_for_review_on_a_big_foreign_order_only() -> None:
    rules = rules_with({"node": "decide", "action": "hold_for_review", "when": [
        {"field": "grand_total", "op": "at_least", "value": "40.00"},
        {"field": "country", "op": "one_of", "value": ["FR", "de"]}]})
    assert decide(order(), rules).action == "invoice"  # GB
    french = order(billing_address={"country_id": "DE", "firstname": "A", "lastname": "B"})
    held = decide(french, rules)
    assert held.action == "review" and "held for review by route 1" in held.reason
    assert "grand total ≥ 40.00 and billing country is one of FR, de" in held.reason
    card = order(method="braintree", invoiced=True,
                 billing_address={"country_id": "FR", "firstname": "A", "lastname": "B"})
    released = decide(card, rules)  # a requeue resumes the job with this decision's pay
    assert released.action == "review" and released.pay is True
    assert released.pay_reason.startswith("paid ")


def test_use_nominal_posts_every_item_line_there_without_a_product() -> None:
    rules = rules_with({"node": "create_invoice", "action": "use_nominal", "value": 4010,
                        "when": [{"field": "sku", "op": "one_of", "value": "MUG,PEN"}]})
    body = build_invoice_draft(order(), rules, "CUST").body
    items = [x for x in body["LineItems"] if x["Description"] != "Shipping"]
    assert {x["NominalCode"] for x in items} == {4010}
    assert all(not x.get("ProductCode") for x in items)
    shipping = [x for x in body["LineItems"] if x["Description"] == "Shipping"]
    assert shipping[0]["NominalCode"] == 4000
    other = order(items=[])  # no line matches "MUG": nothing changes
    assert route(other, rules).matched == ()


def test_skip_payment_and_use_bank_account_on_card_orders() -> None:
    paid = order(method="braintree", invoiced=True)
    skip = rules_with({"node": "post_payment", "action": "skip_payment", "when": [
        {"field": "customer_group_id", "op": "is", "value": 3}]})
    assert build_payments(paid, skip)  # group 1 (no group in the sample): paid as before
    wholesale = order(method="braintree", invoiced=True, customer_group_id=3)
    assert wholesale.customer_group_id == 3
    assert build_payments(wholesale, skip) == [] and payment_drafts(wholesale, skip) == []
    assert decide(wholesale, skip).pay is False
    assert "no payment: route 1" in decide(wholesale, skip).pay_reason
    bank = rules_with({"node": "post_payment", "action": "use_bank_account", "value": 1202,
                       "when": [{"field": "currency", "op": "is", "value": "gbp"}]})
    [draft] = build_payments(paid, bank)
    assert draft.account_id == 1202 and draft.amount == paid.grand_total


def test_use_customer_names_a_code_and_the_preview_bills_it() -> None:
    rules = rules_with({"node": "ensure_customer", "action": "use_customer", "value": "TRADE01",
                        "when": [{"field": "customer_group_id", "op": "one_of",
                                  "value": "2, 3"}]})
    routed = route(order(customer_group_id=3), rules)
    assert routed.text("use_customer") == "TRADE01" and routed.number("use_customer") is None
    assert route(order(customer_group_id=1), rules).text("use_customer") is None
    assert dump_rules(rules)["routes"][0]["value"] == "TRADE01"


def test_first_matching_route_of_an_action_wins_and_not_conditions_hold_for_all() -> None:
    rules = rules_with(
        {"node": "post_payment", "action": "use_bank_account", "value": 7,
         "when": [{"field": "sku", "op": "not_one_of", "value": ["PEN"]}]},
        {"node": "post_payment", "action": "use_bank_account", "value": 8,
         "when": [{"field": "product_type", "op": "is", "value": "simple"}]})
    routed = route(order(), rules)
    assert routed.matched == (1, 2) and routed.number("use_bank_account") == 7
    pen = rules_with({"node": "post_payment", "action": "skip_payment",
                      "when": [{"field": "sku", "op": "is_not", "value": "MUG"}]})
    assert route(order(), pen).matched == ()  # MUG is one of the lines


@pytest.mark.parametrize(("route_doc", "reason"), [
    ({**PO_RULE, "when": [{"field": "colour", "op": "is", "value": "red"}]},
     "route 1: unknown field 'colour': use one of store_id, customer_group_id"),
    ({"node": "decide", "action": "skip_payment", "when": PO_RULE["when"]},
     "route 1: action 'skip_payment' is not allowed on node decide (it belongs to "
     "post_payment): allowed here: hold_for_review, invoice_if_invoiced"),
    ({"node": "create_invoice", "action": "rm -rf", "when": PO_RULE["when"]},
     "route 1: action 'rm -rf' is not allowed on node create_invoice: allowed here: "
     "use_nominal"),
    ({**PO_RULE, "node": "stock"}, "route 1: unknown node 'stock'"),
    ({**PO_RULE, "when": [{"field": "grand_total", "op": "starts_with", "value": "1"}]},
     "operator 'starts_with' does not apply to grand total (money)"),
    ({**PO_RULE, "when": [{"field": "grand_total", "op": "above", "value": "lots"}]},
     "grand total takes an amount like 250.00, not 'lots'"),
    ({**PO_RULE, "when": [{"field": "grand_total", "op": "above", "value": "1.001"}]},
     "grand total takes an amount"),
    ({**PO_RULE, "when": [{"field": "store_id", "op": "is", "value": "one"}]},
     "store takes a whole number, not 'one'"),
    ({**PO_RULE, "when": []}, "'when' needs at least one condition"),
    ({"node": "create_invoice", "action": "use_nominal", "when": PO_RULE["when"]},
     "use nominal needs a nominal code"),
    ({**PO_RULE, "value": 4000}, "invoice when Magento invoices takes no value"),
    ({"node": "ensure_customer", "action": "use_customer", "value": "TRADE 01",
      "when": PO_RULE["when"]}, "bill customer needs a KashFlow customer code (1 to 20"),
    ({"node": "ensure_customer", "action": "use_customer", "value": 42,
      "when": PO_RULE["when"]}, "bill customer needs a KashFlow customer code"),
    ({**PO_RULE, "expression": "1/0"}, "route 1: unknown key(s) expression"),
])
def test_an_invalid_route_is_refused_with_a_reason(route_doc: dict[str, Any],
                                                   reason: str) -> None:
    assert reason in refusal(route_doc)


def test_every_bad_route_is_named_and_a_good_one_does_not_hide_them() -> None:
    text = refusal(PO_RULE, {**PO_RULE, "node": "nowhere"},
                   {**PO_RULE, "when": [{"field": "sku", "op": "above", "value": "1"}]})
    assert "route 2: unknown node" in text and "route 3: operator 'above'" in text
    assert "route 1" not in text


def test_routes_round_trip_and_an_empty_list_keeps_old_profile_hashes() -> None:
    assert "routes" not in dump_rules(Rules())
    assert document_hash(dump_rules(rules_with())) == document_hash(dump_rules(Rules()))
    rules = rules_with(PO_RULE, {"node": "decide", "action": "hold_for_review", "when": [
        {"field": "grand_total", "op": "above", "value": 250},
        {"field": "customer_is_guest", "op": "is", "value": "true"}]})
    doc = dump_rules(rules)
    assert doc["routes"][1]["when"] == [
        {"field": "grand_total", "op": "above", "value": "250"},
        {"field": "customer_is_guest", "op": "is", "value": True}]
    assert parse_document(doc) == rules


def test_nominal_and_bank_account_must_be_in_the_kashflow_catalogue() -> None:
    catalogue = Catalogue(products=(CatalogueProduct("MUG-1", "Mug", 4010),),
                          bank_accounts={1201: "Current"}, refreshed=True)
    doc = dump_rules(rules_with(
        {"node": "create_invoice", "action": "use_nominal", "value": 4999,
         "when": PO_RULE["when"]},
        {"node": "post_payment", "action": "use_bank_account", "value": 99,
         "when": PO_RULE["when"]},
        {"node": "create_invoice", "action": "use_nominal", "value": 4010,
         "when": PO_RULE["when"]}))
    errors = [str(p) for p in validate(doc, catalogue)
              if p.severity == "error" and p.path.startswith("routes")]
    assert errors == [
        "routes.1.value: route 1: nominal 4999 is not in the KashFlow catalogue (no product "
        "is under it and the profile posts nothing there): 4000, 4010 are known",
        "routes.2.value: route 2: KashFlow has no bank account 99: use one of 1201 (Current)"]
