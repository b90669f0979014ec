"""A job upsert's attempts and its event's outcome (store/attempts.py, store/events.py), on
SQLite and PostgreSQL: the rows an operator sees on the job page and the event list."""

from __future__ import annotations

from sqlalchemy import select

from store import attempts
from store.db import session_scope
from store.models import Attempt, InboundEvent, JobState, Step, SyncJob


def _event_and_job(url: str) -> tuple[int, int]:
    with session_scope(url) as s:
        event = InboundEvent(source="magento", topic="order.created", resource_type="order",
                             resource_key="7", payload={}, event_id="e-7")
        job = SyncJob(kind="order", magento_key="7", step=Step.ENSURE_CUSTOMER,
                      state=JobState.RUNNING)
        s.add_all([event, job])
        s.flush()
        return event.id, job.id


def test_the_upsert_records_its_attempts_and_the_event_outcome_at_once(db_url: str) -> None:
    event_id, job_id = _event_and_job(db_url)
    with session_scope(db_url) as s:
        ids = attempts.open_attempts(s, job_id, [
            (Step.ENSURE_CUSTOMER, "ok", "task-a", 0),
            (Step.CREATE_INVOICE, "started", "task-a", None)],
            (event_id, "order 7: job queued at create_invoice"))
        assert not attempts.recheck_due(s, job_id, Step.ENSURE_CUSTOMER)
        assert attempts.recheck_due(s, job_id, Step.CREATE_INVOICE)  # started: look first
    with session_scope(db_url) as s:
        rows = s.execute(select(Attempt.id, Attempt.step, Attempt.outcome, Attempt.task_id,
                                Attempt.duration_ms).order_by(Attempt.id)).all()
        event = s.get(InboundEvent, event_id)
        assert event is not None
        assert (event.outcome, event.processed_at is not None) == (
            "order 7: job queued at create_invoice", True)
    assert [tuple(r) for r in rows] == [
        (ids[0], "ensure_customer", "ok", "task-a", 0),
        (ids[1], "create_invoice", "started", "task-a", None)]


def test_an_upsert_with_no_attempt_still_marks_its_event(db_url: str) -> None:
    event_id, job_id = _event_and_job(db_url)
    with session_scope(db_url) as s:
        assert attempts.open_attempts(s, job_id, [], (event_id, "order 7: wait")) == []
    with session_scope(db_url) as s:
        event = s.get(InboundEvent, event_id)
        assert event is not None and event.outcome == "order 7: wait"
        assert s.scalars(select(Attempt.id)).all() == []
