"""Ingest benchmark: ``POST /webhooks/magento`` served the production way (``kfsync web``:
gunicorn, gthread, kfsync's settings; a fresh PostgreSQL database, or SQLite when none
answers; a private Redis), side by side with a bare Flask endpoint returning 202 on the same
gunicorn settings (``bench.bare``). The two servers run one after the other, never together.

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
SATURATION_CONNS = 16
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


def run(rates: list[float], seconds: float) -> dict[str, Any]:
    started = time.monotonic()
    with workdir("ingest") as tmp:
        procs = Procs(tmp / "logs")
        try:
            redis_server = PrivateRedis(tmp / "redis", procs)
            redis_server.start()
            with temp_database(tmp) as db_url:
                results = _run(procs, tmp, redis_server.url, db_url, rates, seconds)
        finally:
            procs.stop_all()
    results["duration_s"] = round(time.monotonic() - started, 1)
    save_result("ingest", results)
    return results


def _run(procs: Procs, tmp: Path, redis_url: str, db_url: str, rates: list[float],
         seconds: float) -> dict[str, Any]:
    env = child_env(KFSYNC_ENV="dev", KFSYNC_DATABASE_URL=db_url, KFSYNC_REDIS_URL=redis_url,
                    KFSYNC_WEBHOOK_SECRETS=SECRET)
    # Both servers run all along but only one is loaded at a time, stage by stage in turn,
    # so both see the same background load of this shared machine.
    port, bare_port = free_port(), free_port()
    log(f"ingest: kfsync web (gunicorn, {db_kind(db_url)}, Redis) on {port}; bare Flask 202 "
        f"endpoint on the same gunicorn settings on {bare_port}; stages alternate")
    procs.kfsync("web", env, tmp, "web", "--port", str(port))
    procs.spawn("bare", [sys.executable, "-m", "bench.bare", "--port", str(bare_port)],
                env, tmp)
    wait_web(port, procs, "web")
    wait_web(bare_port, procs, "bare")
    for p in (port, bare_port):
        open_loop(p, _requests(p, WARMUP[0]), WARMUP[1])
    kfsync: dict[str, Any] = {"stages": []}
    bare: dict[str, Any] = {"stages": []}
    for rate in rates:
        kfsync["stages"].append(_stage(port, rate, seconds, "kfsync"))
        bare["stages"].append(_stage(bare_port, rate, seconds, "bare"))
    kfsync["saturation"] = _saturate(port, seconds, "kfsync")
    bare["saturation"] = _saturate(bare_port, seconds, "bare")
    procs.stop("web")
    procs.stop("bare")
    stored = _stored_events(db_url)

    rows = []
    for k, b in zip(kfsync["stages"], bare["stages"], strict=True):
        rows.append({"offered_rps": k["offered_rps"], "kfsync": k, "bare": b,
                     "both_sustain": _sustained(k) and _sustained(b),
                     "ratio": k["achieved_rps"] / b["achieved_rps"] if b["achieved_rps"] else 0})
    sustained = [r for r in rows if r["both_sustain"]]
    top = max(sustained, key=lambda r: r["offered_rps"]) if sustained else None
    at200 = next((r for r in rows if r["offered_rps"] == 200), None)
    sat_ratio = (kfsync["saturation"]["achieved_rps"] / bare["saturation"]["achieved_rps"]
                 if bare["saturation"]["achieved_rps"] else 0)
    sent_ok = sum(r["kfsync"]["ok"] for r in rows) + kfsync["saturation"]["ok"] + WARMUP[0]
    return {
        "database": db_kind(db_url), "rows": rows,
        "saturation": {"kfsync": kfsync["saturation"], "bare": bare["saturation"],
                       "ratio": sat_ratio, "conns": SATURATION_CONNS},
        "highest_both_sustain": top["offered_rps"] if top else None,
        "ratio_at_highest_sustained": top["ratio"] if top else None,
        "p99_ms_at_200": at200["kfsync"]["p99_ms"] if at200 else None,
        "events_stored": stored, "events_acknowledged": sent_ok,
        "seconds_per_stage": seconds,
    }


def _stored_events(db_url: str) -> int:
    from store.db import session_scope
    from store.models import InboundEvent

    with session_scope(db_url) as s:
        return int(s.scalar(select(func.count()).select_from(InboundEvent)) or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="50,200,500,1000")
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    install_signal_cleanup()
    run([float(r) for r in args.rates.split(",")], args.seconds)
    from bench.report import write_report

    write_report()


if __name__ == "__main__":
    main()
