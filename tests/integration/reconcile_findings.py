"""Yesterday's two reconciliation findings, made on the stack: a card order kfsync paid whose
capture Magento does not show (a payment with no capture), and a cheque order Magento says
was captured by card after all (a capture with no payment); and beat's daily run, sent to the
stack's worker as beat sends it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import redis
from sqlalchemy import select

from kfsync.samples import Buyer, Line, make_order
from store.db import session_scope
from store.models import JobState
from store.reconcile_models import ItemStatus, ReconciliationItem
from tests.integration.conftest import INTEGRATION_REDIS_URL, Stack
from tests.integration.helpers import seed
from workers.app import celery_app
from workers.reconcile_queue import LAST_RUN_KEY

BUYER = Buyer("rita.recon@example.com", "Rita", "Recon")
LINES = [Line("TSHIRT", "T-shirt", Decimal("12.50"), 2),
         Line("BOOK", "Book", Decimal("9.99"), 1, vat=Decimal(0))]  # 45.99 with shipping
TOTAL = Decimal("45.99")
PAID_NO_CAPTURE, CAPTURED_NOT_PAID = 7101, 7102


def yesterday() -> str:
    return (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


def make_findings(stack: Stack) -> None:
    """Orders 7101 (card, paid by kfsync, no capture in Magento) and 7102 (cheque: unpaid in
    KashFlow, yet Magento holds a card capture for it), created yesterday (UTC)."""
    for entity_id, method in ((PAID_NO_CAPTURE, "braintree"), (CAPTURED_NOT_PAID, "checkmo")):
        order = make_order(entity_id, BUYER, LINES, method=method,
                           created_at=f"{yesterday()} 10:00:00")
        stack.seed_order(order)
        stack.send(order)
        assert stack.wait_settled(entity_id).state == JobState.DONE
    seed(stack, "transactions", {
        "transaction_id": 71021, "order_id": CAPTURED_NOT_PAID, "txn_id": "txn-7102-late",
        "txn_type": "capture", "is_closed": 1, "created_at": f"{yesterday()} 10:00:01"})


def run_beat_reconciliation(stack: Stack) -> dict[str, ReconciliationItem]:
    """Send beat's task to the worker, wait until its run is recorded; the open items by
    reason."""
    client = redis.Redis.from_url(INTEGRATION_REDIS_URL)
    client.delete(LAST_RUN_KEY)
    celery_app.send_task("kfsync.maintenance.reconcile_payments", queue="maintenance")
    stack.wait_until(lambda: bool(client.exists(LAST_RUN_KEY)), "the daily reconciliation")
    with session_scope(stack.db_url) as s:
        return {i.reason: i for i in s.scalars(select(ReconciliationItem).where(
            ReconciliationItem.status == ItemStatus.OPEN))}
