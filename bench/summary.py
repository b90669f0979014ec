"""Summary mode at volume (issue 21, acceptance 1): orders over three days through the real
pipeline into one KashFlow invoice per store, currency and day, checked to the penny from
the KashFlow sandbox's own data, with KashFlow calls per order measured.

``kfsync web`` and ``kfsync worker`` run as subprocesses against the sandbox (no latency, no
rate limit), a fresh PostgreSQL database (SQLite when none answers) and a private Redis, with
a mapping file that turns summary mode on for every store and points each gateway at its
clearing account. The orders (two currencies, VAT 0/5/20 %, two gateways, shipping and
discounts) arrive as signed webhooks; 15 % get an online refund (a credit memo). Then
beat's task (``kfsync.maintenance.close_summaries``) is sent to the worker with the days
closed, and every summary is checked against Magento's documents: net, VAT and gross to the
penny, payments per gateway into their clearing accounts, refunds on summary credit notes.
Then everything is replayed (every webhook again, the close again): nothing new may be
posted. The result is written to its own section of ``docs/benchmarks.md``.

    python -m bench.summary [--orders 2000] [--concurrency N]
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import simplejson
from sqlalchemy import func, select

from bench.common import (
    ROOT,
    SECRET,
    PrivateRedis,
    Procs,
    Sandbox,
    child_env,
    db_kind,
    free_port,
    install_signal_cleanup,
    log,
    machine,
    raw_request,
    save_result,
    temp_database,
    wait_web,
    webhook,
    workdir,
)
from bench.loadgen import closed_loop
from celeryconfig import worker_concurrency

DAYS = ("2026-11-20", "2026-11-21", "2026-11-22")
CURRENCIES = ("GBP", "EUR")
GATEWAYS = {"stripe_payments": 1203, "paypal_express": 1202}  # sandbox clearing accounts
REFUND_EVERY = 20  # three orders in 20 are partly refunded online: their first line,
REFUNDED = (7, 13, 14)  # 0 % in EUR, 20 % (discounted) in GBP, 5 % in EUR
TIME_LIMIT_S = 600.0
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- summary:begin -->", "<!-- summary:end -->"
MAPPING = f"""# bench.summary: summary mode for every store; gateways into their clearing accounts
summary:
  stores: ["*"]
payment_methods:
  stripe_payments: {{method_name: Stripe, account_id: {GATEWAYS["stripe_payments"]}}}
  paypal_express: {{method_name: PayPal, account_id: {GATEWAYS["paypal_express"]}}}
"""


def make_documents(count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``count`` paid guest orders spread over ``DAYS``, and their credit memos."""
    from kfsync.samples import Buyer, Line, make_creditmemo, make_order

    d = Decimal
    catalogue = [Line("TSHIRT", "T-shirt", d("12.49"), 1), Line("MUG", "Mug", d("3.33"), 3),
                 Line("BOOK", "Book", d("9.99"), 1, vat=d(0)),
                 Line("HOODIE", "Hoodie", d("34.07"), 1, discount=d("3.41")),
                 Line("CANDLE", "Candle", d("6.43"), 3, vat=d(5))]
    orders, memos = [], []
    for n in range(count):
        buyer = Buyer(f"summary{n}@example.com", "Sam", f"Summary{n}")
        lines = [catalogue[(n + k) % len(catalogue)] for k in range(1 + n % 3)]
        day = DAYS[n % len(DAYS)]
        order = make_order(50_001 + n, buyer, lines, method=tuple(GATEWAYS)[(n // 3) % 2],
                           currency=CURRENCIES[(n // 2) % 2],
                           created_at=f"{day} {8 + n % 12:02d}:{n % 60:02d}:00",
                           shipping=d("4.99") if n % 4 else d(0))
        order["store_id"] = 1
        orders.append(order)
        if n % REFUND_EVERY in REFUNDED:
            memos.append(make_creditmemo(90_001 + n, order, {lines[0].sku: 1},
                                         transaction_id=f"re_{n}",
                                         created_at=f"{day} 22:00:00"))
    return orders, memos


def _memo_webhook(memo: dict[str, Any]) -> tuple[str, bytes]:
    event_id = str(uuid.uuid4())
    return event_id, simplejson.dumps({
        "id": event_id, "topic": "creditmemo.created", "occurred_at": "2026-11-24T10:00:03Z",
        "store_id": 1, "resource": {"type": "creditmemo", "entity_id": memo["entity_id"],
                                    "increment_id": memo["increment_id"]}, "data": {}}).encode()


def _send(port: int, bodies: list[tuple[str, bytes]]) -> None:
    stats = closed_loop(port, iter([raw_request(port, *b) for b in bodies]), conns=8,
                        duration=TIME_LIMIT_S)
    if stats.ok != len(bodies):
        raise RuntimeError(f"webhooks not accepted: {stats.summary()}")


def _wait(db_url: str, what: str, check: Any, timeout: float = TIME_LIMIT_S) -> float:
    from store.db import session_scope

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        with session_scope(db_url) as s:
            if check(s):
                return time.monotonic() - t0
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def _settled(kind: str, count: int) -> Any:
    from store.models import InboundEvent, JobState, SyncJob

    def check(s: Any) -> bool:
        done = s.scalar(select(func.count()).select_from(SyncJob).where(
            SyncJob.kind == kind, SyncJob.state == JobState.DONE))
        pending = s.scalar(select(func.count()).select_from(InboundEvent).where(
            InboundEvent.processed_at.is_(None)))
        return int(done or 0) >= count and not pending
    return check


def _posted(count: int) -> Any:
    from store.summary_models import Summary, SummaryState

    def check(s: Any) -> bool:
        return int(s.scalar(select(func.count()).select_from(Summary).where(
            Summary.state == SummaryState.POSTED)) or 0) >= count
    return check


def expected(orders: list[dict[str, Any]], memos: list[dict[str, Any]]
             ) -> dict[str, dict[str, Decimal]]:
    """What each summary document must hold, by its ``CustomerReference``."""
    want: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for o in orders:
        ref = f"SUM-{o['created_at'][:10]}-1-{o['order_currency_code']}"
        want[ref]["gross"] += Decimal(str(o["grand_total"]))
        want[ref]["vat"] += Decimal(str(o["tax_amount"]))
        want[ref][f"paid:{GATEWAYS[o['payment']['method']]}"] += \
            Decimal(str(o["payment"]["amount_paid"]))
    by_id = {o["entity_id"]: o for o in orders}
    for m in memos:
        order = by_id[m["order_id"]]
        ref = f"SUMCN-{m['created_at'][:10]}-1-{order['order_currency_code']}"
        want[ref]["gross"] -= Decimal(str(m["grand_total"]))
        want[ref]["vat"] -= Decimal(str(m["tax_amount"]))
        want[ref][f"paid:{GATEWAYS[order['payment']['method']]}"] -= \
            Decimal(str(m["grand_total"]))
    return want


def check_kashflow(sandbox: Sandbox, want: dict[str, dict[str, Decimal]]) -> dict[str, Any]:
    """Compare each summary document in the KashFlow sandbox with ``want``; the findings."""
    state = sandbox.get("kashflow", "/state")
    found = {str(i["CustomerReference"]): i for i in state["invoices"]
             if str(i["CustomerReference"]).startswith("SUM")}
    wrong = []
    for ref, sums in want.items():
        doc = found.get(ref)
        if doc is None:
            wrong.append(f"{ref}: missing")
            continue
        paid: dict[str, Decimal] = defaultdict(Decimal)
        for line in doc["PaymentLines"]:
            paid[f"paid:{line['AccountId']}"] += Decimal(str(line["Amount"]))
        got = {"gross": Decimal(str(doc["GrossAmount"])), "vat": Decimal(str(doc["VATAmount"])),
               **paid}
        if {k: v for k, v in got.items() if v} != {k: v for k, v in sums.items() if v}:
            wrong.append(f"{ref}: KashFlow {got} != documents {dict(sums)}")
    return {"invoices": sum(1 for r in found if r.startswith("SUM-")),
            "credit_notes": sum(1 for r in found if r.startswith("SUMCN-")),
            "payments": sum(len(d["PaymentLines"]) for d in found.values()),
            "other_invoices": len(state["invoices"]) - len(found),
            "lines": sum(len(d["LineItems"]) for d in found.values()),
            "rounding_lines": sum(1 for d in found.values() for x in d["LineItems"]
                                  if str(x["Description"]).startswith("VAT rounding")),
            "wrong": wrong, "snapshot": sorted(found.items())}


def run(count: int, concurrency: int) -> dict[str, Any]:
    started = time.monotonic()
    with workdir("summary") as tmp:
        procs = Procs(tmp / "logs")
        try:
            redis_server = PrivateRedis(tmp / "redis", procs)
            redis_server.start()
            with temp_database(tmp) as db_url:
                result = _run(procs, tmp, redis_server.url, db_url, count, concurrency)
        finally:
            procs.stop_all()
    result["duration_s"] = round(time.monotonic() - started, 1)
    save_result("summary", result)
    write_section(result)
    return result


def _run(procs: Procs, tmp: Path, redis_url: str, db_url: str, count: int,
         concurrency: int) -> dict[str, Any]:
    from workers.app import celery_app, use_broker

    sandbox = Sandbox(procs, tmp)
    mapping = tmp / "mapping.yml"
    mapping.write_text(MAPPING)
    env = child_env(KFSYNC_ENV="dev", KFSYNC_DATABASE_URL=db_url, KFSYNC_REDIS_URL=redis_url,
                    KFSYNC_WEBHOOK_SECRETS=SECRET,
                    KFSYNC_KASHFLOW_RATE="1000000", KFSYNC_KASHFLOW_BURST="1000000",
                    KFSYNC_HTTP_TIMEOUT_S="10", KFSYNC_MAPPING_FILE=str(mapping),
                    **sandbox.kfsync_env())
    orders, memos = make_documents(count)
    sandbox.seed_orders(orders)
    for memo in memos:
        sandbox.post("magento", "/creditmemos", memo)
    port = free_port()
    log(f"summary: {count} orders over {len(DAYS)} days, {len(memos)} refunds; kfsync web + "
        f"worker -c {concurrency} ({db_kind(db_url)}, sandbox: no latency, no rate limit)")
    procs.kfsync("web", env, tmp, "web", "--port", str(port))
    procs.kfsync("worker", env, tmp, "worker", "-c", str(concurrency), "--loglevel", "WARNING")
    wait_web(port, procs, "web")
    sandbox.delete("kashflow", "/calls")
    _send(port, [webhook(o) for o in orders])
    orders_s = _wait(db_url, "the orders", _settled("order", count))
    _send(port, [_memo_webhook(m) for m in memos])
    memos_s = _wait(db_url, "the credit memos", _settled("creditmemo", len(memos)))
    booking = sandbox.get("kashflow", "/calls")
    log(f"  {count} orders booked in {orders_s:.1f} s ({count / orders_s:.1f}/s), "
        f"{len(memos)} refunds in {memos_s:.1f} s; KashFlow calls so far {booking['total']}")
    want = expected(orders, memos)
    use_broker(redis_url)
    t0 = time.monotonic()
    celery_app.send_task("kfsync.maintenance.close_summaries")  # as beat sends it
    _wait(db_url, "the summaries to post", _posted(len(want)), 300)
    close_s = time.monotonic() - t0
    calls = sandbox.get("kashflow", "/calls")
    first = check_kashflow(sandbox, want)
    log(f"  closed and posted {len(want)} summaries in {close_s:.1f} s; KashFlow calls "
        f"{calls['total']} = {calls['total'] / count:.4f} per order; wrong: {first['wrong']}")
    # Replay: every webhook again, then the close again. Nothing new may reach KashFlow.
    _send(port, [webhook(o, "order.updated") for o in orders])
    _send(port, [_memo_webhook(m) for m in memos])
    _wait(db_url, "the replay", _settled("order", count))
    celery_app.send_task("kfsync.maintenance.close_summaries")
    time.sleep(5)
    again = sandbox.get("kashflow", "/calls")
    second = check_kashflow(sandbox, want)
    writes = {k: v - calls["calls"].get(k, 0) for k, v in again["calls"].items()
              if not k.startswith("GET") and v != calls["calls"].get(k, 0)}
    log(f"  replay: writes to KashFlow {writes or 'none'}; documents unchanged: "
        f"{second['snapshot'] == first['snapshot']}")
    return {"database": db_kind(db_url), "concurrency": concurrency, "orders": count,
            "days": len(DAYS), "currencies": list(CURRENCIES), "refunds": len(memos),
            "orders_s": round(orders_s, 1), "close_s": round(close_s, 1),
            "summaries": len(want), "invoices": first["invoices"],
            "credit_notes": first["credit_notes"], "payments": first["payments"],
            "lines": first["lines"], "rounding_lines": first["rounding_lines"],
            "other_invoices": first["other_invoices"], "wrong": first["wrong"],
            "kashflow_calls": calls["total"], "kashflow_calls_by_route": calls["calls"],
            "booking_calls": booking["total"], "calls_per_order": calls["total"] / count,
            "replay_writes": writes,
            "replay_unchanged": second["snapshot"] == first["snapshot"]}


def section(r: dict[str, Any]) -> list[str]:
    m = r.get("machine") or machine()
    ok = not r["wrong"] and not r["replay_writes"] and r["replay_unchanged"]
    routes = ", ".join(f"`{k}` {v}" for k, v in sorted(r["kashflow_calls_by_route"].items()))
    return [
        BEGIN, "## Summary mode at volume (`python -m bench.summary`, issue 21)", "",
        f"*Measured {m['date']} on {m['cpu']}, {m['cores']} cores, {m['ram']} RAM, Python "
        f"{m['python']}, {m['kernel']}; database {r['database']}; worker -c "
        f"{r['concurrency']}; took {r['duration_s']} s.*", "",
        f"{r['orders']:,} orders over {r['days']} days in summary mode (GBP and EUR; VAT "
        f"0/5/20 %; Stripe and PayPal; shipping, discounts), {r['refunds']} of them partly "
        "refunded online, through the real pipeline (signed webhooks, `kfsync web`, "
        "`kfsync worker`) against the sandbox; then beat's `close_summaries` task.", "",
        "| measure | result |", "|---|---:|",
        f"| orders booked (webhook to summary entry) | {r['orders_s']} s, "
        f"{r['orders'] / r['orders_s']:.1f} orders/s |",
        f"| summary invoices (store x currency x day) | {r['invoices']} |",
        f"| summary credit notes | {r['credit_notes']} |",
        f"| payments (one per gateway per document) | {r['payments']} |",
        f"| lines on them (of which VAT rounding and offset) | {r['lines']} "
        f"({r['rounding_lines']}) |",
        f"| documents whose net/VAT/gross or payments differ from the orders' | "
        f"{len(r['wrong'])} |",
        f"| per-order invoices posted | {r['other_invoices']} |",
        f"| close and post | {r['close_s']} s |",
        f"| KashFlow calls in all (booking: {r['booking_calls']}) | {r['kashflow_calls']} |",
        f"| **KashFlow calls per order** | **{r['calls_per_order']:.4f}** |",
        f"| replay (every webhook again, close again): writes to KashFlow | "
        f"{sum(r['replay_writes'].values())} |", "",
        f"Calls by route: {routes}. Acceptance (issue 21, 1): one invoice per "
        "store/currency/day equal to its orders to the penny, payments per gateway, summary "
        f"credit notes, a replay posting nothing, calls per order far below 1: "
        f"{'**met**' if ok else '**missed**'}.", END]


def write_section(result: dict[str, Any], path: Path = DOC) -> None:
    """Put this benchmark's section into ``docs/benchmarks.md`` (replacing its last one)."""
    text = path.read_text() if path.is_file() else ""
    block = "\n".join(section({**result, "machine": result.get("machine") or machine()}))
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        marker = "<!-- stock:begin -->"
        at = text.index(marker) if marker in text else len(text)
        text = text[:at] + block + "\n\n" + text[at:]
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=worker_concurrency)
    args = parser.parse_args()
    install_signal_cleanup()
    run(args.orders, args.concurrency)


if __name__ == "__main__":
    main()
