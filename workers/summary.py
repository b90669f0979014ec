"""Summary mode, booking (``docs/accounting-modes.md``): an order or credit memo in summary
mode joins its summary instead of being posted on its own.

- ``add_to_summary`` (an order step, ``workers.orders``): the order's would-be invoice lines
  and payments (``mappings.summary.order_part``) are booked in the open summary of its
  (store, currency, day) (``store.summaries.add_entry``). No KashFlow call: the job is done,
  its plan and ledger say which summary holds it and, for a day closed already, that it went
  into the next open one and why.
- ``book_credit_memo`` (``workers.refunds.create_credit_note``, when its order is in a
  summary): the same for the credit memo, into the summary credit note of its day.

A replay of either finds the document's entry and books nothing new. Closing and posting
the summaries: ``workers.summary_post``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from core import pairs
from mappings.magento import Order, parse_magento_time, parse_order
from mappings.orders import exchange_rate
from mappings.summary import CREDIT, INVOICE, Part, in_summary_mode, memo_part, order_part
from store.db import read_scope, session_scope
from store.jobs import JobView, StepResult
from store.models import Step, SyncJob, utcnow
from store.summaries import Booked, Doc, add_entry
from workers import context, products
from workers.runner import parsed_order

SUMMARY_LINK = "summary"


def summarised(doc: dict[str, Any]) -> bool:
    """Whether the order document is booked in a summary under the profile in force (its
    store's rules)."""
    try:
        order = parsed_order(doc)
    except Exception:
        return False
    group = doc.get("customer_group_id")
    rules = context.rules().for_store(order.store_id)
    return in_summary_mode(order, rules, int(group) if group is not None else None)


def _book(doc: Doc) -> Booked:
    with session_scope(context.db_url()) as s:
        return add_entry(s, doc, utcnow().date())


def _said(kind: str, ref: str, booked: Booked, doc_day: Any) -> str:
    what = "summary invoice" if kind == INVOICE else "summary credit note"
    if booked.late:
        return (f"{ref} is dated {doc_day}, whose {what} was closed already: booked in the "
                f"next open one, summary {booked.summary_id} of {booked.day}")
    return f"{ref} booked in {what} {booked.summary_id} of {booked.day}"


def _planned(job: JobView, kind: str, booked: Booked, part: Part, doc_day: Any
             ) -> dict[str, Any]:
    ref = str(job.magento_ref or job.magento_key)
    said = _said(kind, ref, booked, doc_day)
    at = utcnow().isoformat(timespec="seconds")
    entry = {"doc": "summary", "ref": ref, "number": None, "amount": str(part.gross),
             "at": at, "why": said, "summary_id": booked.summary_id}
    ledger = [e for e in job.plan.get("ledger") or [] if e.get("doc") != "summary"]
    paid = sum((p.amount for p in part.payments), Decimal(0))
    return {**job.plan, "summary": {"id": booked.summary_id, "kind": kind,
                                    "day": booked.day.isoformat(), "late": booked.late,
                                    "doc_day": str(doc_day), "note": said,
                                    "net": str(part.net), "vat": str(part.vat),
                                    "gross": str(part.gross), "paid": str(paid)},
            "ledger": [*ledger, entry]}


def add_to_summary(job: JobView) -> StepResult:
    """Book the order in its summary; the job is done (see the module docstring).

    A job booked before (re-opened by a later capture or a cancellation,
    ``workers.lifecycle``) books only what changed (``workers.summary_life.settle``).

    Raises:
        mappings.errors.MappingError: the order cannot be invoiced as it stands (review).
    """
    if (job.plan.get("summary") or {}).get("kind") == INVOICE:
        from workers.summary_life import settle

        return settle(job)
    order = parsed_order(job.document)
    version, rules = context.profile()
    rules = products.prepare(order, rules.for_store(order.store_id)).rules
    return _booked(job, INVOICE, order, order_part(order, rules), order.created_at.date(),
                   version)


def order_job_document(order_id: str) -> dict[str, Any] | None:
    """The stored Magento document of order ``order_id``'s job (this pair)."""
    with read_scope(context.db_url()) as s:
        return s.scalar(SyncJob.__table__.select().with_only_columns(SyncJob.document)
                        .where(SyncJob.kind == "order", SyncJob.magento_key == order_id,
                               SyncJob.pair == pairs.current()))


def book_credit_memo(job: JobView, order_id: str) -> StepResult:
    """Book credit memo ``job`` of summarised order ``order_id`` in its summary credit note.

    Raises:
        mappings.errors.MappingError: as ``mappings.refunds.build_credit_note``.
    """
    memo = job.document
    doc = order_job_document(order_id) or context.magento().get_order(int(order_id))
    order = parse_order(doc)
    version, rules = context.profile()
    if not rules.steps.credit_notes:
        return StepResult(next_step=Step.DONE, updates={
            "profile_version": version,
            "reason": "credit_notes is off in the mapping profile: no credit note posted"})
    rules = products.prepare(order, rules.for_store(order.store_id)).rules
    part = memo_part(memo, order, rules)
    created = parse_magento_time(str(memo.get("created_at") or ""))
    day = created.date() if created is not None else utcnow().date()
    return _booked(job, CREDIT, order, part, day, version)


def _booked(job: JobView, kind: str, order: Order, part: Part, day: date, version: int
            ) -> StepResult:
    """Book ``part`` of ``job``'s document (an order: ``INVOICE``; a credit memo: ``CREDIT``)
    in its ``day``'s summary; the job is done, linked to that summary."""
    doc_kind = "order" if kind == INVOICE else "creditmemo"
    booked = _book(Doc(pair=pairs.current(), kind=kind, doc_kind=doc_kind,
                       magento_key=job.magento_key, magento_ref=job.magento_ref,
                       job_id=job.id, store=str(order.store_id or 0),
                       currency=order.order_currency_code, day=day, net=part.net,
                       vat=part.vat,
                       part={**part.to_json(), "rate": str(exchange_rate(order))}))
    plan = _planned(job, kind, booked, part, day)
    return StepResult(next_step=Step.DONE,
                      updates={"plan": plan, "profile_version": version,
                               "reason": plan["summary"]["note"]},
                      links=[(SUMMARY_LINK, f"{doc_kind}:{job.magento_key}",
                              str(booked.summary_id))])
