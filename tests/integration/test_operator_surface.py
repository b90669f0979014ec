"""The operator's surface on the real stack (sandbox, Redis, a Celery worker process):
``/metrics`` moves when orders flow, and a real headless Chromium logs in to the dashboard,
opens a dead letter, requeues it and watches its job reach ``done``."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from core.settings import Settings
from ingest import create_app
from kfsync.samples import Buyer, Line, make_order
from store.models import JobState
from tests.integration.browser import chromium
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

OPS_TOKEN = "browser-ops-token-93f1c2"
ROOT = Path(__file__).resolve().parents[2]


def order(entity_id: int) -> dict[str, object]:
    lines = [Line("MUG", "Mug", Decimal("8.00"), 1)]
    return make_order(entity_id, Buyer("ops.check@example.com", "Olive", "Ops"), lines)


def ops_app(stack: Stack) -> Flask:
    settings = Settings.load({**stack.env, "KFSYNC_OPS_TOKEN": OPS_TOKEN}, env_file=None)
    return create_app(settings)


def scrape(app: Flask) -> dict[str, float]:
    text = app.test_client().get("/metrics").get_data(as_text=True)
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def total(samples: dict[str, float], prefix: str, **labels: str) -> float:
    want = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(v for k, v in samples.items()
               if k.startswith(prefix + "{") and all(w in k for w in want))


def test_metrics_move_when_orders_flow(stack: Stack) -> None:
    app = ops_app(stack)
    before = scrape(app)
    doc = order(3101)
    stack.seed_order(doc)
    stack.send(doc)
    assert stack.wait_settled(3101).state == JobState.DONE
    after = scrape(app)

    def moved(prefix: str, **labels: str) -> float:
        return total(after, prefix, **labels) - total(before, prefix, **labels)

    assert moved("kfsync_webhooks_total", outcome="accepted") == 1
    assert total(after, "kfsync_jobs", state="done") == 1
    assert moved("kfsync_api_calls_total", system="kashflow", method="POST") >= 2
    assert moved("kfsync_api_calls_total", system="magento", method="GET", status="200") >= 1
    assert moved("kfsync_api_call_duration_seconds_count", system="kashflow") >= 2
    # A new customer's order is one task: process_event runs its steps in-process
    # (workers/orders.py, ORDER_FLOW).
    assert moved("kfsync_task_duration_seconds_count", task="kfsync.events.process_event") >= 1
    assert total(after, "kfsync_queue_length", queue="ingest") >= 0
    assert "kfsync_dead_letters_open" in app.test_client().get("/metrics").get_data(as_text=True)


# -- the browser ---------------------------------------------------------------------------
@pytest.fixture
def browser_page() -> Iterator[Any]:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15000)
        yield page


@pytest.fixture
def served(stack: Stack) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, ops_app(stack), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def shot(page: Any, name: str, tmp: Path) -> None:
    folder = Path(os.environ.get("KFSYNC_SCREENSHOT_DIR") or tmp)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=True)


def test_operator_requeues_a_dead_letter_in_the_browser_and_sees_it_done(
        stack: Stack, served: str, browser_page: Any, tmp_path: Path) -> None:
    stack.fault("kashflow", method="POST", path="/customers", kind="status", status=503,
                count=None)
    stack.fault("kashflow", method="GET", path="/customers", kind="status", status=503,
                count=None)
    doc = order(3201)
    stack.seed_order(doc)
    stack.send(doc)
    job = stack.wait_settled(3201, timeout=60)
    assert job.state == JobState.DEAD
    requests.delete(f"{stack.servers.kashflow_control}/faults", timeout=5).raise_for_status()

    p = browser_page  # playwright's Page
    p.goto(served + "/dead-letters")
    assert "/login" in p.url
    p.fill("input[name=token]", "not the token")
    p.click("button:has-text('Log in')")
    assert "That is not the ops token." in p.content()
    p.fill("input[name=token]", OPS_TOKEN)
    p.click("button:has-text('Log in')")
    assert p.url.endswith("/dead-letters")
    [letter] = stack.dead_letters()
    p.click(f"a:has-text('#{letter.id}')")
    assert "503" in p.inner_text("#letter-reason")
    html_pages = [p.content()]

    # A forged form (its CSRF token removed) is refused and changes nothing.
    p.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    p.click("button:has-text('Requeue')")
    assert "That form was refused" in p.content()
    p.goto(f"{served}/dead-letters/{letter.id}")
    p.click("button:has-text('Requeue')")
    assert f"Requeued 1 dead letter(s): {letter.id}" in p.content()
    deadline = time.monotonic() + 30
    while "done" not in p.inner_text("#job-state"):
        assert time.monotonic() < deadline, "the requeued job did not reach done in 30 s"
        time.sleep(0.5)
        p.reload()
    assert re.fullmatch(r"\d+", p.inner_text("#invoice-number").strip())
    shot(p, "job.png", tmp_path)
    html_pages.append(p.content())
    p.goto(served + "/dead-letters")
    assert "No dead letters match." in p.content()
    p.goto(served + "/")
    assert p.inner_text("#synced-24h").strip() == "1"
    shot(p, "overview.png", tmp_path)
    html_pages.append(p.content())
    secrets = [stack.env[k] for k in ("KFSYNC_KASHFLOW_PASSWORD", "KFSYNC_KASHFLOW_MEMORABLE_WORD",
                                      "KFSYNC_MAGENTO_TOKEN", "KFSYNC_WEBHOOK_SECRETS")]
    for html in html_pages:
        for secret in [*secrets, OPS_TOKEN]:
            assert secret not in html


def test_flower_shows_every_queue_behind_basic_auth_with_metrics(
        stack: Stack, tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**stack.env, "KFSYNC_FLOWER_BASIC_AUTH": "ops:flower-pw"}
    log = (tmp_path / "flower.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "kfsync", "flower", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                reply = requests.get(f"{base}/api/queues/length", auth=("ops", "flower-pw"),
                                     timeout=5)
                workers = requests.get(f"{base}/api/workers", auth=("ops", "flower-pw"),
                                       timeout=5).json()
                if reply.status_code == 200 and workers:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "flower.log").read_text()[-2000:]
            time.sleep(0.5)
        names = {q["name"] for q in reply.json()["active_queues"]}
        assert {"ingest", "orders", "customers", "payments", "dead_letter"} <= names
        assert requests.get(f"{base}/api/queues/length", timeout=5).status_code == 401
        metrics = requests.get(f"{base}/metrics", auth=("ops", "flower-pw"), timeout=5)
        assert metrics.status_code == 200 and "flower_events_total" in metrics.text
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
