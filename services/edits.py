"""Edited orders: the edit (``000000123-1``) replaces the original's pending work.

Magento edits an order by canceling it and placing a new one that names it in
``relation_parent_id``. ``mappings`` gives the edit the original's invoice number, so KashFlow
itself refuses a second invoice for the pair. This module stops the original's work that has
not yet reached KashFlow, so it does not sit in the queue (or in review) as if it still mattered,
and tells the caller when the original was already invoiced (the edit then needs a human: a
credit note for the original first).

``supersede_original`` is called by ``workers.events`` when it decides an edited order.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, exists, or_, select, update

from mappings.lifecycle import Decision
from store.db import session_scope
from store.models import Attempt, JobState, Step, SyncJob, utcnow

# Not yet in KashFlow and not held by a running task: safe to stop.
STOPPABLE = (JobState.QUEUED, JobState.RETRYING, JobState.WAITING, JobState.NEEDS_REVIEW,
             JobState.DEAD)


def supersede_original(url: str, decision: Decision, edit_ref: str | None) -> str | None:
    """Stop the pending work of the order ``decision.replaces``; say if the edit must wait.

    Returns:
        ``None`` when the edit may be invoiced (the original had no invoice, or has no job,
        or is mid-step: KashFlow's unique invoice number then decides); otherwise a reason to
        send the edit to review (the original is already invoiced in KashFlow).
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
                   SyncJob.state.in_([str(state) for state in STOPPABLE]),
                   SyncJob.invoice_number.is_(None),
                   or_(SyncJob.step == Step.ENSURE_CUSTOMER, no_invoice_attempt),
                   or_(SyncJob.lease_until.is_(None), SyncJob.lease_until < now))
            .values(state=JobState.SKIPPED, reason=reason, lease_task=None, lease_until=None)
            .execution_options(synchronize_session=False)))
        number = s.scalar(select(SyncJob.invoice_number).where(
            SyncJob.kind == "order", SyncJob.magento_key == original))
    if number is None:
        return None
    return (f"edit of order {decision.replaces_ref or original}, which is already KashFlow "
            f"invoice {number}: credit that invoice, then requeue this order")
