"""Refunds on real parts: credit memo -> KashFlow credit note (+ refund payment when online),
checked the way an accountant would in the KashFlow sandbox."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kfsync.samples import Buyer, Line, make_creditmemo, make_order
from store.models import JobState
from tests.integration.conftest import Stack
from tests.integration.helpers import forget, job_of, seed, send_event, wait_job

pytestmark = pytest.mark.integration

BUYER = Buyer("rob.refund@example.com", "Rob", "Refund", customer_id=4001)
LINES = [Line("TSHIRT", "T-shirt", Decimal("12.50"), 2),
         Line("BOOK", "Book", Decimal("9.99"), 1, vat=Decimal(0))]


def _invoiced_order(stack: Stack, entity_id: int) -> dict[str, Any]:
    order = make_order(entity_id, BUYER, LINES)  # grand total 45.99, paid by card
    stack.seed_order(order)
    stack.send(order)
    assert stack.wait_settled(entity_id).state == JobState.DONE
    return order


def _refund(stack: Stack, memo: dict[str, Any], *states: str) -> None:
    seed(stack, "creditmemos", memo)
    send_event(stack, "creditmemo.created", "creditmemo", memo["entity_id"],
               memo["increment_id"])
    job = wait_job(stack, "creditmemo", memo["entity_id"], *states)
    assert job.state in (states or (JobState.DONE,)), job.reason


def _note(stack: Stack, memo: dict[str, Any]) -> dict[str, Any]:
    [note] = [i for i in stack.invoices() if i["CustomerReference"] == f"CM-{memo['increment_id']}"]
    return note


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def test_full_online_refund_is_a_credit_note_with_the_money_returned(stack: Stack) -> None:
    order = _invoiced_order(stack, 4101)
    memo = make_creditmemo(4111, order, {"TSHIRT": 2, "BOOK": 1}, shipping=Decimal(5),
                           transaction_id="re_4111")
    assert memo["grand_total"] == order["grand_total"] == Decimal("45.99")
    _refund(stack, memo)
    [invoice] = [i for i in stack.invoices() if i["CustomerReference"] == order["increment_id"]]
    note = _note(stack, memo)
    assert note["Number"] == 900004111 and note["CustomerCode"] == invoice["CustomerCode"]
    assert _money(note["GrossAmount"]) == Decimal("-45.99")
    assert _money(note["VATAmount"]) == -(_money(invoice["VATAmount"]))
    assert all(_money(line["Quantity"]) < 0 for line in note["LineItems"])
    [refund] = note["PaymentLines"]
    assert _money(refund["Amount"]) == Decimal("-45.99") and "re_4111" in refund["Note"]
    assert note["Status"] == "Paid"
    assert len(invoice["PaymentLines"]) == 1  # the sale's payment is untouched


def test_partial_offline_refund_with_an_adjustment_fee(stack: Stack) -> None:
    order = _invoiced_order(stack, 4201)
    memo = make_creditmemo(4211, order, {"TSHIRT": 1}, adjustment_negative=Decimal("2.00"))
    assert memo["grand_total"] == Decimal("13.00")  # 12.50 + 2.50 VAT - 2.00 fee
    _refund(stack, memo)
    note = _note(stack, memo)
    assert _money(note["GrossAmount"]) == Decimal("-13.00")
    assert _money(note["NetAmount"]) == Decimal("-10.50")
    assert _money(note["VATAmount"]) == Decimal("-2.50")
    assert note["PaymentLines"] in ([], None) and note["Status"] == "Unpaid"


def test_two_successive_partial_refunds_are_two_credit_notes(stack: Stack) -> None:
    order = _invoiced_order(stack, 4301)
    first = make_creditmemo(4311, order, {"TSHIRT": 1}, transaction_id="re_4311")
    second = make_creditmemo(4312, order, {"TSHIRT": 1, "BOOK": 1}, shipping=Decimal(5),
                             adjustment_positive=Decimal("1.00"), transaction_id="re_4312",
                             created_at="2026-11-26 10:00:00")
    _refund(stack, first)
    _refund(stack, second)
    for memo in (first, second):
        note = _note(stack, memo)
        assert _money(note["GrossAmount"]) == -memo["grand_total"]
        [refund] = note["PaymentLines"]
        assert _money(refund["Amount"]) == -memo["grand_total"]
        assert memo["transaction_id"] in refund["Note"]
    assert first["grand_total"] + second["grand_total"] == Decimal("46.99")


def test_a_refund_before_its_invoice_waits_then_is_credited(stack: Stack) -> None:
    order = make_order(4401, BUYER, LINES)
    stack.seed_order(order)  # in Magento, but not synced yet (its webhook is late)
    memo = make_creditmemo(4411, order, {"BOOK": 1}, transaction_id="re_4411")
    _refund(stack, memo, JobState.WAITING)
    assert stack.invoices() == []
    stack.send(order)
    wait_job(stack, "creditmemo", 4411, JobState.DONE)
    note = _note(stack, memo)
    assert _money(note["GrossAmount"]) == Decimal("-9.99")
    assert [_money(p["Amount"]) for p in note["PaymentLines"]] == [Decimal("-9.99")]


def test_a_repeated_credit_memo_event_posts_nothing_twice(stack: Stack) -> None:
    order = _invoiced_order(stack, 4501)
    memo = make_creditmemo(4511, order, {"TSHIRT": 2}, transaction_id="re_4511")
    _refund(stack, memo)
    send_event(stack, "creditmemo.created", "creditmemo", 4511, memo["increment_id"])
    stack.wait_until(lambda: stack.events_pending() == 0, "the repeat to be processed")
    note = _note(stack, memo)
    assert len(note["PaymentLines"]) == 1
    assert len([i for i in stack.invoices() if i["Number"] == 900004511]) == 1


def test_the_catch_up_poll_credits_a_memo_no_webhook_announced(stack: Stack) -> None:
    from datetime import UTC, datetime, timedelta

    from workers.app import celery_app

    order = _invoiced_order(stack, 4601)
    stamp = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
    memo = make_creditmemo(4611, order, {"BOOK": 1}, created_at=stamp)
    seed(stack, "creditmemos", memo)  # ... and no webhook at all
    celery_app.send_task("kfsync.maintenance.catch_up")
    stack.wait_until(lambda: job_of(stack, "creditmemo", 4611) is not None,
                     "the poll to find the credit memo")
    wait_job(stack, "creditmemo", 4611, JobState.DONE)
    assert _money(_note(stack, memo)["GrossAmount"]) == Decimal("-9.99")


def test_a_credit_note_kashflow_holds_already_is_adopted_and_refunded_once(
        stack: Stack) -> None:
    """The credit memo comes again after kfsync lost its database: its credit note is adopted
    (the number is its own) and the refund on it is found, not posted a second time."""
    order = _invoiced_order(stack, 4901)
    memo = make_creditmemo(4911, order, {"TSHIRT": 1}, transaction_id="re_4911")
    _refund(stack, memo)
    forget(stack, "creditmemo", 4911)
    _refund(stack, memo)
    note = _note(stack, memo)
    [refund] = note["PaymentLines"]
    assert _money(refund["Amount"]) == -memo["grand_total"] and "re_4911" in refund["Note"]
    assert _money(note["GrossAmount"]) == -memo["grand_total"]
