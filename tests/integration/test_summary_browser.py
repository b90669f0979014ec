"""The Summaries dashboard in a real headless Chromium, on the real stack (sandboxes over
HTTP, a Celery worker process, SQLite and PostgreSQL): orders in summary mode are closed
into one KashFlow invoice; the operator goes from the list to that summary, to its lines,
to the orders behind a line, to an order's job page and back; the CSV export downloaded
from the page has one row per line and order, and its rows sum to the KashFlow invoice's
net and VAT to the penny."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.integration import test_operator_surface as surface
from tests.integration.conftest import Stack
from tests.integration.test_operator_surface import OPS_TOKEN, shot
from tests.integration.test_summary_mode import (
    DAYS,
    order_doc,
    place,
    summaries_in_kashflow,
    use_summary_mode,
)

pytestmark = pytest.mark.integration
browser_page, served = surface.browser_page, surface.served  # the operator surface's fixtures


def log_in(page: Any, base: str) -> None:
    page.goto(base + "/summaries")
    assert "/login" in page.url
    page.fill("input[name=token]", OPS_TOKEN)
    with page.expect_navigation():
        page.click("button:has-text('Log in')")
    assert page.url.endswith("/summaries"), page.content()[:500]


def test_drill_down_from_the_summary_list_to_a_job_and_the_csv_adds_up(
        stack: Stack, served: str, browser_page: Any, tmp_path: Path) -> None:
    use_summary_mode(stack)
    docs = [order_doc(8600 + n, DAYS[0], "GBP") for n in range(6)]
    place(stack, docs)
    closed = stack.cli("summary", "close", "--before", "2026-11-22")
    assert "1 summary posted" in closed.stdout, closed.stdout + closed.stderr
    [invoice] = summaries_in_kashflow(stack, "SUM-").values()
    p = browser_page

    log_in(p, served)
    rows = p.locator("#summaries tr[id^=summary-]")
    assert rows.count() == 1
    row_text = rows.first.inner_text()
    assert DAYS[0] in row_text and "posted" in row_text and str(invoice["Number"]) in row_text
    assert str(Decimal(str(invoice["GrossAmount"]))) in row_text
    shot(p, "summaries.png", tmp_path)

    # The list -> the summary.
    with p.expect_navigation():
        rows.first.locator("a").first.click()
    assert f"KashFlow invoice {invoice['Number']} for SUM1GBP" in p.inner_text("#summary-state")
    payments = p.locator("#summary-payments tr:has(td)")
    assert sum((Decimal(payments.nth(i).locator("td").nth(1).inner_text())
                for i in range(payments.count())), Decimal(0)) == sum(
        (Decimal(str(x["Amount"])) for x in invoice["PaymentLines"]), Decimal(0))
    assert str(invoice["Number"]) in payments.first.locator("td").nth(3).inner_text()
    lines = p.locator("#summary-lines tr.summary-line")
    assert lines.count() == len(invoice["LineItems"])
    # Its lines -> the orders behind one: every sales line names the orders holding it, and
    # their nets add up to the line's.
    sales = lines.filter(has_text="Sales at 20%").first
    sales.locator("details > summary").click()
    cells = sales.locator("td")
    line_net = Decimal(cells.nth(3).inner_text())
    sources = sales.locator("table.sources tr")
    assert sources.count() >= 1
    assert sum((Decimal(sources.nth(i).locator("td").nth(1).inner_text())
                for i in range(sources.count())), Decimal(0)) == line_net
    ref = sources.first.locator("a").inner_text().strip()
    assert ref in {d["increment_id"] for d in docs}
    shot(p, "summary.png", tmp_path)

    # An order behind the line -> its job page, which names the summary and links back.
    with p.expect_navigation():
        sources.first.locator("a").click()
    assert "/jobs/" in p.url
    assert p.inner_text("#job-state").strip() == "done"
    assert f"{ref} booked in summary invoice" in p.inner_text("#job-summary")
    shot(p, "summary-job.png", tmp_path)
    with p.expect_navigation():
        p.click("#job-summary a")
    assert "/summaries/" in p.url

    # The CSV export, downloaded as a browser does: its rows add up to the invoice.
    with p.expect_download() as download:
        p.click("#summary-csv")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename.startswith("summary-")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert {r["magento_ref"] for r in exported} == {d["increment_id"] for d in docs}
    assert {r["number"] for r in exported} == {str(invoice["Number"])}
    net = sum((Decimal(r["net"]) for r in exported), Decimal(0))
    vat = sum((Decimal(r["vat"]) for r in exported), Decimal(0))
    assert net == Decimal(str(invoice["NetAmount"]))
    assert vat == Decimal(str(invoice["VATAmount"]))
    assert net + vat == Decimal(str(invoice["GrossAmount"])) == sum(
        (Decimal(str(d["grand_total"])) for d in docs), Decimal(0))
