"""The whole life of an order on real parts (issue 20): late and partial captures, the same
events twice and a worker killed mid-capture, cancellation after the invoice, an edit. Each
test asserts what the KashFlow sandbox holds, to the penny."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis

from kfsync.samples import Buyer, Line, make_order
from services.clients import kashflow_client
from store.db import session_scope
from store.links import add_links
from store.models import JobState, Step
from store.reconcile_models import ItemStatus, ReconciliationItem
from tests.integration.conftest import INTEGRATION_REDIS_URL, Stack, replace_worker
from tests.integration.helpers import running_at, seed, send_event

pytestmark = pytest.mark.integration

BUYER = Buyer("life@example.com", "Lia", "Ferraz")


def authorised(entity_id: int, **kw: Any) -> dict[str, Any]:
    """An order whose gateway only authorised at checkout: processing, nothing paid."""
    order = make_order(entity_id, BUYER, [Line("MUG", "Mug", Decimal("7.99"), 3),
                                          Line("BOOK", "Book", Decimal("9.99"), 1,
                                               vat=Decimal(0))], **kw)
    order["total_paid"] = order["base_total_paid"] = Decimal(0)
    order["total_invoiced"] = order["base_total_invoiced"] = Decimal(0)
    order["payment"] = {"method": "braintree", "amount_ordered": order["grand_total"],
                        "amount_paid": Decimal(0), "base_amount_paid": Decimal(0)}
    return order


def capture(stack: Stack, order: dict[str, Any], invoice_id: int, amount: Decimal,
            txn: str) -> None:
    """Magento captures ``amount``: a paid invoice with its transaction, the order's totals."""
    seed(stack, "invoices", {
        "entity_id": invoice_id, "increment_id": f"{invoice_id:09d}",
        "order_id": order["entity_id"], "state": 2, "grand_total": amount,
        "base_grand_total": amount, "transaction_id": txn,
        "created_at": "2026-11-26 09:00:00", "updated_at": "2026-11-26 09:00:00"})
    paid = Decimal(order["total_paid"]) + amount
    order["total_paid"] = order["base_total_paid"] = paid
    order["total_invoiced"] = order["base_total_invoiced"] = paid
    order["payment"].update(amount_paid=paid, base_amount_paid=paid, last_trans_id=txn)
    order["updated_at"] = f"2026-11-26 09:00:{invoice_id % 60:02d}"
    stack.seed_order(order)


def kf_invoice(stack: Stack, reference: str) -> dict[str, Any]:
    [found] = [i for i in stack.invoices() if i["CustomerReference"] == reference]
    return found


def payments(stack: Stack, reference: str) -> list[tuple[Decimal, str]]:
    return sorted((Decimal(str(p["Amount"])), str(p["Note"]))
                  for p in kf_invoice(stack, reference).get("PaymentLines") or [])


def wait_for(stack: Stack, what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    try:
        stack.wait_until(lambda: stack.events_pending() == 0 and check(), what, timeout)
    except AssertionError as exc:  # say where the order stood, for whoever reads the failure
        raise AssertionError(f"{exc}\n{stack.describe()}") from None


def settled_done(stack: Stack, entity_id: int) -> bool:
    job = stack.job(entity_id)
    return job is not None and job.state == JobState.DONE


def test_authorise_only_is_invoiced_unpaid_and_the_later_capture_paid_once(
        stack: Stack) -> None:
    order = authorised(2601)
    stack.seed_order(order)
    stack.send(order)
    job = stack.wait_settled(2601)
    assert job.state == JobState.DONE and job.step == Step.DONE, job.reason
    invoice = kf_invoice(stack, "000002601")
    total = Decimal(order["grand_total"])
    assert Decimal(str(invoice["GrossAmount"])) == total == Decimal("44.75")
    assert invoice["Status"] == "Unpaid" and not invoice.get("PaymentLines")

    capture(stack, order, 7601, total, "cap-2601")  # shipped: the gateway captures
    send_event(stack, "invoice.created", "invoice", 7601)
    wait_for(stack, "the capture", lambda: len(payments(stack, "000002601")) == 1
             and settled_done(stack, 2601))
    for topic, kind, key in (("invoice.created", "invoice", 7601),
                             ("order.updated", "order", 2601)):  # the same news again
        send_event(stack, topic, kind, key)
    wait_for(stack, "the repeats", lambda: settled_done(stack, 2601))
    assert payments(stack, "000002601") == [(total, "Magento braintree txn cap-2601")]
    assert kf_invoice(stack, "000002601")["Status"] == "Paid"
    job = stack.job(2601)
    assert job is not None and [e["doc"] for e in job.plan["ledger"]] == ["invoice", "payment"]


def test_two_partial_captures_are_two_payments_summing_to_the_total(stack: Stack) -> None:
    order = authorised(2602)
    stack.seed_order(order)
    stack.send(order)
    stack.wait_settled(2602)
    total = Decimal(order["grand_total"])
    capture(stack, order, 7602, Decimal("10.00"), "cap-2602-a")
    stack.send(order, topic="order.updated")
    wait_for(stack, "the first capture", lambda: len(payments(stack, "000002602")) == 1
             and settled_done(stack, 2602))
    assert kf_invoice(stack, "000002602")["Status"] == "PartiallyPaid"
    capture(stack, order, 7603, total - Decimal("10.00"), "cap-2602-b")
    send_event(stack, "invoice.created", "invoice", 7603)
    wait_for(stack, "the second capture", lambda: len(payments(stack, "000002602")) == 2
             and settled_done(stack, 2602))
    assert payments(stack, "000002602") == [
        (Decimal("10.00"), "Magento braintree txn cap-2602-a"),
        (total - Decimal("10.00"), "Magento braintree txn cap-2602-b")]
    assert sum(p for p, _ in payments(stack, "000002602")) == total
    assert kf_invoice(stack, "000002602")["Status"] == "Paid"


def test_repeated_events_and_a_worker_killed_mid_capture_still_post_one_payment_each(
        stack: Stack, tmp_path: Path) -> None:
    beat = subprocess.Popen([sys.executable, "-m", "kfsync", "beat", "--loglevel", "WARNING"],
                            env=stack.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        order = authorised(2603)
        stack.seed_order(order)
        stack.send(order)
        stack.wait_settled(2603)
        total = Decimal(order["grand_total"])
        # KashFlow holds its answer to the payment write; the worker dies while it waits.
        stack.fault("kashflow", method="POST", path="/invoices/bulk/payments", kind="latency",
                    ms=3000, count=1)
        capture(stack, order, 7604, Decimal("20.00"), "cap-2603-a")
        stack.send(order, topic="order.updated")
        stack.wait_until(lambda: ("post_payment", "started") in
                         [(a.step, a.outcome) for a in stack.attempts(2603)],
                         "the capture's payment write")
        replace_worker(stack, tmp_path / "worker.log")
        stack.send(order, topic="order.updated")  # the same news again, to the new worker
        wait_for(stack, "the capture after the kill", lambda: settled_done(stack, 2603)
                 and len(payments(stack, "000002603")) == 1, timeout=150)
        capture(stack, order, 7605, total - Decimal("20.00"), "cap-2603-b")
        for _ in range(2):
            send_event(stack, "invoice.created", "invoice", 7605)
            stack.send(order, topic="order.updated")
        wait_for(stack, "the second capture", lambda: settled_done(stack, 2603)
                 and len(payments(stack, "000002603")) == 2)
    finally:
        beat.terminate()
        beat.wait(timeout=20)
    assert payments(stack, "000002603") == [
        (Decimal("20.00"), "Magento braintree txn cap-2603-a"),
        (Decimal("24.75"), "Magento braintree txn cap-2603-b")]
    assert kf_invoice(stack, "000002603")["Status"] == "Paid"
    tries = [o for s, o in ((a.step, a.outcome) for a in stack.attempts(2603))
             if s == "post_payment"]
    assert "started" in tries and tries[-1] == "ok", tries  # the killed attempt, then done


@pytest.mark.parametrize(("entity_id", "recorded"), [(2606, "linked"), (2616, "posting")])
def test_a_capture_the_reconciliation_queue_posted_is_adopted_not_posted_again(
        stack: Stack, entity_id: int, recorded: str) -> None:
    """The capture's webhook was lost, so the daily reconciliation found it missing and an
    operator posted it from the queue (a payment named by its transaction, then its link;
    ``posting``: the queue's worker stopped before it stored the link); when the order's
    update arrives after all, its job adopts that payment."""
    order = authorised(entity_id)
    ref, txn = f"{entity_id:09d}", f"cap-{entity_id}"
    stack.seed_order(order)
    stack.send(order)
    stack.wait_settled(entity_id)
    total = Decimal(order["grand_total"])
    number = int(kf_invoice(stack, ref)["Number"])
    kashflow = kashflow_client(stack.settings)
    [account] = [a for a in kashflow.bank_accounts() if a["AccountName"] == "Current Account"]
    [method] = [m for m in kashflow.invoice_payment_methods()
                if m["Name"] == "Credit/Debit Card"]
    kashflow.post_invoice_payment(  # as workers.reconcile_queue posts it
        date="2026-11-26 09:30:00", account_id=int(account["Id"]), method=int(method["Id"]),
        comment=f"Magento braintree txn {txn} (reconciliation 9)", items=[(number, total)])
    with session_scope(stack.db_url) as s:
        if recorded == "linked":
            add_links(s, [("payment", f"txn:{txn}", str(number))])
        else:
            s.add(ReconciliationItem(
                fingerprint=f"missing_payment:{entity_id}:{txn}", day=date(2026, 11, 26),
                reason="missing_payment", status=ItemStatus.POSTING, order_key=str(entity_id),
                order_ref=ref, payment_method="braintree", txn_id=txn, invoice_number=number,
                magento_amount=total, kashflow_amount=Decimal(0), post_attempts=1))
    capture(stack, order, entity_id + 5000, total, txn)
    stack.send(order, topic="order.updated")
    wait_for(stack, "the update", lambda: settled_done(stack, entity_id)
             and len((stack.job(entity_id).plan or {}).get("ledger") or []) == 2)  # type: ignore[union-attr]
    assert payments(stack, ref) == [(total, f"Magento braintree txn {txn} (reconciliation 9)")]
    assert kf_invoice(stack, ref)["Status"] == "Paid"


def test_a_late_capture_waits_while_another_process_writes_on_the_invoice(
        stack: Stack) -> None:
    """A reconciliation post is writing on the invoice's payments (it holds their lock) when
    the capture's news re-opens the order: its payment step waits instead of looking and
    writing at the same moment, then posts the capture once."""
    order = authorised(2620)
    ref, total = "000002620", Decimal(order["grand_total"])
    stack.seed_order(order)
    stack.send(order)
    assert stack.wait_settled(2620).state == JobState.DONE
    number = int(kf_invoice(stack, ref)["Number"])
    busy = redis.Redis.from_url(INTEGRATION_REDIS_URL).lock(f"kfsync:lock:payments:{number}",
                                                            timeout=60)
    assert busy.acquire(blocking=False)
    try:
        capture(stack, order, 7620, total, "cap-2620")
        send_event(stack, "invoice.created", "invoice", 7620)
        stack.wait_until(running_at(stack, 2620, Step.POST_PAYMENT),
                         "the re-opened order's payment step")
        time.sleep(2)
        assert payments(stack, ref) == []  # it waits for the lock; nothing written meanwhile
    finally:
        busy.release()
    wait_for(stack, "the capture", lambda: settled_done(stack, 2620))
    assert payments(stack, ref) == [(total, "Magento braintree txn cap-2620")]


def test_cancel_after_invoice_is_one_cx_credit_note_for_the_uncaptured_amount(
        stack: Stack) -> None:
    order = authorised(2604)
    stack.seed_order(order)
    stack.send(order)
    stack.wait_settled(2604)
    total = Decimal(order["grand_total"])
    capture(stack, order, 7606, Decimal("10.00"), "cap-2604")
    stack.send(order, topic="order.updated")
    wait_for(stack, "the capture", lambda: len(payments(stack, "000002604")) == 1
             and settled_done(stack, 2604))
    order.update(state="canceled", status="canceled", total_canceled=total - Decimal(10),
                 updated_at="2026-11-27 10:00:00")
    stack.seed_order(order)
    for _ in range(2):
        stack.send(order, topic="order.updated")
    wait_for(stack, "the credit note", lambda: settled_done(stack, 2604) and any(
        i["CustomerReference"] == "CX-000002604" for i in stack.invoices()))
    stack.send(order, topic="order.updated")  # once more: nothing new
    stack.wait_settled(2604)
    notes = [i for i in stack.invoices() if str(i["CustomerReference"]).startswith("CX-")]
    assert len(notes) == 1
    [note] = notes
    assert note["CustomerReference"] == "CX-000002604" and note["Number"] == 800002604
    assert Decimal(str(note["GrossAmount"])) == -(total - Decimal(10)) == Decimal("-34.75")
    invoice = kf_invoice(stack, "000002604")
    assert note["CustomerCode"] == invoice["CustomerCode"]
    # What is left standing in KashFlow is what Magento captured, paid.
    assert Decimal(str(invoice["GrossAmount"])) + Decimal(str(note["GrossAmount"])) == \
        sum(p for p, _ in payments(stack, "000002604")) == Decimal("10.00")
    job = stack.job(2604)
    assert job is not None
    assert [e["doc"] for e in job.plan["ledger"]] == ["invoice", "payment", "credit_note"]


def test_a_cancellation_note_whose_answer_was_lost_is_looked_up_not_posted_twice(
        stack: Stack) -> None:
    order = authorised(2610)
    stack.seed_order(order)
    stack.send(order)
    stack.wait_settled(2610)
    # KashFlow stores the CX- note, then answers 500: the write may or may not have landed.
    stack.fault("kashflow", method="POST", path="/invoices", kind="ambiguous", then="status",
                count=1)
    order.update(state="canceled", status="canceled", updated_at="2026-11-27 10:00:00")
    stack.seed_order(order)
    stack.send(order, topic="order.updated")
    wait_for(stack, "the credit note", lambda: settled_done(stack, 2610))
    notes = [i for i in stack.invoices() if i["CustomerReference"] == "CX-000002610"]
    assert len(notes) == 1
    assert Decimal(str(notes[0]["GrossAmount"])) == -Decimal(order["grand_total"])
    tries = [o for s, o in ((a.step, a.outcome) for a in stack.attempts(2610))
             if s == "credit_cancellation"]
    assert tries == ["ambiguous", "ok"], tries


def test_cancellations_go_to_review_when_the_rule_says_so(stack: Stack) -> None:
    from tests.integration.test_mapping_profile import edit

    edit(stack, {"on_cancel_after_invoice": "review"}, "cancellations to a human")
    order = authorised(2611)
    stack.seed_order(order)
    stack.send(order)
    stack.wait_settled(2611)
    order.update(state="canceled", status="canceled", updated_at="2026-11-27 10:00:00")
    stack.seed_order(order)
    stack.send(order, topic="order.updated")
    job = stack.wait_settled(2611)
    assert job.state == JobState.NEEDS_REVIEW and job.step == Step.CREDIT_CANCELLATION
    assert job.reason is not None and "on_cancel_after_invoice: review" in job.reason
    assert "44.75 to credit" in job.reason
    assert not [i for i in stack.invoices() if str(i["CustomerReference"]).startswith("CX-")]


def test_an_order_held_after_its_invoice_and_then_canceled_is_settled_by_its_ledger(
        stack: Stack) -> None:
    order = authorised(2612)
    capture(stack, order, 7612, Decimal("10.00"), "cap-2612")
    stack.fault("kashflow", method="POST", path="/invoices/bulk/payments", kind="status",
                status=400, count=1)  # KashFlow refuses the payment: held for review
    stack.send(order)
    job = stack.wait_settled(2612)
    assert job.state == JobState.NEEDS_REVIEW and job.step == Step.POST_PAYMENT, job.reason
    total = Decimal(order["grand_total"])
    order.update(state="canceled", status="canceled", total_canceled=total - Decimal(10),
                 updated_at="2026-11-27 10:00:00")
    stack.seed_order(order)
    stack.send(order, topic="order.updated")
    wait_for(stack, "the payment and the credit note", lambda: settled_done(stack, 2612))
    assert payments(stack, "000002612") == [(Decimal("10.00"), "Magento braintree txn cap-2612")]
    [note] = [i for i in stack.invoices() if i["CustomerReference"] == "CX-000002612"]
    assert Decimal(str(note["GrossAmount"])) == Decimal(10) - total
    assert [letter.resolved_at is not None for letter in stack.dead_letters()] == [True]


def test_an_edit_credits_the_original_and_invoices_the_new_order_on_its_own(
        stack: Stack) -> None:
    original = make_order(2605, BUYER, [Line("MUG", "Mug", Decimal("7.99"), 2)])
    stack.seed_order(original)
    stack.send(original)
    stack.wait_settled(2605)
    total = Decimal(original["grand_total"])
    assert payments(stack, "000002605") == [(total, "Magento braintree txn txn-2605-a1b2")]
    # The shop edits it: Magento cancels the original and places 000002605-1 in its stead.
    edit = make_order(2606, BUYER, [Line("MUG", "Mug", Decimal("7.99"), 3)])
    edit.update(increment_id="000002605-1", relation_parent_id=2605,
                relation_parent_real_id="000002605")
    original.update(state="canceled", status="canceled", relation_child_id=2606,
                    relation_child_real_id="000002605-1", updated_at="2026-11-24 11:00:00")
    stack.seed_order(original)
    stack.seed_order(edit)
    stack.send(edit)
    wait_for(stack, "the edit and the original's credit note", lambda: settled_done(
        stack, 2606) and settled_done(stack, 2605) and any(
        i["CustomerReference"] == "CX-000002605" for i in stack.invoices()))
    stack.send(original, topic="order.updated")  # the original's own news: nothing new
    stack.wait_settled(2605)
    by_ref: dict[str, list[dict[str, Any]]] = {}
    for doc in stack.invoices():
        by_ref.setdefault(str(doc["CustomerReference"]), []).append(doc)
    assert sorted(by_ref) == ["000002605", "000002605-1", "CX-000002605"]
    [new] = by_ref["000002605-1"]
    assert new["Number"] == 10002605  # a number of its own: the original's is taken
    assert Decimal(str(new["GrossAmount"])) == Decimal(edit["grand_total"])
    assert payments(stack, "000002605-1") == [(Decimal(edit["grand_total"]),
                                               "Magento braintree txn txn-2606-a1b2")]
    [credit] = by_ref["CX-000002605"]
    assert Decimal(str(credit["GrossAmount"])) == -total  # the original credited in full
    # No order with two live invoices: the original nets to nothing; its capture stays on
    # its invoice, an overpayment the operator sees.
    assert Decimal(str(kf_invoice(stack, "000002605")["GrossAmount"])) + \
        Decimal(str(credit["GrossAmount"])) == 0
    assert payments(stack, "000002605") == [(total, "Magento braintree txn txn-2605-a1b2")]
    job = stack.job(2605)
    assert job is not None and job.plan["replaced_by"] == "000002605-1"


# -- history: the catch-up poll and kfsync backfill read captures and credit memos too ------

def test_the_catch_up_poll_posts_a_late_capture_no_webhook_announced(stack: Stack) -> None:
    from datetime import UTC, datetime, timedelta

    from workers.app import celery_app

    order = authorised(2607)
    stack.seed_order(order)
    stack.send(order)
    stack.wait_settled(2607)
    total = Decimal(order["grand_total"])
    capture(stack, order, 7607, total, "cap-2607")  # ... and no webhook at all
    stamp = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
    seed(stack, "invoices", {"entity_id": 7607, "increment_id": "000007607", "order_id": 2607,
                             "state": 2, "grand_total": total, "transaction_id": "cap-2607",
                             "created_at": stamp, "updated_at": stamp})
    celery_app.send_task("kfsync.maintenance.catch_up")
    wait_for(stack, "the poll to post the capture",
             lambda: len(payments(stack, "000002607")) == 1 and settled_done(stack, 2607))
    celery_app.send_task("kfsync.maintenance.catch_up")  # a second pass: nothing new
    wait_for(stack, "the second pass", lambda: settled_done(stack, 2607))
    assert payments(stack, "000002607") == [(total, "Magento braintree txn cap-2607")]


def test_backfill_brings_credit_memos_and_late_captures_of_its_range(stack: Stack) -> None:
    from kfsync.samples import make_creditmemo

    refunded = make_order(2608, BUYER, [Line("BOOK", "Book", Decimal("9.99"), 2, vat=Decimal(0))],
                          created_at="2025-05-10 12:00:00")
    late = authorised(2609, created_at="2025-05-11 12:00:00")
    for doc in (refunded, late):
        stack.seed_order(doc)
    stack.send(late)  # synced live back then: invoiced, unpaid
    stack.wait_settled(2609)
    # What no webhook told kfsync: a refund of the first order and the second's capture.
    seed(stack, "creditmemos", make_creditmemo(8608, refunded, {"BOOK": 1},
                                               created_at="2025-05-20 10:00:00"))
    total = Decimal(late["grand_total"])
    seed(stack, "invoices", {"entity_id": 7609, "increment_id": "000007609", "order_id": 2609,
                             "state": 2, "grand_total": total, "transaction_id": "cap-2609",
                             "created_at": "2025-05-21 10:00:00",
                             "updated_at": "2025-05-21 10:00:00"})
    late["total_paid"] = late["total_invoiced"] = total
    late["payment"].update(amount_paid=total, last_trans_id="cap-2609")
    stack.seed_order(late)  # (its updated_at unchanged: the order read alone would not tell)
    result = stack.cli("backfill", "--since", "2025-05-01", "--until", "2025-06-01")
    assert result.returncode == 0, result.stderr
    assert "history: 2 new credit memo(s) and invoice(s)" in result.stdout, result.stdout
    wait_for(stack, "the credit note and the capture", lambda: len(
        payments(stack, "000002609")) == 1 and settled_done(stack, 2609) and any(
        i["CustomerReference"] == "CM-000008608" for i in stack.invoices()))
    [note] = [i for i in stack.invoices() if i["CustomerReference"] == "CM-000008608"]
    assert Decimal(str(note["GrossAmount"])) == Decimal("-9.99")
    assert payments(stack, "000002609") == [(total, "Magento braintree txn cap-2609")]
    again = stack.cli("backfill", "--since", "2025-05-01", "--until", "2025-06-01")
    assert again.returncode == 0 and "history: 0 new credit memo(s)" in again.stdout
