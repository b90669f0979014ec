"""An order's ledger (services/ledger.py) as the job page, the API and the CLI show it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from flask import Flask

from mappings.ledger import entry
from services.ledger import order_ledger
from store.db import session_scope
from store.models import JobState, Step, SyncJob
from tests.unit.ingest.ops_helpers import AUTH, make_app
from tests.unit.ingest.test_dashboard import logged_in
from tests.unit.kfsync.test_cli import kfsync

D = Decimal


def seed_edited_order(url: str) -> tuple[int, int]:
    """Order 000000123 invoiced, paid, then replaced by 000000123-1 and credited in full;
    a credit memo refunded 5.00 of it before. Returns (original job id, edit job id)."""
    ledger = [entry("invoice", "000000123", 123, D(30), "2026-11-24T10:00:00", "processing"),
              entry("payment", "txn-1", 123, D(30), "2026-11-24T10:00:01", "gateway payment"),
              entry("credit_note", "CX-000000123", 800000123, D(30), "2026-11-25T10:00:00",
                    "replaced by edited order 000000123-1")]
    with session_scope(url) as s:
        original = SyncJob(kind="order", magento_key="123", magento_ref="000000123",
                           state=JobState.DONE, step=Step.DONE, invoice_number=123,
                           document={"entity_id": 123}, plan={"ledger": ledger,
                                                              "replaced_by": "000000123-1"})
        edit = SyncJob(kind="order", magento_key="124", magento_ref="000000123-1",
                       state=JobState.DONE, step=Step.DONE, invoice_number=10000123,
                       document={"entity_id": 124, "relation_parent_id": 123},
                       plan={"ledger": [entry("invoice", "000000123-1", 10000123, D(40), "t",
                                              "processing")]})
        memo = SyncJob(kind="creditmemo", magento_key="9", magento_ref="000000009",
                       state=JobState.DONE, step=Step.DONE, invoice_number=900000009,
                       payment_ref="rf-9", document={"order_id": 123, "grand_total": D(5)},
                       plan={"order_id": "123", "pay": True})
        s.add_all([original, edit, memo])
        s.flush()
        return original.id, edit.id


def test_the_ledger_lists_every_document_and_what_it_leaves(db_url: str) -> None:
    original_id, edit_id = seed_edited_order(db_url)
    with session_scope(db_url) as s:
        original = s.get(SyncJob, original_id)
        assert original is not None
        ledger = order_ledger(s, original)
        assert ledger is not None
        assert [(r.doc, r.ref, r.number, r.amount) for r in ledger.rows] == [
            ("invoice", "000000123", 123, D(30)), ("payment", "txn-1", 123, D(30)),
            ("credit_note", "CX-000000123", 800000123, D(30)),
            ("credit_note", "CM-000000009", 900000009, D(5)),
            ("refund", "rf-9", 900000009, D(5))]
        # 30 invoiced - 30 credited - 30 paid + 5 refunded - 5 credited: 30 overpaid.
        assert ledger.due == D(-30) and ledger.overpaid == D(30)
        assert ledger.related == [{"relation": "replaced by", "job_id": edit_id,
                                   "order": "000000123-1", "invoice_number": 10000123}]
        edit = s.get(SyncJob, edit_id)
        assert edit is not None
        back = order_ledger(s, edit)
        assert back is not None and back.due == D(40)
        assert [r["relation"] for r in back.related] == ["replaces"]


def test_job_page_api_and_cli_show_the_ledger(db_url: str, redis_url: str, tmp_path: Path
                                              ) -> None:
    original_id, edit_id = seed_edited_order(db_url)
    app: Flask = make_app(db_url, redis_url)
    client = app.test_client()
    body = client.get(f"/api/v1/jobs/{original_id}", headers=AUTH).get_json()
    assert [r["ref"] for r in body["ledger"]["rows"]][:3] == ["000000123", "txn-1",
                                                              "CX-000000123"]
    assert body["ledger"]["overpaid"] == "30"
    assert body["ledger"]["related"][0]["job_id"] == edit_id
    page = logged_in(app).get(f"/jobs/{original_id}").get_data(as_text=True)
    assert 'id="job-ledger"' in page and "CX-000000123" in page
    assert 'id="ledger-overpaid"' in page and f"/jobs/{edit_id}" in page
    env = {"KFSYNC_DATABASE_URL": db_url, "KFSYNC_REDIS_URL": redis_url}
    result = kfsync("jobs", "show", str(original_id), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "CX-000000123" in result.stdout and "overpaid" in result.stdout
    assert "000000123-1" in result.stdout
