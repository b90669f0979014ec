"""How each line was mapped, as an operator sees it in a real headless Chromium (issue 16):
the job page and the studio (SKU map, preview) tell "mapped", "matched by code",
"suggested" and "unmapped" apart. Real stack: sandboxes over HTTP, a Celery worker process,
SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from kfsync.samples import Buyer, Line, make_order
from services import profiles, studio
from store.models import JobState
from tests.integration import test_operator_surface as surface
from tests.integration.conftest import Stack
from tests.integration.test_operator_surface import OPS_TOKEN, shot

pytestmark = pytest.mark.integration
browser_page, served = surface.browser_page, surface.served  # the operator surface's fixtures


def how_by_sku(page: Any, table: str) -> dict[str, str]:
    """``data-sku`` -> the "how" badge of each row of ``table`` on the page."""
    rows = page.locator(f"{table} tr[data-sku]")
    return {rows.nth(i).get_attribute("data-sku"): rows.nth(i).locator(".how").inner_text()
            for i in range(rows.count())}


def test_job_page_and_studio_show_how_each_line_was_mapped(
        stack: Stack, served: str, browser_page: Any, tmp_path: Path) -> None:
    # GIFT-WRAP is mapped by a row; MUG and "tshirt" match KashFlow codes; "book" matches two
    # products loosely (suggested); NO-SUCH matches nothing.
    requests.post(f"{stack.servers.kashflow_control}/products", timeout=5,
                  json={"NominalCode": 4010, "Code": "Book"}).raise_for_status()

    def apply(doc: dict[str, Any]) -> str:
        doc["skus"] = {"GIFT-WRAP": {"nominal_code": 4010}}
        return "gift wrap on its own nominal"

    profiles.edit_draft(stack.db_url, "test", apply)
    studio.publish(stack.db_url, "test", "gift wrap")
    doc = make_order(16201, Buyer("lines@example.com", "Lee", "Lines"), [
        Line("GIFT-WRAP", "Gift wrap", Decimal("2.00"), 1),
        Line("MUG", "Enamel Mug", Decimal("7.99"), 1),
        Line("tshirt", "Organic T-shirt", Decimal("12.50"), 1),
        Line("book", "Field Guide to Ferns", Decimal("9.99"), 1),
        Line("NO-SUCH", "Not in KashFlow", Decimal("3.00"), 1)])
    stack.seed_order(doc)
    stack.send(doc)
    job = stack.wait_settled(16201, timeout=60)
    assert job.state == JobState.DONE, job.reason

    p = browser_page
    p.goto(f"{served}/jobs/{job.id}")
    p.fill("input[name=token]", OPS_TOKEN)
    p.click("button:has-text('Log in')")
    p.goto(f"{served}/jobs/{job.id}")
    expected = {"GIFT-WRAP": "mapped", "MUG": "matched by code", "tshirt": "matched by code",
                "book": "suggested", "NO-SUCH": "unmapped"}
    assert how_by_sku(p, "#line-mapping") == expected
    card = p.inner_text("#line-mapping")
    assert "4000/TSHIRT (code = SKU ignoring case and spaces)" in card
    assert "pick one under skus: 4000/BOOK, 4010/Book" in card
    shot(p, "job-line-mapping.png", tmp_path)

    p.goto(f"{served}/mapping/preview?order={job.id}")
    assert how_by_sku(p, "#preview-lines") == expected

    p.goto(f"{served}/mapping/skus")
    assert how_by_sku(p, "#matched-by-code") == {"MUG": "matched by code",
                                                  "tshirt": "matched by code"}
    assert how_by_sku(p, "#unmapped") == {"book": "suggested", "NO-SUCH": "unmapped"}
    shot(p, "studio-skus-matched.png", tmp_path)
