"""Chaos benchmark (issue 4): N orders while workers are SIGKILLed every few seconds, the
broker is restarted once, KashFlow answers 5xx, 429 bursts and ambiguous writes (the write
lands, then a 500, a dropped connection or a hang past the client timeout) and Magento answers
503s. Then the faults stop and the system drains. The KashFlow sandbox's final state is
checked against every order: duplicates, missing invoices, wrong totals, double payments.

Only a private ``redis-server`` (own port, ``--appendonly yes``, temp dir) is ever restarted;
the machine's Redis is not touched. On PostgreSQL the run's own database goes away once for
``DB_DOWN_S`` as it does to kfsync when the server restarts: every session ends and new
connections are refused (``ALLOW_CONNECTIONS false``), then it comes back; other databases on
the server are not touched. Web, two workers and beat run as separate processes.

It reports how long each interrupted step waited to resume: from the SIGKILL that took its
worker, and from the database's return (``bench.resumption``); both must stay under
``RESUME_LIMIT_S``.

Kill modes: ``child`` SIGKILLs a pool child of a worker (its parent survives, sees the lost
worker and requeues the late-acked message); ``worker`` SIGKILLs a whole worker (parent and
children, so its unacked messages stay with the broker until beat's redrive or the visibility
timeout) and starts a new one; ``mixed`` alternates.

    python -m bench.chaos [--orders 500] [--kill-mode child|worker|mixed] [--drain-timeout 240]
"""

from __future__ import annotations

import argparse
import random
import signal
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil
import requests
from sqlalchemy import func, select

from bench.common import (
    SECRET,
    PrivateRedis,
    Procs,
    Sandbox,
    child_env,
    db_kind,
    free_port,
    install_signal_cleanup,
    log,
    make_orders,
    save_result,
    temp_database,
    wait_web,
    webhook,
    workdir,
)
from bench.resumption import waits
from ingest.signing import signed_headers

WORKERS = 2
CONCURRENCY = 2
HTTP_TIMEOUT_S = 3
KASHFLOW_FAULTS: list[dict[str, Any]] = [
    {"kind": "status", "status": 503, "probability": 0.04, "count": None},
    {"kind": "status", "status": 502, "probability": 0.02, "count": None},
    {"kind": "ambiguous", "method": "POST", "then": "status", "status": 500,
     "probability": 0.04, "count": None},
    {"kind": "ambiguous", "method": "POST", "then": "drop", "probability": 0.02, "count": None},
    {"kind": "ambiguous", "method": "POST", "then": "hang", "seconds": HTTP_TIMEOUT_S + 1,
     "probability": 0.01, "count": None},
    {"kind": "drop", "probability": 0.01, "count": None},
]
MAGENTO_FAULTS: list[dict[str, Any]] = [
    {"kind": "status", "status": 503, "probability": 0.05, "count": None},
]
BURST_429 = {"rate": 2, "burst": 2}  # a few seconds of this every BURST_EVERY_S
BURST_EVERY_S, BURST_FOR_S = 8.0, 2.0
REDIS_DOWN_S = 3.0
DB_DOWN_S = 3.0
RESUME_LIMIT_S = 60.0  # a killed worker's or a lost database's jobs resume within this (p99)
SETTLED = ("done", "needs_review", "dead", "skipped", "waiting")


class Chaos:
    def __init__(self, procs: Procs, tmp: Path, env: dict[str, str], sandbox: Sandbox,
                 redis_server: PrivateRedis, kill_mode: str, kill_every: float) -> None:
        self.procs, self.tmp, self.env, self.sandbox = procs, tmp, env, sandbox
        self.redis = redis_server
        self.kill_mode, self.kill_every = kill_mode, kill_every
        self.stop = threading.Event()
        self.kills: Counter[str] = Counter()
        self.bursts = 0
        self.kill_times: list[float] = []  # wall clock, to compare with attempts' created_at
        self.db_down: tuple[float, float] | None = None  # (went, came back), wall clock
        self.errors: list[str] = []
        self._generation = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._guard, args=(fn,), daemon=True)
                         for fn in (self._killer, self._burster)]

    def start_worker(self, index: int) -> None:
        self._generation += 1
        self.procs.kfsync(f"worker{index}", self.env, self.tmp, "worker", "-c",
                          str(CONCURRENCY), "--loglevel", "WARNING")

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self.sandbox.post("kashflow", "/settings", {"rate_limit": None})
        for server in ("kashflow", "magento"):
            self.sandbox.delete(server, "/faults")

    def _guard(self, fn: Any) -> None:
        try:
            fn()
        except Exception as exc:  # report, don't die silently
            self.errors.append(f"{fn.__name__}: {type(exc).__name__}: {exc}")

    def _killer(self) -> None:
        rng = random.Random(4)
        n = 0
        while not self.stop.wait(self.kill_every):
            index = rng.randrange(WORKERS)
            mode = self.kill_mode if self.kill_mode != "mixed" else (
                "worker" if n % 2 else "child")
            n += 1
            name = f"worker{index}"
            with self._lock:
                proc = self.procs.children.get(name)
                if proc is None or proc.poll() is not None:
                    self.start_worker(index)
                    continue
                if mode == "child":
                    try:
                        children = psutil.Process(proc.pid).children()
                    except psutil.Error:
                        children = []
                    if children:
                        rng.choice(children).send_signal(signal.SIGKILL)
                        self.kill_times.append(time.time())
                        self.kills["pool child"] += 1
                else:
                    self.procs.kill(name, signal.SIGKILL)
                    self.kill_times.append(time.time())
                    self.procs.children.pop(name, None)
                    self.kills["whole worker"] += 1
                    self.start_worker(index)

    def _burster(self) -> None:
        while not self.stop.wait(BURST_EVERY_S):
            self.sandbox.post("kashflow", "/settings", {"rate_limit": BURST_429})
            self.bursts += 1
            time.sleep(BURST_FOR_S)
            self.sandbox.post("kashflow", "/settings", {"rate_limit": None})

    def restart_redis(self) -> None:
        log("  chaos: restarting the private Redis (SIGTERM, AOF kept)")
        self.redis.stop(signal.SIGTERM)
        time.sleep(REDIS_DOWN_S)
        self.redis.start()

    def database_away(self, db_url: str) -> None:
        """End every session of the run's PostgreSQL database and refuse new ones for
        ``DB_DOWN_S``: what kfsync sees of a server restart."""
        from sqlalchemy import create_engine, text

        from bench.common import PG_ADMIN_URL

        name = db_url.rsplit("/", 1)[1]
        log(f"  chaos: the database goes away for {DB_DOWN_S:g} s")
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                went = time.time()
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :name"), {"name": name})
                time.sleep(DB_DOWN_S)
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
                self.db_down = (went, time.time())
        finally:
            admin.dispose()


def run(orders: int, kill_mode: str, kill_every: float, rate: float, drain_timeout: float
        ) -> dict[str, Any]:
    started = time.monotonic()
    with workdir("chaos") as tmp:
        procs = Procs(tmp / "logs")
        try:
            redis_server = PrivateRedis(tmp / "redis", procs, appendonly=True)
            redis_server.start()
            with temp_database(tmp) as db_url:
                result = _run(procs, tmp, redis_server, db_url, orders, kill_mode, kill_every,
                              rate, drain_timeout)
        finally:
            procs.stop_all()
    result["duration_s"] = round(time.monotonic() - started, 1)
    save_result(f"chaos-{kill_mode}", result)
    return result


def _run(procs: Procs, tmp: Path, redis_server: PrivateRedis, db_url: str, n: int,
         kill_mode: str, kill_every: float, rate: float, drain_timeout: float
         ) -> dict[str, Any]:
    sandbox = Sandbox(procs, tmp)
    env = child_env(KFSYNC_ENV="dev", KFSYNC_DATABASE_URL=db_url,
                    KFSYNC_REDIS_URL=redis_server.url, KFSYNC_WEBHOOK_SECRETS=SECRET,
                    KFSYNC_KASHFLOW_RATE="100", KFSYNC_KASHFLOW_BURST="20",
                    KFSYNC_HTTP_TIMEOUT_S=str(HTTP_TIMEOUT_S), **sandbox.kfsync_env())
    orders = make_orders(20_001, n, max(1, n // 3), prefix="chaos")  # 1 in 3 a new customer
    sandbox.seed_orders(orders)
    port = free_port()
    procs.kfsync("web", env, tmp, "web", "--port", str(port))
    procs.kfsync("beat", env, tmp, "beat", "--loglevel", "WARNING")
    chaos = Chaos(procs, tmp, env, sandbox, redis_server, kill_mode, kill_every)
    for i in range(WORKERS):
        chaos.start_worker(i)
    wait_web(port, procs, "web")
    time.sleep(3)  # workers up
    sandbox.post("kashflow", "/faults", KASHFLOW_FAULTS)
    sandbox.post("magento", "/faults", MAGENTO_FAULTS)
    log(f"chaos: {n} orders at {rate:g}/s, kill mode {kill_mode} every {kill_every:g} s, "
        f"{WORKERS} workers -c {CONCURRENCY}, beat, {db_kind(db_url)}")
    chaos.start()
    t0 = time.monotonic()
    database_away_at = n * 4 // 5 if db_url.startswith("postgresql") else None
    sent = _send(port, orders, rate, chaos, restart_at=n * 2 // 5,
                 database_away_at=database_away_at, db_url=db_url)
    time.sleep(5)
    chaos.finish()
    t_chaos_end = time.monotonic()
    kashflow_calls = sandbox.get("kashflow", "/calls")
    magento_calls = sandbox.get("magento", "/calls")
    log(f"  chaos over after {t_chaos_end - t0:.0f} s: kills {dict(chaos.kills)}, "
        f"429 windows {chaos.bursts}, faults fired {kashflow_calls['faults']}; draining")
    for i in range(WORKERS):  # a worker that died on its own is restarted for the drain
        proc = procs.children.get(f"worker{i}")
        if proc is None or proc.poll() is not None:
            chaos.start_worker(i)
    drained, states = _drain(db_url, n, t_chaos_end + drain_timeout)
    t_end = time.monotonic()
    check = _check(sandbox, db_url, orders)
    resumption = waits(db_url, chaos.kill_times, chaos.db_down)
    spent = _calls_per_order(sandbox.get("kashflow", "/calls"), n, max(1, n // 3))
    result = {
        "database": db_kind(db_url), "orders": n, "kill_mode": kill_mode,
        "kill_every_s": kill_every, "send_rate": rate, "workers": WORKERS,
        "concurrency": CONCURRENCY, "kills": dict(chaos.kills), "burst_429_windows": chaos.bursts,
        "redis_restarts": 1, "database_away_s": DB_DOWN_S if chaos.db_down else 0,
        "resumption": resumption, "resume_limit_s": RESUME_LIMIT_S, "webhooks": sent,
        "chaos_s": round(t_chaos_end - t0, 1),
        "drained": drained, "drain_s": round(t_end - t_chaos_end, 1),
        "drain_timeout_s": drain_timeout, "job_states": states,
        "kashflow_faults": kashflow_calls["faults"],
        "kashflow_statuses": kashflow_calls["statuses"],
        "magento_faults": magento_calls["faults"], "harness_errors": chaos.errors,
        "kashflow_calls": spent, **check,
    }
    verdict = "PASS" if _passed(result) else "FAIL"
    log(f"  {verdict}: drained={drained} in {result['drain_s']} s; duplicates "
        f"{check['duplicate_invoices']}, missing {check['missing_invoices']}, wrong totals "
        f"{check['wrong_totals']}, double payments {check['double_payments']}, unpaid "
        f"{check['unpaid']}, dead letters {len(check['dead_letters'])}; states {states}")
    log(f"  resumed after a kill: {resumption['kill']}; after the database: "
        f"{resumption['database']}")
    log(f"  KashFlow calls per order, logins and lookups included: {spent['per_order']} "
        f"({spent['total']} calls: {spent['logins']} logins, {spent['lookups']} lookups; the "
        f"order mix needs {spent['floor_per_order']}/order; beyond it: session "
        f"{spent['session']}, rechecks {spent['rechecks']}, customer searches "
        f"{spent['extra_searches']}, writes sent again {spent['resent_writes']}, other "
        f"{spent['other']}; answers that were a fault {spent['faulted']})")
    for route, r in spent["routes"].items():
        log(f"    {route}: {r['calls']} (needed {r['needed']}, faulted {r['faulted']}) "
            f"{r['statuses']}")
    result["verdict"] = verdict
    return result


# What an order needs at least, by route (bench.ratelimit measures the same: 4 for a new
# customer's order, 2 for a repeat customer's), and the session's one-off calls.
NEW_CUSTOMER_ROUTES = ("GET /customers/search", "POST /customers")
PER_ORDER_ROUTES = ("POST /invoices", "POST /invoices/bulk/payments")
SESSION_ROUTES = ("POST /sessiontoken", "PUT /sessiontoken", "GET /bankaccounts",
                  "GET /paymentmethods/invoice")


def _calls_per_order(calls: dict[str, Any], n: int, buyers: int = 0) -> dict[str, Any]:
    """The whole run's KashFlow calls (the sandbox's count: retries, faults answered,
    logins and reference lookups included) per order, and where the calls beyond the order
    mix's floor went (``buyers`` new customers: a search and a create each; every order an
    invoice and a payment): the session's calls, rechecks (``GET /invoices/{number}`` before
    rewriting after an interrupted or unanswered write), customer searches beyond one per new
    customer, and writes sent again. ``faulted`` counts answers that were an injected fault
    (5xx, 429, dropped), on any route; an ambiguous fault's write did land."""
    by_route: dict[str, int] = calls.get("calls", {})
    statuses: dict[str, dict[str, int]] = calls.get("by_route", {})
    logins = by_route.get("POST /sessiontoken", 0)
    lookups = by_route.get("GET /bankaccounts", 0) + by_route.get("GET /paymentmethods/invoice", 0)
    total = int(calls.get("total", 0))
    need = {**dict.fromkeys(NEW_CUSTOMER_ROUTES, buyers), **dict.fromkeys(PER_ORDER_ROUTES, n)}
    routes = {}
    for route, count in sorted(by_route.items()):
        answered = statuses.get(route, {})
        faulted = sum(v for k, v in answered.items()
                      if k in ("429", "dropped") or k.startswith("5"))
        routes[route] = {"calls": count, "faulted": faulted, "needed": need.get(route, 0),
                         "statuses": answered}

    def beyond(route: str) -> int:
        return max(0, by_route.get(route, 0) - need.get(route, 0))

    floor = sum(need.values())
    session = sum(by_route.get(k, 0) for k in (*SESSION_ROUTES, "GET /products"))
    rechecks = by_route.get("GET /invoices/{number}", 0)
    searches = beyond("GET /customers/search")
    resent = sum(beyond(r) for r in ("POST /customers", *PER_ORDER_ROUTES))
    return {"total": total, "logins": logins, "lookups": lookups,
            "per_order": round(total / n, 2) if n else 0.0,
            "new_customers": buyers, "floor": floor,
            "floor_per_order": round(floor / n, 2) if n else 0.0,
            "session": session, "rechecks": rechecks, "extra_searches": searches,
            "resent_writes": resent,
            "other": total - floor - session - rechecks - searches - resent,
            "faulted": sum(r["faulted"] for r in routes.values()), "routes": routes}


def _passed(r: dict[str, Any]) -> bool:
    return (r["duplicate_invoices"] == 0 and r["missing_invoices"] == 0
            and r["wrong_totals"] == 0 and r["double_payments"] == 0 and r["unpaid"] == 0
            and not r["dead_letters"] and r["drained"] and _resumed_in_time(r))


def _resumed_in_time(r: dict[str, Any]) -> bool:
    kill, db = r["resumption"]["kill"], r["resumption"]["database"]
    return (kill["never_resumed"] == 0 and kill.get("p99_s", 0) < RESUME_LIMIT_S
            and db["never_resumed"] == 0 and db.get("max_s", 0) < RESUME_LIMIT_S)


def _send(port: int, orders: list[dict[str, Any]], rate: float, chaos: Chaos,
          restart_at: int, database_away_at: int | None, db_url: str) -> dict[str, Any]:
    """Post one signed webhook per order at ``rate``; a sender retries non-2xx answers
    (as Magento's module would) up to 10 times."""
    session = requests.Session()
    url = f"http://127.0.0.1:{port}/webhooks/magento"
    statuses: Counter[str] = Counter()
    retries = 0
    start = time.monotonic()
    for i, order in enumerate(orders):
        if i == restart_at:
            threading.Thread(target=chaos.restart_redis, daemon=True).start()
        if i == database_away_at:
            threading.Thread(target=chaos._guard, args=(lambda: chaos.database_away(db_url),),
                             daemon=True).start()
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        event_id, body = webhook(order)
        for attempt in range(10):
            try:
                reply = session.post(url, data=body, timeout=10,
                                     headers=signed_headers(SECRET, event_id, body))
                statuses[str(reply.status_code)] += 1
                if reply.status_code in (200, 202):
                    break
            except requests.RequestException as exc:
                statuses[type(exc).__name__] += 1
            retries += attempt == 0
            time.sleep(0.5)
    return {"statuses": dict(statuses), "orders_with_resend": retries}


def _drain(db_url: str, n: int, deadline: float) -> tuple[bool, dict[str, int]]:
    from store.db import session_scope
    from store.models import InboundEvent, SyncJob

    states: dict[str, int] = {}
    last_log = 0.0
    while True:
        with session_scope(db_url) as s:
            states = {str(k): int(v) for k, v in s.execute(
                select(SyncJob.state, func.count()).group_by(SyncJob.state)).all()}
            pending = int(s.scalar(select(func.count()).select_from(InboundEvent)
                                   .where(InboundEvent.processed_at.is_(None))) or 0)
        settled = sum(v for k, v in states.items() if k in SETTLED)
        if settled >= n and pending == 0 and sum(states.values()) >= n:
            return True, states
        if time.monotonic() >= deadline:
            states["events unprocessed"] = pending
            return False, states
        if time.monotonic() - last_log > 15:
            last_log = time.monotonic()
            log(f"  draining: jobs {states}, events unprocessed {pending}")
        time.sleep(1)


def _check(sandbox: Sandbox, db_url: str, orders: list[dict[str, Any]]) -> dict[str, Any]:
    from store.db import session_scope
    from store.models import DeadLetter, SyncJob

    state = sandbox.get("kashflow", "/state")
    by_ref: dict[str, list[dict[str, Any]]] = {}
    for invoice in state["invoices"]:
        by_ref.setdefault(str(invoice["CustomerReference"]), []).append(invoice)
    duplicates, missing, wrong, double, unpaid = [], [], [], [], []
    for order in orders:
        ref = order["increment_id"]
        found = by_ref.get(ref, [])
        if not found:
            missing.append(ref)
            continue
        if len(found) > 1:
            duplicates.append(ref)
        grand = Decimal(str(order["grand_total"]))
        for invoice in found:
            gross = Decimal(str(invoice["GrossAmount"]))
            lines = invoice.get("PaymentLines") or []
            paid = Decimal(str(invoice.get("TotalPaidAmount") or 0))
            if gross != grand:
                wrong.append(ref)
            if len(lines) > 1 or paid > gross:
                double.append(ref)
            if not lines:
                unpaid.append(ref)
    emails = Counter(str(c.get("Email", "")).lower() for c in state["customers"])
    with session_scope(db_url) as s:
        dead = [{"payload": d.payload_ref, "step": d.step, "class": d.error_class,
                 "reason": d.reason[:200]} for d in s.scalars(select(DeadLetter))]
        stuck = [{"order": j.magento_ref, "state": str(j.state), "step": str(j.step),
                  "reason": (j.reason or "")[:200]}
                 for j in s.scalars(select(SyncJob).where(SyncJob.state != "done"))]
    return {
        "invoices": len(state["invoices"]), "customers": len(state["customers"]),
        "duplicate_invoices": len(duplicates), "missing_invoices": len(missing),
        "wrong_totals": len(wrong), "double_payments": len(double), "unpaid": len(unpaid),
        "duplicate_customers": sum(1 for e, k in emails.items() if e and k > 1),
        "examples": {"duplicates": duplicates[:10], "missing": missing[:10],
                     "wrong_totals": wrong[:10], "double_payments": double[:10],
                     "unpaid": unpaid[:10]},
        "dead_letters": dead, "not_done": stuck[:50],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--kill-mode", choices=("child", "worker", "mixed"), default="child")
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between kills")
    parser.add_argument("--rate", type=float, default=15.0, help="webhooks per second")
    parser.add_argument("--drain-timeout", type=float, default=240.0)
    args = parser.parse_args()
    install_signal_cleanup()
    run(args.orders, args.kill_mode, args.kill_every, args.rate, args.drain_timeout)
    from bench.report import write_report

    write_report()


if __name__ == "__main__":
    main()
