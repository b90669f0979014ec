"""``kfsync backfill``'s settled count (``SettledCount``), on SQLite and PostgreSQL: each of the
run's orders counted once when its job settles, a resumed run's earlier orders included, and
each poll's cost independent of how many jobs the database holds."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import insert

import kfsync.cli  # noqa: F401  # registers the commands first (kfsync/cli.py imports them)
from kfsync.commands import backfill
from store.db import session_scope
from store.models import InboundEvent, JobState, SyncJob
from tests.plans import generic_plan
from tests.unit.workers.test_relay import broker  # noqa: F401  # the fixture

RUN = "backfill:2025-03-01:2025-04-01"


def add_jobs(db_url: str, keys: range, state: str = JobState.DONE,
             version: str | None = None) -> None:
    document = {"updated_at": version} if version else None
    with session_scope(db_url) as s:
        s.execute(insert(SyncJob), [{"kind": "order", "magento_key": str(k), "state": state,
                                     "document": document} for k in keys])


def add_events(db_url: str, keys: range, run: str = RUN) -> None:
    with session_scope(db_url) as s:
        s.execute(insert(InboundEvent), [
            {"source": "backfill", "event_id": f"{run}:{k}:2025-03-02 10:00:00",
             "topic": "order.updated", "resource_type": "order", "resource_key": str(k),
             "payload": {}} for k in keys])


def settle(db_url: str, keys: range) -> None:
    with session_scope(db_url) as s:
        for job in s.query(SyncJob).where(SyncJob.magento_key.in_([str(k) for k in keys])):
            job.state = JobState.DONE


def test_each_order_of_the_run_counts_once_when_its_job_settles(db_url: str) -> None:
    add_events(db_url, range(1, 4))  # an earlier, interrupted run of the same range
    add_events(db_url, range(5000, 5003), run="backfill:2025-05-01:2025-06-01")  # another range
    add_jobs(db_url, range(1, 3))
    add_jobs(db_url, range(3, 4), JobState.RUNNING)
    add_jobs(db_url, range(5000, 5003))
    count = backfill.SettledCount(db_url, RUN)
    assert count.earlier == {"1", "2", "3"}
    assert count() == 2
    for key in range(4, 300):  # this run's orders, more than one query's worth of keys
        count.add(str(key))
    add_jobs(db_url, range(4, 200), JobState.QUEUED)
    assert count() == 2
    settle(db_url, range(3, 150))
    assert count() == 149
    settle(db_url, range(150, 200))
    add_jobs(db_url, range(200, 300), JobState.NEEDS_REVIEW)  # held for review: settled
    assert count() == 299
    assert count() == 299 and not count.waiting


@pytest.mark.usefixtures("broker")  # record_order publishes each event
def test_a_resumed_run_counts_each_order_once(db_url: str) -> None:
    """Orders an interrupted run recorded just before it stopped (its cursor is saved once a
    second) are fed again: each is counted once, when it settles, never also as already in
    step; an order synced before from the same version counts as already in step."""
    version = "2025-03-02 10:00:00"
    add_events(db_url, range(1, 3))  # the interrupted run recorded orders 1 and 2
    add_jobs(db_url, range(1, 2), JobState.DONE, version)  # 1 synced since
    add_jobs(db_url, range(2, 3), JobState.RUNNING, version)
    add_jobs(db_url, range(4, 5), JobState.DONE, version)  # synced before, by a webhook
    state = {"after_id": 0, "count": 0, "already": 0}
    watch = backfill.Watch(backfill._progress(), db_url, RUN, 4, state)
    for key in range(1, 5):
        backfill._feed(db_url, {"entity_id": key, "increment_id": f"{key:09}",
                                "updated_at": version}, RUN, watch, state)
    assert state == {"after_id": 4, "count": 4, "already": 1}
    assert watch.poll(force=True) is False  # 1 and 4 settled: 2 and 3 are in flight
    settle(db_url, range(2, 3))
    add_jobs(db_url, range(3, 4))
    assert watch.poll(force=True) is True
    assert watch._count() == 4


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # the plan is PostgreSQL's
def test_a_poll_reads_only_its_own_orders_however_many_jobs_there_are(db_url: str) -> None:
    """A poll is an index lookup per waiting order, not a read of every order job (what
    ``magento_key IN (...)`` planned to while the statistics were older than the rows)."""
    for start in range(0, 4000, 1000):
        add_jobs(db_url, range(start, start + 1000))
    keys = {f"b_key{n}": str(k) for n, k in enumerate(range(3990, 3998))}
    plan = generic_plan(db_url, backfill._settled_of(len(keys)), {"b_pair": "default", **keys})
    text = json.dumps(plan, default=str)
    assert "Seq Scan" not in text and not re.search(r'"Rows Removed by Filter": [1-9]', text)
    assert plan["Actual Rows"] == 8
    assert plan["Shared Hit Blocks"] + plan.get("Shared Read Blocks", 0) < 80, text
