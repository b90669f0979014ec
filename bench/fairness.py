"""Fairness between integration pairs (issue 18, acceptance 2): pair A (``default``) works
through a backfill at its KashFlow rate limit while pair B (``shopb``, its own sandbox, its
own company) receives new orders. B's webhook-to-paid latency is measured alone, then with
A's backlog; the target is B's p95 with the backlog within 2x of B's p95 alone.

Two sandbox processes (shop and company A, rate-limited to ``rate`` calls/s; shop and
company B, not limited; both answering after 100 ms), one web, one worker (``-c 3``), a
private Redis and a fresh database. A's backlog is ``kfsync backfill`` over ``backlog``
seeded orders (it feeds while the step queues hold fewer than ``--max-backlog`` messages,
its default 200); B's orders are webhooks to ``/webhooks/magento/shopb`` sent ``pace`` per
second. Pair A's in-flight cap is ``cap`` (``KFSYNC_MAX_IN_FLIGHT``; 0: none). Latency per
order: the job's ``done`` time minus the webhook's ``received_at`` (both the database's
clock); an order not done within ``limit_s`` counts as ``limit_s``.

    python -m bench.fairness [--backlog 5000] [--orders 50] [--rate 5] [--pace 2] [--cap 2]
"""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import simplejson
from sqlalchemy import select

from bench.common import (
    PrivateRedis,
    Procs,
    Sandbox,
    child_env,
    db_kind,
    free_port,
    install_signal_cleanup,
    log,
    make_orders,
    percentile,
    save_result,
    temp_database,
    wait_web,
    workdir,
)

SECRET_A, SECRET_B = "fairness-secret-a-0123456789abcdef", "fairness-secret-b-0123456789abcdef"
CONCURRENCY = 3
LATENCY_MS = 100  # both sandboxes, as bench/ratelimit.py
WARM = 3  # B's first orders log in and load the profile: not part of either phase
TARGET_RATIO = 2.0


def run(backlog: int, orders: int, rate: float, pace: float, limit_s: float = 240.0,
        cap: int | None = CONCURRENCY - 1) -> dict[str, Any]:
    started = time.monotonic()
    with workdir("fairness") as tmp:
        procs = Procs(tmp / "logs")
        try:
            redis_server = PrivateRedis(tmp / "redis", procs)
            redis_server.start()
            with temp_database(tmp) as db_url:
                result = _run(procs, tmp, redis_server.url, db_url, backlog, orders, rate,
                              pace, limit_s, cap)
        finally:
            procs.stop_all()
    result["duration_s"] = round(time.monotonic() - started, 1)
    save_result("fairness" if cap else "fairness-uncapped", result)
    return result


def _run(procs: Procs, tmp: Path, redis_url: str, db_url: str, backlog: int, orders: int,
         rate: float, pace: float, limit_s: float, cap: int | None) -> dict[str, Any]:
    from services import pairs

    a = Sandbox(procs, tmp)
    procs.children["sandbox-a"] = procs.children.pop("sandbox")  # so stop_all stops both
    b = Sandbox(procs, tmp)
    for server in ("magento", "kashflow"):  # real APIs answer in tens of ms, not in 1
        for box in (a, b):
            box.post(server, "/settings", {"latency_ms": LATENCY_MS})
    a.post("kashflow", "/settings", {"rate_limit": {"rate": rate, "burst": 5}})
    env = child_env(KFSYNC_ENV="dev", KFSYNC_DATABASE_URL=db_url, KFSYNC_REDIS_URL=redis_url,
                    KFSYNC_WEBHOOK_SECRETS=SECRET_A, KFSYNC_KASHFLOW_RATE=str(rate),
                    KFSYNC_KASHFLOW_BURST="5", KFSYNC_PAIRS_KEY=pairs.new_key(),
                    **a.kfsync_env(), **({"KFSYNC_MAX_IN_FLIGHT": str(cap)} if cap else {}))
    _add_pair_b(env, tmp, b)
    a.seed_orders(make_orders(1, backlog, 500, prefix="a"))
    mine = make_orders(900_001, 2 * orders + WARM, 2 * orders + WARM, prefix="b")
    b.seed_orders(mine)
    port = free_port()
    procs.kfsync("web", env, tmp, "web", "--port", str(port))
    procs.kfsync("worker", env, tmp, "worker", "-c", str(CONCURRENCY), "--loglevel", "WARNING")
    wait_web(port, procs, "web")
    log(f"fairness: A rate-limited to {rate:g} calls/s with {backlog} orders to backfill; "
        f"(in flight <= {cap or 'any'}); B {orders} orders at {pace:g}/s; "
        f"worker -c {CONCURRENCY}")
    _phase(port, db_url, mine[2 * orders:], pace, limit_s, "B warm-up")  # logins, profile
    alone = _phase(port, db_url, mine[:orders], pace, limit_s, "B alone")
    procs.kfsync("backfill", env, tmp, "backfill", "--since", "2026-01-01", "--no-wait")
    _wait_backlog(db_url, min(backlog, 200))
    a_before = _done_count(db_url, "default")
    contended = _phase(port, db_url, mine[orders:2 * orders], pace, limit_s,
                       "B with A's backlog")
    a_done = _done_count(db_url, "default") - a_before
    ratio = contended["p95_s"] / alone["p95_s"] if alone["p95_s"] else float("inf")
    log(f"  B p95 {alone['p95_s']:.2f} s alone, {contended['p95_s']:.2f} s with A's backlog: "
        f"{ratio:.1f}x (target <= {TARGET_RATIO:g}x); A orders done meanwhile {a_done}")
    return {"database": db_kind(db_url), "rate": rate, "backlog": backlog, "orders": orders,
            "pace": pace, "concurrency": CONCURRENCY, "limit_s": limit_s, "cap_a": cap,
            "alone": alone, "contended": contended, "ratio_p95": ratio,
            "target_ratio": TARGET_RATIO, "a_done_during_phase": a_done}


def _add_pair_b(env: dict[str, str], tmp: Path, b: Sandbox) -> None:
    import subprocess
    import sys

    import sandbox

    secrets = (f"magento_token={sandbox.MAGENTO_TOKEN}\n"
               f"kashflow_password={sandbox.KASHFLOW_PASSWORD}\n"
               f"kashflow_memorable_word={sandbox.KASHFLOW_MEMORABLE_WORD}\n"
               f"webhook_secrets={SECRET_B}\n")
    subprocess.run([sys.executable, "-m", "kfsync", "pairs", "add", "shopb", "--magento-url",
                    b.magento_url, "--kashflow-url", b.kashflow_url, "--kashflow-username",
                    sandbox.KASHFLOW_USERNAME, "--rate", "100", "--burst", "100",
                    "--secrets-stdin"], input=secrets, env=env, cwd=tmp, text=True,
                   check=True, capture_output=True, timeout=60)


def _phase(port: int, db_url: str, orders: list[dict[str, Any]], pace: float, limit_s: float,
           label: str) -> dict[str, Any]:
    from ingest.signing import signed_headers

    http = requests.Session()
    t0 = time.monotonic()
    for n, order in enumerate(orders):
        time.sleep(max(0.0, t0 + n / pace - time.monotonic()))
        event_id = str(uuid.uuid4())
        body = simplejson.dumps({
            "id": event_id, "topic": "order.created", "occurred_at": "2026-11-24T10:00:03Z",
            "store_id": 1, "resource": {"type": "order", "entity_id": order["entity_id"],
                                        "increment_id": order["increment_id"]}}).encode()
        reply = http.post(f"http://127.0.0.1:{port}/webhooks/magento/shopb", data=body,
                          headers=signed_headers(SECRET_B, event_id, body), timeout=10)
        reply.raise_for_status()
    latencies = _latencies(db_url, [str(o["entity_id"]) for o in orders], t0 + limit_s,
                           limit_s)
    result = {"orders": len(orders), "done": sum(1 for x in latencies if x < limit_s),
              "p50_s": percentile(latencies, 50), "p95_s": percentile(latencies, 95),
              "max_s": max(latencies)}
    log(f"  {label}: {result['done']}/{len(orders)} paid; p50 {result['p50_s']:.2f} s, "
        f"p95 {result['p95_s']:.2f} s, max {result['max_s']:.2f} s")
    return result


def _latencies(db_url: str, keys: list[str], deadline: float, limit_s: float) -> list[float]:
    """Webhook-to-done seconds of pair B's jobs of ``keys`` (``limit_s`` for one not done by
    ``deadline``)."""
    from store.db import session_scope
    from store.models import InboundEvent, JobState, SyncJob

    rows: list[Any] = []
    while time.monotonic() < deadline:
        with session_scope(db_url) as s:
            rows = list(s.execute(
                select(SyncJob.state, SyncJob.updated_at, InboundEvent.received_at)
                .join(InboundEvent, InboundEvent.id == SyncJob.event_id)
                .where(SyncJob.pair == "shopb", SyncJob.magento_key.in_(keys))))
        if len(rows) == len(keys) and all(r.state == JobState.DONE for r in rows):
            break
        time.sleep(0.5)
    done = [(r.updated_at - r.received_at).total_seconds() for r in rows
            if r.state == JobState.DONE]
    return done + [limit_s] * (len(keys) - len(done))


def _wait_backlog(db_url: str, events: int, timeout: float = 120.0) -> None:
    """Until the backfill has stored ``events`` of A's orders (its queue is full)."""
    from sqlalchemy import func

    from store.db import session_scope
    from store.models import InboundEvent

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(db_url) as s:
            n = int(s.scalar(select(func.count(InboundEvent.id)).where(
                InboundEvent.source == "backfill")) or 0)
        if n >= events:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the backfill stored fewer than {events} events in {timeout:.0f} s")


def _done_count(db_url: str, pair: str) -> int:
    from sqlalchemy import func

    from store.db import session_scope
    from store.models import JobState, SyncJob

    with session_scope(db_url) as s:
        return int(s.scalar(select(func.count(SyncJob.id)).where(
            SyncJob.pair == pair, SyncJob.state == JobState.DONE)) or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backlog", type=int, default=5000)
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--pace", type=float, default=2.0)
    parser.add_argument("--limit", type=float, default=240.0)
    parser.add_argument("--cap", type=int, default=CONCURRENCY - 1,
                        help="KFSYNC_MAX_IN_FLIGHT of pair A (0: no cap)")
    args = parser.parse_args()
    install_signal_cleanup()
    run(args.backlog, args.orders, args.rate, args.pace, args.limit, args.cap or None)


if __name__ == "__main__":
    main()
