"""Short leases on running jobs, kept alive by a heartbeat while their worker lives.

A task that claims a job's step holds a lease on the job (``lease_task``, ``lease_until``).
The lease is short (``core.leases.LEASE_S``) and renewed every ``HEARTBEAT_S`` by the
process's heartbeat thread (``core.leases``) for as long as the task is running (``held``).
When the worker dies (SIGKILL, out of memory, a lost machine), the renewals stop, the lease
runs out within ``LEASE_S``, and beat's ``redrive_stalled`` sweep (every
``celeryconfig.REDRIVE_S``) starts the job again at its step, where the ``started`` attempt
left behind makes the step look its record up before it writes. A crash therefore costs about
``LEASE_S + REDRIVE_S`` seconds (40), not a long fixed lease.

A renewal that fails (the database is restarting) is only logged: the next one, or the task's
own finishing transaction, follows. Should the database stay away longer than the lease, a
sweep may restart the job while this task is still in an API call; the step's lookup before
its write and KashFlow's unique invoice numbers keep that to one document.

The Redis locks of the sweeps, the stock pass, the catalogue re-read and KashFlow's login are
leases on the same heartbeat (``core.leases.locked``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from core import leases
from store import jobs
from store.db import get_engine
from store.models import utcnow

_held: dict[int, tuple[str, str]] = {}  # job id -> (database URL, task id) of running tasks
_guard = threading.Lock()


def _forked() -> None:
    """In a forked child: a new guard (the heartbeat may have held it at the fork) and no
    leases: they are the parent's tasks'."""
    global _guard
    _guard = threading.Lock()
    _held.clear()


os.register_at_fork(after_in_child=_forked)


def lease_until() -> datetime:
    """When a lease taken or renewed now runs out."""
    return utcnow() + timedelta(seconds=leases.LEASE_S)


@contextmanager
def held(url: str, job_id: int, task_id: str) -> Iterator[None]:
    """Keep ``task_id``'s lease on ``job_id`` alive while the block runs.

    Renewal touches only a job that is still ``running`` under this task's lease, so a job
    this task finished, or one another task took over, is never extended.
    """
    leases.ensure_heartbeat()
    with _guard:
        _held[job_id] = (url, task_id)
    try:
        yield
    finally:
        with _guard:
            if _held.get(job_id, (None, None))[1] == task_id:
                del _held[job_id]


def renew_all() -> int:
    """Renew every lease this process holds, one transaction per database; returns how many
    jobs were renewed."""
    with _guard:
        by_url: dict[str, list[tuple[int, str]]] = {}
        for job_id, (url, task_id) in _held.items():
            by_url.setdefault(url, []).append((job_id, task_id))
    renewed = 0
    until = lease_until()
    for url, held_here in by_url.items():
        with get_engine(url).begin() as conn:
            renewed += jobs.renew_leases(conn, held_here, until)
    return renewed


leases.on_heartbeat(renew_all)  # the process's one heartbeat renews the jobs' leases too
