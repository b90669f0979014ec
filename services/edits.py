"""Edited orders: the edit (``000000123-1``) replaces the original.

Magento edits an order by canceling it and placing a new one that names it in
``relation_parent_id``. While the original has no KashFlow invoice, ``mappings`` gives the
edit the original's invoice number, so KashFlow itself refuses a second invoice for the pair,
and this module stops the original's work that has not yet reached KashFlow, so it does not
sit in the queue (or in review) as if it still mattered. When the original was already
invoiced, the original is credited in full (its ``CX-`` note, ``workers.cancellations``) and
the edit is invoiced on its own under a number of its own: this module records on the
original's plan which edit replaced it (``replaced_by``) and tells the caller, which has the
original's ledger brought up to date (``workers.lifecycle.credit_replaced``).

``supersede_original`` is called by ``workers.events`` when it decides an edited order.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, exists, or_, select, update

from core import pairs
from mappings.lifecycle import Decision
from store.db import session_scope
from store.models import Attempt, JobState, Step, SyncJob, utcnow

# Not yet in KashFlow and not held by a running task: safe to stop.
STOPPABLE = (JobState.QUEUED, JobState.RETRYING, JobState.WAITING, JobState.NEEDS_REVIEW,
             JobState.DEAD)


def supersede_original(url: str, decision: Decision, edit_ref: str | None) -> int | None:
    """Stop the pending work of the order ``decision.replaces``, or mark it replaced.

    Returns:
        ``None`` when the edit takes the original's place (the original had no invoice, or
        has no job, or is mid-step: KashFlow's unique invoice number then decides); else the
        original's KashFlow invoice number: the original is marked ``replaced_by`` the edit
        and must be credited in full, and the edit is invoiced on its own.
    """
    if decision.replaces is None:
        return None
    original = str(decision.replaces)
    reason = f"replaced by edited order {edit_ref}: its invoice is posted under that order"
    now = utcnow()
    no_invoice_attempt = ~exists().where(Attempt.job_id == SyncJob.id,
                                         Attempt.step == Step.CREATE_INVOICE)
    with session_scope(url) as s:
        cast(CursorResult[Any], s.execute(
            update(SyncJob)
            .where(SyncJob.kind == "order", SyncJob.magento_key == original,
                   SyncJob.pair == pairs.current(),
                   SyncJob.state.in_([str(state) for state in STOPPABLE]),
                   SyncJob.invoice_number.is_(None),
                   or_(SyncJob.step == Step.ENSURE_CUSTOMER, no_invoice_attempt),
                   or_(SyncJob.lease_until.is_(None), SyncJob.lease_until < now))
            .values(state=JobState.SKIPPED, reason=reason, lease_task=None, lease_until=None)
            .execution_options(synchronize_session=False)))
        job = s.scalar(select(SyncJob).where(SyncJob.kind == "order",
                                             SyncJob.magento_key == original,
                                             SyncJob.pair == pairs.current()))
        if job is None or job.invoice_number is None:
            return None
        if (job.plan or {}).get("replaced_by") != edit_ref:
            job.plan = {**(job.plan or {}), "replaced_by": edit_ref or str(decision.replaces)}
        return int(job.invoice_number)
