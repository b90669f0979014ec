"""An order's life after its invoice: captures, cancellations, edits, the ledger's gaps."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kfsync.samples import Buyer, Line, make_order
from mappings.cancellations import (
    build_cancellation_note,
    cancel_note_number,
    cancellation_due,
    note_gross,
)
from mappings.captures import captured_total, captures_of, payment_drafts, payments_due, posted_in
from mappings.ledger import CANCELLATION, PAYMENTS, Posted, entry, ledger_gap, posted_of
from mappings.lifecycle import decide
from mappings.magento import parse_order
from mappings.numbering import order_invoice_number
from mappings.orders import build_invoice_draft
from mappings.rules import PaymentMethodRule, Rules

BUYER = Buyer("ann@example.com", "Ann", "Lee")
D = Decimal


def order_doc(**changes: Any) -> dict[str, Any]:
    doc = make_order(7, BUYER, [Line("MUG", "Mug", D("10.00"), 2)])  # 20 + 4 VAT + 6 ship
    doc.update(changes)
    return doc


def authorised() -> dict[str, Any]:
    doc = order_doc(total_paid=D(0), total_invoiced=D(0))
    doc["payment"] = {"method": "braintree", "amount_paid": D(0), "amount_ordered": D(30)}
    return doc


def invoice(n: int, amount: str, state: int = 2, txn: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"entity_id": n, "increment_id": f"00000000{n}", "order_id": 7,
                           "state": state, "grand_total": D(amount),
                           "created_at": "2026-11-25 09:00:00"}
    if txn:
        doc["transaction_id"] = txn
    return doc


def test_paid_magento_invoices_are_the_captures_else_the_orders_payment() -> None:
    order = parse_order(order_doc())
    assert [(c.reference, c.amount) for c in captures_of(order, [])] == [
        ("txn-7-a1b2", D("30.00"))]
    found = captures_of(order, [invoice(1, "10", txn="cap-1"), invoice(2, "5", state=1),
                                invoice(3, "20", txn="cap-3"), invoice(4, "1", state=3)])
    assert [(c.reference, c.amount, c.date) for c in found] == [
        ("cap-1", D(10), "2026-11-25 09:00:00"), ("cap-3", D(20), "2026-11-25 09:00:00")]
    assert captures_of(parse_order(authorised()), []) == []


def test_each_capture_is_due_once_and_never_past_the_invoice() -> None:
    order = parse_order(order_doc())
    drafts = payment_drafts(order, Rules(), [invoice(1, "10", txn="cap-1"),
                                             invoice(2, "20", txn="cap-2")])
    assert [(d.txn_id, d.amount, d.comment) for d in drafts] == [
        ("cap-1", D(10), "Magento braintree txn cap-1"),
        ("cap-2", D(20), "Magento braintree txn cap-2")]
    due = payments_due(drafts, {"cap-1": D(10)}, D(30))
    assert [d.txn_id for d in due.payments] == ["cap-2"] and due.review is None
    assert payments_due(drafts, {"cap-1": D(10), "cap-2": D(20)}, D(30)).payments == ()
    over = payments_due(drafts, {"other": D(15)}, D(30))
    assert [d.txn_id for d in over.payments] == ["cap-1"]
    assert over.review is not None and "cap-2" in over.review


def test_offline_methods_post_no_capture() -> None:
    doc = order_doc()
    doc["payment"] = {"method": "checkmo", "amount_paid": D(30)}
    assert payment_drafts(parse_order(doc), Rules(), [invoice(1, "30")]) == []


def test_a_payment_line_is_found_by_its_reference_as_a_word() -> None:
    drafts = payment_drafts(parse_order(order_doc()), Rules(),
                            [invoice(1, "10", txn="txn-1"), invoice(2, "20", txn="txn-10")])
    notes = [("Magento braintree txn txn-10", D(20))]
    assert posted_in(notes, drafts) == {"txn-10": D(20)}


@pytest.mark.parametrize(("changes", "captured", "credited", "replaced", "amount", "whole"), [
    ({"state": "canceled"}, "0", "0", None, "30.00", True),
    ({"state": "canceled"}, "10", "0", None, "20.00", False),
    ({"state": "canceled"}, "10", "20", None, "0", False),
    ({"state": "canceled"}, "30", "0", None, "0", False),
    ({"total_canceled": D(8)}, "10", "0", None, "8", False),
    ({}, "30", "0", "000000007-1", "30.00", True),
    ({"relation_child_id": 9, "relation_child_real_id": "000000007-1",
      "state": "canceled"}, "30", "0", None, "30.00", True),
    ({}, "0", "0", None, "0", False),
])
def test_what_a_cancellation_credits(changes: dict[str, Any], captured: str, credited: str,
                                     replaced: str | None, amount: str, whole: bool) -> None:
    due = cancellation_due(parse_order(order_doc(**changes)), D(30), D(captured), D(credited),
                           replaced)
    assert due.amount == D(amount)
    assert due.whole is (whole and due.amount > 0)


def posted_invoice(doc: dict[str, Any]) -> dict[str, Any]:
    body = build_invoice_draft(parse_order(doc), Rules(), "C1").body
    return {**body, "GrossAmount": D(30)}


def test_a_whole_cancellation_repeats_the_invoice_negated() -> None:
    doc = order_doc(state="canceled")
    order = parse_order(doc)
    due = cancellation_due(order, D(30), D(0), D(0))
    draft = build_cancellation_note(order, posted_invoice(doc), due, Rules(),
                                    date="2026-11-26 10:00:00")
    body = draft.body
    assert body["Number"] == 7 + 800_000_000 == cancel_note_number(7, Rules())
    assert body["CustomerReference"] == "CX-000000007" and body["CustomerCode"] == "C1"
    assert body["IssuedDate"] == "2026-11-26 10:00:00"
    assert [(i["Description"], i["Quantity"], i["Rate"], i["VATAmount"])
            for i in body["LineItems"]] == [
        ("Cancelled: Mug (MUG)", D(-2), D("10.00"), D("-4.00")),
        ("Cancelled: Shipping", D(-1), D("5.00"), D("-1.00"))]
    assert note_gross(body["LineItems"]) == draft.expected_gross == D(-30)


def test_a_part_cancellation_is_one_line_per_vat_level_to_the_penny() -> None:
    doc = order_doc(state="canceled")
    order = parse_order(doc)
    due = cancellation_due(order, D(30), D("10.01"), D(0))
    draft = build_cancellation_note(order, posted_invoice(doc), due, Rules())
    [line] = draft.body["LineItems"]
    assert line["Description"] == "Cancelled (20% VAT)"
    assert line["Rate"] + -line["VATAmount"] == D("19.99")
    assert note_gross(draft.body["LineItems"]) == draft.expected_gross == D("-19.99")


def test_the_ledger_names_what_is_missing() -> None:
    rules = Rules()
    plan = {"ledger": [entry("invoice", "000000007", 7, D(30), "t", "posted")]}
    assert ledger_gap(parse_order(authorised()), rules, posted_of(plan)) is None
    gap = ledger_gap(parse_order(order_doc()), rules, posted_of(plan))
    assert gap is not None and gap[0] == PAYMENTS
    plan["ledger"].append(entry("payment", "txn-7-a1b2", 7, D(30), "t", "capture"))
    assert ledger_gap(parse_order(order_doc()), rules, posted_of(plan)) is None
    canceled = parse_order(authorised() | {"state": "canceled"})
    gap = ledger_gap(canceled, rules, posted_of(plan | {"ledger": plan["ledger"][:1]}))
    assert gap is not None and gap[0] == CANCELLATION
    assert ledger_gap(parse_order(order_doc()), rules, Posted(None)) is None


def test_older_jobs_read_their_payments_from_the_plan() -> None:
    plan = {"kashflow_invoice": {"GrossAmount": "30.00"},
            "kashflow_payments": [{"reference": "txn-7-a1b2", "amount": "30.00"}]}
    posted = posted_of(plan)
    assert posted.gross == D(30) and posted.payments == {"txn-7-a1b2": D(30)}


def test_authorise_only_methods_can_wait_for_magentos_invoice() -> None:
    rules = Rules(payment_methods={"braintree": PaymentMethodRule(
        method_name="Credit/Debit Card", invoice="invoice_if_invoiced")})
    assert decide(parse_order(authorised()), rules).action == "wait"
    assert decide(parse_order(authorised()), Rules()).action == "invoice"
    assert decide(parse_order(order_doc()), rules).action == "invoice"


def test_an_edit_of_an_invoiced_order_gets_a_number_of_its_own() -> None:
    doc = order_doc(increment_id="000000007-1", relation_parent_id=6,
                    relation_parent_real_id="000000007")
    order = parse_order(doc)
    assert order_invoice_number(order, Rules()) == 7
    assert order_invoice_number(order, Rules(), own_number=True) == 10_000_007
    assert captured_total(order, []) == D(30)
