"""Short leases on running jobs, kept alive by a heartbeat while their worker lives.

A task that claims a job's step holds a lease on the job (``lease_task``, ``lease_until``).
The lease is short (``LEASE_S``) and renewed every ``HEARTBEAT_S`` by a daemon thread in the
worker process for as long as the task is running (``held``). When the worker dies (SIGKILL,
out of memory, a lost machine), the renewals stop, the lease runs out within ``LEASE_S``, and
beat's ``redrive_stalled`` sweep (every ``celeryconfig.REDRIVE_S``) starts the job again at
its step, where the ``started`` attempt left behind makes the step look its record up before
it writes. A crash therefore costs about ``LEASE_S + REDRIVE_S`` seconds (40), not a long
fixed lease.

A renewal that fails (the database is restarting) is only logged: the next one, or the task's
own finishing transaction, follows. Should the database stay away longer than the lease, a
sweep may restart the job while this task is still in an API call; the step's lookup before
its write and KashFlow's unique invoice numbers keep that to one document.

Redis locks are leases too (``locked``): a maintenance sweep, a stock pass or a catalogue
re-read holds its lock for ``LEASE_S`` and the same heartbeat renews it while the work runs,
however long that is. A worker killed while it held one (the redrive sweep itself, say) leaves
a lock that runs out within ``LEASE_S``, not after the longest run the lock was sized for.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import redis
from redis.lock import Lock

from store import jobs
from store.db import get_engine
from store.models import utcnow

log = logging.getLogger(__name__)

LEASE_S = 30  # three heartbeats: one slow or failed renewal does not lose the lease
HEARTBEAT_S = 10

_held: dict[int, tuple[str, str]] = {}  # job id -> (database URL, task id) of running tasks
_locks: set[Lock] = set()  # Redis locks this process holds (``locked``)
_guard = threading.Lock()
_beating: list[int] = []  # the pid whose heartbeat runs (threads do not survive a fork)


def lease_until() -> datetime:
    """When a lease taken or renewed now runs out."""
    return utcnow() + timedelta(seconds=LEASE_S)


@contextmanager
def held(url: str, job_id: int, task_id: str) -> Iterator[None]:
    """Keep ``task_id``'s lease on ``job_id`` alive while the block runs.

    Renewal touches only a job that is still ``running`` under this task's lease, so a job
    this task finished, or one another task took over, is never extended.
    """
    _ensure_heartbeat()
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


@contextmanager
def locked(client: redis.Redis, name: str, wait_s: float | None = None) -> Iterator[bool]:
    """Hold the Redis lock ``name`` while the block runs: yields True, or False when another
    process holds it (after waiting up to ``wait_s``; by default not at all).

    The lock lasts ``LEASE_S`` and the heartbeat renews it while the block runs, so a long
    run keeps it and a dead process's lock runs out in seconds. A lock lost meanwhile (Redis
    restarted, or the heartbeat stalled past ``LEASE_S``) is logged when released.
    """
    lock = client.lock(name, timeout=LEASE_S, blocking=wait_s is not None,
                       blocking_timeout=wait_s, thread_local=False)  # the heartbeat renews it
    if not lock.acquire():
        yield False
        return
    _ensure_heartbeat()
    with _guard:
        _locks.add(lock)
    try:
        yield True
    finally:
        with _guard:
            _locks.discard(lock)
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("lock %s ran out while it was held", name)


def renew_locks() -> int:
    """Give every Redis lock this process holds a full ``LEASE_S`` again; returns how many."""
    with _guard:
        held_now = list(_locks)
    renewed = 0
    for lock in held_now:
        try:
            lock.reacquire()
            renewed += 1
        except redis.exceptions.LockError:  # it ran out and may be another's now: leave it
            with _guard:
                still_held = lock in _locks  # not released by its block meanwhile
                _locks.discard(lock)
            if still_held:
                log.warning("lock %s ran out while it was held", lock.name)
    return renewed


def _ensure_heartbeat() -> None:
    pid = os.getpid()
    with _guard:
        if _beating == [pid]:
            return
        _beating[:] = [pid]
    threading.Thread(target=_beat, name="kfsync-lease-heartbeat", daemon=True).start()


def _beat() -> None:
    stop = threading.Event()  # never set: the thread lives as long as its process
    while not stop.wait(HEARTBEAT_S):
        for renew in (renew_all, renew_locks):
            try:
                renew()
            except Exception as exc:  # the database or Redis is away: the next beat tries again
                log.warning("lease heartbeat failed: %s", type(exc).__name__)
