"""Pipeline benchmark: orders per second from webhook to paid invoice, against the sandbox
with no latency and no rate limit, side by side with a raw Celery chain of three no-op tasks
(``bench.rawchain``) on the same broker, worker concurrency and ``celeryconfig``.

kfsync runs the production way: ``kfsync web`` (gunicorn) and ``kfsync worker -c N`` as
separate processes, a fresh PostgreSQL database (SQLite when none answers), a private Redis,
the sandbox in its own process. Peak RSS of every worker process (parent and pool children)
and of the web processes is sampled with psutil during the measured rounds.

The machine is shared and its speed drifts within seconds, so the two are measured in
``ROUNDS`` alternating pairs (raw chains, then orders) with both workers up, the raw chain on
its own database of the same Redis server; each pair gives a ratio, and the median pair is
reported.

    python -m bench.pipeline [--orders 300] [--concurrency N]   (orders per round; N: the
    worker's default, cores + 1)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, select

from bench.common import (
    ALL_QUEUES,
    SECRET,
    PrivateRedis,
    Procs,
    RssSampler,
    Sandbox,
    child_env,
    collector_paused,
    cpu_delta,
    cpu_seconds,
    db_kind,
    free_port,
    install_signal_cleanup,
    log,
    make_orders,
    mib,
    percentile,
    raw_request,
    save_result,
    temp_database,
    wait_for,
    wait_web,
    webhook,
    workdir,
)
from bench.loadgen import closed_loop
from celeryconfig import worker_concurrency

RAW_CHAINS = 1000
WARMUP_ORDERS = 20
ROUNDS = 5  # alternating pairs: the median pair is reported
TIME_LIMIT_S = 180.0  # per measured run
DONE_COUNT = "SELECT count(*) FROM sync_jobs WHERE state = 'done'"  # JobState.DONE


def run(orders: int, concurrency: int, profile: bool = False) -> dict[str, Any]:
    started = time.monotonic()
    with workdir("pipeline") as tmp:
        procs = Procs(tmp / "logs")
        try:
            redis_server = PrivateRedis(tmp / "redis", procs)
            redis_server.start()
            with temp_database(tmp) as db_url:
                result = _run(procs, tmp, redis_server.url, db_url, orders, concurrency, profile)
        finally:
            procs.stop_all()
    result["duration_s"] = round(time.monotonic() - started, 1)
    save_result("pipeline", result)
    return result


def _run(procs: Procs, tmp: Path, redis_url: str, db_url: str, orders: int,
         concurrency: int, profile: bool = False) -> dict[str, Any]:
    raw_burst = _raw_chain(procs, tmp, redis_url.rsplit("/", 1)[0] + "/1", concurrency)
    sandbox = Sandbox(procs, tmp)
    env = child_env(KFSYNC_ENV="dev", KFSYNC_DATABASE_URL=db_url, KFSYNC_REDIS_URL=redis_url,
                    KFSYNC_WEBHOOK_SECRETS=SECRET, KFSYNC_KASHFLOW_RATE="1000000",
                    KFSYNC_KASHFLOW_BURST="1000000", KFSYNC_HTTP_TIMEOUT_S="10",
                    **sandbox.kfsync_env())
    warm = make_orders(1, WARMUP_ORDERS, WARMUP_ORDERS, prefix="warm")
    batches = [make_orders(10_001 + r * orders, orders, max(1, orders // 2),
                           prefix=f"round{r}-buyer") for r in range(ROUNDS)]
    sandbox.seed_orders(warm + [o for batch in batches for o in batch])
    port = free_port()
    log(f"pipeline: kfsync web + worker -c {concurrency} ({db_kind(db_url)}, sandbox: no "
        f"latency, no rate limit); {ROUNDS} rounds of {RAW_CHAINS} raw chains, then "
        f"{orders} orders")
    web = procs.kfsync("web", env, tmp, "web", "--port", str(port))
    worker = procs.kfsync("worker", env, tmp, "worker", "-c", str(concurrency),
                          "--loglevel", "WARNING")
    wait_web(port, procs, "web")
    _send(port, warm)
    _wait_done(db_url, WARMUP_ORDERS, 90)
    sandbox.delete("kashflow", "/calls")
    sampler = RssSampler({"worker": worker.pid, "web": web.pid})
    sampler.start()
    roots = {"worker": worker.pid, "web": web.pid, "sandbox": procs.children["sandbox"].pid,
             "redis": procs.children["redis"].pid}
    rounds: list[dict[str, Any]] = []
    cpu: dict[str, float] = {}
    for number, batch in enumerate(batches):
        raw = raw_burst(RAW_CHAINS)
        cpu0 = cpu_seconds(roots)
        spies = _profile(procs, worker.pid, tmp) if profile and number == 0 else []
        with collector_paused():  # as for the raw chain's burst
            t0 = time.monotonic()
            _send(port, batch)
            done, elapsed = _wait_done(db_url, WARMUP_ORDERS + (number + 1) * orders,
                                       TIME_LIMIT_S, t0)
        for name, seconds in cpu_delta(cpu0, cpu_seconds(roots)).items():
            cpu[name] = round(cpu.get(name, 0.0) + seconds, 2)
        for spy in spies:
            spy.wait(timeout=60)
        if spies:
            _summarise_profiles(tmp)
        done -= WARMUP_ORDERS + number * orders
        rate = done / elapsed if elapsed else 0.0
        rounds.append({"done": done, "elapsed_s": elapsed, "orders_per_s": rate, "raw": raw,
                       "ratio": rate / raw["rate"] if raw["rate"] else 0.0})
        log(f"  round {number + 1}: kfsync {done}/{orders} orders in {elapsed:.1f} s = "
            f"{rate:.1f}/s; raw chain {raw['rate']:.1f}/s; ratio {rounds[-1]['ratio']:.0%}")
    sampler.stop()
    procs.stop("rawworker")
    log(f"  CPU seconds during the kfsync rounds: {cpu}")
    median = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
    calls = sandbox.get("kashflow", "/calls")
    measured = [str(o["entity_id"]) for batch in batches for o in batch]
    latencies = _latencies(db_url, measured)
    attempts = _attempts(db_url)
    log(f"  attempts (step, outcome): {attempts}")
    w, g = sampler.peaks["worker"], sampler.peaks["web"]
    log(f"  median round: kfsync {median['orders_per_s']:.1f} orders/s; raw chain "
        f"{median['raw']['rate']:.1f} chains/s; ratio {median['ratio']:.0%}")
    log(f"  worker RSS peak: parent {mib(w.parent(worker.pid)):.0f} MiB, largest child "
        f"{mib(w.max_child(worker.pid)):.0f} MiB; web {mib(g.max_process()):.0f} MiB")
    return {
        "database": db_kind(db_url), "concurrency": concurrency, "orders": orders,
        "buyers": max(1, orders // 2), "done": median["done"],
        "elapsed_s": median["elapsed_s"], "orders_per_s": median["orders_per_s"],
        "raw": median["raw"], "ratio": median["ratio"],
        "rounds": [{"orders_per_s": r["orders_per_s"], "raw_per_s": r["raw"]["rate"],
                    "ratio": r["ratio"]} for r in rounds],
        "latency_p50_s": percentile(latencies, 50), "latency_p99_s": percentile(latencies, 99),
        "cpu_s": cpu, "kashflow_calls": calls["calls"], "attempts": attempts,
        "kashflow_calls_per_order": calls["total"] / (orders * ROUNDS),
        "rss": {
            "worker_parent_mib": mib(w.parent(worker.pid)),
            "worker_child_max_mib": mib(w.max_child(worker.pid)),
            "worker_tree_mib": mib(w.tree_sum), "worker_processes": len(w.per_process),
            "web_master_mib": mib(g.parent(web.pid)), "web_worker_max_mib":
                mib(g.max_child(web.pid)), "web_tree_mib": mib(g.tree_sum),
        },
    }


def _profile(procs: Procs, worker_pid: int, tmp: Path) -> list[Any]:
    """py-spy (when on PATH) on every worker process for the measured run (diagnostics):
    samples only while a thread holds the GIL, i.e. CPU spent in Python, not waits."""
    import shutil

    import psutil

    spy = shutil.which("py-spy")
    if spy is None:
        log("  --profile: py-spy not found on PATH; skipped")
        return []
    pids = [worker_pid, *(c.pid for c in psutil.Process(worker_pid).children(recursive=True))]
    return [procs.spawn(f"py-spy-{pid}", [spy, "record", "--pid", str(pid), "--duration", "12",
                                          "--rate", "200", "--format", "raw", "--nonblocking",
                                          "--gil", "-o", str(tmp / f"profile-{pid}.txt")],
                        child_env(), tmp) for pid in pids]


def _summarise_profiles(tmp: Path) -> None:
    """Inclusive sample counts per function over all worker processes, into var/bench."""
    from collections import Counter

    from bench.common import RESULTS_DIR

    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for path in tmp.glob("profile-*.txt"):
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            n = int(count)
            total += n
            frames = stack.split(";")
            own[frames[-1]] += n
            for frame in set(frames):
                inclusive[frame] += n
    total = max(total, 1)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / "pipeline-profile.txt"
    out.write_text("\n".join(["# inclusive", *(f"{n / total:6.1%}  {frame}" for frame, n in
                                               inclusive.most_common(150)),
                              "# self", *(f"{n / total:6.1%}  {frame}" for frame, n in
                                          own.most_common(60))]))
    log(f"  profile: {out}")


def _raw_chain(procs: Procs, tmp: Path, redis_url: str, concurrency: int
               ) -> Callable[[int], dict[str, Any]]:
    """Start the raw chain's worker on ``redis_url``; returns a function that runs one burst
    of N chains (published at once) and measures it."""
    env = child_env(KFSYNC_ENV="dev", KFSYNC_REDIS_URL=redis_url)
    log(f"pipeline: raw Celery chain of three no-op tasks, worker -c {concurrency}")
    procs.spawn("rawworker", [sys.executable, "-m", "celery", "-A", "bench.rawchain", "worker",
                              "-Q", ALL_QUEUES, "-c", str(concurrency), "--loglevel", "WARNING",
                              "-n", "rawchain@%h"], env, tmp)
    from bench import rawchain

    rawchain.app.conf.broker_url = redis_url
    client = redis.Redis.from_url(redis_url)
    wait_for(lambda: rawchain.app.control.ping(timeout=0.5), "the raw chain worker", 60)
    roots = {"worker": procs.children["rawworker"].pid, "redis": procs.children["redis"].pid}

    def burst(count: int) -> dict[str, Any]:
        client.set(rawchain.COUNTER_KEY, 0)
        cpu0 = cpu_seconds(roots)
        # The bench process's own collector pauses would stall its publishing (or the
        # kfsync round's webhooks) for 60-100 ms at a time: off on both sides.
        with collector_paused():
            t0 = time.monotonic()
            for n in range(count):
                rawchain.order_chain(n).apply_async()
            wait_for(lambda: int(client.get(rawchain.COUNTER_KEY) or 0) >= count,
                     "the raw chains", TIME_LIMIT_S, 0.02)
            elapsed = time.monotonic() - t0
        cpu = cpu_delta(cpu0, cpu_seconds(roots))
        return {"chains": count, "elapsed_s": elapsed, "rate": count / elapsed, "cpu_s": cpu}

    burst(50)  # warm-up
    return burst


def _send(port: int, orders: list[dict[str, Any]]) -> None:
    requests = [raw_request(port, *webhook(order)) for order in orders]
    stats = closed_loop(port, iter(requests), conns=8, duration=TIME_LIMIT_S)
    if stats.ok != len(orders):
        raise RuntimeError(f"webhooks not accepted: {stats.summary()}")


def done_jobs(db_url: str) -> int:
    """Jobs in state ``done``."""
    with _done_counter(db_url) as count:
        return count()


@contextmanager
def _done_counter(db_url: str) -> Iterator[Callable[[], int]]:
    """A function counting the jobs in state ``done`` on one driver connection with a plain
    statement, each call a fresh snapshot: as cheap as the raw chain's poll of its Redis
    counter (through the ORM a count cost the bench 1.0 ms of CPU, against 0.08 ms,
    bench/NOTES.md)."""
    from store.db import get_engine

    conn = get_engine(db_url).raw_connection()
    cursor = conn.cursor()

    def count() -> int:
        cursor.execute(DONE_COUNT)
        (done,) = cursor.fetchone() or (0,)
        conn.rollback()  # ends the snapshot: the next call sees new jobs
        return int(done)

    try:
        yield count
    finally:
        conn.close()


def _wait_done(db_url: str, expected: int, timeout: float, t0: float | None = None
               ) -> tuple[int, float]:
    """Count the done jobs every 50 ms until there are ``expected``: (done, seconds)."""
    t0 = time.monotonic() if t0 is None else t0
    deadline = t0 + timeout
    done = 0
    with _done_counter(db_url) as count:
        while time.monotonic() < deadline:
            done = count()
            if done >= expected:
                break
            time.sleep(0.05)
    return done, time.monotonic() - t0


def _attempts(db_url: str) -> dict[str, int]:
    """Attempt rows by step and outcome (warm-up included): a retry or a busy claim shows."""
    from store.db import session_scope
    from store.models import Attempt

    with session_scope(db_url) as s:
        rows = s.execute(select(Attempt.step, Attempt.outcome, func.count())
                         .group_by(Attempt.step, Attempt.outcome)).all()
    return {f"{step}:{outcome}": int(n) for step, outcome, n in sorted(rows)}


def _latencies(db_url: str, keys: list[str]) -> list[float]:
    """Seconds from each order's webhook being stored to its job being done."""
    from store.db import session_scope
    from store.models import InboundEvent, JobState, SyncJob

    with session_scope(db_url) as s:
        rows = s.execute(
            select(SyncJob.updated_at, func.min(InboundEvent.received_at))
            .join(InboundEvent, InboundEvent.resource_key == SyncJob.magento_key)
            .where(SyncJob.state == JobState.DONE, SyncJob.magento_key.in_(keys))
            .group_by(SyncJob.id, SyncJob.updated_at)).all()
    return [(done - first).total_seconds() for done, first in rows if done and first]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=300, help="orders per round")
    parser.add_argument("--concurrency", type=int, default=worker_concurrency,
                        help="worker processes for kfsync and the raw chain alike (default: "
                             "celeryconfig's worker_concurrency: cores + 1)")
    parser.add_argument("--profile", action="store_true",
                        help="sample the worker processes with py-spy (diagnostics)")
    args = parser.parse_args()
    install_signal_cleanup()
    run(args.orders, args.concurrency, args.profile)
    from bench.report import write_report

    write_report()


if __name__ == "__main__":
    main()
