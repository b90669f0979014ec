"""Payment reconciliation on real parts: a day with injected mismatches shows them in the
report and in the queue, a clean day shows none; operators resolve items (audited)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from core.settings import Settings
from ingest import create_app
from kfsync.samples import Buyer, Line, make_order
from store.db import session_scope
from store.models import AuditEntry, JobState
from tests.integration.conftest import Stack
from tests.integration.helpers import seed

pytestmark = pytest.mark.integration

OPS_TOKEN = "recon-ops-token-5b2e"
BUYER = Buyer("cara.capture@example.com", "Cara", "Capture")
LINES = [Line("TSHIRT", "T-shirt", Decimal("12.50"), 2),
         Line("BOOK", "Book", Decimal("9.99"), 1, vat=Decimal(0))]  # 45.99 with shipping


def _synced(stack: Stack, entity_id: int, day: str, **kw: Any) -> dict[str, Any]:
    order = make_order(entity_id, BUYER, LINES, created_at=f"{day} 10:00:00", **kw)
    stack.seed_order(order)
    stack.send(order)
    assert stack.wait_settled(entity_id).state == JobState.DONE
    return order


def _capture(entity_id: int, txn_id: str, n: int, amount: Decimal | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"transaction_id": entity_id * 10 + n, "order_id": entity_id,
                           "txn_id": txn_id, "txn_type": "capture", "is_closed": 1,
                           "created_at": "2026-11-20 10:00:01"}
    if amount is not None:
        doc["amount"] = amount
    return doc


def _report(stack: Stack, day: str) -> dict[str, Any]:
    done = stack.cli("reconcile", "payments", "--date", day, "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout, parse_float=Decimal)  # type: ignore[no-any-return]


def _api(stack: Stack) -> Any:
    settings = Settings.load({**stack.env, "KFSYNC_OPS_TOKEN": OPS_TOKEN}, env_file=None)
    return create_app(settings).test_client()


AUTH = {"Authorization": f"Bearer {OPS_TOKEN}"}


def test_a_day_with_mismatches_and_a_clean_day(stack: Stack) -> None:
    _synced(stack, 5101, "2026-11-20", method="checkmo")  # no payment posted by kfsync...
    _synced(stack, 5102, "2026-11-20")
    _synced(stack, 5103, "2026-11-21")
    _synced(stack, 5104, "2026-11-21", method="checkmo")  # offline: nothing to reconcile
    for doc in (_capture(5101, "txn-5101-card", 1),  # ...but the money was captured
                _capture(5102, "txn-5102-a1b2", 1, Decimal("46.00")),  # KashFlow has 45.99
                _capture(5103, "txn-5103-a1b2", 1)):
        seed(stack, "transactions", doc)

    clean = _report(stack, "2026-11-21")
    [card] = [m for m in clean["methods"] if m["method"] == "braintree"]
    assert Decimal(card["magento_captured"]) == Decimal(card["kashflow_received"]) \
        == Decimal("45.99")
    assert Decimal(card["difference"]) == 0 and clean["differences"] == 0

    bad = _report(stack, "2026-11-20")
    card, cheque = bad["methods"]
    assert (card["method"], cheque["method"]) == ("braintree", "checkmo")
    assert Decimal(card["magento_captured"]) == Decimal("46.00")
    assert Decimal(card["kashflow_received"]) == Decimal("45.99")
    assert Decimal(card["difference"]) == Decimal("0.01") and card["open_items"] == 1
    assert Decimal(cheque["magento_captured"]) == Decimal("45.99")
    assert Decimal(cheque["kashflow_received"]) == 0 and cheque["open_items"] == 1
    assert _report(stack, "2026-11-20")["differences"] == 2  # a re-run adds nothing

    api = _api(stack)
    reply = api.get("/api/v1/reconciliation?day=2026-11-20", headers=AUTH)
    assert reply.status_code == 200, reply.get_json()
    items = {i["reason"]: i for i in reply.get_json()["items"]}
    assert set(items) == {"missing_payment", "amount_differs"}
    assert items["missing_payment"]["txn_id"] == "txn-5101-card"
    assert Decimal(items["amount_differs"]["magento_amount"]) == Decimal("46.00")
    assert Decimal(items["amount_differs"]["kashflow_amount"]) == Decimal("45.99")

    # The operator: posts the missing capture (CLI), dismisses the 0.01 (API, with a reason).
    posted = stack.cli("reconcile", "post", str(items["missing_payment"]["id"]))
    assert posted.returncode == 0, posted.stderr
    reply = api.post(f"/api/v1/reconciliation/{items['amount_differs']['id']}/resolve",
                     headers=AUTH, json={"action": "dismiss", "note": "gateway rounding"})
    assert reply.status_code == 200 and reply.get_json()["status"] == "dismissed"
    again = api.post(f"/api/v1/reconciliation/{items['amount_differs']['id']}/resolve",
                     headers=AUTH, json={"action": "match"})
    assert again.status_code == 409
    [invoice] = [i for i in stack.invoices() if i["CustomerReference"] == "000005101"]
    [payment] = invoice["PaymentLines"]
    assert Decimal(str(payment["Amount"])) == Decimal("45.99")
    assert "txn-5101-card" in payment["Note"] and invoice["Status"] == "Paid"
    assert _report(stack, "2026-11-20")["differences"] == 0
    with session_scope(stack.db_url) as s:
        actions = sorted(a.action for a in s.scalars(select(AuditEntry)))
    assert actions == ["reconcile_dismiss", "reconcile_post", "reconcile_posted"]
