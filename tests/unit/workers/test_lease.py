"""A running task's lease is renewed while it runs, and only its own (workers/lease.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core import leases
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
    assert _seconds_left(db_url, mine) > leases.LEASE_S - 5
    assert _seconds_left(db_url, taken_over) < 3
    assert _seconds_left(db_url, finished) < 3
    # Out of the block, the task no longer holds anything: nothing is renewed.
    assert lease.renew_all() == 0


def test_the_heartbeat_renews_without_being_asked(db_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leases, "HEARTBEAT_S", 0.05)
    monkeypatch.setattr(leases, "_beating", [])  # start a heartbeat at this test's pace
    job_id = _job(db_url, "1", JobState.RUNNING, "task-a", 1)
    with lease.held(db_url, job_id, "task-a"):
        deadline = time.monotonic() + 10
        while _seconds_left(db_url, job_id) < leases.LEASE_S - 5:
            assert time.monotonic() < deadline, "the heartbeat never renewed the lease"
            time.sleep(0.05)
