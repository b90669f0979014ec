"""The flow builder in a real headless Chromium, on the real stack (sandboxes over HTTP, a
Celery worker process, SQLite and PostgreSQL): the merchant opens the order flow (drawn by
the vendored graph library under the page's CSP, and reachable by keyboard), adds "when
payment method is purchaseorder then invoice when Magento invoices" on the decision node,
previews it on a stored order, publishes; the next purchase order waits and is invoiced in
the KashFlow sandbox only once Magento invoices it; a rollback puts the old path back."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kfsync.samples import Buyer, Line, make_order
from store.models import JobState
from tests.integration import test_operator_surface as surface
from tests.integration.conftest import Stack
from tests.integration.helpers import seed, send_event
from tests.integration.test_operator_surface import OPS_TOKEN, shot
from tests.integration.test_studio_browser import flashed, submit

pytestmark = pytest.mark.integration
browser_page, served = surface.browser_page, surface.served  # the operator surface's fixtures

BUYER = Buyer("buyer@trade.example", "Tom", "Trader", company="Trade Ltd")


def purchase_order(entity_id: int) -> dict[str, Any]:
    """A B2B order on account: processing, nothing invoiced or paid in Magento yet."""
    doc = make_order(entity_id, BUYER, [Line("MUG", "Mug", Decimal("8.00"), 5)],
                     method="purchaseorder")
    doc["total_paid"] = doc["base_total_paid"] = Decimal(0)
    doc["total_invoiced"] = doc["base_total_invoiced"] = Decimal(0)
    doc["payment"].update(amount_paid=Decimal(0), base_amount_paid=Decimal(0),
                          po_number=f"PO-{entity_id}")
    return doc


def kashflow_invoice(stack: Stack, entity_id: int) -> dict[str, Any] | None:
    found = [i for i in stack.invoices() if i["CustomerReference"] == f"{entity_id:09d}"]
    assert len(found) <= 1, found  # never twice
    return found[0] if found else None


def place(stack: Stack, entity_id: int) -> tuple[dict[str, Any], JobState]:
    doc = purchase_order(entity_id)
    stack.seed_order(doc)
    stack.send(doc)
    return doc, JobState(stack.wait_settled(entity_id, timeout=60).state)


def magento_invoices(stack: Stack, doc: dict[str, Any], invoice_id: int) -> None:
    """Magento invoices the order (the goods shipped; the account is paid later)."""
    total = doc["grand_total"]
    seed(stack, "invoices", {
        "entity_id": invoice_id, "increment_id": f"{invoice_id:09d}",
        "order_id": doc["entity_id"], "state": 1, "grand_total": total,
        "base_grand_total": total, "created_at": "2026-11-26 09:00:00",
        "updated_at": "2026-11-26 09:00:00"})
    doc["total_invoiced"] = doc["base_total_invoiced"] = total
    doc["updated_at"] = "2026-11-26 09:00:00"
    stack.seed_order(doc)
    send_event(stack, "invoice.created", "invoice", invoice_id)


def test_a_purchase_order_route_added_previewed_published_and_rolled_back_in_the_browser(
        stack: Stack, served: str, browser_page: Any, tmp_path: Path) -> None:
    p = browser_page

    _, state = place(stack, 8101)  # the old path: invoiced at once, left unpaid
    assert state == JobState.DONE
    invoice = kashflow_invoice(stack, 8101)
    assert invoice is not None and Decimal(str(invoice["GrossAmount"])) == Decimal("54.00")
    assert not invoice.get("PaymentLines")

    p.goto(served + "/flow")
    p.fill("input[name=token]", OPS_TOKEN)
    submit(p, "button:has-text('Log in')")
    assert p.url.endswith("/flow")
    problems: list[str] = []  # from here (the login page's favicon.ico is a 404)
    p.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: problems.append(str(e)))
    p.reload()
    listed = p.locator("#flow-order li[data-node]").count()  # the accessible list's steps
    assert listed >= 6
    # every one of them drawn by cytoscape under the CSP
    p.wait_for_selector(f"#graph-order[data-drawn='{listed}']")
    assert p.is_visible("#graph-order canvas")
    invoice_node = p.inner_text("#flow-order li[data-node='create_invoice']")
    assert "1 done" in invoice_node
    shot(p, "flow-page.png", tmp_path)

    p.focus("#flow-order li[data-node='order.decide'] a")  # by keyboard, as a merchant may
    with p.expect_navigation():
        p.keyboard.press("Enter")
    assert p.url.endswith("/flow/order.decide")
    p.select_option("select[name=field-0]", "payment_method")
    p.select_option("select[name=op-0]", "is")
    p.fill("input[name=value-0]", "purchaseorder")
    p.select_option("select[name=action]", "invoice_if_invoiced")
    submit(p, "button:has-text('Add route to the draft')")
    assert ("Draft saved: routes.1 added: when payment method is purchaseorder then invoice "
            "when Magento invoices") in flashed(p)
    assert "when payment method is purchaseorder" in p.inner_text("#routes tr[data-route='1']")
    shot(p, "flow-node.png", tmp_path)

    stored = stack.job(8101)
    assert stored is not None
    p.select_option("#node-draft select[name=order]", value=str(stored.id))
    submit(p, "#node-draft button:has-text('Preview')")
    path = p.inner_text("#preview-path")
    assert "decide: wait: order is processing, route 1: when payment method is purchaseorder" \
        in path and "nothing invoiced in Magento yet" in path
    assert "Posts nothing now: the order would wait" in p.inner_text("#preview-verdict")
    assert "path: invoice: order is processing" in p.inner_text("#preview-diff")
    shot(p, "flow-preview.png", tmp_path)

    p.goto(served + "/mapping")
    p.fill("input[name=comment]", "purchase orders wait for Magento's invoice")
    submit(p, "button:has-text('Publish')")
    published = re.search(r"Published version (\d+)", flashed(p))
    assert published, flashed(p)

    second, state = place(stack, 8102)  # the new path: nothing posted yet
    assert state == JobState.WAITING
    assert kashflow_invoice(stack, 8102) is None
    job = stack.job(8102)
    assert job is not None and "route 1: when payment method is purchaseorder" in (job.reason or "")
    magento_invoices(stack, second, 9102)
    stack.wait_until(lambda: (job := stack.job(8102)) is not None
                     and job.state == JobState.DONE and stack.events_pending() == 0,
                     "the purchase order's invoice", 60)
    invoice = kashflow_invoice(stack, 8102)
    assert invoice is not None and Decimal(str(invoice["GrossAmount"])) == Decimal("54.00")
    job = stack.job(8102)
    assert job is not None and job.profile_version == int(published.group(1))
    assert invoice["Status"] == "Unpaid" and not invoice.get("PaymentLines")

    p.goto(f"{served}/mapping/versions/{int(published.group(1)) - 1}")
    submit(p, "button:has-text('Rollback to this version')")
    assert re.search(r"Rolled back: version \d+ is in force", flashed(p)), flashed(p)
    _, state = place(stack, 8103)  # the old path again
    assert state == JobState.DONE
    invoice = kashflow_invoice(stack, 8103)
    assert invoice is not None and Decimal(str(invoice["GrossAmount"])) == Decimal("54.00")
    assert len([i for i in stack.invoices() if i["CustomerReference"].startswith("0000081")]) == 3
    p.goto(served + "/flow/order.decide")
    assert "No route: every order takes the default path." in p.inner_text("#routes")
    assert problems == [], problems  # no CSP violation, no script error
