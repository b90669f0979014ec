"""Two integration pairs on the operator surface, on the real stack of test_pairs.py (two
sandbox pairs over HTTP, one real worker, SQLite and PostgreSQL) with a real headless
Chromium: the overview counts per pair, the pair selector narrows the overview, jobs and
dead letters and is remembered while the operator moves between pages; a dead letter of
pair shopb is requeued from its page and its invoice lands in shop B's KashFlow company, to
the penny. /metrics labels the same work with its pair, and the CLI's --pair agrees."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from core.settings import Settings
from ingest import create_app
from store.db import session_scope
from store.models import DeadLetter, JobState
from tests.integration.browser import chromium
from tests.integration.test_operator_surface import scrape, shot, total
from tests.integration.test_pairs import (
    ANN,
    BEN,
    SECRET_A,
    SECRET_B,
    PairStack,
    order_for,
    pair_stack,
    seed,
    state,
)

pytestmark = pytest.mark.integration
__all__ = ["pair_stack"]  # the fixture, imported for this module's tests
OPS_TOKEN = "pairs-dashboard-ops-token-5e1"


@pytest.fixture(scope="module")
def synced(pair_stack: PairStack) -> PairStack:
    """Shop A: two orders done. Shop B: one order done (store 2), one dead at its customer
    (company B's KashFlow answered 503 to every customer call), with its dead letter."""
    st = pair_stack
    a1, a2 = order_for(4501, ANN, 1), order_for(4502, BEN, 1)
    b1 = order_for(4501, BEN, 2, increment_id="B00004501")
    b2 = order_for(4503, ANN, 3)
    for servers, order in ((st.a, a1), (st.a, a2), (st.b, b1), (st.b, b2)):
        seed(servers, order)
    assert st.post("/webhooks/magento", SECRET_A, a1, 1) == 202
    assert st.post("/webhooks/magento/shopb", SECRET_B, b1, 2) == 202
    assert st.post("/webhooks/magento", SECRET_A, a2, 1) == 202
    for pair, order in (("default", a1), ("default", a2), ("shopb", b1)):
        assert st.wait_settled(pair, order["entity_id"]).state == JobState.DONE
    for method in ("GET", "POST"):
        requests.post(f"{st.b.kashflow_control}/faults", timeout=5, json={
            "method": method, "path": "/customers", "kind": "status", "status": 503,
            "count": None}).raise_for_status()
    assert st.post("/webhooks/magento/shopb", SECRET_B, b2, 3) == 202
    deadline = time.monotonic() + 90
    while (job := st.job("shopb", 4503)) is None or job.state != JobState.DEAD:
        assert time.monotonic() < deadline, f"shopb's order 4503 is {job and job.state}"
        time.sleep(0.2)
    requests.delete(f"{st.b.kashflow_control}/faults", timeout=5).raise_for_status()
    return st


@pytest.fixture
def served(synced: PairStack) -> Iterator[str]:
    app = create_app(Settings.load({**synced.env, "KFSYNC_OPS_TOKEN": OPS_TOKEN},
                                   env_file=None))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def page() -> Iterator[Any]:
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.set_default_timeout(15000)
        yield tab


def cells(p: Any, row: str) -> list[str]:
    return [c.strip() for c in p.locator(f"#{row} td").all_inner_texts()]


def test_the_selector_narrows_every_page_and_a_pairs_letter_is_requeued_in_the_browser(
        synced: PairStack, served: str, page: Any, tmp_path: Path) -> None:
    p, st = page, synced
    p.goto(served + "/")
    p.fill("input[name=token]", OPS_TOKEN)
    with p.expect_navigation():
        p.click("button:has-text('Log in')")
    # the overview per pair: synced 24h, in progress, waiting, review, dead, done, letters
    assert cells(p, "pair-default")[:8] == ["default", "2", "0", "0", "0", "0", "2", "0"]
    assert cells(p, "pair-shopb")[:8] == ["shopb", "1", "0", "0", "0", "1", "1", "1"]
    assert cells(p, "pair-shopb")[9] == "closed"
    assert p.inner_text("#synced-24h").strip() == "3"  # the cards: every pair
    shot(p, "pairs-overview.png", tmp_path)

    p.select_option("#pair-select", "shopb")
    with p.expect_navigation():
        p.click("#pair-form button")
    assert "pair=shopb" in p.url and "pair shopb" in p.inner_text("#pair-shown")
    assert p.inner_text("#synced-24h").strip() == "1"
    assert p.inner_text("#letters-open").strip() == "1"

    with p.expect_navigation():  # the header's plain link: the choice is remembered
        p.click("header a:has-text('Jobs')")
    listed = p.inner_text("#jobs")
    assert "B00004501" in listed and "000004503" in listed
    assert "000004501" not in listed and "000004502" not in listed
    assert p.input_value("#pair-select") == "shopb"

    with p.expect_navigation():
        p.click("header a:has-text('Dead letters')")
    with session_scope(st.db_url) as s:
        [letter] = s.scalars(select(DeadLetter).where(DeadLetter.resolved_at.is_(None)))
        letter_id = letter.id
    assert "000004503" in p.inner_text("#letters")
    shot(p, "pairs-letters.png", tmp_path)
    p.check(f"input[name=ids][value='{letter_id}']")
    with p.expect_navigation():
        p.click("button:has-text('Requeue selected')")
    assert f"Requeued 1 dead letter(s): {letter_id}" in p.content()
    job = st.wait_settled("shopb", 4503)
    assert job.state == JobState.DONE, job.reason
    company_a, company_b = state(st.a), state(st.b)
    by_ref = {i["CustomerReference"]: i for i in company_b["invoices"]}
    assert Decimal(str(by_ref["000004503"]["GrossAmount"])) == Decimal("58.20")
    assert by_ref["000004503"]["LineItems"][0]["NominalCode"] == 4000  # store 3's rule
    assert "000004503" not in {i["CustomerReference"] for i in company_a["invoices"]}

    p.goto(served + "/")
    assert p.inner_text("#letters-open").strip() == "0"  # still shopb's view
    assert cells(p, "pair-shopb")[:8] == ["shopb", "2", "0", "0", "0", "0", "2", "0"]
    p.select_option("#pair-select", "")
    with p.expect_navigation():
        p.click("#pair-form button")
    p.goto(served + "/jobs")
    listed = p.inner_text("#jobs")
    assert all(ref in listed for ref in ("000004501", "000004502", "B00004501", "000004503"))
    html = p.content()
    for secret in (SECRET_A, SECRET_B, OPS_TOKEN):
        assert secret not in html


def test_metrics_and_the_cli_count_each_pairs_work_apart(synced: PairStack) -> None:
    st = synced
    app = create_app(Settings.load(st.env, env_file=None))
    samples = scrape(app)
    for pair in ("default", "shopb"):
        assert total(samples, "kfsync_api_calls_total", system="kashflow", pair=pair) >= 3
        assert total(samples, "kfsync_api_calls_total", system="magento", pair=pair) >= 1
        assert total(samples, "kfsync_task_duration_seconds_count", pair=pair,
                     task="kfsync.events.process_event") >= 1
        assert total(samples, "kfsync_jobs", pair=pair, state="done") >= 1
    assert total(samples, "kfsync_api_calls_total", system="kashflow", pair="shopb",
                 status="503") >= 1  # the customer calls that failed were shop B's
    assert total(samples, "kfsync_api_calls_total", system="kashflow", pair="default",
                 status="503") == 0
    assert total(samples, "kfsync_circuit_open", pair="default") == 0

    def kfsync(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kfsync", *args], env=st.env,
                              capture_output=True, text=True, timeout=60, check=False)

    listed = kfsync("dlq", "list", "--all", "--pair", "shopb")
    assert listed.returncode == 0 and "order 000004503" in listed.stdout, listed.stderr
    assert "0 dead letter(s)" in kfsync("dlq", "list", "--all", "--pair", "default").stdout
    unknown = kfsync("dlq", "list", "--pair", "shopc")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1
    status = kfsync("status")  # both shops' sandboxes answer: exit 0, a row per pair
    assert status.returncode == 0, status.stdout + status.stderr
    rows = [line for line in status.stdout.splitlines() if "closed" in line]
    assert any("default" in row for row in rows) and any("shopb" in row for row in rows)
