"""Edited orders stop the original's pending work (services.edits), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from mappings.lifecycle import Decision
from services.edits import supersede_original
from store.db import session_scope
from store.models import Attempt, JobState, Step, SyncJob

EDIT = Decision("invoice", "edit", replaces=123, replaces_ref="000000123")


def add_job(url: str, state: str, step: str, invoice: int | None = None,
            attempts: tuple[str, ...] = ()) -> None:
    with session_scope(url) as s:
        job = SyncJob(kind="order", magento_key="123", magento_ref="000000123", state=state,
                      step=step, invoice_number=invoice)
        s.add(job)
        s.flush()
        for outcome in attempts:
            s.add(Attempt(job_id=job.id, step=Step.CREATE_INVOICE, outcome=outcome))


def original(url: str) -> tuple[str, str | None]:
    with session_scope(url) as s:
        job = s.query(SyncJob).filter_by(magento_key="123").one()
        return job.state, job.reason


@pytest.mark.parametrize("state", [JobState.WAITING, JobState.QUEUED, JobState.NEEDS_REVIEW])
def test_pending_original_is_skipped(db_url: str, state: str) -> None:
    add_job(db_url, state, Step.ENSURE_CUSTOMER)
    assert supersede_original(db_url, EDIT, "000000123-1") is None
    assert original(db_url) == (JobState.SKIPPED, "replaced by edited order 000000123-1: its "
                                                  "invoice is posted under that order")


def test_original_whose_invoice_may_have_landed_is_left_alone(db_url: str) -> None:
    add_job(db_url, JobState.QUEUED, Step.CREATE_INVOICE, attempts=("ambiguous",))
    assert supersede_original(db_url, EDIT, "000000123-1") is None  # the number decides
    assert original(db_url)[0] == JobState.QUEUED


def test_invoiced_original_is_marked_replaced_and_its_number_returned(db_url: str) -> None:
    add_job(db_url, JobState.DONE, Step.DONE, invoice=123)
    assert supersede_original(db_url, EDIT, "000000123-1") == 123
    assert supersede_original(db_url, EDIT, "000000123-1") == 123  # again: the same
    assert original(db_url)[0] == JobState.DONE
    with session_scope(db_url) as s:
        job = s.query(SyncJob).filter_by(magento_key="123").one()
        assert job.plan == {"replaced_by": "000000123-1"}


def test_not_an_edit_or_no_original_job(db_url: str) -> None:
    assert supersede_original(db_url, Decision("invoice", "x"), None) is None
    assert supersede_original(db_url, EDIT, "000000123-1") is None
