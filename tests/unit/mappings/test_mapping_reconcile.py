"""Magento captures vs KashFlow payment lines: input -> expected differences."""

from __future__ import annotations

from decimal import Decimal

from mappings.reconcile import Capture, captures, compare

D = Decimal


def txn(txn_id: str, kind: str = "capture", parent: str | None = None,
        amount: str | None = None) -> dict[str, object]:
    doc: dict[str, object] = {"txn_id": txn_id, "txn_type": kind}
    if parent:
        doc["parent_txn_id"] = parent
    if amount:
        doc["amount"] = D(amount)
    return doc


def line(note: str, amount: str, line_id: int = 1) -> dict[str, object]:
    return {"Id": line_id, "Note": note, "Amount": D(amount)}


def test_captures_skip_voids_and_authorisations_and_share_amount_paid() -> None:
    txns = [txn("a", "authorization"), txn("c1", amount="10.00"), txn("c2"), txn("c3"),
            txn("v", "void", parent="c3")]
    assert captures(txns, D("25.00")) == [Capture("c1", D("10.00")), Capture("c2", D("15.00"))]


def test_amount_from_additional_information() -> None:
    doc = {"txn_id": "c", "txn_type": "capture", "additional_information": ["amount=12.34"]}
    assert captures([doc], D("99")) == [Capture("c", D("12.34"))]


def test_each_reason() -> None:
    caps = [Capture("paid", D("10.00")), Capture("short", D("5.00")), Capture("none", D("3"))]
    lines = [line("Magento braintree txn paid", "10.00", 1),
             line("txn short", "4.99", 2), line("by hand", "7.00", 3),
             line("store_credit:000000001", "2.00", 4)]
    reasons = [(d.reason, d.txn_id) for d in compare(caps, lines, ["store_credit:000000001"])]
    assert reasons == [("amount_differs", "short"), ("missing_payment", "none"),
                       ("unknown_transaction", "kashflow-line:3")]
    assert [d.reason for d in compare(caps, None)] == ["payment_without_invoice"] * 3
    assert compare([Capture("paid", D("10.00"))], [line("txn paid", "10.00")]) == []
