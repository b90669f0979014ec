"""``make bench``: every benchmark in order, bounded in count and time, then the report.

    python -m bench [--quick] [--skip ingest,pipeline,ratelimit,sustained,chaos,suggest,summary]

The whole run stays under fifteen minutes on a 2-core machine: each benchmark has a fixed amount
of work and a time limit of its own. A failed benchmark is reported and the others still
run; the exit code is 1 if any of them failed to run (a missed target is not a failure to
run: it is a result, written to docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench import chaos, ingest, pipeline, ratelimit, suggest, summary, sustained
from bench.common import install_signal_cleanup, log
from bench.report import write_report
from celeryconfig import worker_concurrency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    parser.add_argument("--skip", default="", help="comma-separated benchmarks to skip")
    args = parser.parse_args()
    install_signal_cleanup()
    q = args.quick
    plan: list[tuple[str, Callable[[], Any]]] = [
        ("ingest", lambda: ingest.run([50, 200, 500, 1000], 2 if q else 6)),
        ("pipeline", lambda: pipeline.run(60 if q else 300, worker_concurrency)),
        ("ratelimit", lambda: ratelimit.run(5, 5, 8 if q else 30, 10 if q else 40)),
        ("sustained", lambda: sustained.run(50, 10 if q else 60, 1000 if q else 10_000,
                                            sustained.DEFAULT_KASHFLOW_RATE)),
        ("chaos", lambda: chaos.run(100 if q else 500, "mixed", 3.0, 15.0,
                                    120 if q else 300)),
        ("suggest", lambda: suggest.run(5000, 300 if q else 1200)),
        ("summary", lambda: summary.run(200 if q else 2000, worker_concurrency)),
    ]
    skip = set(filter(None, args.skip.split(",")))
    failed, started = [], time.monotonic()
    for name, bench in plan:
        if name in skip:
            continue
        t0 = time.monotonic()
        try:
            bench()
        except Exception:
            traceback.print_exc()
            failed.append(name)
        log(f"{name}: {time.monotonic() - t0:.0f} s")
    path = write_report()
    log(f"all benchmarks: {time.monotonic() - started:.0f} s; report written to {path}"
        + (f"; FAILED TO RUN: {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
