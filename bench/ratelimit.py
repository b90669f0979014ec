"""Rate-limited benchmark: the KashFlow sandbox allows R calls/s (token bucket, burst B) and
both sandboxes answer after 100 ms; kfsync is configured with the same limit
(``KFSYNC_KASHFLOW_RATE=R``, ``KFSYNC_KASHFLOW_BURST=B``: its global Redis token bucket).

Two phases, each a batch of webhooks sent at once: orders of new customers, then orders of
customers kfsync already linked. For each: KashFlow calls per order (from the sandbox's
``/_sandbox/calls``), 429 answers, and the steady-state order rate (completions between the
10th and the 90th percentile of the phase) as a fraction of the ideal R / calls-per-order.

    python -m bench.ratelimit [--rate 5] [--burst 5] [--new 30] [--repeat 40]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

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
    raw_request,
    save_result,
    temp_database,
    wait_web,
    webhook,
    workdir,
)
from bench.loadgen import closed_loop

LATENCY_MS = 100
CONCURRENCY = 3
PHASE_LIMIT_S = 150.0
SESSION_CALLS = ("POST /sessiontoken", "PUT /sessiontoken")


def run(rate: float, burst: int, new: int, repeat: int, kfsync_burst: int | None = None
        ) -> dict[str, Any]:
    started = time.monotonic()
    with workdir("ratelimit") as tmp:
        procs = Procs(tmp / "logs")
        try:
            redis_server = PrivateRedis(tmp / "redis", procs)
            redis_server.start()
            with temp_database(tmp) as db_url:
                result = _run(procs, tmp, redis_server.url, db_url, rate, burst, new, repeat,
                              burst if kfsync_burst is None else kfsync_burst)
        finally:
            procs.stop_all()
    result["duration_s"] = round(time.monotonic() - started, 1)
    save_result("ratelimit", result)
    return result


def _run(procs: Procs, tmp: Path, redis_url: str, db_url: str, rate: float, burst: int,
         new: int, repeat: int, kfsync_burst: int) -> dict[str, Any]:
    sandbox = Sandbox(procs, tmp)
    env = child_env(KFSYNC_ENV="dev", KFSYNC_DATABASE_URL=db_url, KFSYNC_REDIS_URL=redis_url,
                    KFSYNC_WEBHOOK_SECRETS=SECRET, KFSYNC_KASHFLOW_RATE=str(rate),
                    KFSYNC_KASHFLOW_BURST=str(kfsync_burst), **sandbox.kfsync_env())
    warm = make_orders(1, 3, 3, prefix="warm")
    first = make_orders(1_001, new, new)
    # the same buyers (same customer ids and emails) again, in new orders
    again = make_orders(5_001, repeat, new, first_buyer=1_001)
    sandbox.seed_orders(warm + first + again)
    for server in ("magento", "kashflow"):
        sandbox.post(server, "/settings", {"latency_ms": LATENCY_MS})
    sandbox.post("kashflow", "/settings", {"rate_limit": {"rate": rate, "burst": burst}})
    port = free_port()
    log(f"ratelimit: KashFlow sandbox {rate:g} calls/s (burst {burst}), {LATENCY_MS} ms latency; "
        f"kfsync KFSYNC_KASHFLOW_RATE={rate:g} _BURST={kfsync_burst}, worker -c {CONCURRENCY}")
    procs.kfsync("web", env, tmp, "web", "--port", str(port))
    procs.kfsync("worker", env, tmp, "worker", "-c", str(CONCURRENCY), "--loglevel", "WARNING")
    wait_web(port, procs, "web")
    _phase(sandbox, port, db_url, warm, "warm-up", rate)  # processes log in here
    phases = {"new": _phase(sandbox, port, db_url, first, "new customers", rate),
              "repeat": _phase(sandbox, port, db_url, again, "repeat customers", rate)}
    return {"database": db_kind(db_url), "rate": rate, "burst": burst,
            "kfsync_burst": kfsync_burst,
            "latency_ms": LATENCY_MS, "concurrency": CONCURRENCY, "phases": phases}


def _phase(sandbox: Sandbox, port: int, db_url: str, orders: list[dict[str, Any]],
           label: str, rate: float) -> dict[str, Any]:
    time.sleep(2 * max(1.0, 5 / rate))  # let the buckets refill: each phase starts alike
    sandbox.delete("kashflow", "/calls")
    t0 = time.monotonic()
    requests = [raw_request(port, *webhook(order)) for order in orders]
    closed_loop(port, iter(requests), conns=4, duration=30)
    keys = [str(o["entity_id"]) for o in orders]
    times = _wait_done(db_url, keys, t0 + PHASE_LIMIT_S)
    elapsed = time.monotonic() - t0
    calls = sandbox.get("kashflow", "/calls")
    n = len(orders)
    rejected = int(calls["rate_limited"])
    accepted = int(calls["total"]) - rejected
    session = sum(int(calls["calls"].get(k, 0)) for k in SESSION_CALLS)
    per_order = accepted / n
    steady = _steady_rate(times)
    ideal = rate / per_order if per_order else 0.0
    result = {
        "orders": n, "done": len(times), "elapsed_s": elapsed,
        "calls": calls["calls"], "calls_per_order": per_order,
        "calls_per_order_without_login": (accepted - session) / n, "http_429": rejected,
        "orders_per_s_steady": steady, "orders_per_s_overall": len(times) / elapsed,
        "ideal_orders_per_s": ideal, "fraction_of_ideal": steady / ideal if ideal else 0.0,
        "calls_per_s": accepted / elapsed,
    }
    log(f"  {label}: {len(times)}/{n} done in {elapsed:.1f} s; {per_order:.2f} KashFlow calls"
        f"/order; {steady:.2f} orders/s steady vs ideal {ideal:.2f} "
        f"({result['fraction_of_ideal']:.0%}); 429s {rejected}")
    return result


def _wait_done(db_url: str, keys: list[str], deadline: float) -> list[float]:
    """Done times (seconds, database clock) of the jobs of ``keys``, sorted; waits until
    all are done or settled otherwise, or the deadline."""
    from store.db import session_scope
    from store.models import JobState, SyncJob

    settled = (JobState.DONE, JobState.NEEDS_REVIEW, JobState.DEAD)
    rows: list[tuple[str, Any]] = []
    while time.monotonic() < deadline:
        with session_scope(db_url) as s:
            rows = [(str(state), updated) for state, updated in s.execute(
                select(SyncJob.state, SyncJob.updated_at).where(SyncJob.magento_key.in_(keys)))]
        if len(rows) == len(keys) and all(state in settled for state, _ in rows):
            break
        time.sleep(0.2)
    return sorted(u.timestamp() for state, u in rows if state == JobState.DONE)


def _steady_rate(times: list[float]) -> float:
    if len(times) < 5:
        return 0.0
    lo, hi = int(0.1 * (len(times) - 1)), int(0.9 * (len(times) - 1))
    span = times[hi] - times[lo]
    return (hi - lo) / span if span > 0 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--burst", type=int, default=5)
    parser.add_argument("--new", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--kfsync-burst", type=int, default=None,
                        help="KFSYNC_KASHFLOW_BURST (default: the sandbox's burst)")
    args = parser.parse_args()
    install_signal_cleanup()
    run(args.rate, args.burst, args.new, args.repeat, args.kfsync_burst)
    from bench.report import write_report

    write_report()


if __name__ == "__main__":
    main()
