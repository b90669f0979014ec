"""The daily payment reconciliation on beat, on real parts: beat's task on a real worker finds
yesterday's capture with no payment and payment with no capture, queues them once however
often it runs, and raises the reconciliation alert; posting a queued payment is exactly once
even when KashFlow's answer to the write is lost (CLI inline, and on the payments worker)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
import redis
import requests
from celery.schedules import crontab
from sqlalchemy import select

import celeryconfig
from core.settings import Settings
from ingest import create_app
from services.clients import kashflow_client
from store.db import session_scope
from store.reconcile_models import ReconciliationItem
from tests.integration.conftest import INTEGRATION_REDIS_URL, Stack
from tests.integration.reconcile_findings import (
    CAPTURED_NOT_PAID,
    PAID_NO_CAPTURE,
    TOTAL,
    make_findings,
    run_beat_reconciliation,
    yesterday,
)
from workers.app import celery_app
from workers.beat import LockedScheduler
from workers.reconcile_queue import LAST_RUN_KEY

pytestmark = pytest.mark.integration
OPS_TOKEN = "recon-beat-ops-token-71c2"


def test_beat_queues_a_capture_without_payment_and_a_payment_without_capture(
        stack: Stack) -> None:
    client = redis.Redis.from_url(INTEGRATION_REDIS_URL)
    client.delete("kfsync:alert:window:reconciliation")
    make_findings(stack)

    items = run_beat_reconciliation(stack)
    assert set(items) == {"missing_payment", "unknown_transaction"}
    missing, unknown = items["missing_payment"], items["unknown_transaction"]
    assert (missing.order_key, missing.txn_id) == (str(CAPTURED_NOT_PAID), "txn-7102-late")
    assert missing.magento_amount == TOTAL and missing.kashflow_amount is None
    assert missing.invoice_number == CAPTURED_NOT_PAID and str(missing.day) == yesterday()
    assert unknown.order_key == str(PAID_NO_CAPTURE)
    assert unknown.kashflow_amount == TOTAL and unknown.magento_amount is None
    # The run raised the reconciliation alert (its de-duplication window is open in Redis).
    assert client.exists("kfsync:alert:window:reconciliation")

    # Beat runs again (tomorrow covers yesterday again; a second beat, a redelivery): the
    # same two items, no more.
    again = run_beat_reconciliation(stack)
    assert {i.id for i in again.values()} == {missing.id, unknown.id}
    done = stack.cli("reconcile", "items")
    assert done.returncode == 0 and "2 item(s)" in done.stdout
    run = json.loads(redis.Redis.from_url(INTEGRATION_REDIS_URL).get(LAST_RUN_KEY) or "{}")
    assert run["last_day"] == yesterday() and run["open_items"] == 2


def _payments_of(stack: Stack, number: int) -> list[Decimal]:
    [invoice] = [i for i in stack.invoices() if i["Number"] == number]
    return [Decimal(str(line["Amount"])) for line in invoice.get("PaymentLines") or []]


def _missing_item(stack: Stack) -> int:
    done = stack.cli("reconcile", "payments", "--date", yesterday(), "--format", "json")
    assert done.returncode == 0, done.stderr
    with session_scope(stack.db_url) as s:
        return int(s.scalars(select(ReconciliationItem.id).where(
            ReconciliationItem.reason == "missing_payment")).one())


def test_a_post_whose_answer_was_lost_is_looked_up_not_repeated(stack: Stack) -> None:
    make_findings(stack)
    item_id = _missing_item(stack)
    stack.fault("kashflow", method="POST", path="/invoices/bulk/payments", kind="ambiguous",
                then="status", status=500)
    lost = stack.cli("reconcile", "post", str(item_id))
    assert lost.returncode == 1 and "stays 'posting'" in lost.stderr, lost.stderr
    assert _payments_of(stack, CAPTURED_NOT_PAID) == [TOTAL]  # KashFlow has it, we don't know
    resumed = stack.cli("reconcile", "post", str(item_id))
    assert resumed.returncode == 0 and "posted" in resumed.stdout, resumed.stderr
    assert _payments_of(stack, CAPTURED_NOT_PAID) == [TOTAL]  # adopted, not posted twice
    with session_scope(stack.db_url) as s:
        item = s.get(ReconciliationItem, item_id)
        assert item is not None and (item.status, item.post_attempts) == ("posted", 1)


def test_the_payments_worker_retries_an_ambiguous_post_once(stack: Stack) -> None:
    make_findings(stack)
    item_id = _missing_item(stack)
    requests.delete(f"{stack.servers.kashflow_control}/calls", timeout=5).raise_for_status()
    stack.fault("kashflow", method="POST", path="/invoices/bulk/payments", kind="ambiguous",
                then="status", status=500)
    settings = Settings.load({**stack.env, "KFSYNC_OPS_TOKEN": OPS_TOKEN}, env_file=None)
    reply = create_app(settings).test_client().post(
        f"/api/v1/reconciliation/{item_id}/resolve", json={"action": "post"},
        headers={"Authorization": f"Bearer {OPS_TOKEN}"})
    assert reply.status_code == 200 and reply.get_json()["status"] == "posting"

    def posted() -> bool:
        with session_scope(stack.db_url) as s:
            item = s.get(ReconciliationItem, item_id)
            return item is not None and item.status == "posted"
    stack.wait_until(posted, "the payments worker to post the item")
    assert _payments_of(stack, CAPTURED_NOT_PAID) == [TOTAL]
    # The first write's answer was lost (the fault fired); the retry read the invoice and
    # adopted the payment instead of writing again.
    calls = requests.get(f"{stack.servers.kashflow_control}/calls", timeout=5).json()
    assert calls["faults"].get("ambiguous") == 1, calls


@pytest.mark.parametrize(("meanwhile", "status", "payments"), [
    (TOTAL, "cleared", [TOTAL]),  # the order's job (requeued) posted the capture after all
    (Decimal("20.00"), "open", [Decimal("20.00")]),  # someone posted part of it by hand
])
def test_a_post_finds_what_was_paid_since_the_run_and_posts_nothing_twice(
        stack: Stack, meanwhile: Decimal, status: str, payments: list[Decimal]) -> None:
    """Between the daily run that found the capture unpaid and the operator's post, a payment
    naming the capture reached the invoice: the post's first attempt reads the invoice and
    posts nothing on top of it. It used to write straight away; here only the sandbox's
    refusal to overpay an invoice stopped a second payment, which a partly captured order's
    invoice would have taken."""
    make_findings(stack)
    item_id = _missing_item(stack)
    kashflow = kashflow_client(stack.settings)
    [account] = [a for a in kashflow.bank_accounts() if a["AccountName"] == "Current Account"]
    [method] = [m for m in kashflow.invoice_payment_methods() if m["Name"] == "Credit/Debit Card"]
    kashflow.post_invoice_payment(  # as the order's payment step posts a capture
        date=f"{yesterday()} 12:00:00", account_id=int(account["Id"]), method=int(method["Id"]),
        comment="Magento braintree txn txn-7102-late", items=[(CAPTURED_NOT_PAID, meanwhile)])
    done = stack.cli("reconcile", "post", str(item_id))
    assert done.returncode == 0 and f"item {item_id}: {status}" in done.stdout, done.stderr
    assert _payments_of(stack, CAPTURED_NOT_PAID) == payments
    with session_scope(stack.db_url) as s:
        item = s.get(ReconciliationItem, item_id)
        assert item is not None and (item.status, item.post_attempts) == (status, 0)
        if status == "open":
            assert "holds 20.00 for this capture now" in (item.detail or ""), item.detail


def test_one_poster_at_a_time(stack: Stack) -> None:
    make_findings(stack)
    item_id = _missing_item(stack)
    client = redis.Redis.from_url(INTEGRATION_REDIS_URL)
    # A worker is posting this item, or the order's payment step a payment, right now.
    busy = client.lock(f"kfsync:lock:payments:{CAPTURED_NOT_PAID}", timeout=60)
    assert busy.acquire(blocking=False)
    try:
        waited = stack.cli("reconcile", "post", str(item_id))
        assert waited.returncode == 0 and "another process is posting" in waited.stdout
        assert _payments_of(stack, CAPTURED_NOT_PAID) == []
    finally:
        busy.release()
    done = stack.cli("reconcile", "post", str(item_id))  # the poster died: resume it
    assert done.returncode == 0 and "posted" in done.stdout, done.stderr
    assert _payments_of(stack, CAPTURED_NOT_PAID) == [TOTAL]


def test_the_scheduler_sends_the_daily_run_when_it_is_due(stack: Stack) -> None:
    """The real beat scheduler with the real entry (its clock moved to tomorrow 02:30:05):
    one tick sends the task, the worker queues the two items."""
    make_findings(stack)
    client = redis.Redis.from_url(INTEGRATION_REDIS_URL)
    client.delete(LAST_RUN_KEY)
    entry = celeryconfig.reconcile_entry("02:30")
    assert entry is not None
    due = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(2, 30, 5),
                           tzinfo=UTC)
    entry["schedule"] = crontab(hour=2, minute=30, nowfun=lambda: due, app=celery_app)
    entry["last_run_at"] = due - timedelta(days=1)  # it ran yesterday at 02:30:05
    saved = celery_app.conf.beat_schedule
    celery_app.conf.beat_schedule = {"reconcile-payments": entry}
    beat = LockedScheduler(app=celery_app, lazy=False)
    try:
        beat.tick()
    finally:
        beat.close()
        celery_app.conf.beat_schedule = saved
    stack.wait_until(lambda: bool(client.exists(LAST_RUN_KEY)), "the daily reconciliation")
    with session_scope(stack.db_url) as s:
        reasons = sorted(i.reason for i in s.scalars(select(ReconciliationItem)))
    assert reasons == ["missing_payment", "unknown_transaction"]


def test_a_day_magento_cannot_answer_is_alerted_and_the_run_goes_on(stack: Stack) -> None:
    client = redis.Redis.from_url(INTEGRATION_REDIS_URL)
    client.delete("kfsync:alert:window:reconciliation")
    stack.fault("magento", method="GET", path="/V1/orders", kind="status", status=503,
                count=None)
    try:
        assert run_beat_reconciliation(stack) == {}
    finally:
        requests.delete(f"{stack.servers.magento_control}/faults", timeout=5).raise_for_status()
    run = json.loads(client.get(LAST_RUN_KEY) or "{}")
    assert run["open_items"] == 0 and run["last_day"] == yesterday()
    assert client.exists("kfsync:alert:window:reconciliation")  # "reconciliation of D failed"
