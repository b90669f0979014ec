"""``kfsync demo``: the whole order-to-cash path on this machine, in about a minute.

Starts the sandbox servers, the services (web, worker, beat, flower; an embedded Redis when
none answers), seeds sample orders into the Magento sandbox, sends ~20 signed webhooks (with a
duplicate delivery and an update among them), waits for the work to settle and prints what
landed in KashFlow.
"""

from __future__ import annotations

import shutil
import socket
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
import simplejson
from rich.table import Table
from sqlalchemy import func, select

import sandbox
from ingest.signing import signed_headers
from kfsync.cli import make_console
from kfsync.samples import Buyer, Line, make_order
from kfsync.supervisor import Supervisor
from sandbox.server import SandboxServers
from store.db import session_scope
from store.models import InboundEvent, JobState, SyncJob

DEMO_DIR = Path("var/demo")
DEMO_SECRET = "demo-webhook-secret"  # noqa: S105 - a demo-only value, printed nowhere
DEMO_OPS_TOKEN = "demo-ops-token"  # noqa: S105 - the demo's own dashboard login, shown to the user
SETTLE_TIMEOUT_S = 120
SETTLED = {JobState.DONE, JobState.SKIPPED, JobState.WAITING, JobState.NEEDS_REVIEW, JobState.DEAD}
console = make_console()


def free_port(preferred: int) -> int:
    """``preferred`` when a server can listen on it (a port in TIME_WAIT from a previous run
    counts as free, as it is for the servers, which set SO_REUSEADDR), else a free one; the
    demo says so when it moves."""
    from kfsync.foreground import port_free

    if port_free(preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    console.print(f"[yellow]port {preferred} is in use; the demo uses {port} instead[/yellow]")
    return port


def sample_orders() -> list[dict[str, Any]]:
    """About twenty orders covering the cases a shop meets on day one."""
    ann = Buyer("ann.lee@example.com", "Ann", "Lee", customer_id=501)
    zoe = Buyer("Zoë.Brontë@example.org", "Zoë", "Brontë")
    firm = Buyer("accounts@acme.example", "Raj", "Patel", customer_id=502, company="Acme Ltd")
    hand = Buyer("  Kim@Example.net ", "Kim", "Hart")  # matches a customer made in KashFlow
    t, m, b, h = ("TSHIRT", "T-shirt"), ("MUG", "Mug"), ("BOOK", "Book"), ("HOODIE", "Hoodie")
    d = Decimal
    specs: list[tuple[Buyer, list[Line], dict[str, Any]]] = [
        (ann, [Line(*t, d("12.50"), 2)], {}),
        (zoe, [Line(*m, d("7.99"), 1), Line(*b, d("9.99"), 1, vat=d(0))], {}),
        (ann, [Line(*h, d("34.00"), 1)], {"method": "paypal_express"}),
        (firm, [Line(*t, d("12.50"), 10, discount=d("12.50"))], {"method": "checkmo"}),
        (hand, [Line(*m, d("7.99"), 3)], {}),
        (Buyer("sam@example.com", "Sam", "Roe"), [Line(*b, d("14.99"), 1, vat=d(0))],
         {"shipping": d(0)}),
        (Buyer("lee@example.com", "Lee", "Chan"), [Line(*t, d("12.50"), 1)],
         {"state": "pending_payment"}),
        (Buyer("eve@example.com", "Eve", "Moss", customer_id=503),
         [Line(*t, d("12.50"), 1, vat=d(20)), Line("CANDLE", "Candle", d("6.40"), 2, vat=d(5))],
         {}),
        (firm, [Line(*h, d("34.00"), 2)], {"method": "banktransfer"}),
        (zoe, [Line(*t, d("12.50"), 1, discount=d("2.50"))], {}),
    ]
    for n in range(6):
        buyer = Buyer(f"shopper{n}@example.com", "Pat", f"Shopper{n}")
        specs.append((buyer, [Line(*m, d("7.99"), n + 1), Line(*b, d("9.99"), 1, vat=d(0))], {}))
    return [make_order(1000 + i, buyer, lines, **opts)
            for i, (buyer, lines, opts) in enumerate(specs, start=1)]


def webhook(order: dict[str, Any], topic: str, event_id: str | None = None
            ) -> tuple[str, bytes]:
    event_id = event_id or str(uuid.uuid4())
    body = simplejson.dumps({
        "id": event_id, "topic": topic, "occurred_at": "2026-11-24T10:00:03Z", "store_id": 1,
        "resource": {"type": "order", "entity_id": order["entity_id"],
                     "increment_id": order["increment_id"], "updated_at": order["updated_at"]},
        "data": {},
    }).encode()
    return event_id, body


def run_demo(keep_running: bool | None) -> None:
    if keep_running is None:
        keep_running = sys.stdin.isatty() and sys.stdout.isatty()
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    servers = SandboxServers(magento_port=free_port(8081), kashflow_port=free_port(8082))
    servers.start()
    web_port, flower_port = free_port(8000), free_port(5555)
    env = {
        "KFSYNC_ENV": "dev", "KFSYNC_DATABASE_URL": f"sqlite:///{DEMO_DIR / 'kfsync.db'}",
        "KFSYNC_MAGENTO_BASE_URL": servers.magento_url,
        "KFSYNC_MAGENTO_TOKEN": sandbox.MAGENTO_TOKEN,
        "KFSYNC_KASHFLOW_BASE_URL": servers.kashflow_url,
        "KFSYNC_KASHFLOW_USERNAME": sandbox.KASHFLOW_USERNAME,
        "KFSYNC_KASHFLOW_PASSWORD": sandbox.KASHFLOW_PASSWORD,
        "KFSYNC_KASHFLOW_MEMORABLE_WORD": sandbox.KASHFLOW_MEMORABLE_WORD,
        "KFSYNC_WEBHOOK_SECRETS": DEMO_SECRET, "KFSYNC_OPS_TOKEN": DEMO_OPS_TOKEN,
        # The sandbox has no rate limit; a real KashFlow account keeps the default (2/s).
        "KFSYNC_KASHFLOW_RATE": "50", "KFSYNC_KASHFLOW_BURST": "20",
    }
    try:
        with Supervisor(env, log_dir=str(DEMO_DIR / "logs"),
                        own_redis_dir=str(DEMO_DIR)) as sup:  # never the machine's Redis
            console.print(f"[bold]kfsync demo[/bold]  redis {sup.redis_url} (its own, in "
                          f"{DEMO_DIR})  sandbox {servers.magento_url} {servers.kashflow_url}")
            sup.start_all(port=web_port, flower_port=flower_port, concurrency=2)
            web = f"http://127.0.0.1:{web_port}"
            sup.wait_ready(web)
            orders = sample_orders()
            _seed(servers, orders)
            sent = _send(web, orders)
            console.print(f"sent {sent} signed webhooks; waiting for the work to settle...")
            _wait_settled(sup, env["KFSYNC_DATABASE_URL"], len(orders))
            _summary(servers, env["KFSYNC_DATABASE_URL"])
            console.print(f"logs:      {DEMO_DIR / 'logs'}")
            if keep_running:
                _addresses(web, flower_port)
                console.print("services keep running; Ctrl-C stops them")
                sup.wait()
    finally:
        servers.stop()
    console.print("the demo's services and sandbox have stopped" + (
        "" if keep_running else " (no terminal: `kfsync demo --keep-running` keeps them up "
        "to explore the dashboard)"))


def _addresses(web: str, flower_port: int) -> None:
    console.print(f"dashboard: {web}/  (log in with the demo ops token: {DEMO_OPS_TOKEN})\n"
                  f"ops API:   {web}/api/v1/openapi.json\n"
                  f"flower:    http://127.0.0.1:{flower_port}/", highlight=False)


def _seed(servers: SandboxServers, orders: list[dict[str, Any]]) -> None:
    kim = {"Code": "HART01", "Name": "Kim Hart (entered by hand)", "Email": "kim@example.net",
           "Contacts": [{"Name": "Kim Hart", "Email": "kim@example.net"}]}
    requests.post(f"{servers.kashflow_control}/customers", json=kim, timeout=5).raise_for_status()
    for order in orders:
        body = simplejson.dumps(order, use_decimal=True)
        requests.post(f"{servers.magento_control}/orders", data=body, timeout=5,
                      headers={"Content-Type": "application/json"}).raise_for_status()


def _send(web: str, orders: list[dict[str, Any]]) -> int:
    deliveries = [webhook(o, "order.created") for o in orders]
    deliveries.append(deliveries[0])  # a retried delivery: same event id -> "duplicate"
    deliveries.append(webhook(orders[2], "order.updated"))  # an update of a synced order
    deliveries.append(webhook(orders[1], "order.updated"))
    session = requests.Session()
    for event_id, body in deliveries:
        reply = session.post(f"{web}/webhooks/magento", data=body, timeout=10,
                             headers=signed_headers(DEMO_SECRET, event_id, body))
        if reply.status_code not in (200, 202):
            raise RuntimeError(f"webhook refused: {reply.status_code} {reply.text[:200]}")
    return len(deliveries)


def _wait_settled(sup: Supervisor, url: str, expected_jobs: int) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    with console.status("syncing") as progress:
        while time.monotonic() < deadline:
            sup.check()
            with session_scope(url) as s:
                states = dict(s.execute(select(SyncJob.state, func.count())
                                        .group_by(SyncJob.state)).tuples().all())
                pending_events = s.scalar(select(func.count()).select_from(InboundEvent)
                                          .where(InboundEvent.processed_at.is_(None)))
            settled = sum(n for st, n in states.items() if st in SETTLED)
            progress.update(f"syncing: {settled}/{expected_jobs} orders settled, "
                            f"{pending_events} events in flight")
            if settled >= expected_jobs and not pending_events:
                return
            time.sleep(0.5)
    console.print("[yellow]not everything settled in time; the table shows where it is[/yellow]")


def _summary(servers: SandboxServers, url: str) -> None:
    state = requests.get(f"{servers.kashflow_control}/state", timeout=5).json(
        parse_float=Decimal)
    invoices = {int(i["Number"]): i for i in state["invoices"]}
    with session_scope(url) as s:
        jobs = list(s.scalars(select(SyncJob).order_by(SyncJob.magento_ref)))
    table = Table("order", "job", "customer", "invoice", "gross", "Magento total", "paid",
                  title="Magento orders -> KashFlow invoices")
    for job in jobs:
        invoice = invoices.get(job.invoice_number or -1, {})
        lines = invoice.get("PaymentLines") or []
        paid = ", ".join(f"{p['Amount']} {job.payment_ref or ''}" for p in lines) or (
            "none: offline method" if invoice else "")
        table.add_row(job.magento_ref or "", _state(job), job.customer_code or "",
                      str(job.invoice_number or ""), str(invoice.get("GrossAmount", "")),
                      str((job.document or {}).get("grand_total", "")), paid)
    console.print(table)
    console.print(f"KashFlow now holds {len(state['customers'])} customers and "
                  f"{len(invoices)} invoices.")
    console.print(_latency(url))


def _latency(url: str) -> str:
    """Seconds from the first webhook of each synced order to its job being done."""
    with session_scope(url) as s:
        rows = s.execute(
            select(SyncJob.updated_at, func.min(InboundEvent.received_at))
            .join(InboundEvent, InboundEvent.resource_key == SyncJob.magento_key)
            .where(SyncJob.state == JobState.DONE).group_by(SyncJob.id, SyncJob.updated_at)
        ).tuples().all()
    waits = sorted((done - first).total_seconds() for done, first in rows if done and first)
    if not waits:
        return "no order reached done"
    return (f"webhook -> invoice (and payment) in KashFlow: median {waits[len(waits) // 2]:.2f} s,"
            f" slowest {waits[-1]:.2f} s over {len(waits)} orders")


def _state(job: SyncJob) -> str:
    """The state and, for a job that stopped short, its whole reason (the table wraps it:
    the numbers that explain a hold come at the end)."""
    if not job.reason:
        return str(job.state)
    # "waiting for the payment gateway" says the state itself: no "waiting: waiting for".
    said = job.reason.lower().startswith(str(job.state).replace("_", " "))
    return job.reason if said else f"{job.state}: {job.reason}"
