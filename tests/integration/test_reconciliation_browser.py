"""The reconciliation queue in a real headless Chromium, on the real stack (sandboxes over
HTTP, a Celery worker process, SQLite and PostgreSQL): beat's daily run has queued a capture
with no payment and a payment with no capture; a named operator posts the missing payment
from the dashboard (the payments worker posts it, once, to the penny) and dismisses the other
with a reason (audited under their name); a viewer sees the queue without its forms."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from store.db import session_scope
from store.models import AuditEntry
from store.reconcile_models import ReconciliationItem
from tests.integration import test_operator_surface as surface
from tests.integration.conftest import Stack
from tests.integration.reconcile_findings import (
    CAPTURED_NOT_PAID,
    TOTAL,
    make_findings,
    run_beat_reconciliation,
)
from tests.integration.test_operator_surface import shot

pytestmark = pytest.mark.integration
browser_page, served = surface.browser_page, surface.served  # the operator surface's fixtures
PASSWORD = "a-long-reconciliation-password"


def add_user(stack: Stack, name: str, role: str) -> None:
    done = subprocess.run([sys.executable, "-m", "kfsync", "users", "add", name, "--role", role,
                           "--password-stdin"], env=stack.env, input=PASSWORD + "\n",
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 or "already" in done.stderr, done.stderr


def log_in(page: Any, base: str, name: str) -> None:
    page.goto(base + "/reconciliation")
    page.fill("input[name=user]", name)
    page.fill("input[name=token]", PASSWORD)
    with page.expect_navigation():
        page.click("button:has-text('Log in')")
    assert page.url.endswith("/reconciliation"), page.content()[:500]


def submit(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def item_status(stack: Stack, item_id: int) -> str:
    with session_scope(stack.db_url) as s:
        item = s.get(ReconciliationItem, item_id)
        assert item is not None
        return item.status


def test_the_dashboard_queue_resolves_both_findings(
        stack: Stack, served: str, browser_page: Any, tmp_path: Path) -> None:
    make_findings(stack)
    items = run_beat_reconciliation(stack)
    missing, unknown = items["missing_payment"], items["unknown_transaction"]
    add_user(stack, "rita-recon", "operator")
    add_user(stack, "vic-viewer", "viewer")
    p = browser_page

    log_in(p, served, "vic-viewer")
    assert f"#{missing.id}" in p.inner_text("#reconciliation")
    assert p.locator("#reconciliation button").count() == 0  # viewers read only
    assert "open item(s)" in p.inner_text("#last-run")
    submit(p, "button:has-text('Log out')")

    log_in(p, served, "rita-recon")
    assert "Reconciliation" in p.inner_text("header")
    shot(p, "reconciliation-queue.png", tmp_path)
    # A dismiss without a reason is refused, and nothing changes.
    submit(p, f"#item-{unknown.id} button:has-text('Dismiss')")
    assert "A dismiss needs a reason" in p.inner_text(".flash-error")
    assert item_status(stack, unknown.id) == "open"
    # The payment with no capture: refunded by hand in KashFlow, says the operator.
    p.fill(f"#item-{unknown.id} input[name=note]", "card refunded by hand in KashFlow")
    submit(p, f"#item-{unknown.id} button:has-text('Dismiss')")
    assert "dismissed" in p.inner_text(".flash-ok")
    # The capture with no payment: post it.
    assert p.locator(f"#item-{unknown.id}").count() == 0
    submit(p, f"#item-{missing.id} button:has-text('Post payment')")
    assert "being posted by the payments worker" in p.inner_text(".flash-ok")
    stack.wait_until(lambda: item_status(stack, missing.id) == "posted", "the payment posted")

    [invoice] = [i for i in stack.invoices() if i["Number"] == CAPTURED_NOT_PAID]
    [payment] = invoice["PaymentLines"]
    assert Decimal(str(payment["Amount"])) == TOTAL and invoice["Status"] == "Paid"
    assert "txn-7102-late" in payment["Note"]
    p.goto(served + "/reconciliation")
    assert p.locator("#no-items").count() == 1
    p.goto(served + "/reconciliation?status=dismissed")
    assert "card refunded by hand in KashFlow" in p.inner_text(f"#item-{unknown.id}")
    shot(p, "reconciliation-dismissed.png", tmp_path)

    with session_scope(stack.db_url) as s:
        audit = [(a.actor, a.action, a.target, a.note) for a in s.scalars(
            select(AuditEntry).where(AuditEntry.action.like("reconcile_%"))
            .order_by(AuditEntry.id))]
    assert audit == [
        ("dashboard:rita-recon", "reconcile_dismiss", f"reconciliation_items/{unknown.id}",
         "card refunded by hand in KashFlow"),
        ("dashboard:rita-recon", "reconcile_post", f"reconciliation_items/{missing.id}", None),
        ("kfsync", "reconcile_posted", f"reconciliation_items/{missing.id}",
         f"payment {TOTAL} on invoice {CAPTURED_NOT_PAID}"),
    ]
    # The next daily run finds nothing new: the payment is there, the dismissal stands.
    assert run_beat_reconciliation(stack) == {}
