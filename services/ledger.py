"""An order's ledger as the operator reads it: every document and payment kfsync posted for
the order, with when and why, and what that leaves owing or overpaid.

The order job's own ledger (``plan["ledger"]``, written by the invoice, payment and
cancellation steps; ``mappings.ledger``) gives the invoice, each payment by its transaction id
and the ``CX-`` cancellation note. The order's credit memo jobs add their ``CM-`` credit notes
and refunds. An edit names the order it replaces, and an edited original the order that
replaced it, so the two job pages link each other. Shown by the dashboard's job page,
``kfsync jobs show`` and ``GET /api/v1/jobs/{id}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mappings.money import ZERO, to_decimal
from store.models import JobState, SyncJob

SIGN = {"invoice": 1, "credit_note": -1, "payment": -1, "refund": 1}  # on what is owed


@dataclass(frozen=True)
class LedgerRow:
    """One document or payment: ``amount`` as KashFlow holds it, positive."""

    doc: str  # invoice, payment, credit_note, refund
    ref: str  # increment id, transaction id, CX-/CM- reference
    number: int | None  # the KashFlow invoice or note it is, or sits on
    amount: Decimal
    at: str
    why: str


@dataclass(frozen=True)
class OrderLedger:
    """The rows in order and what they leave: ``due`` > 0 owed, < 0 overpaid."""

    rows: list[LedgerRow]
    due: Decimal
    related: list[dict[str, Any]] = field(default_factory=list)  # edit <-> original jobs

    @property
    def overpaid(self) -> Decimal:
        return -self.due if self.due < ZERO else ZERO

    def as_json(self) -> dict[str, Any]:
        return {"rows": [{**asdict(r), "amount": str(r.amount)} for r in self.rows],
                "due": str(self.due), "overpaid": str(self.overpaid), "related": self.related}


def order_ledger(s: Session, job: SyncJob) -> OrderLedger | None:
    """The ledger of order job ``job`` (None for other kinds, or nothing posted yet)."""
    if job.kind != "order":
        return None
    rows = _own_rows(job.plan or {})
    rows += _credit_memo_rows(s, job.magento_key)
    related = _related(s, job)
    if not rows and not related:
        return None
    due = sum((SIGN.get(r.doc, 0) * r.amount for r in rows), ZERO)
    return OrderLedger(rows, due, related)


def _own_rows(plan: Mapping[str, Any]) -> list[LedgerRow]:
    entries = list(plan.get("ledger") or [])
    if not entries:  # posted before the ledger was kept: the invoice and payments on the plan
        invoice = plan.get("kashflow_invoice") or {}
        if invoice.get("GrossAmount") is not None:
            entries.append({"doc": "invoice", "ref": invoice.get("CustomerReference"),
                            "number": invoice.get("Number"), "amount": invoice["GrossAmount"],
                            "at": "", "why": "order invoiced"})
        entries += [{"doc": "payment", "ref": p.get("reference"), "number": invoice.get("Number"),
                     "amount": p.get("amount"), "at": p.get("date") or "",
                     "why": f"{p.get('kind')} payment"}
                    for p in plan.get("kashflow_payments") or []]
    return [LedgerRow(str(e["doc"]), str(e["ref"]), _int(e.get("number")),
                      to_decimal(e["amount"]), str(e.get("at") or ""), str(e.get("why") or ""))
            for e in entries]


def _credit_memo_rows(s: Session, order_key: str) -> list[LedgerRow]:
    rows = []
    memos = s.scalars(select(SyncJob).where(SyncJob.kind == "creditmemo",
                                            SyncJob.invoice_number.is_not(None))
                      .order_by(SyncJob.id))
    for memo in memos:
        plan, doc = memo.plan or {}, memo.document or {}
        if str(plan.get("order_id") or doc.get("order_id")) != order_key:
            continue
        amount, at = to_decimal(doc.get("grand_total") or 0), str(memo.updated_at)[:19]
        rows.append(LedgerRow("credit_note", f"CM-{memo.magento_ref}", memo.invoice_number,
                              amount, at, f"credit memo {memo.magento_ref} (job {memo.id})"))
        if memo.state == JobState.DONE and memo.payment_ref:
            rows.append(LedgerRow("refund", memo.payment_ref, memo.invoice_number, amount, at,
                                  f"online refund of credit memo {memo.magento_ref}"))
    return rows


def _related(s: Session, job: SyncJob) -> list[dict[str, Any]]:
    """The edit that replaced this order and the order this edit replaces, as job links."""
    doc, plan = job.document or {}, job.plan or {}
    replaced_by = plan.get("replaced_by") or doc.get("relation_child_real_id")
    parent = doc.get("relation_parent_id")
    terms = []
    if replaced_by:
        terms.append(SyncJob.magento_ref == str(replaced_by))
    if parent:
        terms.append(SyncJob.magento_key == str(parent))
    if not terms:
        return []
    found = []
    for other in s.scalars(select(SyncJob).where(SyncJob.kind == "order", or_(*terms),
                                                 SyncJob.pair == job.pair)):
        how = "replaced by" if other.magento_ref == replaced_by else "replaces"
        found.append({"relation": how, "job_id": other.id, "order": other.magento_ref,
                      "invoice_number": other.invoice_number})
    return found


def _int(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None
