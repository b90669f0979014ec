"""Leases kept alive by a heartbeat while their process lives, and Redis locks that are leases.

Anything a process holds on behalf of its work (a job's lease in the database,
``workers.lease``; a Redis lock, ``locked``) is taken for a short ``LEASE_S`` and renewed
every ``HEARTBEAT_S`` by one daemon thread per process while the work runs. When the process
dies (SIGKILL, out of memory, a lost machine) the renewals stop and what it held runs out
within ``LEASE_S``, however long the work was expected to take: a crash costs seconds, never
the longest run a lock was sized for.

The heartbeat calls every renewer registered with ``on_heartbeat`` (this module's own Redis
locks first). A renewer that fails (the database or Redis is restarting) is only logged; the
next beat tries again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis
from redis.lock import Lock

log = logging.getLogger(__name__)

LEASE_S = 30  # three heartbeats: one slow or failed renewal does not lose the lease
HEARTBEAT_S = 10

_locks: set[Lock] = set()  # Redis locks this process holds (``locked``)
_guard = threading.Lock()
_beating: list[int] = []  # the pid whose heartbeat runs (threads do not survive a fork)


def _forked() -> None:
    """In a forked child: a new guard (the parent's heartbeat may have held it at the fork,
    and nothing in the child would ever release it) and no locks: they are the parent's."""
    global _guard
    _guard = threading.Lock()
    _locks.clear()


os.register_at_fork(after_in_child=_forked)


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
    ensure_heartbeat()
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


_renewers: list[Callable[[], int]] = [renew_locks]


def on_heartbeat(renew: Callable[[], int]) -> None:
    """Have the heartbeat call ``renew`` on every beat, after what it renews already."""
    with _guard:
        if renew not in _renewers:
            _renewers.append(renew)


def ensure_heartbeat() -> None:
    """Start this process's heartbeat thread unless it runs already (one per process)."""
    pid = os.getpid()
    with _guard:
        if _beating == [pid]:
            return
        _beating[:] = [pid]
    threading.Thread(target=_beat, name="kfsync-lease-heartbeat", daemon=True).start()


def _beat() -> None:
    stop = threading.Event()  # never set: the thread lives as long as its process
    while not stop.wait(HEARTBEAT_S):
        with _guard:
            renewers = list(_renewers)
        for renew in renewers:
            try:
                renew()
            except Exception as exc:  # the database or Redis is away: the next beat tries again
                log.warning("lease heartbeat failed: %s", type(exc).__name__)
