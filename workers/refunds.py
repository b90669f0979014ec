"""Refunds: ``creditmemo.created`` -> a KashFlow credit note and, when online, the refund.

One ``SyncJob(kind="creditmemo")`` per credit memo runs through the runner (``workers.runner``)
like an order, its steps in ``CREDITMEMO_FLOW`` (at the end of this module):

- ``kfsync.refunds.create_credit_note``: the credit note against the order's invoice, under a
  deterministic ``Number`` (``mappings.refunds.credit_note_number``): a retry after an
  ambiguous write looks it up first (``GET /invoices/{number}``) and a
  ``DuplicateInvoiceNumber`` is adopted when its ``CustomerReference`` is this memo's
  (``workers.numbered``). Its ``GrossAmount`` must be minus the memo's ``grand_total`` to the
  penny, else review.
- ``kfsync.refunds.post_refund`` (online refunds only): the money returned, a negative
  payment on the credit note whose ``Comment`` carries the refund's ``transaction_id``; looked
  for first after an ambiguous write, or when the adopted credit note carried payments.

A credit memo whose order has no KashFlow invoice yet is not failed: its job waits
(``waiting``) and is resumed when the order's ``create_invoice`` step finishes, or by the
catch-up poll (``resume_waiting``).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from connectors.errors import NotFound
from core import pairs
from mappings.magento import parse_order
from mappings.refunds import build_credit_note, build_refund_payment, is_online_refund
from store import jobs
from store.db import session_scope
from store.jobs import JobView, StepResult
from store.models import Step, SyncJob
from workers import context
from workers.dispatch import publish_chain
from workers.numbered import PAID_BEFORE, carries_payments, post_once
from workers.payments import bank_account_id, payment_method_id
from workers.runner import (
    Flow,
    StepDef,
    find_link,
    register_tasks,
    step_read,
)
from workers.summary import SUMMARY_LINK, book_credit_memo

log = logging.getLogger(__name__)


def handle_creditmemo_event(creditmemo_id: str, event_id: int) -> str | None:
    """Queue the credit memo's job. Returns the outcome line when there is nothing to do."""
    from workers.documents import DocumentJob, upsert_and_start

    try:
        memo = context.magento().get_creditmemo(int(creditmemo_id))
    except NotFound:
        return f"credit memo {creditmemo_id} not found in Magento"
    if int(memo.get("state") or 0) == 3:
        return f"credit memo {memo.get('increment_id')} is canceled: nothing to credit"
    plan = {"pay": is_online_refund(memo), "order_id": str(memo.get("order_id"))}
    upsert_and_start(DocumentJob(kind="creditmemo", magento_key=str(creditmemo_id),
                                 magento_ref=memo.get("increment_id"), document=memo,
                                 plan=plan, first_step=Step.CREATE_CREDIT_NOTE), event_id)
    return None


def _order_of(order_id: str) -> tuple[int | None, str | None, dict[str, Any] | None]:
    """(invoice number, customer code, order document) of the order's synced invoice."""
    url = context.db_url()
    number = find_link(url, "invoice", f"order:{order_id}")
    with session_scope(url) as s:
        job = s.scalar(select(SyncJob).where(SyncJob.kind == "order",
                                             SyncJob.magento_key == order_id,
                                             SyncJob.pair == pairs.current()))
        if job is None or number is None:
            return None, None, None
        return int(number), job.customer_code, job.document


def create_credit_note(job: JobView) -> StepResult:
    """The credit note against the order's invoice (waiting while it has none).

    Raises:
        connectors.errors.ConnectorError: KashFlow or Magento failed (classified).
        mappings.errors.MappingError: the credit memo cannot be mapped as it stands.
    """
    memo = job.document
    order_id = str(job.plan.get("order_id") or memo.get("order_id"))
    number, customer_code, order_doc = _order_of(order_id)
    if number is None and find_link(context.db_url(), SUMMARY_LINK, f"order:{order_id}"):
        return book_credit_memo(job, order_id)  # summary mode: its day's summary credit note
    if number is None or customer_code is None:
        return StepResult(next_step=Step.CREATE_CREDIT_NOTE,
                          wait=f"waiting for order {order_id}'s invoice to be synced")
    version, rules = context.profile()
    if not rules.steps.credit_notes:
        return StepResult(next_step=Step.DONE, updates={
            "profile_version": version,
            "reason": "credit_notes is off in the mapping profile: no credit note posted"})
    order = parse_order(order_doc or context.magento().get_order(int(order_id)))
    draft = build_credit_note(memo, order, rules.for_store(order.store_id), customer_code)
    reference = str(draft.body["CustomerReference"])
    note_number = int(draft.body["Number"])
    note = post_once(context.kashflow().create_credit_note, draft.body, reference,
                     recheck=job.recheck, what="credit note")
    updates: dict[str, Any] = {"invoice_number": note_number, "customer_code": customer_code,
                               "profile_version": version}
    if carries_payments(note):  # adopted with a refund on it: the refund step looks first
        updates["plan"] = {**job.plan, PAID_BEFORE: True}
    result = StepResult(
        next_step=Step.POST_REFUND if job.plan.get("pay") else Step.DONE, updates=updates,
        links=[("creditnote", f"creditmemo:{job.magento_key}", str(note_number))])
    gross = Decimal(str(note["GrossAmount"]))
    if gross != draft.expected_gross:
        result.next_step = Step.CREATE_CREDIT_NOTE
        result.review = (f"penny guard: KashFlow credit note {note_number} totals {gross} but "
                         f"credit memo {job.magento_ref} refunds {-draft.expected_gross} "
                         f"(invoice {number}); refund not posted")
    return result


def post_refund(job: JobView) -> StepResult:
    """The refund payment on the credit note (online refunds), posted once.

    Raises:
        connectors.errors.ConnectorError: KashFlow or Magento failed (classified).
    """
    number = job.invoice_number
    assert number is not None, "create_credit_note runs first"
    memo = job.document
    order_id = str(job.plan.get("order_id") or memo.get("order_id"))
    _, _, order_doc = _order_of(order_id)
    order = parse_order(order_doc or context.magento().get_order(int(order_id)))
    draft = build_refund_payment(memo, order, context.rules().for_store(order.store_id))
    if draft is None:
        return StepResult(next_step=Step.DONE)
    done = StepResult(next_step=Step.DONE, updates={"payment_ref": draft.txn_id},
                      links=[("refund", f"txn:{draft.txn_id}", str(number))])
    if job.recheck or job.plan.get(PAID_BEFORE):
        notes = [str(line.get("Note") or "")
                 for line in context.kashflow().get_invoice(number).get("PaymentLines") or []]
        if any(draft.txn_id in note for note in notes):
            return done
    context.kashflow().post_invoice_payment(
        date=draft.date, account_id=bank_account_id(draft), method=payment_method_id(draft),
        comment=draft.comment, items=[(number, draft.amount)])
    return done


def resume_waiting(order_id: str | None = None) -> int:
    """Start the waiting credit memos whose order now has its invoice (all orders, or one).

    Returns how many were started.
    """
    url = context.db_url()
    with step_read(url) as bind:  # after an invoice step: on its connection
        waiting = [(row.id, row.plan or {})
                   for row in bind.execute(jobs.WAITING, {"b_kind": "creditmemo"})]
    started = 0
    for job_id, plan in waiting:
        wanted = str(plan.get("order_id"))
        if order_id is not None and wanted != str(order_id):
            continue
        if find_link(url, "invoice", f"order:{wanted}") is None:
            continue
        with session_scope(url) as s:  # claim the restart: one caller wins
            moved = jobs.queue_waiting(s, job_id)
        if moved:
            publish_chain(job_id, Step.CREATE_CREDIT_NOTE, bool(plan.get("pay")))
            started += 1
    return started


# A credit memo's job: the credit note, then (online refunds: ``plan["pay"]``) the refund.
CREDITMEMO_FLOW = Flow(kind="creditmemo", steps=(
    StepDef(Step.CREATE_CREDIT_NOTE, "kfsync.refunds.create_credit_note", create_credit_note),
    StepDef(Step.POST_REFUND, "kfsync.refunds.post_refund", post_refund, optional=True),
))
TASKS = register_tasks(CREDITMEMO_FLOW)
