"""Routes in the pipeline (``mappings.routes``): a real worker, the sandboxes over HTTP,
SQLite and PostgreSQL. Each route's action is checked where a user would look: the invoice,
its customer and payment lines in the KashFlow sandbox, the job's state and reason."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests

from kfsync.samples import Buyer, Line, make_order
from store.models import JobState
from tests.integration.conftest import Stack
from tests.integration.test_mapping_profile import edit, invoice_of, settle
from workers import operations

pytestmark = pytest.mark.integration

TRADE = Buyer("buyer@wholesale.example", "Wyn", "Wholesale", customer_id=77)
PUBLIC = Buyer("someone@example.com", "Sam", "Public")


def when(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


def order(entity_id: int, buyer: Buyer, price: str, group: int = 1,
          sku: str = "MUG") -> dict[str, Any]:
    doc = make_order(entity_id, buyer, [Line(sku, "Item", Decimal(price), 1)])
    doc["customer_group_id"] = group
    return doc


def test_routes_bill_hold_skip_and_direct_payments_as_published(stack: Stack) -> None:
    requests.post(f"{stack.servers.kashflow_control}/customers", json={
        "Code": "TRADE01", "Name": "Wholesale Accounts", "Email": "accounts@wholesale.example"},
                  timeout=5).raise_for_status()
    edit(stack, {"routes": [
        {"node": "ensure_customer", "action": "use_customer", "value": "TRADE01",
         "when": [when("customer_group_id", "is", 3)]},
        {"node": "post_payment", "action": "skip_payment",
         "when": [when("customer_group_id", "is", 3)]},
        {"node": "post_payment", "action": "use_bank_account", "value": 1203,
         "when": [when("grand_total", "above", "50.00")]},
        {"node": "decide", "action": "hold_for_review",
         "when": [when("sku", "starts_with", "PALLET")]},
        {"node": "ensure_customer", "action": "use_customer", "value": "NOSUCH",
         "when": [when("customer_group_id", "is", 9)]},
    ]}, "wholesale routes")

    trade = order(7501, TRADE, "100.00", group=3)  # billed to TRADE01, left unpaid
    job = settle(stack, trade)
    assert job.state == JobState.DONE, job.reason
    invoice = invoice_of(stack, trade)
    assert invoice["CustomerCode"] == "TRADE01" and invoice["Status"] == "Unpaid"
    assert Decimal(str(invoice["GrossAmount"])) == Decimal("126.00")
    assert not invoice.get("PaymentLines")
    assert [c["Code"] for c in stack.kashflow()["customers"]] == ["TRADE01"]  # none created
    assert "no payment: route 2: when customer group is 3 then skip payment" in job.plan[
        "pay_reason"]

    big = order(7502, PUBLIC, "100.00")  # paid into the Stripe clearing account
    assert settle(stack, big).state == JobState.DONE
    [line] = invoice_of(stack, big)["PaymentLines"]
    assert line["AccountId"] == 1203 and Decimal(str(line["Amount"])) == Decimal("126.00")
    small = order(7503, PUBLIC, "10.00")  # the default account
    assert settle(stack, small).state == JobState.DONE
    [line] = invoice_of(stack, small)["PaymentLines"]
    assert line["AccountId"] == 1201 and Decimal(str(line["Amount"])) == Decimal("18.00")

    pallet = order(7504, PUBLIC, "40.00", sku="PALLET-9")  # held; the requeue releases it
    held = settle(stack, pallet)
    assert held.state == JobState.NEEDS_REVIEW
    assert "held for review by route 4: when SKU starts with PALLET" in (held.reason or "")
    assert not [i for i in stack.invoices() if i["CustomerReference"] == "000007504"]
    operations.requeue_jobs(stack.db_url, [held.id], actor="test")
    stack.wait_until(lambda: (j := stack.job(7504)) is not None and j.state == JobState.DONE,
                     "the released order", 60)
    released = invoice_of(stack, pallet)
    assert Decimal(str(released["GrossAmount"])) == Decimal("54.00")
    assert [Decimal(str(p["Amount"])) for p in released["PaymentLines"]] == [Decimal("54.00")]

    missing = settle(stack, order(7505, PUBLIC, "10.00", group=9))
    assert missing.state == JobState.NEEDS_REVIEW
    assert ("route 5: when customer group is 9 then bill customer NOSUCH: KashFlow has no "
            "customer NOSUCH") in (missing.reason or "")
    assert not [i for i in stack.invoices() if i["CustomerReference"] == "000007505"]
