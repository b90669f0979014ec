"""Ingest benchmark: ``POST /webhooks/magento`` served the production way (``kfsync web``:
gunicorn, gthread, kfsync's settings; a fresh PostgreSQL database, or SQLite when none
answers; a private Redis), side by side with two references on the same gunicorn settings and
worker count: a bare Flask endpoint returning 202 (``bench.bare``) and a "durable bare" one
that commits the same row to the same database and pushes once to the same Redis
(``bench.durable``). The servers are loaded one after the other, never together.

Fixed offered loads (open loop, every request a unique, validly signed webhook), then a
closed-loop saturation probe. Bounded: each stage has a fixed request count and time.

    python -m bench.ingest [--rates 50,200,500,1000] [--seconds 6]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.common import (
    SECRET,
    PrivateRedis,
    Procs,
    child_env,
    db_kind,
    free_port,
    install_signal_cleanup,
    log,
    raw_request,
    save_result,
    temp_database,
    wait_web,
    webhook,
    workdir,
)
from bench.loadgen import closed_loop, open_loop

WARMUP = (100, 100.0)  # requests, req/s
WEB_WORKERS = 3  # the default of `kfsync web`, passed to all three servers
SATURATION_CONNS = 16
SATURATION_ROUNDS = 3  # alternating kfsync, durable bare, bare; the median round is reported
SUSTAIN_FRACTION = 0.95  # achieved/offered for a load to count as sustained
SUSTAIN_P99_MS = 500.0  # ... and no runaway queue


def _requests(port: int, count: int) -> list[bytes]:
    out = []
    for n in range(count):
        order = {"entity_id": 1 + n, "increment_id": f"{1 + n:09d}",
                 "updated_at": "2026-11-24 10:00:00"}
        event_id, body = webhook(order)
        out.append(raw_request(port, event_id, body))
    return out


def _endless(port: int) -> Iterator[bytes]:
    for n in itertools.count():
        order = {"entity_id": 1 + n, "increment_id": f"{1 + n:09d}",
                 "updated_at": "2026-11-24 10:00:00"}
        event_id, body = webhook(order)
        yield raw_request(port, event_id, body)


def _stage(port: int, rate: float, seconds: float, label: str) -> dict[str, Any]:
    stats = open_loop(port, _requests(port, int(rate * seconds)), rate, grace_s=10)
    s = stats.summary()
    log(f"  {label:6} {rate:6.0f} req/s offered: {s['achieved_rps']:7.1f} achieved, "
        f"p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, errors {s['errors']}")
    time.sleep(1)
    return s


def _saturate(port: int, seconds: float, label: str) -> dict[str, Any]:
    sat = closed_loop(port, _endless(port), conns=SATURATION_CONNS, duration=seconds).summary()
    log(f"  {label:6} saturation ({SATURATION_CONNS} connections): "
        f"{sat['achieved_rps']:.1f} req/s, p50 {sat['p50_ms']:.1f} ms, p99 {sat['p99_ms']:.1f} ms")
    time.sleep(1)
    return sat


def _sustained(stage: dict[str, Any]) -> bool:
    return bool(stage["errors"] == 0 and stage["ok"] == stage["sent"]
            and stage["achieved_rps"] >= SUSTAIN_FRACTION * stage["offered_rps"]
            and stage["p99_ms"] <= SUSTAIN_P99_MS)


def run(rates: list[float], seconds: float, rounds: int = SATURATION_ROUNDS) -> dict[str, Any]:
    started = time.monotonic()
    with workdir("ingest") as tmp:
        procs = Procs(tmp / "logs")
        try:
            redis_server = PrivateRedis(tmp / "redis", procs)
            redis_server.start()
            with temp_database(tmp) as db_url:
                results = _run(procs, tmp, redis_server.url, db_url, rates, seconds, rounds)
        finally:
            procs.stop_all()
    results["duration_s"] = round(time.monotonic() - started, 1)
    save_result("ingest", results)
    return results


SERVERS = ("kfsync", "durable", "bare")  # loaded in this order at every stage


def _run(procs: Procs, tmp: Path, redis_url: str, db_url: str, rates: list[float],
         seconds: float, saturation_rounds: int) -> dict[str, Any]:
    env = child_env(KFSYNC_ENV="dev", KFSYNC_DATABASE_URL=db_url, KFSYNC_REDIS_URL=redis_url,
                    KFSYNC_WEBHOOK_SECRETS=SECRET)
    # All servers run all along but only one is loaded at a time, stage by stage in turn,
    # so all see the same background load of this shared machine.
    ports = {name: free_port() for name in SERVERS}
    log(f"ingest: kfsync web (gunicorn x{WEB_WORKERS}, {db_kind(db_url)}, Redis) on "
        f"{ports['kfsync']}; durable bare (INSERT + push) on {ports['durable']}; bare Flask "
        f"202 on {ports['bare']}; same gunicorn settings; stages alternate")
    workers = ("--workers", str(WEB_WORKERS))
    procs.kfsync("web", env, tmp, "web", "--port", str(ports["kfsync"]), *workers)
    for name in ("durable", "bare"):
        procs.spawn(name, [sys.executable, "-m", f"bench.{name}", "--port", str(ports[name]),
                           *workers], env, tmp)
    for name, proc_name in zip(SERVERS, ("web", "durable", "bare"), strict=True):
        wait_web(ports[name], procs, proc_name)
    for p in ports.values():
        open_loop(p, _requests(p, WARMUP[0]), WARMUP[1])
    runs: dict[str, dict[str, Any]] = {name: {"stages": []} for name in SERVERS}
    for rate in rates:
        for name in SERVERS:
            runs[name]["stages"].append(_stage(ports[name], rate, seconds, name))
    rounds = []
    for _ in range(saturation_rounds):
        rounds.append({name: _saturate(ports[name], seconds, name) for name in SERVERS})
    # The round with the median kfsync / durable-bare ratio stands for the run (the machine's
    # speed drifts between rounds; within one round the three ran seconds apart).
    rounds.sort(key=lambda r: _ratio(r["kfsync"], r["durable"]))
    for name in SERVERS:
        runs[name]["saturation"] = rounds[len(rounds) // 2][name]
    runs["kfsync"]["saturation_rounds"] = [
        {name: round(r[name]["achieved_rps"], 1) for name in SERVERS} for r in rounds]
    for name in ("web", "durable", "bare"):
        procs.stop(name)
    return _summary(runs, db_url, seconds)


def _summary(runs: dict[str, dict[str, Any]], db_url: str, seconds: float) -> dict[str, Any]:
    kfsync, durable, bare = (runs[name] for name in SERVERS)
    rows = []
    for k, d, b in zip(kfsync["stages"], durable["stages"], bare["stages"], strict=True):
        rows.append({"offered_rps": k["offered_rps"], "kfsync": k, "durable": d, "bare": b,
                     "both_sustain": _sustained(k) and _sustained(b),
                     "kfsync_sustains": _sustained(k),
                     "ratio": _ratio(k, b), "durable_ratio": _ratio(k, d)})
    sustained = [r for r in rows if r["both_sustain"]]
    top = max(sustained, key=lambda r: r["offered_rps"]) if sustained else None
    at = {int(r["offered_rps"]): r["kfsync"] for r in rows}
    sat = {name: runs[name]["saturation"] for name in SERVERS}
    sent_ok = sum(r["kfsync"]["ok"] for r in rows) + sat["kfsync"]["ok"] + WARMUP[0]
    return {
        "database": db_kind(db_url), "rows": rows, "web_workers": WEB_WORKERS,
        "saturation": {**sat, "ratio": _ratio(sat["kfsync"], sat["bare"]),
                       "durable_ratio": _ratio(sat["kfsync"], sat["durable"]),
                       "conns": SATURATION_CONNS,
                       "rounds": runs["kfsync"]["saturation_rounds"]},
        "highest_both_sustain": top["offered_rps"] if top else None,
        "ratio_at_highest_sustained": top["ratio"] if top else None,
        "p99_ms_at_200": at[200]["p99_ms"] if 200 in at else None,
        "p99_ms_at_1000": at[1000]["p99_ms"] if 1000 in at else None,
        "sustains_1000": _sustained(at[1000]) if 1000 in at else None,
        "events_stored": _stored_events(db_url), "events_acknowledged": sent_ok,
        "seconds_per_stage": seconds,
    }


def _ratio(kfsync: dict[str, Any], reference: dict[str, Any]) -> float:
    return float(kfsync["achieved_rps"] / reference["achieved_rps"]
                 if reference["achieved_rps"] else 0.0)


def _stored_events(db_url: str) -> int:
    from store.db import session_scope
    from store.models import InboundEvent

    with session_scope(db_url) as s:
        return int(s.scalar(select(func.count()).select_from(InboundEvent)
                            .where(InboundEvent.source == "magento")) or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="50,200,500,1000")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=SATURATION_ROUNDS,
                        help="alternating saturation rounds")
    args = parser.parse_args()
    install_signal_cleanup()
    run([float(r) for r in args.rates.split(",") if r], args.seconds, args.rounds)
    from bench.report import write_report

    write_report()


if __name__ == "__main__":
    main()
