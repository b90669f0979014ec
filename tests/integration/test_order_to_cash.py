"""Order to cash on real parts: webhook -> worker -> KashFlow sandbox, checked in KashFlow."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kfsync.samples import Buyer, Line, make_order
from store.models import JobState, Step
from tests.integration.conftest import Stack
from tests.integration.helpers import forget

pytestmark = pytest.mark.integration

ANN = Buyer("ann.lee@example.com", "Ann", "Lee", customer_id=501)
GUEST = Buyer("Guest.Shopper@Example.com ", "Gus", "Guest")


def paid_order(entity_id: int, buyer: Buyer = GUEST, **kw: object) -> dict[str, object]:
    lines = [Line("TSHIRT", "T-shirt", Decimal("12.50"), 2),
             Line("BOOK", "Book", Decimal("9.99"), 1, vat=Decimal(0))]
    return make_order(entity_id, buyer, lines, **kw)  # type: ignore[arg-type]


def test_paid_order_becomes_one_invoice_with_its_payment(stack: Stack) -> None:
    order = paid_order(2001)
    stack.seed_order(order)
    assert stack.send(order) == 202
    job = stack.wait_settled(2001)
    assert job.state == JobState.DONE, job.reason
    [invoice] = stack.invoices()
    assert invoice["CustomerReference"] == order["increment_id"]
    assert Decimal(str(invoice["GrossAmount"])) == order["grand_total"] == Decimal("45.99")
    [payment] = invoice["PaymentLines"]
    assert Decimal(str(payment["Amount"])) == Decimal("45.99")
    assert "txn-2001-a1b2" in payment["Note"]
    assert invoice["Status"] == "Paid"
    assert [a.outcome for a in stack.attempts(2001)] == ["ok", "ok", "ok"]


def test_five_deliveries_and_a_replay_leave_one_customer_invoice_and_payment(
        stack: Stack) -> None:
    order = paid_order(2002, ANN)
    stack.seed_order(order)
    codes = [stack.send(order, event_id="evt-2002") for _ in range(5)]
    assert codes == [202, 200, 200, 200, 200]
    for _ in range(3):  # the same change announced again under new event ids
        stack.send(order, topic="order.updated")
    stack.wait_settled(2002)
    replay = stack.cli("replay", "order", str(order["increment_id"]))
    assert replay.returncode == 0, replay.stderr
    job = stack.wait_settled(2002)
    assert job.state == JobState.DONE
    kashflow = stack.kashflow()
    assert len(kashflow["customers"]) == 1
    [invoice] = kashflow["invoices"]
    assert len(invoice["PaymentLines"]) == 1


def test_offline_payment_method_leaves_the_invoice_unpaid(stack: Stack) -> None:
    order = paid_order(2003, method="checkmo")
    stack.seed_order(order)
    stack.send(order)
    job = stack.wait_settled(2003)
    assert job.state == JobState.DONE and job.step == Step.DONE
    [invoice] = stack.invoices()
    assert invoice["PaymentLines"] in ([], None)
    assert invoice["Status"] == "Unpaid"


def test_pending_payment_waits_and_is_invoiced_when_it_moves_on(stack: Stack) -> None:
    order = paid_order(2004, state="pending_payment")
    stack.seed_order(order)
    stack.send(order)
    job = stack.wait_settled(2004)
    assert job.state == JobState.WAITING and job.reason
    assert stack.invoices() == []
    stack.seed_order(paid_order(2004))  # the payment arrived: Magento moved it to processing
    stack.send(order, topic="order.updated")
    stack.wait_until(lambda: getattr(stack.job(2004), "state", None) == JobState.DONE,
                     "the waiting order to be invoiced")
    assert len(stack.invoices()) == 1


def test_repeat_customer_is_one_kashflow_customer(stack: Stack) -> None:
    first, second = paid_order(2005, ANN), paid_order(2006, ANN)
    for order in (first, second):
        stack.seed_order(order)
        stack.send(order)
        stack.wait_settled(int(order["entity_id"]))  # type: ignore[call-overload]
    kashflow = stack.kashflow()
    assert len(kashflow["customers"]) == 1
    assert {i["CustomerCode"] for i in kashflow["invoices"]} == {kashflow["customers"][0]["Code"]}


def test_customer_made_by_hand_in_kashflow_is_matched_by_email(stack: Stack) -> None:
    import requests

    requests.post(f"{stack.servers.kashflow_control}/customers", timeout=5, json={
        "Code": "HAND01", "Name": "Guest Shopper", "Email": "guest.shopper@example.com",
    }).raise_for_status()
    order = paid_order(2007)
    stack.seed_order(order)
    stack.send(order)
    job = stack.wait_settled(2007)
    assert job.state == JobState.DONE and job.customer_code == "HAND01"
    assert len(stack.kashflow()["customers"]) == 1


def test_a_5xx_on_the_invoice_write_is_checked_before_writing_again(stack: Stack) -> None:
    stack.fault("kashflow", method="POST", path="/invoices", kind="status", status=503, count=1)
    order = paid_order(2008)
    stack.seed_order(order)
    stack.send(order)
    job = stack.wait_settled(2008)
    assert job.state == JobState.DONE, job.reason
    assert len(stack.invoices()) == 1
    outcomes = [(a.step, a.outcome) for a in stack.attempts(2008)]
    assert ("create_invoice", "ambiguous") in outcomes


@pytest.mark.parametrize(("path", "then"), [("/invoices/bulk/payments", "status"),
                                            ("/invoices", "drop"),
                                            ("/customers", "status")])
def test_a_write_that_landed_but_failed_to_answer_is_adopted_not_repeated(
        stack: Stack, path: str, then: str) -> None:
    stack.fault("kashflow", method="POST", path=path, kind="ambiguous", then=then, count=1)
    order = paid_order(2009)
    stack.seed_order(order)
    stack.send(order)
    job = stack.wait_settled(2009)
    assert job.state == JobState.DONE, job.reason
    kashflow = stack.kashflow()
    assert len(kashflow["customers"]) == 1
    [invoice] = kashflow["invoices"]
    assert len(invoice["PaymentLines"]) == 1
    assert Decimal(str(invoice["TotalPaidAmount"])) == order["grand_total"]


def test_an_expired_kashflow_session_logs_in_once_more(stack: Stack) -> None:
    import requests

    warm = paid_order(2010)
    stack.seed_order(warm)
    stack.send(warm)
    stack.wait_settled(2010)
    requests.post(f"{stack.servers.kashflow_control}/expire-sessions", timeout=5)
    order = paid_order(2011, ANN)
    stack.seed_order(order)
    stack.send(order)
    job = stack.wait_settled(2011)
    assert job.state == JobState.DONE, job.reason
    assert len(stack.invoices()) == 2


def test_exhausted_retries_become_a_dead_letter(stack: Stack) -> None:
    stack.fault("kashflow", method="POST", path="/customers", kind="status", status=503,
                count=None)
    stack.fault("kashflow", method="GET", path="/customers", kind="status", status=503,
                count=None)
    order = paid_order(2012)
    stack.seed_order(order)
    stack.send(order)
    job = stack.wait_settled(2012, timeout=60)
    assert job.state == JobState.DEAD
    [letter] = stack.dead_letters()
    assert (letter.step, letter.error_class) == ("ensure_customer", "transient")
    assert letter.payload_ref == f"sync_jobs/{job.id}"
    assert stack.parked_letters() == [letter.id]
    assert stack.invoices() == []


def test_an_order_kashflow_cannot_take_goes_to_review_with_a_reason(stack: Stack) -> None:
    order = paid_order(2013)
    order["increment_id"] = "000002013-1"  # an edited order: not handled in this version
    stack.seed_order(order)
    stack.send(order)
    job = stack.wait_settled(2013)
    assert job.state == JobState.NEEDS_REVIEW
    assert job.reason and "000002013-1" in job.reason
    assert stack.invoices() == []


def test_a_repeat_customers_order_makes_two_kashflow_calls(stack: Stack) -> None:
    import requests

    first, second = paid_order(2014, ANN), paid_order(2015, ANN)
    stack.seed_order(first)
    stack.send(first)
    assert stack.wait_settled(2014).state == JobState.DONE
    requests.delete(f"{stack.servers.kashflow_control}/calls", timeout=5).raise_for_status()
    stack.seed_order(second)
    stack.send(second)
    job = stack.wait_settled(2015)
    assert job.state == JobState.DONE, job.reason
    calls = requests.get(f"{stack.servers.kashflow_control}/calls", timeout=5).json()
    assert calls["calls"] == {"POST /invoices": 1, "POST /invoices/bulk/payments": 1}
    # ensure_customer was answered by the stored link, recorded like any step.
    assert [(a.step, a.outcome) for a in stack.attempts(2015)] == [
        ("ensure_customer", "ok"), ("create_invoice", "ok"), ("post_payment", "ok")]


def test_a_failed_in_process_step_is_retried_at_that_step(stack: Stack) -> None:
    # The payment runs in-process after the invoice; its 503 retries the payment only, once.
    stack.fault("kashflow", method="POST", path="/invoices/bulk/payments", kind="status",
                status=503, count=1)
    order = paid_order(2016)
    stack.seed_order(order)
    stack.send(order)
    job = stack.wait_settled(2016)
    assert job.state == JobState.DONE, job.reason
    [invoice] = stack.invoices()
    assert len(invoice["PaymentLines"]) == 1
    assert [(a.step, a.outcome) for a in stack.attempts(2016)] == [
        ("ensure_customer", "ok"), ("create_invoice", "ok"), ("post_payment", "ambiguous"),
        ("post_payment", "ok")]


def test_a_worker_killed_mid_order_finishes_it_once_on_redelivery(stack: Stack) -> None:
    # The order runs in one process_event task. Its pool child dies while KashFlow is still
    # answering the invoice write; the redelivered task carries on at that step under the
    # job's lease, looks the invoice up (its attempt was left "started") and adopts it.
    import os
    import signal

    from celery import Celery

    stack.fault("kashflow", method="POST", path="/invoices", kind="latency", ms=3000, count=1)
    order = paid_order(2017)
    stack.seed_order(order)
    stack.send(order)
    stack.wait_until(lambda: ("create_invoice", "started") in
                     [(a.step, a.outcome) for a in stack.attempts(2017)], "the invoice write")
    job = stack.job(2017)
    assert job is not None and job.lease_task
    inspector = Celery(broker=stack.env["KFSYNC_REDIS_URL"])  # its own broker connections
    try:
        active = inspector.control.inspect().active() or {}
    finally:
        inspector.close()
    [pid] = [task["worker_pid"] for tasks in active.values() for task in tasks
             if task["id"] == job.lease_task]
    os.kill(pid, signal.SIGKILL)
    job = stack.wait_settled(2017)
    assert job.state == JobState.DONE, job.reason
    [invoice] = stack.invoices()
    assert len(invoice["PaymentLines"]) == 1
    assert Decimal(str(invoice["TotalPaidAmount"])) == order["grand_total"]
    assert [(a.step, a.outcome) for a in stack.attempts(2017)] == [
        ("ensure_customer", "ok"), ("create_invoice", "started"), ("create_invoice", "ok"),
        ("post_payment", "ok")]


def test_an_invoice_kashflow_holds_already_is_adopted_with_its_payment_not_paid_twice(
        stack: Stack) -> None:
    """kfsync moved to a new database and a backfill sends an order it had synced before:
    KashFlow refuses the invoice number as taken by that order's own invoice, which kfsync
    adopts; the payment on it is found, not posted a second time."""
    order = paid_order(2031)
    stack.seed_order(order)
    stack.send(order)
    assert stack.wait_settled(2031).state == JobState.DONE
    forget(stack, "order", 2031)
    stack.send(order)
    job = stack.wait_settled(2031)
    assert job.state == JobState.DONE, job.reason
    [invoice] = stack.invoices()
    assert len(invoice["PaymentLines"]) == 1
    assert Decimal(str(invoice["TotalPaidAmount"])) == order["grand_total"]
    assert invoice["Status"] == "Paid"


def test_an_invoice_number_another_document_holds_is_left_alone(stack: Stack) -> None:
    """The order's invoice number is taken in KashFlow by another document (typed in by hand):
    the order goes to review saying so, and that document is not touched."""
    import requests

    from services.clients import kashflow_client

    requests.post(f"{stack.servers.kashflow_control}/customers", timeout=5,
                  json={"Code": "HAND01", "Name": "Typed by hand"}).raise_for_status()
    kashflow_client(stack.settings).create_invoice({
        "Number": 2032, "CustomerCode": "HAND01", "CustomerReference": "by hand",
        "IssuedDate": "2026-11-24 10:00:00", "DueDate": "2026-12-24 10:00:00",
        "LineItems": [{"Description": "Consulting", "Quantity": 1, "Rate": 100,
                       "VATLevel": 0, "NominalCode": 4000}]})
    order = paid_order(2032)
    stack.seed_order(order)
    stack.send(order)
    job = stack.wait_settled(2032)
    assert job.state == JobState.NEEDS_REVIEW
    assert job.reason and "invoice number 2032 is already used by another document" in job.reason
    [invoice] = stack.invoices()
    assert invoice["CustomerReference"] == "by hand"
    assert Decimal(str(invoice["GrossAmount"])) == Decimal(100)
    assert invoice["PaymentLines"] == []
