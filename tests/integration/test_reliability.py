"""Failure handling on real parts: dead letters and requeue, the KashFlow circuit, the
catch-up poll and the outbox relay."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import select, update

from core.settings import Settings
from ingest import create_app
from kfsync.samples import Buyer, Line, make_order
from services import circuit
from store.db import session_scope
from store.models import AuditEntry, InboundEvent, JobState
from tests.integration.conftest import INTEGRATION_REDIS_URL, SECRET, Stack
from workers.app import celery_app, configure

pytestmark = pytest.mark.integration


def order(entity_id: int, minutes_ago: int | None = None, **kw: object) -> dict[str, object]:
    stamp = {}
    if minutes_ago is not None:
        when = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        stamp = {"created_at": when.strftime("%Y-%m-%d %H:%M:%S")}
    return make_order(entity_id, Buyer(f"c{entity_id}@example.com", "Cat", "Ng"),
                      [Line("MUG", "Mug", Decimal("7.99"), 2)], **stamp, **kw)  # type: ignore[arg-type]


def run_task(name: str) -> None:
    celery_app.send_task(name)


def kashflow_calls(stack: Stack, key: str) -> int:
    calls = requests.get(f"{stack.servers.kashflow_control}/calls", timeout=5).json()["calls"]
    return int(calls.get(key, 0))


def test_a_dead_letter_is_requeued_at_its_step_and_completes_once(stack: Stack) -> None:
    stack.fault("kashflow", method="POST", path="/invoices/bulk/payments", kind="status",
                status=503, count=None)
    doc = order(4001)
    stack.seed_order(doc)
    stack.send(doc)
    job = stack.wait_settled(4001, timeout=60)
    assert (job.state, job.step) == (JobState.DEAD, "post_payment")
    [letter] = stack.dead_letters()
    listed = stack.cli("dlq", "list")
    assert listed.returncode == 0 and "post_payment" in listed.stdout
    requests.delete(f"{stack.servers.kashflow_control}/faults", timeout=5)
    invoices_before = kashflow_calls(stack, "POST /invoices")
    result = stack.cli("dlq", "requeue", str(letter.id))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"requeued 1 dead letter(s): {letter.id}"
    stack.wait_until(lambda: getattr(stack.job(4001), "state", None) == JobState.DONE,
                     "the requeued job to finish")
    [invoice] = stack.invoices()
    assert len(invoice["PaymentLines"]) == 1 and invoice["Status"] == "Paid"
    assert kashflow_calls(stack, "POST /invoices") == invoices_before  # resumed at payment
    assert stack.parked_letters() == []
    with session_scope(stack.db_url) as s:
        [entry] = s.scalars(select(AuditEntry)).all()
        assert (entry.action, entry.target) == ("requeue", f"dead_letters/{letter.id}")


def test_discard_needs_a_reason_and_is_audited(stack: Stack) -> None:
    doc = order(4002)
    doc["increment_id"] = "000004002-1"  # an edited order: held for review
    stack.seed_order(doc)
    stack.send(doc)
    assert stack.wait_settled(4002).state == JobState.NEEDS_REVIEW
    [letter] = stack.dead_letters()
    assert letter.error_class == "rejected" and "000004002-1" in letter.reason
    no_reason = stack.cli("dlq", "discard", str(letter.id))
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    done = stack.cli("dlq", "discard", str(letter.id), "--reason", "test order, never shipped")
    assert done.returncode == 0, done.stderr
    job = stack.job(4002)
    assert job is not None and job.state == JobState.DISCARDED
    with session_scope(stack.db_url) as s:
        [entry] = s.scalars(select(AuditEntry)).all()
        assert entry.note == "test order, never shipped"
    assert stack.parked_letters() == []


def test_auth_failure_opens_the_circuit_parks_work_and_a_probe_resumes_it(stack: Stack) -> None:
    client = redis.Redis.from_url(INTEGRATION_REDIS_URL)
    client.delete(circuit.KEY, circuit.PROBE_KEY)
    unauthorised = {"Error": "InvalidSessionToken", "Message": "Session token is invalid."}
    stack.fault("kashflow", method="POST", path="/invoices", kind="status", status=401,
                body=unauthorised, count=2)  # the call and its one re-login retry
    first, second = order(4003), order(4004)
    stack.seed_order(first)
    stack.send(first)
    stack.wait_until(lambda: client.get(circuit.KEY) is not None, "the circuit to open")
    stack.wait_until(lambda: getattr(stack.job(4003), "due_at", None) is not None,
                     "the first job to be parked")
    posts = kashflow_calls(stack, "POST /invoices")
    stack.seed_order(second)
    stack.send(second)
    stack.wait_until(lambda: getattr(stack.job(4004), "due_at", None) is not None,
                     "the second job to be parked without calling KashFlow")
    assert kashflow_calls(stack, "POST /invoices") == posts
    assert stack.dead_letters() == [] and stack.invoices() == []
    client.delete(circuit.PROBE_KEY)  # ten minutes have passed
    run_task("kfsync.maintenance.probe_kashflow")
    stack.wait_until(lambda: client.get(circuit.KEY) is None, "a probe to close the circuit")
    run_task("kfsync.maintenance.release_parked")
    for entity_id in (4003, 4004):
        stack.wait_until(lambda e=entity_id: getattr(stack.job(e), "state", None) ==  # type: ignore[misc]
                         JobState.DONE, f"order {entity_id} to finish after the circuit closed")
    assert len(stack.invoices()) == 2


def test_the_catch_up_poll_syncs_orders_no_webhook_announced(stack: Stack) -> None:
    docs = [order(4100 + n, minutes_ago=5) for n in range(20)]
    for doc in docs:
        stack.seed_order(doc)  # ... and no webhook at all
    run_task("kfsync.maintenance.catch_up")
    for doc in docs:
        assert stack.wait_settled(int(doc["entity_id"])).state == JobState.DONE  # type: ignore[call-overload]
    assert len(stack.invoices()) == 20
    run_task("kfsync.maintenance.catch_up")  # a second cycle finds nothing new
    time.sleep(1)
    assert stack.events_pending() == 0 and len(stack.invoices()) == 20


def test_webhooks_accepted_while_redis_is_down_are_synced_when_it_returns(stack: Stack) -> None:
    down = Settings.load({**stack.env, "KFSYNC_REDIS_URL": "redis://127.0.0.1:1/0"},
                         env_file=None)
    docs = [order(4200 + n) for n in range(50)]
    client = create_app(down).test_client()
    from ingest.signing import signed_headers

    try:
        for doc in docs:
            stack.seed_order(doc)
            body = (f'{{"id": "down-{doc["entity_id"]}", "topic": "order.created", '
                    f'"occurred_at": "2026-11-24T10:00:00Z", "resource": {{"type": "order", '
                    f'"entity_id": {doc["entity_id"]}}}}}').encode()
            reply = client.post("/webhooks/magento", data=body,
                                headers=signed_headers(SECRET, f"down-{doc['entity_id']}", body))
            assert reply.status_code == 202
    finally:
        configure(stack.settings)  # Redis is back
    with session_scope(stack.db_url) as s:
        assert len(s.scalars(select(InboundEvent).where(
            InboundEvent.enqueued_at.is_(None))).all()) == 50
        # the relay leaves a 30 s grace to the web process; let that time pass
        s.execute(update(InboundEvent).values(
            received_at=datetime.now(UTC) - timedelta(minutes=1)))
    run_task("kfsync.maintenance.relay_events")
    for doc in docs:
        assert stack.wait_settled(int(doc["entity_id"])).state == JobState.DONE  # type: ignore[call-overload]
    assert len(stack.invoices()) == 50


def test_backfill_syncs_history_once_and_a_second_run_adds_nothing(stack: Stack) -> None:
    history = [make_order(4300 + n, Buyer(f"h{n}@example.com", "Hal", "Story"),
                          [Line("BOOK", "Book", Decimal("9.99"), 1, vat=Decimal(0))],
                          created_at=f"2025-03-{10 + n % 5:02d} 12:00:00") for n in range(12)]
    outside = make_order(4399, Buyer("late@example.com", "Lou", "Late"),
                         [Line("BOOK", "Book", Decimal("9.99"), 1, vat=Decimal(0))],
                         created_at="2025-04-02 12:00:00")
    for doc in (*history, outside):
        stack.seed_order(doc)
    first = stack.cli("backfill", "--since", "2025-03-01", "--until", "2025-04-01")
    assert first.returncode == 0, first.stderr
    assert "12 of 12 order(s) through the pipeline" in first.stdout
    assert {i["CustomerReference"] for i in stack.invoices()} == {
        d["increment_id"] for d in history}
    again = stack.cli("backfill", "--since", "2025-03-01", "--until", "2025-04-01")
    assert again.returncode == 0, again.stderr
    assert len(stack.invoices()) == 12 and stack.job(4399) is None


def test_a_poison_order_is_visible_everywhere_and_one_requeue_completes_it(stack: Stack) -> None:
    """A SKU mapped to a nominal KashFlow does not have: review item in the CLI, the JSON API
    and the parked-message depth; fix the mapping, one requeue -> one invoice, one payment."""
    path = Path(stack.env["KFSYNC_MAPPING_FILE"])
    original = path.read_text(encoding="utf-8")
    try:
        write_mapping(path, original + "\nskus:\n  MUG: {nominal_code: 4999, product_code: MUG}\n")
        doc = order(4400)
        stack.seed_order(doc)
        stack.send(doc)
        job = stack.wait_settled(4400)
        assert job.state == JobState.NEEDS_REVIEW and job.step == "create_invoice"
        [letter] = stack.dead_letters()
        assert letter.error_class == "rejected" and "4999" in letter.reason
        listed = stack.cli("dlq", "list")
        assert str(letter.id) in listed.stdout and "create_invoice" in listed.stdout
        api = create_app(Settings.load({**stack.env, "KFSYNC_OPS_TOKEN": "ops-t0ken-poison"},
                                       env_file=None)).test_client()
        body = api.get("/api/v1/dead-letters",
                       headers={"Authorization": "Bearer ops-t0ken-poison"}).get_json()
        assert [item["id"] for item in body["items"]] == [letter.id]
        assert stack.parked_letters() == [letter.id]  # the depth Flower shows
        write_mapping(path, original + "\nskus:\n  MUG: {nominal_code: 4000, product_code: MUG}\n")
        requeued = stack.cli("dlq", "requeue", str(letter.id))
        assert requeued.returncode == 0, requeued.stderr
        stack.wait_until(lambda: getattr(stack.job(4400), "state", None) == JobState.DONE,
                         "the fixed order to finish")
    finally:
        write_mapping(path, original)
    [invoice] = stack.invoices()
    assert len(invoice["PaymentLines"]) == 1 and invoice["Status"] == "Paid"
    assert {int(line["NominalCode"]) for line in invoice["LineItems"]} >= {4000}
    assert stack.parked_letters() == []


def write_mapping(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    later = time.time() + 2  # a new mtime even on coarse-grained file systems
    os.utime(path, (later, later))
