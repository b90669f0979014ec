"""Every statement that moves a job (store/jobs.py), on SQLite and PostgreSQL: what an
operator then sees on the job and its attempts."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import select, update

from store import jobs, links
from store.db import get_engine, session_scope
from store.jobs import StepResult
from store.models import Attempt, EntityLink, JobState, Step, SyncJob, utcnow


def later() -> datetime:
    """A lease end well ahead of now (taken when the test runs, not when it is collected)."""
    return utcnow() + timedelta(seconds=30)


def _queued(url: str, key: str = "1", step: str = Step.ENSURE_CUSTOMER) -> int:
    def fill(job: SyncJob, new: bool) -> bool:
        job.state, job.document, job.plan = JobState.QUEUED, {"entity_id": key}, {"pay": True}
        return new

    with session_scope(url) as s:
        done = jobs.upsert_job(s, "order", key, step, fill)
        assert done is not None
        return done[0].id


def _job(url: str, job_id: int) -> SyncJob:
    with session_scope(url) as s:
        job = s.get(SyncJob, job_id)
        assert job is not None
        s.expunge(job)
        return job


def _attempts(url: str, job_id: int) -> list[tuple[str, str]]:
    with session_scope(url) as s:
        return [(a.step, a.outcome) for a in s.scalars(
            select(Attempt).where(Attempt.job_id == job_id).order_by(Attempt.id))]


def _finish_stopping(url: str, job_id: int, step: str, result: StepResult) -> None:
    """Claim ``step`` for task-a and finish it with ``result``, which claims no next step."""
    with get_engine(url).connect() as conn:
        view, attempt = jobs.claim_step(conn, job_id, step, "task-a", [], later())
        assert view is not None
        with conn.begin():
            assert jobs.finish_step(conn, view, attempt, result, 0.0, "task-a", None,
                                    later()) == (None, 0)


def test_one_job_per_document_however_often_it_is_upserted(db_url: str) -> None:
    first = _queued(db_url)
    again = _queued(db_url)
    with session_scope(db_url) as s:
        assert s.scalars(select(SyncJob.id)).all() == [first] == [again]


def test_a_likely_new_document_with_a_job_already_refreshes_that_job(db_url: str) -> None:
    job_id = _queued(db_url)
    with session_scope(db_url) as s:
        done = jobs.upsert_job(s, "order", "1", Step.ENSURE_CUSTOMER,
                               lambda job, new: new, likely_new=True)
    assert done is not None and (done[0].id, done[1]) == (job_id, False)


def test_two_upserts_of_a_finished_job_at_once_reopen_it_once(db_url: str) -> None:
    """Two events for one finished order, handled side by side: the second upsert reads the
    job as the first left it (running), so only one re-opens and claims it."""
    job_id = _queued(db_url)
    with session_scope(db_url) as s:
        s.execute(update(SyncJob).where(SyncJob.id == job_id).values(state=JobState.DONE))
    first_in = threading.Event()
    reopened: list[str] = []

    def reopen(name: str, job: SyncJob, new: bool) -> None:
        if job.state == JobState.DONE:
            reopened.append(name)
            job.state, job.lease_task = JobState.RUNNING, name
        if name == "first":
            first_in.set()
            time.sleep(0.5)  # the second upsert starts meanwhile

    def upsert(name: str) -> None:
        with session_scope(db_url) as s:
            jobs.upsert_job(s, "order", "1", Step.POST_PAYMENT, partial(reopen, name))

    first = threading.Thread(target=upsert, args=("first",))
    first.start()
    assert first_in.wait(10)
    upsert("second")
    first.join(10)
    assert reopened == ["first"]
    assert _job(db_url, job_id).lease_task == "first"


def test_a_claim_records_the_intent_and_a_second_task_waits(db_url: str) -> None:
    job_id = _queued(db_url)
    with get_engine(db_url).connect() as conn:
        view, attempt = jobs.claim_step(conn, job_id, Step.ENSURE_CUSTOMER, "task-a", [], later())
        assert view is not None and attempt and not view.recheck
        with pytest.raises(jobs.Busy):
            jobs.claim_step(conn, job_id, Step.ENSURE_CUSTOMER, "task-b", [], later())
        # A task for a step the job is not at claims nothing.
        assert jobs.claim_step(conn, job_id, Step.POST_PAYMENT, "task-c", [], later()) == (None, 0)
    job = _job(db_url, job_id)
    assert (job.state, job.lease_task) == (JobState.RUNNING, "task-a")
    assert _attempts(db_url, job_id) == [("ensure_customer", "started")]


def test_a_step_left_started_is_looked_up_before_writing_on_its_next_claim(db_url: str) -> None:
    job_id = _queued(db_url)
    with get_engine(db_url).connect() as conn:
        jobs.claim_step(conn, job_id, Step.ENSURE_CUSTOMER, "task-a", [], later())
        with conn.begin():  # its worker died: the lease ran out
            conn.execute(jobs.UPDATE_JOB, {"b_job": job_id, "lease_until": utcnow()})
        view, _ = jobs.claim_step(conn, job_id, Step.ENSURE_CUSTOMER, "task-b", [], later())
    assert view is not None and view.recheck


@pytest.mark.parametrize(("outcome", "looks_first"), [
    ("ambiguous", True),  # no answer, or a 5xx, to a write
    ("error", True),  # failed in no named way: a bug, maybe after its write
    ("transient", False),  # refused before any write (429, connection refused)
    ("rejected", False),
])
def test_a_failed_step_is_looked_up_before_writing_when_it_may_have_written(
        db_url: str, outcome: str, looks_first: bool) -> None:
    job_id = _queued(db_url, step=Step.POST_PAYMENT)
    with get_engine(db_url).connect() as conn:
        _, attempt = jobs.claim_step(conn, job_id, Step.POST_PAYMENT, "task-a", [], later())
    with session_scope(db_url) as s:
        jobs.record_failure(s, job_id, attempt, jobs.Failure(
            outcome=outcome, http_status=None, duration_ms=5, error="boom",
            state=JobState.RETRYING, reason="retry 1: boom"))
    with get_engine(db_url).connect() as conn:
        view, _ = jobs.claim_step(conn, job_id, Step.POST_PAYMENT, "task-b", [], later())
    assert view is not None and view.recheck is looks_first


def test_finishing_a_step_claims_the_next_in_the_same_transaction(db_url: str) -> None:
    job_id = _queued(db_url)
    result = StepResult(next_step=Step.CREATE_INVOICE, updates={"customer_code": "C1"},
                        links=[("customer", "email:ann@example.com", "C1")])
    with get_engine(db_url).connect() as conn:
        view, attempt = jobs.claim_step(conn, job_id, Step.ENSURE_CUSTOMER, "task-a", [], later())
        assert view is not None
        with conn.begin():
            following, next_attempt = jobs.finish_step(
                conn, view, attempt, result, 0.01, "task-a", Step.CREATE_INVOICE, later())
    assert following is not None and following.customer_code == "C1" and next_attempt
    job = _job(db_url, job_id)
    assert (job.step, job.state, job.customer_code) == ("create_invoice", "running", "C1")
    assert _attempts(db_url, job_id) == [("ensure_customer", "ok"), ("create_invoice", "started")]
    with session_scope(db_url) as s:
        assert links.find_link_in(s, "customer", "email:ann@example.com") == "C1"
        assert s.scalars(select(EntityLink.kashflow_key)).all() == ["C1"]


def test_a_step_held_for_review_keeps_its_reason(db_url: str) -> None:
    job_id = _queued(db_url)
    result = StepResult(next_step=Step.CREATE_INVOICE, review="penny guard: 10.00 != 10.01")
    _finish_stopping(db_url, job_id, Step.ENSURE_CUSTOMER, result)
    job = _job(db_url, job_id)
    assert (job.state, job.reason, job.lease_task) == (
        JobState.NEEDS_REVIEW, "penny guard: 10.00 != 10.01", None)


def test_a_failure_is_recorded_on_its_attempt_and_job(db_url: str) -> None:
    job_id = _queued(db_url)
    with get_engine(db_url).connect() as conn:
        _, attempt = jobs.claim_step(conn, job_id, Step.ENSURE_CUSTOMER, "task-a", [], later())
    failure = jobs.Failure(outcome="transient", http_status=503, duration_ms=12,
                           error="kashflow: busy (HTTP 503)", state=JobState.RETRYING,
                           reason="retry 1: kashflow: busy (HTTP 503)", lease_task="task-a",
                           lease_until=later())
    with session_scope(db_url) as s:
        assert jobs.record_failure(s, job_id, attempt, failure) == "1"
    job = _job(db_url, job_id)
    assert (job.state, job.reason) == (JobState.RETRYING, "retry 1: kashflow: busy (HTTP 503)")
    assert _attempts(db_url, job_id) == [("ensure_customer", "transient")]


def test_parking_and_waking(db_url: str) -> None:
    job_id = _queued(db_url)
    with session_scope(db_url) as s:
        jobs.park_step(s, job_id, Step.ENSURE_CUSTOMER, "task-a", [], "paused: circuit open",
                       later())
    job = _job(db_url, job_id)
    assert (job.state, job.reason) == (JobState.RETRYING, "paused: circuit open")
    with session_scope(db_url) as s:
        s.execute(jobs.UPDATE_JOB, {"b_job": job_id, "state": JobState.WAITING})
    with session_scope(db_url) as s:
        assert jobs.queue_waiting(s, job_id)
        assert not jobs.queue_waiting(s, job_id)  # one caller wins
    assert _job(db_url, job_id).state == JobState.QUEUED


def test_only_a_running_job_under_its_own_lease_is_renewed(db_url: str) -> None:
    job_id = _queued(db_url)
    with get_engine(db_url).connect() as conn:
        jobs.claim_step(conn, job_id, Step.ENSURE_CUSTOMER, "task-a", [], utcnow())
        with conn.begin():
            assert jobs.renew_leases(conn, [(job_id, "task-b")], later()) == 0
            assert jobs.renew_leases(conn, [(job_id, "task-a")], later()) == 1


def test_the_last_step_stores_its_links_and_an_existing_link_wins(db_url: str) -> None:
    job_id = _queued(db_url, step=Step.POST_PAYMENT)
    with session_scope(db_url) as s:
        links.add_links(s, [("payment", "txn:A", "1001")])
    result = StepResult(next_step=Step.DONE,
                        links=[("payment", "txn:A", "9999"), ("payment", "txn:B", "1001")])
    _finish_stopping(db_url, job_id, Step.POST_PAYMENT, result)
    assert (_job(db_url, job_id).state, _attempts(db_url, job_id)) == (
        JobState.DONE, [("post_payment", "ok")])
    with session_scope(db_url) as s:
        assert links.links_in(s, "payment", "txn:A", "txn:B") == [("txn:A", "1001"),
                                                                 ("txn:B", "1001")]
