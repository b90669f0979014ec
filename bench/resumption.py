"""How long a job waits after a fault took its worker or its database away (bench.chaos).

A step's attempt is written ``started`` before its API call and given its outcome after it.
A task that dies with its worker (SIGKILL), or loses its database connection mid-step, never
gives that attempt an outcome: at the end of a run, every attempt still ``started`` is a step
some fault interrupted. Its job *resumed* when the job's next attempt was written. The fault
to blame is the first one after the attempt began (an upper bound on the wait: a later fault
may have been the one). Waits are measured from the kill, and for the database from the
moment it accepted connections again.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select


def _epoch(when: datetime) -> float:
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def interrupted_steps(db_url: str) -> list[tuple[float, float | None]]:
    """(began, resumed) wall-clock times of every interrupted step; resumed is None when the
    job never tried again."""
    from store.db import session_scope
    from store.models import Attempt

    with session_scope(db_url) as s:
        rows = s.execute(select(Attempt.id, Attempt.job_id, Attempt.outcome,
                                Attempt.created_at).order_by(Attempt.id)).all()
    by_job: dict[int, list[Any]] = {}
    for row in rows:
        by_job.setdefault(row.job_id, []).append(row)
    found = []
    for attempts in by_job.values():
        for i, attempt in enumerate(attempts):
            if attempt.outcome != "started":
                continue
            later = attempts[i + 1] if i + 1 < len(attempts) else None
            found.append((_epoch(attempt.created_at),
                          _epoch(later.created_at) if later is not None else None))
    return found


def waits(db_url: str, kills: list[float], db_down: tuple[float, float] | None
          ) -> dict[str, Any]:
    """Seconds from each fault to the resumption of the steps it interrupted, summarised."""
    faults = sorted([(t, "kill", t) for t in kills]
                    + ([(db_down[0], "database", db_down[1])] if db_down else []))
    samples: dict[str, list[float]] = {"kill": [], "database": []}
    never: dict[str, int] = {"kill": 0, "database": 0}
    for began, resumed in interrupted_steps(db_url):
        fault = next((f for f in faults if f[0] >= began), None)
        if fault is None:
            continue  # interrupted by the end of the run, not by a fault
        _, kind, since = fault
        if resumed is None:
            never[kind] += 1
        else:
            samples[kind].append(max(0.0, resumed - since))
    return {kind: _summary(samples[kind], never[kind]) for kind in samples}


def _summary(values: list[float], never: int) -> dict[str, Any]:
    if not values:
        return {"steps": 0, "never_resumed": never}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"steps": len(values), "never_resumed": never,
            "p50_s": round(statistics.median(ordered), 1), "p99_s": round(p99, 1),
            "max_s": round(ordered[-1], 1)}
