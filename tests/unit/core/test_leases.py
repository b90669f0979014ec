"""Redis locks are leases (core/leases.py): kept while their holder lives, however long it
runs, and free within a lease of its death."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import signal
import time

import pytest
import redis

from core import leases


def _hold_until_killed(redis_url: str, name: str, held: multiprocessing.synchronize.Event) -> None:
    leases.LEASE_S, leases.HEARTBEAT_S = 1, 0.2  # a new process: the test's short lease
    with leases.locked(redis.Redis.from_url(redis_url), name) as mine:
        assert mine
        held.set()
        time.sleep(60)  # killed long before


def test_a_lock_is_kept_while_its_holder_lives_and_runs_out_soon_after_it_dies(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # As when beat's redrive sweep, or a stock pass, is running on a worker that is SIGKILLed:
    # the lock outlives its lease while the holder runs, and frees within a lease after.
    monkeypatch.setattr(leases, "LEASE_S", 1)
    monkeypatch.setattr(leases, "HEARTBEAT_S", 0.2)
    client = redis.Redis.from_url(redis_url)
    # A process of its own, as another worker is: spawned, not forked from this one (a fork
    # copies whatever this test process's other threads hold at that moment).
    context = multiprocessing.get_context("spawn")
    held = context.Event()
    holder = context.Process(target=_hold_until_killed, args=(redis_url, "kfsync:lock:t", held))
    holder.start()
    try:
        assert held.wait(60), "the holder did not take the lock (its traceback is above)"
        time.sleep(3 * leases.LEASE_S)  # three leases: only the heartbeat keeps it
        with leases.locked(client, "kfsync:lock:t") as mine:
            assert not mine, "the living holder's lock ran out"
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
    killed = time.monotonic()
    with leases.locked(client, "kfsync:lock:t", wait_s=10) as mine:
        assert mine
        freed_in = time.monotonic() - killed
    assert freed_in <= leases.LEASE_S + 0.5, freed_in
    assert client.exists("kfsync:lock:t") == 0  # released on the way out
