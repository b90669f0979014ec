"""The mapping studio in a real headless Chromium, on the real stack (sandboxes over HTTP, a
Celery worker process, SQLite and PostgreSQL): an order with an unmapped SKU posts on the
default nominal and says so; the operator refreshes the catalogue, accepts the suggestion,
previews the stored order, publishes; the next invoice uses the product's nominal; a rollback
puts the old rules back for the order after; each job page names the version it used."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from kfsync.samples import Buyer, Line, make_order
from store.models import JobState
from tests.integration import test_operator_surface as surface
from tests.integration.conftest import Stack
from tests.integration.test_operator_surface import OPS_TOKEN, shot

pytestmark = pytest.mark.integration
browser_page, served = surface.browser_page, surface.served  # the operator surface's fixtures

SKU, NAME = "mug_blue_01", "Enamel Mug Blue"  # not the KashFlow code: a suggestion waits
PRODUCT = {"NominalCode": 4010, "Code": "MUG-BLUE", "Name": "Blue Enamel Mug",
           "Price": 12, "VATRate": 20}


def mug_order(entity_id: int) -> dict[str, Any]:
    return make_order(entity_id, Buyer(f"studio.{entity_id}@example.com", "Sam", "Studio"),
                      [Line(SKU, NAME, Decimal("12.00"), 2)])


def post_order(stack: Stack, entity_id: int) -> tuple[int, dict[str, Any]]:
    """Send an order through the stack; its job id and the mug line KashFlow holds."""
    doc = mug_order(entity_id)
    stack.seed_order(doc)
    stack.send(doc)
    job = stack.wait_settled(entity_id, timeout=60)
    assert job.state == JobState.DONE, job.reason
    [invoice] = [i for i in stack.invoices() if i["Number"] == job.invoice_number]
    [line] = [x for x in invoice["LineItems"] if SKU in str(x.get("Description"))]
    return job.id, line


def submit(page: Any, button: str) -> None:
    """Click a form's button and wait for the page it loads (a click alone returns before
    the next page, whose flashed message the test then reads)."""
    with page.expect_navigation():
        page.click(button)


def wait_for_refresh(page: Any, timeout_s: float = 60) -> str:
    """The studio's line on the last catalogue refresh, once the worker has ended it."""
    deadline = time.monotonic() + timeout_s
    while True:
        line = page.inner_text("#catalogue-refresh")
        if line.startswith("Last catalogue refresh") or time.monotonic() > deadline:
            return str(line)
        time.sleep(0.5)
        page.reload()


def flashed(page: Any) -> str:
    return " ".join(page.locator("[role=status]").all_inner_texts())


def profile_version(page: Any, base: str, job_id: int) -> int:
    page.goto(f"{base}/jobs/{job_id}")
    match = re.search(r"Mapping profile version (\d+)", page.inner_text("#profile-version"))
    assert match, page.inner_text("#profile-version")
    return int(match.group(1))


def test_map_a_sku_from_a_suggestion_preview_publish_and_roll_back_in_the_browser(
        stack: Stack, served: str, browser_page: Any, tmp_path: Path) -> None:
    requests.post(f"{stack.servers.kashflow_control}/products", json=PRODUCT,
                  timeout=5).raise_for_status()
    first_job, line = post_order(stack, 5101)
    assert line["NominalCode"] == 4000 and not line.get("ProductCode")

    p = browser_page
    p.goto(served + "/mapping")
    p.fill("input[name=token]", OPS_TOKEN)
    submit(p, "button:has-text('Log in')")
    assert p.url.endswith("/mapping")
    p.goto(f"{served}/jobs/{first_job}")
    assert (f"SKU {SKU} is not mapped: posted on nominal 4000"
            in p.inner_text("#job-notes"))

    p.goto(served + "/mapping")
    submit(p, "button:has-text('Refresh catalogue')")
    assert "Catalogue refresh queued" in flashed(p)
    refresh = wait_for_refresh(p)  # a worker reads KashFlow; the page reloads until it ends
    assert "done" in refresh and "product(s)" in refresh, refresh
    submit(p, "button:has-text('Run suggestions')")
    assert "0 applied to the draft" in flashed(p) and "1 waiting" in flashed(p)

    p.goto(served + "/mapping/skus")
    row = p.locator(f"#unmapped tr[data-sku='{SKU}']")
    assert "Blue Enamel Mug" in row.inner_text()
    shot(p, "studio-skus.png", tmp_path)
    with p.expect_navigation():
        row.locator(f"button[aria-label='accept MUG-BLUE for {SKU}']").click()
    assert f"Accepted: sku {SKU} -> MUG-BLUE" in flashed(p)
    assert p.input_value("input[aria-label='product code of mug_blue_01']") == "MUG-BLUE"
    assert p.input_value("input[aria-label='nominal code of mug_blue_01']") == "4010"

    p.goto(f"{served}/mapping/preview?order={first_job}")
    mug_row = p.locator("#preview-lines tr", has_text=SKU)
    assert "4010" in mug_row.inner_text() and "MUG-BLUE" in mug_row.inner_text()
    assert '"NominalCode": 4010' in p.inner_text("#preview-body")
    diff = p.inner_text("#preview-diff")
    assert "NominalCode: 4000 -> 4010" in diff and "MUG-BLUE" in diff
    shot(p, "studio-preview.png", tmp_path)

    p.goto(served + "/mapping")
    p.fill("input[name=comment]", "map the blue enamel mug")
    submit(p, "button:has-text('Publish')")
    published = re.search(r"Published version (\d+)", flashed(p))
    assert published, flashed(p)

    second_job, line = post_order(stack, 5102)
    assert line["NominalCode"] == 4010 and line["ProductCode"] == "MUG-BLUE"
    assert profile_version(p, served, second_job) == int(published.group(1))

    first_version = profile_version(p, served, first_job)
    p.goto(f"{served}/mapping/versions/{first_version}")
    submit(p, "button:has-text('Rollback to this version')")
    rolled = re.search(r"Rolled back: version (\d+) is in force", flashed(p))
    assert rolled, flashed(p)
    shot(p, "studio-versions.png", tmp_path)

    third_job, line = post_order(stack, 5103)
    assert line["NominalCode"] == 4000 and not line.get("ProductCode")
    used = [profile_version(p, served, job) for job in (first_job, second_job, third_job)]
    assert used == [first_version, int(published.group(1)), int(rolled.group(1))]
    assert len(set(used)) == 3
    p.goto(served + "/mapping/versions")
    listed = {int(row.get_attribute("data-version"))
              for row in p.locator("#versions tr[data-version]").all()}
    assert set(used) <= listed
    assert f"rollback of v{first_version}" in p.inner_text(f"tr[data-version='{used[2]}']")
    p.goto(served + "/mapping/audit")
    audit = p.inner_text("#audit")
    for action in ("mapping-accept", "mapping-publish", "mapping-rollback"):
        assert action in audit
