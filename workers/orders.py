"""Order sync: start (decide and build the chain) and ``kfsync.orders.create_invoice``.

The invoice ``Number`` is deterministic (from ``increment_id``), so a second create is answered
``DuplicateInvoiceNumber`` and the existing invoice is adopted when its ``CustomerReference``
is this order's. After KashFlow answers, the penny guard compares its ``GrossAmount`` with
Magento's ``grand_total``: a difference stops the job for review and no payment is posted.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from celery import Task

from connectors.errors import NotFound, Rejected
from mappings.magento import parse_order
from mappings.orders import build_invoice_draft
from store.models import Step
from workers import context
from workers.app import celery_app
from workers.steps import JobView, StepResult, run_step


@celery_app.task(bind=True, name="kfsync.orders.create_invoice")
def create_invoice(self: Task, job_id: int) -> None:
    try:
        run_step(self, job_id, Step.CREATE_INVOICE, _create_invoice)
    finally:
        # Credit memos that arrived before this invoice wait for it: start them now.
        from workers.refunds import resume_waiting

        resume_waiting()


def _create_invoice(job: JobView) -> StepResult:
    order = parse_order(job.document)
    assert job.customer_code, "ensure_customer runs first"
    draft = build_invoice_draft(order, context.rules(), job.customer_code)
    body = draft.body
    number = int(body["Number"])
    invoice = _existing(number, job.magento_ref) if job.recheck else None
    if invoice is None:
        invoice = _create_or_adopt(body, job.magento_ref)
    next_step = Step.POST_PAYMENT if job.plan.get("pay") else Step.DONE
    result = StepResult(next_step=next_step, updates={"invoice_number": number},
                        links=[("invoice", f"order:{job.magento_key}", str(number))])
    gross, wanted = Decimal(str(invoice["GrossAmount"])), draft.expected_gross
    if gross == wanted and draft.skipped_reason:
        # Rows were left out (invalid_lines: skip_line): a human settles the rest; no payment.
        result.next_step = Step.DONE
        result.review = f"invoice {number}: {draft.skipped_reason}; payment not posted"
    elif gross != wanted:
        # Stay at this step: a requeue adopts the (corrected) invoice and checks it again
        # before any payment is posted.
        result.next_step = Step.CREATE_INVOICE
        result.review = (f"penny guard: KashFlow invoice {number} totals {gross} but Magento "
                         f"grand_total is {order.grand_total} (expected gross {wanted}); "
                         "payment not posted")
    return result


def _existing(number: int, reference: str | None) -> dict[str, Any] | None:
    """The invoice ``number`` if it exists and is this order's; raise if it is another's."""
    try:
        invoice = context.kashflow().get_invoice(number)
    except NotFound:
        return None
    if str(invoice.get("CustomerReference")) != str(reference):
        raise Rejected(
            f"invoice number {number} is already used by another invoice "
            f"(reference {invoice.get('CustomerReference')!r})",
            system="kashflow", reason="InvoiceNumberTaken", status=400,
        )
    return invoice


def _create_or_adopt(body: dict[str, Any], reference: str | None) -> dict[str, Any]:
    try:
        return context.kashflow().create_invoice(body)
    except Rejected as exc:
        if exc.reason != "DuplicateInvoiceNumber":
            raise
        existing = _existing(int(body["Number"]), reference)
        if existing is None:  # vanished between the two calls: let the retry decide
            raise
        return existing
