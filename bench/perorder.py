"""What one order costs the worker, counted in-process (diagnostics; not part of ``make bench``).

Stores N order webhooks through the real Flask view, then runs ``process_event`` for each in
this process (Celery's ``apply``: the task body and its signals, without a worker) against
the sandbox, a fresh database and a private Redis, and prints per order: CPU seconds, SQL
statements by kind, PostgreSQL transactions, pool checkouts, Redis commands by name (round trips:
a pipeline's or a script's commands count one each) and KashFlow calls. With
``--profile``, a cProfile of the measured orders goes to ``var/bench/perorder.prof``.

Counts are exact where the benchmarks' timings are noisy: use it to see what a change saves.

    python -m bench.perorder [--orders 200] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import time
from collections import Counter
from typing import Any

from bench.common import (
    RESULTS_DIR,
    SECRET,
    PrivateRedis,
    Procs,
    Sandbox,
    cpu_delta,
    cpu_seconds,
    install_signal_cleanup,
    make_orders,
    raw_request,
    temp_database,
    webhook,
    workdir,
)

WARMUP_ORDERS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    install_signal_cleanup()
    with workdir("perorder") as tmp:
        procs = Procs(tmp / "logs")
        try:
            redis_server = PrivateRedis(tmp / "redis", procs)
            redis_server.start()
            sandbox = Sandbox(procs, tmp)
            with temp_database(tmp) as db_url:
                os.environ.update(KFSYNC_ENV="dev", KFSYNC_DATABASE_URL=db_url,
                                  KFSYNC_REDIS_URL=redis_server.url,
                                  KFSYNC_WEBHOOK_SECRETS=SECRET,
                                  KFSYNC_KASHFLOW_RATE="1000000",
                                  KFSYNC_KASHFLOW_BURST="1000000", **sandbox.kfsync_env())
                roots = {"sandbox": procs.children["sandbox"].pid,
                         "redis": procs.children["redis"].pid}
                _measure(sandbox, db_url, args.orders, args.profile, roots)
        finally:
            procs.stop_all()


def _measure(sandbox: Sandbox, db_url: str, count: int, profile: bool,
             roots: dict[str, int]) -> None:
    from sqlalchemy import Engine, create_engine, event, text
    from sqlalchemy.pool import Pool

    from workers.events import process_event

    orders = make_orders(1, WARMUP_ORDERS + count, (WARMUP_ORDERS + count) // 2)
    sandbox.seed_orders(orders)
    events = _store_webhooks(orders, db_url)
    for event_id in events[:WARMUP_ORDERS]:
        process_event.apply(args=(event_id,))
    counts: Counter[str] = Counter()

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        counts[sql.split()[0].upper()] += 1

    def begin(conn: Any) -> None:  # a BEGIN (PostgreSQL: one round trip of its own)
        if not getattr(conn.connection.dbapi_connection, "autocommit", False):
            counts["transactions begun"] += 1

    def checkout(*_: Any) -> None:
        counts["pool checkouts"] += 1

    event.listen(Engine, "before_cursor_execute", statement)
    event.listen(Pool, "checkout", checkout)
    event.listen(Engine, "begin", begin)
    admin = create_engine(db_url)

    def transactions() -> int:
        if not db_url.startswith("postgresql"):
            return 0
        with admin.connect() as conn:
            return int(conn.scalar(text(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                "WHERE datname = current_database()")) or 0)

    sandbox.delete("kashflow", "/calls")
    redis0 = _redis_commands()
    before, profiler = transactions(), cProfile.Profile()
    others0 = cpu_seconds(roots)
    cpu0, times0 = time.process_time(), os.times()
    if profile:
        profiler.enable()
    for event_id in events[WARMUP_ORDERS:]:
        process_event.apply(args=(event_id,))
    profiler.disable()
    cpu, times = time.process_time() - cpu0, os.times()
    others = cpu_delta(others0, cpu_seconds(roots))
    others.pop("bench (load generator, polling)", None)
    event.remove(Engine, "before_cursor_execute", statement)
    event.remove(Pool, "checkout", checkout)
    event.remove(Engine, "begin", begin)
    xacts = transactions() - before - 1  # the reading itself
    commands = _redis_commands() - redis0
    admin.dispose()
    calls = sandbox.get("kashflow", "/calls")
    extra = ("pool checkouts", "transactions begun")
    user, system = times.user - times0.user, times.system - times0.system
    print(f"{count} orders; per order: CPU {cpu / count * 1000:.1f} ms (user "
          f"{user / count * 1000:.1f}, system {system / count * 1000:.1f})"
          f"{' (profiled)' if profile else ''}, SQL statements "
          f"{sum(v for k, v in counts.items() if k not in extra) / count:.2f} ("
          + ", ".join(f"{k} {v / count:.2f}" for k, v in sorted(counts.items())
                      if k not in extra)
          + f"), PostgreSQL transactions {xacts / count:.2f} (begun by kfsync "
          f"{counts['transactions begun'] / count:.2f}), pool checkouts "
          f"{counts['pool checkouts'] / count:.2f}, KashFlow calls {calls['total'] / count:.2f}")
    print(f"  Redis commands per order {commands.total() / count:.2f} (" + ", ".join(
        f"{name} {n / count:.2f}" for name, n in commands.most_common() if n) + ")")
    # The other processes' CPU over the same orders (PostgreSQL: every local server process,
    # so other users of the server count too): what one order costs the whole machine.
    print("  CPU ms per order elsewhere: " + ", ".join(
        f"{name} {seconds / count * 1000:.1f}" for name, seconds in others.items())
        + f"; all {(cpu + sum(others.values())) / count * 1000:.1f}")
    if profile:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        out = RESULTS_DIR / "perorder.prof"
        profiler.dump_stats(out)
        print(f"profile: {out} (python -m pstats {out})")


def _redis_commands() -> Counter[str]:
    """Commands Redis has run by name (``INFO commandstats``; its own ``INFO`` left out)."""
    import redis

    stats = redis.Redis.from_url(os.environ["KFSYNC_REDIS_URL"]).info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): int(row["calls"])
                    for name, row in stats.items() if name != "cmdstat_info"})


def _store_webhooks(orders: list[dict[str, Any]], db_url: str) -> list[int]:
    """Each order's webhook through ``POST /webhooks/magento``; the stored event ids."""
    from sqlalchemy import select

    from ingest.app import create_app
    from store.db import session_scope
    from store.models import InboundEvent

    client = create_app().test_client()
    for order in orders:
        head, _, body = raw_request(0, *webhook(order)).partition(b"\r\n\r\n")
        headers = dict(line.decode().split(": ", 1) for line in head.split(b"\r\n")[1:])
        for hop in ("Host", "Content-Length", "Connection"):
            headers.pop(hop, None)
        reply = client.post("/webhooks/magento", data=body, headers=headers)
        if reply.status_code != 202:
            raise RuntimeError(f"webhook refused: {reply.status_code} {reply.get_data()!r}")
    with session_scope(db_url) as s:
        return list(s.scalars(select(InboundEvent.id).order_by(InboundEvent.id)))


if __name__ == "__main__":
    main()
