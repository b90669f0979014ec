"""A summarised order's later life on real parts (docs/accounting-modes.md): an
authorise-only order booked in a summary, whose gateway captures after its day closed, is
paid once, to the penny, on the summary invoice that holds it (by the next open summary's
payment, and its job says so); an order canceled before its summary closes leaves it, one
canceled after goes on the next summary credit note; repeated events and closes post nothing
new."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from store.db import session_scope
from store.models import JobState
from store.summary_models import Summary, SummaryEntry
from tests.integration.conftest import Stack
from tests.integration.helpers import send_event
from tests.integration.test_lifecycle import capture
from tests.integration.test_summary_mode import (
    DAYS,
    GATEWAYS,
    order_doc,
    place,
    summaries_in_kashflow,
    use_summary_mode,
)

pytestmark = pytest.mark.integration


def authorised(n: int) -> dict[str, Any]:
    """An order whose gateway (Stripe) only authorised at checkout: nothing paid."""
    doc = order_doc(n, DAYS[0], "GBP")
    doc["total_paid"] = doc["base_total_paid"] = Decimal(0)
    doc["total_invoiced"] = doc["base_total_invoiced"] = Decimal(0)
    doc["payment"] = {"method": "stripe_payments", "amount_ordered": doc["grand_total"],
                      "amount_paid": Decimal(0), "base_amount_paid": Decimal(0)}
    return doc


def entries(stack: Stack, doc_kind: str) -> list[tuple[int, str]]:
    with session_scope(stack.db_url) as s:
        return [(int(a), str(b)) for a, b in s.execute(
            select(SummaryEntry.summary_id, SummaryEntry.magento_key)
            .where(SummaryEntry.doc_kind == doc_kind).order_by(SummaryEntry.id))]


def settled(stack: Stack, n: int, says: str) -> bool:
    job = stack.job(n)
    return (stack.events_pending() == 0 and job is not None and job.state == JobState.DONE
            and says in str(job.reason))


def close(stack: Stack, summary_id: int) -> None:
    done = stack.cli("summary", "close", "--id", str(summary_id))
    assert done.stdout.strip() == f"summary {summary_id}: posted", done.stdout + done.stderr


def test_a_capture_after_the_day_closed_is_paid_once_on_the_orders_summary(
        stack: Stack) -> None:
    use_summary_mode(stack)
    order = authorised(8700)
    place(stack, [order])
    closed = stack.cli("summary", "close", "--before", "2026-11-22")
    assert "1 summary posted" in closed.stdout, closed.stdout + closed.stderr
    ref = f"SUM-{DAYS[0]}-1-GBP"
    invoice = summaries_in_kashflow(stack, "SUM-")[ref]
    total = Decimal(str(order["grand_total"]))
    assert Decimal(str(invoice["GrossAmount"])) == total and not invoice.get("PaymentLines")

    capture(stack, order, 9700, total, "cap-8700")  # shipped: Stripe captures
    send_event(stack, "invoice.created", "invoice", 9700)
    stack.wait_until(lambda: settled(stack, 8700, "was closed already"), "the capture booked")
    for topic, kind, key in (("invoice.created", "invoice", 9700),
                             ("order.updated", "order", 8700)):  # the same news again
        send_event(stack, topic, kind, key)
    stack.wait_until(lambda: stack.events_pending() == 0, "the repeats")
    [(carrier, key)] = entries(stack, "capture")
    assert key == f"8700@{total}"
    job = stack.job(8700)
    assert job is not None and job.plan["summary"]["paid"] == str(total)
    assert f"summary {carrier} of" in str(job.reason)
    assert [e["doc"] for e in job.plan["ledger"]] == ["summary", "summary_payment"]

    close(stack, carrier)  # the next open summary (today's): it pays the closed day's invoice
    close(stack, carrier)  # again: nothing new
    invoice = summaries_in_kashflow(stack, "SUM-")[ref]
    with session_scope(stack.db_url) as s:
        row = s.get(Summary, carrier)
        assert row is not None
        note = f"SUM-{row.day.isoformat()}-1-GBP stripe_payments"
    assert [(p["AccountId"], Decimal(str(p["Amount"])), p["Note"])
            for p in invoice["PaymentLines"]] == [(GATEWAYS["stripe_payments"], total, note)]
    assert invoice["Status"] == "Paid"
    assert list(summaries_in_kashflow(stack, "SUM-")) == [ref]  # no invoice for the carrier
    shown = json.loads(stack.cli("summary", "show", str(carrier), "--format", "json").stdout)
    assert shown["state"] == "posted" and shown["number"] is None
    assert [(p["amount"], p["invoices"]) for p in shown["payments"]] == [
        (str(total), [invoice["Number"]])]
    before = stack.invoices()
    send_event(stack, "order.updated", "order", 8700)
    stack.wait_until(lambda: stack.events_pending() == 0, "the replay")
    assert stack.invoices() == before and len(entries(stack, "capture")) == 1


def cancel(stack: Stack, order: dict[str, Any]) -> None:
    order.update(state="canceled", status="canceled", total_canceled=order["grand_total"],
                 updated_at="2026-11-27 10:00:00")
    stack.seed_order(order)
    stack.send(order, topic="order.updated")


def test_an_order_canceled_leaves_its_open_summary_or_goes_on_the_next_credit_note(
        stack: Stack) -> None:
    use_summary_mode(stack)
    early, late, kept = authorised(8710), authorised(8711), order_doc(8712, DAYS[0], "GBP")
    place(stack, [early, late, kept])
    [(home, _), *_] = entries(stack, "order")

    cancel(stack, early)  # before its day closes: out of the summary
    stack.wait_until(lambda: settled(stack, 8710, "taken out of it"), "the early cancel")
    assert sorted(k for _, k in entries(stack, "order")) == ["8711", "8712"]
    closed = stack.cli("summary", "close", "--before", "2026-11-22")
    assert "1 summary posted" in closed.stdout, closed.stdout + closed.stderr
    invoice = summaries_in_kashflow(stack, "SUM-")[f"SUM-{DAYS[0]}-1-GBP"]
    assert Decimal(str(invoice["GrossAmount"])) == sum(
        (Decimal(str(d["grand_total"])) for d in (late, kept)), Decimal(0))

    cancel(stack, late)  # after: on the next summary credit note
    stack.wait_until(lambda: settled(stack, 8711, "is credited on summary credit note"),
                     "the late cancel")
    for _ in range(2):  # the same news again
        stack.send(late, topic="order.updated")
    stack.wait_until(lambda: stack.events_pending() == 0, "the repeats")
    [(credit, key)] = entries(stack, "cancel")
    assert key == "8711" and credit != home
    close(stack, credit)
    close(stack, credit)  # again: nothing new
    [note] = summaries_in_kashflow(stack, "SUMCN-").values()
    gross = Decimal(str(late["grand_total"]))
    assert Decimal(str(note["GrossAmount"])) == -gross
    assert Decimal(str(note["VATAmount"])) == -Decimal(str(late["tax_amount"]))
    assert not note.get("PaymentLines")  # nothing was captured: nothing refunded
    before = stack.invoices()
    send_event(stack, "order.updated", "order", 8711)
    send_event(stack, "order.updated", "order", 8710)
    stack.wait_until(lambda: stack.events_pending() == 0, "the replays")
    assert stack.invoices() == before and len(entries(stack, "cancel")) == 1
    job = stack.job(8711)
    assert job is not None and job.plan["summary"]["cancelled"]


def test_a_capture_before_the_close_joins_its_days_payment_and_the_rest_pays_later(
        stack: Stack) -> None:
    use_summary_mode(stack)
    order, paid = authorised(8720), order_doc(8722, DAYS[0], "GBP")
    paid["payment"]["method"] = "stripe_payments"
    place(stack, [order, paid])
    total = Decimal(str(order["grand_total"]))
    capture(stack, order, 9720, Decimal("10.00"), "cap-8720-a")  # while the day is open
    send_event(stack, "invoice.created", "invoice", 9720)
    stack.wait_until(lambda: settled(stack, 8720, "added to the payment of its summary"),
                     "the first capture booked")
    closed = stack.cli("summary", "close", "--before", "2026-11-22")
    assert "1 summary posted" in closed.stdout, closed.stdout + closed.stderr
    ref = f"SUM-{DAYS[0]}-1-GBP"
    own = Decimal(str(paid["grand_total"])) + Decimal("10.00")
    invoice = summaries_in_kashflow(stack, "SUM-")[ref]
    assert [(Decimal(str(p["Amount"])), p["Note"]) for p in invoice["PaymentLines"]] == [
        (own, f"{ref} stripe_payments")]  # one payment for the day: the capture in it
    assert invoice["Status"] == "PartiallyPaid"

    capture(stack, order, 9721, total - Decimal("10.00"), "cap-8720-b")  # after the close
    stack.send(order, topic="order.updated")
    stack.wait_until(lambda: settled(stack, 8720, "was closed already"), "the rest booked")
    carrier = max(i for i, _ in entries(stack, "capture"))
    close(stack, carrier)
    invoice = summaries_in_kashflow(stack, "SUM-")[ref]
    amounts = [Decimal(str(p["Amount"])) for p in invoice["PaymentLines"]]
    assert amounts == [own, total - Decimal("10.00")]
    assert sum(amounts, Decimal(0)) == Decimal(str(invoice["GrossAmount"]))
    assert invoice["Status"] == "Paid"
    assert [k for _, k in entries(stack, "capture")] == ["8720@10.00", f"8720@{total}"]
