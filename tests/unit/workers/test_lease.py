"""A running task's lease is renewed while it runs, and only its own (workers/lease.py)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import select

from store.db import session_scope
from store.models import JobState, SyncJob, utcnow
from workers import lease


def _job(url: str, key: str, state: str, task: str | None, seconds_left: float) -> int:
    with session_scope(url) as s:
        job = SyncJob(kind="order", magento_key=key, state=state, lease_task=task,
                      lease_until=utcnow() + timedelta(seconds=seconds_left))
        s.add(job)
        s.flush()
        return job.id


def _seconds_left(url: str, job_id: int) -> float:
    with session_scope(url) as s:
        until = s.scalar(select(SyncJob.lease_until).where(SyncJob.id == job_id))
    assert until is not None
    if until.tzinfo is None:  # SQLite keeps no zone; kfsync writes UTC
        until = until.replace(tzinfo=UTC)
    return (until - datetime.now(UTC)).total_seconds()


def test_a_held_lease_is_renewed_and_others_are_left_alone(db_url: str) -> None:
    mine = _job(db_url, "1", JobState.RUNNING, "task-a", 2)
    taken_over = _job(db_url, "2", JobState.RUNNING, "task-b", 2)  # another task claimed it
    finished = _job(db_url, "3", JobState.DONE, "task-a", 2)
    with lease.held(db_url, mine, "task-a"), lease.held(db_url, taken_over, "task-a"), \
            lease.held(db_url, finished, "task-a"):
        assert lease.renew_all() == 1
    assert _seconds_left(db_url, mine) > lease.LEASE_S - 5
    assert _seconds_left(db_url, taken_over) < 3
    assert _seconds_left(db_url, finished) < 3
    # Out of the block, the task no longer holds anything: nothing is renewed.
    assert lease.renew_all() == 0


def test_the_heartbeat_renews_without_being_asked(db_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lease, "HEARTBEAT_S", 0.05)
    monkeypatch.setattr(lease, "_beating", [])  # start a heartbeat at this test's pace
    job_id = _job(db_url, "1", JobState.RUNNING, "task-a", 1)
    with lease.held(db_url, job_id, "task-a"):
        deadline = time.monotonic() + 10
        while _seconds_left(db_url, job_id) < lease.LEASE_S - 5:
            assert time.monotonic() < deadline, "the heartbeat never renewed the lease"
            time.sleep(0.05)


def _hold_until_killed(redis_url: str, name: str, held: multiprocessing.synchronize.Event) -> None:
    with lease.locked(redis.Redis.from_url(redis_url), name) as mine:
        assert mine
        held.set()
        time.sleep(60)  # killed long before


def test_a_lock_is_kept_while_its_holder_lives_and_runs_out_soon_after_it_dies(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # As when beat's redrive sweep, or a stock pass, is running on a worker that is SIGKILLed:
    # the lock outlives its lease while the holder runs, and frees within a lease after.
    monkeypatch.setattr(lease, "LEASE_S", 1)
    monkeypatch.setattr(lease, "HEARTBEAT_S", 0.2)
    monkeypatch.setattr(lease, "_beating", [])
    client = redis.Redis.from_url(redis_url)
    context = multiprocessing.get_context("fork")  # the child keeps the patched lease
    held = context.Event()
    holder = context.Process(target=_hold_until_killed, args=(redis_url, "kfsync:lock:t", held))
    holder.start()
    try:
        assert held.wait(10)
        time.sleep(3 * lease.LEASE_S)  # three leases: only the heartbeat keeps it
        with lease.locked(client, "kfsync:lock:t") as mine:
            assert not mine, "the living holder's lock ran out"
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
    killed = time.monotonic()
    with lease.locked(client, "kfsync:lock:t", wait_s=10) as mine:
        assert mine
        freed_in = time.monotonic() - killed
    assert freed_in <= lease.LEASE_S + 0.5, freed_in
    assert client.exists("kfsync:lock:t") == 0  # released on the way out


def test_a_maintenance_task_skips_its_run_while_another_holds_its_lock(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import Settings
    from workers import maintenance

    settings = Settings.load({"KFSYNC_REDIS_URL": redis_url}, env_file=None)
    monkeypatch.setattr(maintenance.context, "settings", lambda: settings)
    runs: list[int] = []

    @maintenance.exclusive("test_sweep")
    def sweep() -> int:
        runs.append(1)
        return 7

    with lease.locked(redis.Redis.from_url(redis_url), "kfsync:lock:test_sweep") as mine:
        assert mine
        assert sweep() == 0
    assert sweep() == 7
    assert runs == [1]
