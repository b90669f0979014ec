"""Sustained load and backfill (issue 24), one setup for both phases, each bounded in time.

*Sustained*: webhooks at a fixed ``RATE`` orders/s for ``SECONDS`` (open loop, half of the
orders a repeat customer's), sandbox with no latency and no rate limit; reported: webhook
stored -> job done (invoice and payment written) p50/p95/p99, against the same latency at
idle measured in the same run (orders sent one at a time, each awaited).

*Backfill*: ``kfsync backfill`` of ``ORDERS`` orders created on one day, KashFlow's sandbox
and kfsync's bucket at R calls/s; a steady mix (every fourth order a new customer's, the
others customers of the sustained phase: 2.5 KashFlow calls per order). Reported: the ETA
the command printed once 10% of the orders had settled, against its real duration, and the
real duration against the ideal ``orders * calls per order / R``.

    python -m bench.sustained [--rate 50] [--seconds 60] [--orders 10000] [--kashflow-rate 100]
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

from bench.common import (
    SECRET,
    PrivateRedis,
    Procs,
    Sandbox,
    child_env,
    cpu_delta,
    cpu_seconds,
    db_kind,
    free_port,
    install_signal_cleanup,
    log,
    make_orders,
    percentile,
    raw_request,
    save_result,
    temp_database,
    wait_web,
    webhook,
    workdir,
)
from bench.loadgen import open_loop
from bench.pipeline import _latencies, _wait_done, done_jobs
from celeryconfig import worker_concurrency

CPU_WINDOW_S = 20.0  # the backfill's CPU per order is sampled this often
IDLE_ORDERS = 20
SUSTAINED_DRAIN_S = 60.0  # after the last webhook, all orders must be done within this
BACKFILL_DAY = ("2026-10-01", "2026-10-02")
NEW_EVERY = 4  # one order in four is a new customer's
# R for the backfill: low enough that the rate limit, not this machine's CPU, paces the run,
# as KashFlow's limit paces a real shop's (kfsync's default is 2 calls/s). At 2.5 calls per
# order R = 100 is 40 orders/s, where two cores run the pipeline at 55-100; at R = 200 (80
# orders/s) the run was CPU-bound, and its pace, and so any ETA, moved with the shared
# machine's speed by a fifth either way within one run (bench/NOTES.md, 2026-12-07).
DEFAULT_KASHFLOW_RATE = 100.0
PACED_BY_RATE = 0.9  # a run at >= 90% of the ideal rate was paced by the rate limit
BACKFILL_SLACK = 2.0  # the run is stopped after this many times its ideal duration (+ 60 s)
_LINE = re.compile(r"progress: ([\d.]+) s, queued (\d+)/(\d+), settled (\d+)/(\d+), "
                   r"(\S+) orders/s, ETA (\S+) s")


def run(rate: float, seconds: float, orders: int, kashflow_rate: float) -> dict[str, Any]:
    started = time.monotonic()
    with workdir("sustained") as tmp:
        procs = Procs(tmp / "logs")
        try:
            redis_server = PrivateRedis(tmp / "redis", procs)
            redis_server.start()
            with temp_database(tmp) as db_url:
                result = _run(procs, tmp, redis_server.url, db_url, rate, seconds, orders,
                              kashflow_rate)
        finally:
            procs.stop_all()
    result["duration_s"] = round(time.monotonic() - started, 1)
    save_result("sustained", result)
    return result


def _run(procs: Procs, tmp: Path, redis_url: str, db_url: str, rate: float, seconds: float,
         orders: int, kashflow_rate: float) -> dict[str, Any]:
    sandbox = Sandbox(procs, tmp)
    base = child_env(KFSYNC_ENV="dev", KFSYNC_DATABASE_URL=db_url, KFSYNC_REDIS_URL=redis_url,
                     KFSYNC_WEBHOOK_SECRETS=SECRET, **sandbox.kfsync_env())
    free = {**base, "KFSYNC_KASHFLOW_RATE": "1000000", "KFSYNC_KASHFLOW_BURST": "1000000"}
    count = int(rate * seconds)
    warm = make_orders(1, IDLE_ORDERS, IDLE_ORDERS, prefix="idle")
    load = make_orders(10_001, count, max(1, count // 2), prefix="sustained")
    history = _history(100_001, orders, ("sustained", 10_001, max(1, count // 2)))
    sandbox.seed_orders(warm + load + history)
    port = free_port()
    log(f"sustained: kfsync web + worker -c {worker_concurrency} ({db_kind(db_url)}); "
        f"{rate:g} orders/s for {seconds:g} s, no rate limit; then a backfill of {orders} "
        f"orders at {kashflow_rate:g} KashFlow calls/s")
    procs.kfsync("web", free, tmp, "web", "--port", str(port))
    procs.kfsync("worker", free, tmp, "worker", "-c", str(worker_concurrency),
                 "--loglevel", "WARNING")
    wait_web(port, procs, "web")
    idle = _idle(port, db_url, warm)
    roots = {name: procs.children[name].pid for name in ("worker", "web", "sandbox", "redis")}
    cpu0 = cpu_seconds(roots)
    sustained = _sustained(port, db_url, load, rate, idle)
    sustained["cpu_s"] = cpu_delta(cpu0, cpu_seconds(roots))
    log(f"  CPU seconds during the sustained phase: {sustained['cpu_s']}")
    procs.stop("worker")
    backfill = _backfill(procs, tmp, sandbox, base, db_url, history, kashflow_rate)
    return {"database": db_kind(db_url), "concurrency": worker_concurrency, "idle": idle,
            "sustained": sustained, "backfill": backfill}


def _idle(port: int, db_url: str, orders: list[dict[str, Any]]) -> dict[str, Any]:
    """Orders one at a time, each awaited: the latency with nothing queued (the first five
    log in and warm up, and are not counted)."""
    for n, order in enumerate(orders, start=1):
        open_loop(port, [raw_request(port, *webhook(order))], 1.0)
        _wait_done(db_url, n, 30)
    lat = _latencies(db_url, [str(o["entity_id"]) for o in orders[5:]])
    result = {"orders": len(lat), "p50_s": percentile(lat, 50), "p95_s": percentile(lat, 95)}
    log(f"  idle: webhook -> paid p50 {result['p50_s'] * 1000:.0f} ms, "
        f"p95 {result['p95_s'] * 1000:.0f} ms over {len(lat)} orders")
    return result


def _sustained(port: int, db_url: str, orders: list[dict[str, Any]], rate: float,
               idle: dict[str, Any]) -> dict[str, Any]:
    requests = [raw_request(port, *webhook(order)) for order in orders]
    t0 = time.monotonic()
    stats = open_loop(port, requests, rate, grace_s=10).summary()
    done, _ = _wait_done(db_url, IDLE_ORDERS + len(orders), SUSTAINED_DRAIN_S)
    elapsed = time.monotonic() - t0
    rows = _done_rows(db_url, [str(o["entity_id"]) for o in orders])
    lat, timeline = [seconds for _, seconds in rows], _timeline(rows)
    result = {"offered_per_s": rate, "p95_by_10s": timeline, "orders": len(orders),
              "done": done - IDLE_ORDERS,
              "seconds": round(elapsed, 1), "webhook_p99_ms": stats["p99_ms"],
              "webhooks_ok": stats["ok"], "p50_s": percentile(lat, 50),
              "p95_s": percentile(lat, 95), "p99_s": percentile(lat, 99),
              "max_s": max(lat, default=0.0), "idle_p50_s": idle["p50_s"]}
    log(f"  sustained {rate:g}/s: {result['done']}/{len(orders)} done; webhook -> paid p50 "
        f"{result['p50_s'] * 1000:.0f} ms, p95 {result['p95_s'] * 1000:.0f} ms, p99 "
        f"{result['p99_s'] * 1000:.0f} ms (idle p50 {idle['p50_s'] * 1000:.0f} ms); p95 ms "
        f"per 10 s of webhooks: {timeline}")
    return result


def _done_rows(db_url: str, keys: list[str]) -> list[tuple[float, float]]:
    """Per order done: (its webhook stored, as seconds since the first; seconds from stored to
    its job being done)."""
    from sqlalchemy import func, select

    from store.db import session_scope
    from store.models import InboundEvent, JobState, SyncJob

    with session_scope(db_url) as s:
        rows = s.execute(
            select(SyncJob.updated_at, func.min(InboundEvent.received_at))
            .join(InboundEvent, InboundEvent.resource_key == SyncJob.magento_key)
            .where(SyncJob.state == JobState.DONE, SyncJob.magento_key.in_(keys))
            .group_by(SyncJob.id, SyncJob.updated_at)).all()
    if not rows:
        return []
    start = min(first for _, first in rows)
    return [((first - start).total_seconds(), (done - first).total_seconds())
            for done, first in rows]


def _timeline(rows: list[tuple[float, float]]) -> list[int]:
    """p95 latency (ms) of the orders whose webhook came in each 10 s of the phase."""
    buckets: dict[int, list[float]] = {}
    for at, seconds in rows:
        buckets.setdefault(int(at // 10), []).append(seconds)
    return [round(percentile(buckets.get(k, [0.0]), 95) * 1000)
            for k in range(max(buckets, default=-1) + 1)]


def _history(first_id: int, count: int, repeat: tuple[str, int, int]) -> list[dict[str, Any]]:
    """``count`` orders created on ``BACKFILL_DAY``: every ``NEW_EVERY``-th a new customer's,
    the others by the ``repeat`` (prefix, first buyer, buyers) customers, in turn."""
    prefix, first_buyer, buyers = repeat
    out = []
    for n in range(count):
        if n % NEW_EVERY == 0:
            order = make_orders(first_id + n, 1, 1, prefix="history",
                                first_buyer=first_id + n)[0]
        else:
            order = make_orders(first_id + n, 1, 1, prefix=prefix,
                                first_buyer=first_buyer + n % buyers)[0]
        order["created_at"] = order["updated_at"] = f"{BACKFILL_DAY[0]} 12:00:00"
        out.append(order)
    return out


def _backfill(procs: Procs, tmp: Path, sandbox: Sandbox, base: dict[str, str], db_url: str,
              orders: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    burst = max(2, int(rate // 10))
    env = {**base, "KFSYNC_KASHFLOW_RATE": str(rate), "KFSYNC_KASHFLOW_BURST": str(burst)}
    sandbox.post("kashflow", "/settings", {"rate_limit": {"rate": rate, "burst": burst}})
    procs.kfsync("worker", env, tmp, "worker", "-c", str(worker_concurrency),
                 "--loglevel", "WARNING")
    time.sleep(3)  # the worker is up, the buckets full
    sandbox.delete("kashflow", "/calls")
    calls_per_order = (4 + 2 * (NEW_EVERY - 1)) / NEW_EVERY
    ideal = len(orders) * calls_per_order / rate
    limit = BACKFILL_SLACK * ideal + 60
    t0 = time.monotonic()
    proc = procs.kfsync("backfill", env, tmp, "backfill", "--since", BACKFILL_DAY[0],
                        "--until", BACKFILL_DAY[1])
    roots = {name: procs.children[name].pid
             for name in ("worker", "backfill", "sandbox", "redis")}
    windows = _cpu_windows(proc, roots, db_url, t0, limit)
    wall = time.monotonic() - t0
    lines = [m for m in _LINE.finditer((tmp / "logs" / "backfill.log").read_text())]
    calls = sandbox.get("kashflow", "/calls")
    result = _backfill_result(lines, len(orders), rate, ideal, wall, proc.returncode, calls)
    result["cpu_ms_per_order_by_window"] = windows
    return result


def _cpu_windows(proc: Any, roots: dict[str, int], db_url: str, t0: float, limit: float
                 ) -> list[dict[str, float]]:
    """Wait for the backfill (at most ``limit`` s), sampling every ``CPU_WINDOW_S``: per
    window, orders done per second and each process tree's CPU ms per order done (whether
    a cost per order grows as the run goes on)."""
    windows: list[dict[str, float]] = []
    last_t, last_done, last_cpu = t0, done_jobs(db_url), cpu_seconds(roots)
    while proc.poll() is None and time.monotonic() - t0 < limit:
        time.sleep(min(CPU_WINDOW_S, max(0.1, t0 + limit - time.monotonic())))
        now, count, cpu = time.monotonic(), done_jobs(db_url), cpu_seconds(roots)
        orders = count - last_done
        if orders > 0:
            row = {"t_s": round(now - t0, 1), "orders_per_s": round(orders / (now - last_t), 1)}
            row |= {name: round(ms * 1000 / orders, 2)
                    for name, ms in cpu_delta(last_cpu, cpu).items()}
            windows.append(row)
        last_t, last_done, last_cpu = now, count, cpu
    if proc.poll() is None:
        log(f"  backfill: not done after {limit:.0f} s; stopped")
        proc.kill()
    for row in windows:
        log("  backfill window: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    return windows


def _pace(points: list[tuple[float, int, str, int]], window: float = 20.0
          ) -> list[tuple[float, float]]:
    """(end time, settled orders/s) per ``window`` seconds of the progress lines: whether
    the pace holds as the database grows."""
    out: list[tuple[float, float]] = []
    start = points[0] if points else None
    for t, done, _, _ in points:
        if start is not None and t - start[0] >= window:
            out.append((round(t, 1), round((done - start[1]) / (t - start[0]), 1)))
            start = (t, done, "", 0)
    return out


def _backfill_result(lines: list[re.Match[str]], n: int, rate: float, ideal: float,
                     wall: float, returncode: int | None, calls: dict[str, Any]
                     ) -> dict[str, Any]:
    points = [(float(m[1]), int(m[4]), m[7], int(m[2])) for m in lines]
    at10 = next(((t, done, eta, queued) for t, done, eta, queued in points
                 if done >= n / 10 and eta != "--"), None)
    final = next(((t, done) for t, done, _, _ in points if done >= n), None)
    result: dict[str, Any] = {
        "orders": n, "kashflow_rate": rate, "ideal_s": round(ideal, 1),
        "wall_s": round(wall, 1), "exit": returncode, "done": points[-1][1] if points else 0,
        "calls_per_order": round((calls["total"] - calls["rate_limited"]) / n, 3),
        "http_429": calls["rate_limited"], "calls": calls["calls"],
        "pace": _pace(points)}
    if result["pace"]:
        log("  backfill: settled orders/s per 20 s: " + ", ".join(
            f"{rate:.0f}" for _, rate in result["pace"]))
    if at10 and final:
        t10, done10, eta, queued = at10
        actual = final[0]
        predicted = t10 + float(eta)
        # What the command showed before issue 24 at the same moment: rich's time left on
        # the queued bar (its speed over the run so far, under 30 s: queued / elapsed).
        before = t10 + (n - queued) / (queued / t10)
        result.update({
            "eta_at": round(t10, 1), "eta_settled": done10, "eta_s": float(eta),
            "actual_s": round(actual, 1), "predicted_total_s": round(predicted, 1),
            "eta_error": (predicted - actual) / actual,
            "remaining_error": (float(eta) - (actual - t10)) / (actual - t10),
            "fraction_of_ideal": ideal / actual,
            "paced_by_rate_limit": ideal / actual >= PACED_BY_RATE,
            "queued_bar_eta_error": (before - actual) / actual})
        log(f"  backfill: {n} orders in {actual:.1f} s (ideal {ideal:.1f} s at {rate:g} "
            f"calls/s, {result['calls_per_order']} calls/order, 429s {calls['rate_limited']});"
            f" ETA at {t10:.1f} s ({done10} settled) said {float(eta):.0f} s more -> "
            f"{predicted:.1f} s total, {result['eta_error']:+.1%} of the real duration")
        if not result["paced_by_rate_limit"]:
            log(f"  backfill: paced by this machine, not by the rate limit ({ideal / actual:.0%}"
                " of the ideal rate): the ETA follows the machine's speed; lower --kashflow-rate")
    else:
        if at10:
            result.update({"eta_at": round(at10[0], 1), "eta_settled": at10[1],
                           "eta_s": float(at10[2])})
        log(f"  backfill: no ETA after 10% or not finished ({len(points)} progress lines; "
            f"{result['done']} settled in {wall:.0f} s)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=50.0, help="orders/s, sustained phase")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--orders", type=int, default=10_000, help="backfill orders")
    parser.add_argument("--kashflow-rate", type=float, default=DEFAULT_KASHFLOW_RATE,
                        help="KashFlow calls/s during the backfill")
    args = parser.parse_args()
    install_signal_cleanup()
    run(args.rate, args.seconds, args.orders, args.kashflow_rate)
    from bench.report import write_report

    write_report()


if __name__ == "__main__":
    main()
