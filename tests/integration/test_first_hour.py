"""The first hour, as a new user lives it: ``kfsync run --sandbox`` started the way the README
says, a test order sent the way the README says, the order seen in the dashboard; a webhook
for an order Magento does not have shows up with its reason; the job page puts the Magento
order and the KashFlow invoice side by side in a real headless Chromium."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
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
ROOT = Path(__file__).resolve().parents[2]


def _ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    ports = [int(sock.getsockname()[1]) for sock in socks]
    for sock in socks:
        sock.close()
    return ports


def _kfsync_env() -> dict[str, str]:
    """The user's shell: nothing of kfsync's configured (the sandbox run needs nothing)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KFSYNC_")}


def _login(web: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{web}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, page[:500]
    reply = session.post(f"{web}/login", timeout=10, allow_redirects=False,
                         data={"token": "sandbox-ops-token", "csrf_token": token.group(1)})
    assert reply.status_code == 302, reply.text[:500]
    return session


def _wait_for(proc: subprocess.Popen[str], lines: list[str], text: str, timeout: float) -> None:
    """Read the run's stdout until ``text`` shows up (every line kept in ``lines``)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if text in line:
            return
    raise AssertionError(f"no {text!r} in the output:\n{''.join(lines)[-4000:]}")


def _ctrl_c_stops() -> None:
    """In the child, before it runs: Ctrl-C (SIGINT) acts as it does at a terminal. A suite
    started in the background by a non-interactive shell (``pytest ... &``) ignores SIGINT,
    and a child inherits that: ``kfsync run`` would not hear the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_run_sandbox_send_a_test_order_and_see_it_in_the_dashboard(tmp_path: Path) -> None:
    web_port, flower_port, magento_port, kashflow_port = _ports(4)
    env = _kfsync_env()
    run = subprocess.Popen(
        [sys.executable, "-m", "kfsync", "run", "--sandbox", "-c", "1", "--port", str(web_port),
         "--flower-port", str(flower_port), "--magento-port", str(magento_port),
         "--kashflow-port", str(kashflow_port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True, preexec_fn=_ctrl_c_stops)
    lines: list[str] = []
    try:
        _wait_for(run, lines, "Ctrl-C stops every service", timeout=120)
        block = "".join(lines[-8:])
        web = f"http://127.0.0.1:{web_port}"
        assert f"dashboard   {web}/" in block and "sandbox-ops-token" in block
        assert f"flower      http://127.0.0.1:{flower_port}/" in block
        assert "kfsync send-test-order" in block
        # Every service line carries its name; the banner is printed once.
        assert any(x.startswith("worker | ") for x in lines)
        assert sum("kfsync is running" in x for x in lines) == 1

        sent = subprocess.run([sys.executable, "-m", "kfsync", "send-test-order"], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=90, check=False)
        assert sent.returncode == 0, sent.stderr
        match = re.search(r"order (\d{9}): done: KashFlow invoice (\d+)", sent.stdout)
        assert match, sent.stdout
        ref, invoice = match.groups()

        session = _login(web)
        jobs = session.get(f"{web}/jobs", timeout=10).text
        assert ref in jobs and "state-done" in jobs
        job_id = re.search(r'href="/jobs/(\d+)"', jobs)
        assert job_id
        page = session.get(f"{web}/jobs/{job_id.group(1)}", timeout=10).text
        assert f'id="invoice-number">{invoice}<' in page and "T-shirt" in page

        flower = f"http://127.0.0.1:{flower_port}/"
        deadline = time.monotonic() + 30
        while True:  # Flower starts once a worker answers, so its first look finds one
            try:
                if requests.get(flower, timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "Flower did not answer in 30 s"
            time.sleep(0.5)
        assert not [x for x in lines if x.startswith("flower |")]  # nothing to warn about

        status = subprocess.run([sys.executable, "-m", "kfsync", "status"], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=60, check=False)
        assert f"dashboard   {web}/" in status.stdout, status.stdout + status.stderr
        assert status.returncode == 0, status.stdout + status.stderr
    finally:
        run.send_signal(signal.SIGINT)  # Ctrl-C
        rest, _ = run.communicate(timeout=60)
    assert run.returncode == 0, rest[-3000:]
    assert "kfsync stopped; it was serving:" in rest and f"http://127.0.0.1:{web_port}/" in rest
    assert not (tmp_path / "var" / "run.json").exists()


def test_a_webhook_for_an_order_magento_lacks_is_held_with_its_reason(stack: Stack) -> None:
    ghost = make_order(3901, Buyer("ghost@example.com", "Gus", "Ghost"),
                       [Line("MUG", "Mug", Decimal("8.00"), 1)])
    stack.send(ghost)  # never seeded: Magento answers 404 for it
    job = stack.wait_settled(3901)
    assert job.state == JobState.NEEDS_REVIEW
    assert job.reason and "Magento has no order with entity_id 3901" in job.reason
    assert job.magento_ref == "000003901"

    listed = stack.cli("jobs", "list")
    assert "000003901" in listed.stdout and "Magento has no order" in listed.stdout
    shown = stack.cli("jobs", "show", str(job.id))
    assert "needs_review" in shown.stdout and "no step has run" in shown.stdout
    letters = stack.cli("dlq", "list")
    assert "order 000003901" in letters.stdout and "not_found" in letters.stdout
    assert "sync_jobs/" not in letters.stdout
    [letter] = [x for x in stack.dead_letters() if x.resolved_at is None]
    # The dashboard: the review list and the job page say why.
    client = surface.ops_app(stack).test_client()
    login = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert csrf
    client.post("/login", data={"token": OPS_TOKEN, "csrf_token": csrf.group(1)})
    review = client.get("/review").get_data(as_text=True)
    assert "000003901" in review and "Magento has no order with entity_id 3901" in review
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert 'id="no-order"' in page and "Magento has no order" in page

    # The order turns up (the webhook came early, or from the right shop after all): a
    # requeue reads it from Magento again and syncs it.
    stack.seed_order(ghost)
    requeued = stack.cli("dlq", "requeue", str(letter.id))
    assert requeued.returncode == 0, requeued.stderr
    stack.wait_until(lambda: (j := stack.job(3901)) is not None and j.state == JobState.DONE,
                     "the requeued order to be synced")
    assert [i for i in stack.invoices() if i["CustomerReference"] == "000003901"]


def test_job_page_shows_the_order_and_the_invoice_side_by_side_in_the_browser(
        stack: Stack, served: str, browser_page: Any, tmp_path: Path) -> None:
    doc = make_order(3951, Buyer("ada.side@example.com", "Ada", "Side"),
                     [Line("TSHIRT", "T-shirt", Decimal("12.50"), 2),
                      Line("BOOK", "Book", Decimal("9.99"), 1, vat=Decimal(0))])
    stack.seed_order(doc)
    stack.send(doc)
    job = stack.wait_settled(3951)
    assert job.state == JobState.DONE, job.reason
    [invoice] = [i for i in stack.invoices() if i["Number"] == job.invoice_number]

    p = browser_page
    p.goto(f"{served}/jobs/{job.id}")
    p.fill("input[name=token]", OPS_TOKEN)
    p.click("button:has-text('Log in')")
    assert p.url.endswith(f"/jobs/{job.id}")
    magento, kashflow = p.inner_text("#magento-side"), p.inner_text("#kashflow-side")
    assert "TSHIRT" in magento and "T-shirt" in magento and str(doc["grand_total"]) in magento
    assert f"KashFlow invoice {job.invoice_number}" in kashflow
    assert str(invoice["GrossAmount"]) in kashflow and str(invoice["VATAmount"]) in kashflow
    assert "Gross equals Magento's grand total." in kashflow
    assert f"Payment posted: {doc['payment']['amount_paid']}" in kashflow
    # Side by side: the two columns share a row on a laptop screen.
    left = p.locator("#magento-side").bounding_box()
    right = p.locator("#kashflow-side").bounding_box()
    assert left and right and abs(left["y"] - right["y"]) < 2 and right["x"] > left["x"]
    assert "{" not in p.inner_text("#job-plan")  # the plan reads as rows, not a JSON dump
    shot(p, "job.png", tmp_path)

    # The links open both products' pages (the sandbox serves them), not their REST APIs.
    hrefs = {link: p.get_attribute(link, "href") for link in ("#kashflow-link", "#magento-link")}
    for link, heading in (("#kashflow-link", f"Invoice {job.invoice_number}"),
                          ("#magento-link", "Order # 000003951")):
        href = hrefs[link]
        assert href and "/v2/" not in href and "/V1/" not in href
        p.goto(href)
        assert heading in p.inner_text("h1")
    p.goto(f"{served}/jobs/{job.id}")

    # A phone-sized window: "Log out" stays clear of the menu.
    p.set_viewport_size({"width": 420, "height": 800})
    button = p.locator("header button:has-text('Log out')").bounding_box()
    assert button and button["x"] + button["width"] <= 420
    for name in ("Overview", "Jobs", "Dead letters", "Review", "Mapping"):
        box = p.locator(f"header a:has-text('{name}')").bounding_box()
        assert box
        apart = (box["x"] + box["width"] <= button["x"] or button["x"] + button["width"] <= box["x"]
                 or box["y"] + box["height"] <= button["y"]
                 or button["y"] + button["height"] <= box["y"])
        assert apart, f"Log out overlaps {name}"


def test_connect_tests_both_systems_over_http_and_keeps_what_works(
        servers: Any, tmp_path: Path) -> None:
    for control in (servers.magento_control, servers.kashflow_control):
        requests.post(f"{control}/reset", timeout=5).raise_for_status()
    order = make_order(3971, Buyer("connect@example.com", "Cy", "Connect"),
                       [Line("MUG", "Mug", Decimal("7.99"), 1),
                        Line("CANDLE", "Candle", Decimal("6.40"), 2, vat=Decimal(5))])
    requests.post(f"{servers.magento_control}/orders", json=order, timeout=5).raise_for_status()
    env = {**_kfsync_env(), "KFSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'kfsync.db'}"}
    answers = "\n".join([servers.magento_url, "sandbox-magento-token", "sandbox",
                         "sandbox-password", "pineapple", ""])
    done = subprocess.run([sys.executable, "-m", "kfsync", "connect", "--kashflow-url",
                           servers.kashflow_url], cwd=tmp_path, env=env, input=answers,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "read order 000003971" in out
    assert "logged in as sandbox" in out and "payments go to 'Current Account'" in out
    assert "VAT rates 0%, 5%, 20%" in out and "5 product(s)" in out
    assert "SKUs with no KashFlow product of the same code: CANDLE" in out
    assert "no webhook source yet" in out
    saved = (tmp_path / ".env").read_text()
    assert f"KFSYNC_MAGENTO_BASE_URL={servers.magento_url}" in saved
    assert "KFSYNC_KASHFLOW_MEMORABLE_WORD=pineapple" in saved
    assert re.search(r"^KFSYNC_OPS_TOKEN=\S{20,}$", saved, re.M)
    for secret in ("sandbox-password", "pineapple", "sandbox-magento-token"):
        assert secret not in out  # said where it is kept, never echoed

    # A wrong KashFlow password: Magento still works; KashFlow is reported and not saved.
    again = subprocess.run([sys.executable, "-m", "kfsync", "connect", "--no-input",
                            "--magento-url", servers.magento_url,
                            "--magento-token", "sandbox-magento-token",
                            "--kashflow-url", servers.kashflow_url,
                            "--kashflow-username", "sandbox", "--kashflow-password", "wrong",
                            "--kashflow-memorable-word", "pineapple"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
                           check=False)
    assert again.returncode == 1
    assert "FAILED   KashFlow" in again.stdout and "password is incorrect" in again.stdout
    assert again.stderr.strip().count("\n") == 0  # one line
    assert "KFSYNC_KASHFLOW_PASSWORD=sandbox-password" in (tmp_path / ".env").read_text()


def test_demo_without_a_terminal_says_its_services_stopped_and_uses_its_own_redis(
        tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "kfsync", "demo"], cwd=tmp_path,
                          env=_kfsync_env(), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=300, check=False)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-2000:]
    assert "Magento orders -> KashFlow invoices" in out
    assert "have stopped" in out and "dashboard:" not in out  # no address that is dead already
    redis_url = re.search(r"redis (redis://127\.0\.0\.1:(\d+)/\d+) \(its own", out)
    assert redis_url and redis_url.group(2) != "6379", out[:500]
    assert "waiting: waiting" not in out
