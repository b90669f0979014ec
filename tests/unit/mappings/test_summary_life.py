"""A summarised order's later life, pure: what a later capture or a cancellation adds to its
summaries (``mappings.summary_life``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kfsync.samples import Buyer, Line, make_order
from mappings.magento import parse_order
from mappings.money import ZERO
from mappings.rules import Rules, parse_rules
from mappings.summary import CREDIT, INVOICE, order_part
from mappings.summary_life import (
    CANCEL,
    CAPTURE,
    cancel_part,
    capture_delta,
    capture_key,
    summary_gap,
)

BUYER = Buyer("lia.life@example.com", "Lia", "Life")
RULES: Rules = parse_rules({"summary": {"stores": ["*"]}})


def _doc(paid: Decimal | None = None, **kw: Any) -> dict[str, Any]:
    doc = make_order(501, BUYER, [Line("MUG", "Mug", Decimal("3.33"), 3, Decimal(5)),
                                  Line("BOOK", "Book", Decimal("7.33"), 1, Decimal(0))],
                     method="stripe_payments", **kw)
    if paid is not None:
        doc["total_paid"] = doc["base_total_paid"] = paid
        doc["payment"].update(amount_paid=paid, base_amount_paid=paid,
                              last_trans_id=f"cap-{paid}")
    return doc


def _booked(doc: dict[str, Any], **extra: Any) -> dict[str, Any]:
    part = order_part(parse_order(doc), RULES)
    paid = sum((p.amount for p in part.payments), ZERO)
    return {"kind": INVOICE, "gross": str(part.gross), "paid": str(paid), **extra}


def test_a_paid_order_as_booked_has_no_gap() -> None:
    """The summaries' payments at booking are what Magento captured: no re-open, ever, for
    an order paid at checkout (a replay books nothing)."""
    doc = _doc()
    assert summary_gap(parse_order(doc), RULES, _booked(doc)) is None


@settings(max_examples=60, deadline=None)
@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("23.81"), places=2))
def test_a_capture_after_booking_is_the_difference_once(first: Decimal) -> None:
    authorised = _doc(paid=Decimal(0))
    booked = _booked(authorised)
    assert Decimal(booked["paid"]) == 0
    total = Decimal(str(authorised["grand_total"]))
    assert total == Decimal("23.82")
    part = _doc(paid=first)
    gap = summary_gap(parse_order(part), RULES, booked)
    assert gap is not None and gap[0] == CAPTURE
    [more] = capture_delta(parse_order(part), RULES, {})
    assert more.amount == first and more.magento_method == "stripe_payments"
    # booked: the rest only, under a new key
    whole = _doc(paid=total)
    [rest] = capture_delta(parse_order(whole), RULES, {"stripe_payments": first})
    assert rest.amount == total - first
    assert capture_key("501", parse_order(part), RULES) != capture_key(
        "501", parse_order(whole), RULES)
    assert summary_gap(parse_order(whole), RULES, {**booked, "paid": str(total)}) is None
    assert capture_delta(parse_order(whole), RULES, {"stripe_payments": total}) == ()


def test_a_cancellation_with_nothing_captured_is_credited_whole() -> None:
    doc = _doc(paid=Decimal(0))
    booked = _booked(doc)
    doc.update(state="canceled", status="canceled", total_canceled=doc["grand_total"])
    assert summary_gap(parse_order(doc), RULES, booked) == (
        CANCEL, "canceled in Magento after it was summarised, nothing captured")
    assert summary_gap(parse_order(doc), RULES, {**booked, "cancelled": True}) is None
    part = order_part(parse_order(_doc(paid=Decimal(0))), RULES)
    credit = cancel_part(part.to_json())
    assert credit.gross == part.gross and credit.payments == ()


@pytest.mark.parametrize("booked", [{"kind": CREDIT}, {"kind": INVOICE, "gross": "10"}])
def test_captured_cancellations_and_credit_memos_are_left_alone(booked: dict[str, Any]
                                                                ) -> None:
    doc = _doc()  # paid in full
    doc.update(state="canceled", status="canceled")
    assert summary_gap(parse_order(doc), RULES, booked) is None
