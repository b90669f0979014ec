"""Summary mode on real parts (docs/accounting-modes.md): orders over two days in two
currencies, mixed VAT, two gateways and refunds become one KashFlow invoice per store,
currency and day, whose net, VAT and gross are the orders' to the penny (read back from the
KashFlow sandbox), with one payment per gateway into its clearing account and a summary
credit note for the refunds, posted by beat's task (``close_summaries``) as the worker runs
it; a trade order keeps its own invoice; a late order for a closed
day goes into the next open summary and says so; a replay posts nothing new."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
import requests
from sqlalchemy import select

from kfsync.samples import Buyer, Line, make_creditmemo, make_order
from services import profiles, studio
from store.db import session_scope
from store.models import AuditEntry, JobState
from store.summary_models import Summary, SummaryState
from tests.integration.conftest import Stack
from tests.integration.helpers import seed, send_event, wait_job
from workers.app import celery_app

pytestmark = pytest.mark.integration

DAYS = ("2026-11-20", "2026-11-21")
GATEWAYS = {"stripe_payments": 1203, "paypal_express": 1202}  # sandbox clearing accounts
TRADE_GROUP = 2
SUMMARY = {"stores": ["*"], "per_order_customer_groups": [TRADE_GROUP]}
BASKETS = [  # VAT 20, 5 and 0; prices whose per-order VAT rounding differs from per-line
    [Line("TSHIRT", "T-shirt", Decimal("12.49"), 1), Line("BOOK", "Book", Decimal("7.33"), 1,
                                                          Decimal(0))],
    [Line("MUG", "Mug", Decimal("3.33"), 3, Decimal(5))],
    [Line("TSHIRT", "T-shirt", Decimal("9.99"), 2, Decimal(20), Decimal("1.11")),
     Line("SEAT", "Child seat", Decimal("40.07"), 1, Decimal(5))],
]


def use_summary_mode(stack: Stack) -> None:
    def apply(doc: dict[str, Any]) -> str:
        doc["summary"] = SUMMARY
        methods = dict(doc["payment_methods"])
        for method, account in GATEWAYS.items():
            methods[method] = {**methods.get(method, {}), "account_id": account}
        doc["payment_methods"] = methods
        return "summary mode"

    profiles.edit_draft(stack.db_url, "test", apply)
    studio.publish(stack.db_url, "test", "summary mode")


def order_doc(n: int, day: str, currency: str) -> dict[str, Any]:
    buyer = Buyer(f"buyer{n}@example.com", "Bea", f"Buyer{n}")
    method = ("stripe_payments", "paypal_express")[n % 2]
    doc = make_order(n, buyer, BASKETS[n % 3], method=method, created_at=f"{day} 1{n % 10}:00:00",
                     currency=currency, shipping=Decimal("4.99") if n % 4 else Decimal(0))
    doc["store_id"] = 1
    return doc


def place(stack: Stack, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        stack.seed_order(doc)
        stack.send(doc)
    for doc in docs:
        assert stack.wait_settled(int(doc["entity_id"])).state == JobState.DONE


def posted(stack: Stack) -> list[int]:
    with session_scope(stack.db_url) as s:
        return list(s.scalars(select(Summary.id).where(Summary.state == SummaryState.POSTED)))


def summaries_in_kashflow(stack: Stack, prefix: str) -> dict[str, dict[str, Any]]:
    return {i["CustomerReference"]: i for i in stack.invoices()
            if str(i["CustomerReference"]).startswith(prefix)}


def totals(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Decimal]]:
    out: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for doc in docs:
        key = (str(doc["created_at"])[:10], str(doc["order_currency_code"]))
        out[key]["gross"] += Decimal(str(doc["grand_total"]))
        out[key]["vat"] += Decimal(str(doc["tax_amount"]))
        out[key][doc["payment"]["method"]] += Decimal(str(doc["payment"]["amount_paid"]))
    return out


def test_summary_invoices_are_the_orders_to_the_penny(stack: Stack) -> None:
    use_summary_mode(stack)
    docs = [order_doc(8000 + n, DAYS[n % 2], ("GBP", "EUR")[(n // 2) % 2]) for n in range(40)]
    trade = {**order_doc(8100, DAYS[0], "GBP"), "customer_group_id": TRADE_GROUP}
    place(stack, [*docs, trade])
    memos = [make_creditmemo(8200 + n, docs[n], {docs[n]["items"][0]["sku"]: 1},
                             transaction_id=f"re_{n}", created_at=f"{DAYS[1]} 18:00:00")
             for n in (1, 5)]  # day 2's orders, GBP
    for memo in memos:
        seed(stack, "creditmemos", memo)
        send_event(stack, "creditmemo.created", "creditmemo", int(memo["entity_id"]),
                   memo["increment_id"])
        assert wait_job(stack, "creditmemo", int(memo["entity_id"])).state == JobState.DONE
    assert [i["CustomerReference"] for i in stack.invoices()] == [trade["increment_id"]]
    requests.delete(f"{stack.servers.kashflow_control}/calls", timeout=5)

    celery_app.send_task("kfsync.maintenance.close_summaries")  # as beat sends it, 300 s
    stack.wait_until(lambda: len(posted(stack)) == 5, "beat's close to post 5 summaries")
    calls = requests.get(f"{stack.servers.kashflow_control}/calls", timeout=5).json()["total"]

    invoices = summaries_in_kashflow(stack, "SUM-")
    want = totals(docs)
    assert sorted(invoices) == sorted(f"SUM-{day}-1-{cur}" for day, cur in want)
    for (day, cur), sums in want.items():
        invoice = invoices[f"SUM-{day}-1-{cur}"]
        assert Decimal(str(invoice["GrossAmount"])) == sums["gross"]
        assert Decimal(str(invoice["VATAmount"])) == sums["vat"]
        assert invoice["Currency"]["Code"] == cur and invoice["CustomerCode"] == f"SUM1{cur}"
        paid = {(p["AccountId"], Decimal(str(p["Amount"]))) for p in invoice["PaymentLines"]}
        assert paid == {(GATEWAYS[m], sums[m]) for m in GATEWAYS if sums[m]}
        assert invoice["Status"] == "Paid"
    notes = summaries_in_kashflow(stack, "SUMCN-")
    assert list(notes) == [f"SUMCN-{DAYS[1]}-1-GBP"]
    note = notes[f"SUMCN-{DAYS[1]}-1-GBP"]
    refunded = sum((Decimal(str(m["grand_total"])) for m in memos), Decimal(0))
    assert Decimal(str(note["GrossAmount"])) == -refunded
    assert Decimal(str(note["VATAmount"])) == -sum((Decimal(str(m["tax_amount"]))
                                                    for m in memos), Decimal(0))
    assert sum((Decimal(str(p["Amount"])) for p in note["PaymentLines"]), Decimal(0)) == -refunded
    assert calls < 0.5 * (len(docs) + len(memos))  # far below one call per document

    # Every line traces back to its orders (the CLI's CSV export).
    listed = json.loads(stack.cli("summary", "list", "--format", "json").stdout)
    first = next(x for x in listed if x["kind"] == "invoice")
    export = stack.cli("summary", "export", str(first["id"]))
    rows = list(csv.DictReader(io.StringIO(export.stdout)))
    refs = {r["magento_ref"] for r in rows}
    assert refs == {d["increment_id"] for d in docs
                    if (d["created_at"][:10], d["order_currency_code"])
                    == (first["day"], first["currency"])}

    # A replay posts nothing new: the orders again, and the close again.
    before = stack.invoices()
    for doc in docs[:10]:
        stack.send(doc, topic="order.updated")
    for doc in docs[:10]:
        stack.wait_settled(int(doc["entity_id"]))
    again = stack.cli("summary", "close", "--before", "2026-11-22")
    assert again.returncode == 0 and "0 summaries posted" in again.stdout
    assert stack.invoices() == before

    # A late order for a closed day: booked in the next open summary, and its job says so.
    late = order_doc(8300, DAYS[0], "GBP")
    place(stack, [late])
    job = stack.job(8300)
    assert job is not None and job.plan["summary"]["late"]
    assert "was closed already" in job.plan["summary"]["note"]
    assert job.plan["summary"]["day"] > DAYS[1]
    assert stack.invoices() == before  # today's summary is open: nothing posted yet


@pytest.mark.parametrize("path", ["/invoices", "/invoices/bulk/payments"])
def test_a_summary_post_that_may_have_landed_is_looked_up_not_posted_twice(
        stack: Stack, path: str) -> None:
    use_summary_mode(stack)
    docs = [order_doc(8400 + n, DAYS[0], "GBP") for n in range(4)]
    place(stack, docs)
    # KashFlow writes, then the answer is lost: the first close cannot know it landed.
    stack.fault("kashflow", method="POST", path=path, kind="ambiguous", then="status",
                status=500, count=1)
    first = stack.cli("summary", "close", "--before", "2026-11-22")
    assert first.returncode == 0 and "0 summaries posted" in first.stdout
    [open_one] = json.loads(stack.cli("summary", "list", "--format", "json").stdout)
    assert open_one["state"] == "closing" and open_one["error"]
    second = stack.cli("summary", "close", "--before", "2026-11-22")
    assert "1 summary posted" in second.stdout, second.stdout + second.stderr
    [invoice] = summaries_in_kashflow(stack, "SUM-").values()
    sums = totals(docs)[(DAYS[0], "GBP")]
    assert Decimal(str(invoice["GrossAmount"])) == sums["gross"]
    paid = sorted((p["AccountId"], Decimal(str(p["Amount"]))) for p in invoice["PaymentLines"])
    assert paid == sorted((GATEWAYS[m], sums[m]) for m in GATEWAYS if sums[m])


def test_the_api_closes_one_summary_once(stack: Stack) -> None:
    from tests.integration.test_operator_surface import OPS_TOKEN, ops_app

    use_summary_mode(stack)
    docs = [order_doc(8500 + n, DAYS[0], "GBP") for n in range(3)]
    place(stack, docs)
    [open_one] = json.loads(stack.cli("summary", "list", "--format", "json").stdout)
    client = ops_app(stack).test_client()
    auth = {"Authorization": f"Bearer {OPS_TOKEN}"}
    url = f"/api/v1/summaries/{open_one['id']}/close"
    assert client.post(url).status_code == 401  # a write needs the token
    answer = client.post(url, headers=auth)
    assert answer.status_code == 200 and answer.json["queued"], answer.json
    stack.wait_until(lambda: posted(stack) == [open_one["id"]], "the worker to post it")
    [invoice] = summaries_in_kashflow(stack, "SUM-").values()
    sums = totals(docs)[(DAYS[0], "GBP")]
    assert Decimal(str(invoice["GrossAmount"])) == sums["gross"]
    again = client.post(url, headers=auth)
    assert again.status_code == 409 and "posted already" in json.dumps(again.json)
    assert client.post("/api/v1/summaries/999999/close", headers=auth).status_code == 404
    assert len(summaries_in_kashflow(stack, "SUM-")) == 1  # posted once
    with session_scope(stack.db_url) as s:
        audit = [(a.actor, a.action, a.target) for a in s.scalars(
            select(AuditEntry).where(AuditEntry.action == "summary_close"))]
    assert audit == [("api", "summary_close", f"summaries/{open_one['id']}")]
