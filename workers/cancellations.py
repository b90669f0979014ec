"""The cancellation step of an order (``workers.orders``): ``credit_cancellation``.

An order canceled in Magento (or with items canceled, or replaced by an edit) after kfsync
posted its invoice gets a ``CX-`` credit note against that invoice for what was cancelled and
never captured (``mappings.cancellations``); nothing when nothing is due. The mapping's
``on_cancel_after_invoice: review`` holds the order for a human instead.

Exactly once, as for invoices and refunds: the note's ``Number`` is deterministic (the
invoice's + ``cancel_note_number_offset``) and its ``CustomerReference`` is ``"CX-" +
increment_id``, so a retry after an ambiguous write (``JobView.recheck``) looks it up first,
and a ``DuplicateInvoiceNumber`` is adopted when the note is ours. One ``CX-`` note per order:
a second cancellation after the first was credited goes to review.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mappings.cancellations import build_cancellation_note, cancellation_due
from mappings.captures import captured_total
from mappings.ledger import entry, posted_of
from mappings.money import ZERO
from store.jobs import JobView, StepResult
from store.models import Step, utcnow
from workers import context
from workers.numbered import post_once
from workers.runner import parsed_order


def credit_cancellation(job: JobView) -> StepResult:
    """The ``CX-`` credit note for the order's cancelled, uncaptured amount, posted once.

    Raises:
        connectors.errors.ConnectorError: KashFlow or Magento failed (classified).
        mappings.errors.MappingError: the posted invoice is not on the job.
    """
    order = parsed_order(job.document)
    version, rules = context.profile()
    rules = rules.for_store(order.store_id)
    posted = posted_of(job.plan)
    invoice = job.plan.get("kashflow_invoice") or {}
    assert job.invoice_number is not None and posted.gross is not None, "invoice first"
    invoices = context.magento().order_invoices(order.entity_id)
    due = cancellation_due(order, posted.gross, captured_total(order, invoices),
                           posted.cancelled, posted.replaced_by)
    if due.amount <= ZERO:
        return StepResult(next_step=Step.DONE)
    if rules.on_cancel_after_invoice == "review":
        return StepResult(next_step=Step.CREDIT_CANCELLATION, review=(
            f"{due.reason} after invoice {job.invoice_number} was posted: {due.amount} to "
            "credit (on_cancel_after_invoice: review); credit it by hand, then discard"))
    if posted.cancelled > ZERO:
        return StepResult(next_step=Step.CREDIT_CANCELLATION, review=(
            f"{due.reason}: {due.amount} more to credit, but this order's CX- credit note "
            f"({posted.cancelled}) is posted already; credit the rest by hand"))
    source = {**invoice, "Number": job.invoice_number,
              "CustomerCode": invoice.get("CustomerCode") or job.customer_code}
    draft = build_cancellation_note(order, source, due, rules,
                                    date=str(job.document.get("updated_at") or "") or None)
    reference = str(draft.body["CustomerReference"])
    note = post_once(context.kashflow().create_credit_note, draft.body, reference,
                     recheck=job.recheck, what="credit note")
    return _credited(job, note, draft.expected_gross, due.reason, version)


def _credited(job: JobView, note: dict[str, Any], expected: Decimal, why: str,
              version: int) -> StepResult:
    number = int(note["Number"])
    gross = Decimal(str(note["GrossAmount"]))
    at = utcnow().isoformat(timespec="seconds")
    ledger = [*(job.plan.get("ledger") or []),
              entry("credit_note", str(note["CustomerReference"]), number, -gross, at, why)]
    result = StepResult(next_step=Step.DONE,
                        updates={"plan": {**job.plan, "ledger": ledger},
                                 "profile_version": version},
                        links=[("creditnote", f"cancel:{job.magento_key}", str(number))])
    if gross != expected:
        result.next_step = Step.CREDIT_CANCELLATION
        result.updates = {}
        result.review = (f"penny guard: KashFlow credit note {number} totals {gross} but the "
                         f"cancellation credits {-expected} (invoice {job.invoice_number})")
    return result
