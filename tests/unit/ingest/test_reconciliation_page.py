"""The reconciliation queue page through Flask's test client (SQLite and PostgreSQL): it lists
open items, refuses a form without its CSRF token, needs a reason to dismiss, and audits the
operator's match."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import Flask
from sqlalchemy import select

from store.db import session_scope
from store.models import AuditEntry
from store.reconcile_models import ReconciliationItem
from tests.unit.ingest.ops_helpers import make_app
from tests.unit.ingest.test_dashboard import csrf, logged_in


def add_item(db_url: str, order: str = "000000901") -> int:
    with session_scope(db_url) as s:
        item = ReconciliationItem(fingerprint=f"missing_payment:901:txn-{order}",
                                  day=date(2026, 11, 20), reason="missing_payment",
                                  status="open", order_key="901", order_ref=order,
                                  payment_method="braintree", txn_id=f"txn-{order}",
                                  invoice_number=901, magento_amount=Decimal("45.99"),
                                  detail="captured in Magento, no KashFlow payment names it")
        s.add(item)
        s.flush()
        return item.id


def status_of(db_url: str, item_id: int) -> str:
    with session_scope(db_url) as s:
        item = s.get(ReconciliationItem, item_id)
        assert item is not None
        return item.status


def test_the_queue_and_its_forms(db_url: str, redis_url: str) -> None:
    app: Flask = make_app(db_url, redis_url)
    item_id = add_item(db_url)
    client = logged_in(app)
    page = client.get("/reconciliation").get_data(as_text=True)
    assert f'id="item-{item_id}"' in page and "45.99" in page and "Post payment" in page
    assert "Runs daily at 02:30 UTC" in page

    forged = client.post(f"/reconciliation/{item_id}/resolve", data={"action": "match"})
    assert forged.status_code == 400 and status_of(db_url, item_id) == "open"
    token = csrf(page)
    empty = client.post(f"/reconciliation/{item_id}/resolve", follow_redirects=True,
                        data={"action": "dismiss", "note": " ", "csrf_token": token})
    assert "A dismiss needs a reason" in empty.get_data(as_text=True)
    assert status_of(db_url, item_id) == "open"
    matched = client.post(f"/reconciliation/{item_id}/resolve", follow_redirects=True,
                          data={"action": "match", "note": "paid by BACS",
                                "csrf_token": token, "back": "/reconciliation"})
    assert f"Reconciliation item {item_id} (000000901, missing_payment): matched" in \
        matched.get_data(as_text=True)
    assert status_of(db_url, item_id) == "matched"
    again = client.post(f"/reconciliation/{item_id}/resolve", follow_redirects=True,
                        data={"action": "match", "csrf_token": token})
    assert "is already matched" in again.get_data(as_text=True)
    with session_scope(db_url) as s:
        audit = [(a.actor, a.action, a.note) for a in s.scalars(select(AuditEntry))]
    assert audit == [("dashboard", "reconcile_match", "paid by BACS")]
    assert 'id="no-items"' in client.get("/reconciliation").get_data(as_text=True)
    shown = client.get("/reconciliation?status=matched").get_data(as_text=True)
    assert "paid by BACS" in shown and "Post payment" not in shown
