"""A finished order is an order whose ledger matches Magento; one that no longer does re-opens.

``process_event`` (``workers.events``) re-reads the order on every ``order.updated``,
``invoice.created`` and catch-up pass. For an order job that is ``done`` with its invoice
posted, ``reopen_step`` compares the job's ledger with the order (``mappings.ledger``): a
capture not yet posted re-opens the job at ``post_payment``, a cancellation (or an edit that
replaced the order) at ``credit_cancellation``; the job's one upsert does it
(``store.jobs.upsert_job``), with the same claim, attempt and look-before-write rules as a
new order's steps. No gap: the job stays as it is, and the event starts nothing.

A summarised order (no invoice of its own, ``plan["summary"]``) re-opens at
``add_to_summary`` when Magento captured more than its summaries hold, or canceled it with
nothing captured (``mappings.summary_life.summary_gap``).

``credit_replaced``: an edit (``000000123-1``) whose original was invoiced already has the
original's ledger brought up to date at once, through an ordinary event for the original.
``order_of_invoice``: an ``invoice.created`` whose resource is the Magento invoice syncs its
order.
"""

from __future__ import annotations

import logging
from typing import Any

from mappings.errors import MappingError
from mappings.ledger import CANCELLATION, PAYMENTS, ledger_gap, posted_of
from mappings.summary_life import summary_gap
from store.models import JobState, Step, SyncJob
from workers import context
from workers.runner import parsed_order

log = logging.getLogger(__name__)

GAP_STEPS = {PAYMENTS: Step.POST_PAYMENT, CANCELLATION: Step.CREDIT_CANCELLATION}


def reopen_step(job: SyncJob, doc: dict[str, Any], any_state: bool = False
                ) -> tuple[Step, str] | None:
    """The step at which the finished job ``job`` must carry on for the order as ``doc``
    says it is now, and why; None when its ledger matches (or it is not a finished order
    with a posted invoice). ``any_state``: an idle job too (held for review, dead, waiting)
    whose invoice is posted and whose order no longer decides ``invoice`` (canceled)."""
    finished = job.state == JobState.DONE or any_state
    if job.kind != "order" or not finished:
        return None
    booked = (job.plan or {}).get("summary")
    if job.invoice_number is None and booked and job.state == JobState.DONE:
        return _summary_step(doc, booked)
    if job.invoice_number is None:
        return None
    try:
        order = parsed_order(doc)
    except MappingError:
        return None
    gap = ledger_gap(order, context.rules(), posted_of(job.plan or {}))
    if gap is None:
        return None
    return GAP_STEPS[gap[0]], gap[1]


def _summary_step(doc: dict[str, Any], booked: dict[str, Any]) -> tuple[Step, str] | None:
    """A summarised order (``mappings.summary_life``): a later capture or a cancellation
    re-opens it at ``add_to_summary``, which books what changed."""
    try:
        order = parsed_order(doc)
    except MappingError:
        return None
    gap = summary_gap(order, context.rules().for_store(order.store_id), booked)
    return None if gap is None else (Step.ADD_TO_SUMMARY, gap[1])


def reopen(job: SyncJob, doc: dict[str, Any], step: Step, reason: str) -> None:
    """Set the finished job's columns to carry on at ``step`` with the order as ``doc``."""
    plan = dict(job.plan or {})
    plan["pay"] = bool(plan.get("pay")) or step == Step.POST_PAYMENT
    plan["reopened"] = reason
    job.magento_ref, job.document, job.plan, job.step = doc.get("increment_id"), doc, plan, step
    log.info("order %s re-opened at %s: %s", job.magento_ref, step, reason)


def credit_replaced(original_id: int, edit_ref: str | None) -> bool:
    """Have the original order ``original_id``, replaced by the edit ``edit_ref``, read again
    and its ledger settled (its ``CX-`` note): one event per edit, stored and published."""
    from workers.catchup import record_order

    return record_order(context.db_url(), {"entity_id": original_id,
                                           "updated_at": f"edit {edit_ref}"}, "edit")


def order_of_invoice(invoice_id: str) -> str:
    """The order entity id of Magento invoice ``invoice_id`` (``GET /V1/invoices/{id}``).

    Raises:
        connectors.errors.NotFound: Magento has no such invoice.
    """
    return str(context.magento().get_invoice(int(invoice_id))["order_id"])
