"""The payment step of an order (``workers.orders``): ``post_payment`` on its invoice.

Every capture is posted once, whenever it happens: at invoice time, later (an authorise-only
gateway captured at shipment: the order's update re-opens its finished job at this step,
``workers.lifecycle``), or in parts (one payment per Magento invoice and its transaction).

The gateway transaction id travels in the payment ``Comment`` (KashFlow shows it as the
line's ``Note``), which is how a retry after an ambiguous write finds the payment it may
already have posted. Bank account and method ids come from the mapping, or are resolved by
name from KashFlow once per process; they are never hard-coded. Adobe Commerce tenders (store
credit, gift cards, reward points) are payments too, one each, before the gateway's
(``mappings.tenders``); their reference ``<kind>:<increment_id>`` plays the transaction id.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import exists, select

from connectors.errors import Rejected, Transient
from core import leases, pairs, redis_clients
from mappings.captures import payment_drafts, payments_due, posted_in
from mappings.ledger import CANCELLATION, entry, ledger_gap, posted_of
from mappings.magento import Order
from mappings.money import ZERO
from mappings.orders import PaymentDraft
from mappings.rules import Rules
from services.kashflow_session import shared_lookup
from store.jobs import JobView, StepResult
from store.links import links_in
from store.models import Step, utcnow
from store.reconcile_models import ItemStatus, ReconciliationItem
from workers import context
from workers.numbered import PAID_BEFORE
from workers.runner import parsed_order, step_read

# Method-name hints tried in order when the mapping names no KashFlow method.
CARD_NAMES = ("credit/debit card", "card", "credit card", "debit card")
# How long a job's payment step waits while another process posts on the same invoice.
WRITER_WAIT_S = 30


def post_payment(job: JobView) -> StepResult:
    """Post the order's captures not yet posted (tenders, then one payment per gateway
    capture, ``mappings.captures``) on its invoice, each once, never past the invoice.

    Magento's invoices of the order say what was captured. The payments posted before are
    the job's ledger (written with each finished attempt); a step that may have posted
    already also reads the invoice's payment lines and adopts what it finds: an earlier
    attempt of it may have reached KashFlow (``JobView.recheck``: left started, ambiguous
    or failed unexpectedly), it posts several payments (a definite failure of a later one
    leaves the earlier ones posted and off the ledger), the invoice step adopted an invoice
    that carried payments already (``workers.numbered.PAID_BEFORE``), or kfsync posted one of
    them outside this job (``_posted_elsewhere``); a step that ran before does so holding the
    invoice's payments lock (``sole_writer``), which the reconciliation queue's post holds too. Bulk
    payments have no duplicate check in KashFlow, so this is the only guard. Next: the
    cancellation credit note when one is due, else done.

    Raises:
        connectors.errors.ConnectorError: KashFlow or Magento failed (classified).
    """
    order = parsed_order(job.document)
    rules = context.rules().for_store(order.store_id)  # a pair's per-store bank accounts
    number = job.invoice_number
    assert number is not None, "create_invoice runs first"
    invoices = context.magento().order_invoices(order.entity_id)
    drafts = payment_drafts(order, rules, invoices)
    posted = posted_of(job.plan)
    known = dict(posted.payments)
    todo = [d for d in drafts if d.txn_id not in known]
    found: dict[str, Decimal] = {}
    # A job that ran before may meet the reconciliation queue's post of the same capture
    # (its first run has just created the invoice no reconciliation item can name yet).
    with nullcontext(True) if job.fresh else sole_writer(number, WRITER_WAIT_S) as mine:
        if not mine:
            raise Transient(f"another kfsync process is posting payments on invoice {number}",
                            system="kashflow", reason="payments_busy")
        if todo and (job.recheck or len(todo) > 1 or job.plan.get(PAID_BEFORE)
                     or (not job.fresh and _posted_elsewhere(todo))):
            found = posted_in(_payment_lines(number), todo)
            known |= found
        gross = posted.gross if posted.gross is not None else sum((d.amount for d in drafts),
                                                                  ZERO)
        due = payments_due(drafts, known, gross)
        for draft in due.payments:
            context.kashflow().post_invoice_payment(
                date=draft.date, account_id=bank_account_id(draft),
                method=payment_method_id(draft), comment=draft.comment,
                items=[(number, draft.amount)])
    return _paid(job, order, rules, [*due.payments, *(d for d in todo if d.txn_id in found)],
                 due.review)


@contextmanager
def sole_writer(number: int, wait_s: float | None = None) -> Iterator[bool]:
    """Hold the lock on invoice ``number``'s payments (a lease, ``core.leases.locked``) while
    the block looks at them and writes: yields False when another process held it (after
    ``wait_s``; by default at once). A job's payment step that ran before and the
    reconciliation queue's post each look before they write, so one at a time neither posts a
    capture the other has just posted."""
    client = redis_clients.client(context.settings().redis_url)
    with leases.locked(client, pairs.scoped_key(f"kfsync:lock:payments:{number}"),
                       wait_s=wait_s) as mine:
        yield mine


def _paid(job: JobView, order: Order, rules: Rules, posted: list[PaymentDraft],
          review: str | None) -> StepResult:
    """The step's outcome: the payments on the ledger (and the job page), then the
    cancellation step when the ledger still lacks its credit note."""
    number = job.invoice_number
    at = utcnow().isoformat(timespec="seconds")
    entries = [entry("payment", d.txn_id, number, d.amount, at,
                     f"{d.kind} payment: {d.comment}") for d in posted]
    shown = [{"date": d.date, "amount": d.amount, "kind": d.kind, "reference": d.txn_id,
              "method": d.method_name or d.magento_method} for d in posted]
    plan = {**job.plan, "ledger": [*(job.plan.get("ledger") or []), *entries],
            "kashflow_payments": [*(job.plan.get("kashflow_payments") or []), *shown]}
    gap = ledger_gap(order, rules, posted_of(plan))
    cancel = gap is not None and gap[0] == CANCELLATION
    gateway = [d.txn_id for d in posted if d.kind == "gateway"]
    updates: dict[str, Any] = {"plan": plan}
    if posted:
        updates["payment_ref"] = (gateway or [posted[0].txn_id])[-1]
    # Held for review: stay at this step, so a requeue posts the rest (the payments posted
    # now are on the ledger).
    after = Step.CREDIT_CANCELLATION if cancel else Step.DONE
    return StepResult(next_step=Step.POST_PAYMENT if review else after,
                      updates=updates, review=review,
                      links=[("payment", f"txn:{d.txn_id}", str(number)) for d in posted])


def _posted_elsewhere(todo: list[PaymentDraft]) -> bool:
    """Whether kfsync may have posted one of ``todo``'s captures outside this job's attempts:
    a payment link of its transaction (the reconciliation queue posts a missing capture's
    payment and links it) or a reconciliation post of it under way. Asked for a job that ran
    before (a retry, a requeue, a re-opened order), in the database instead of KashFlow."""
    txns = [d.txn_id for d in todo]
    with step_read(context.db_url()) as conn:
        if links_in(conn, "payment", *(f"txn:{txn}" for txn in txns)):
            return True
        return bool(conn.scalar(select(exists().where(
            ReconciliationItem.pair == pairs.current(), ReconciliationItem.txn_id.in_(txns),
            ReconciliationItem.status == ItemStatus.POSTING))))


def _payment_lines(number: int) -> list[tuple[str, Decimal]]:
    invoice = context.kashflow().get_invoice(number)
    return [(str(line.get("Note") or ""), Decimal(str(line.get("Amount") or 0)))
            for line in invoice.get("PaymentLines") or []]


def bank_account_id(draft: PaymentDraft) -> int:
    if draft.account_id is not None:
        return draft.account_id
    return _default_bank_account()


def payment_method_id(draft: PaymentDraft) -> int:
    if draft.method_id is not None:
        return draft.method_id
    named = (draft.method_name,) if draft.method_name else ()
    hints = named + CARD_NAMES if draft.kind == "gateway" else named or ("cash",)
    return _method_by_name(tuple(h.lower() for h in hints))


@cache
def _default_bank_account() -> int:
    accounts = shared_lookup(context.settings().redis_url, "bank_accounts",
                             context.kashflow().bank_accounts)
    for account in accounts:
        if account.get("IsDefaultAccount"):
            return int(account["Id"])
    raise Rejected("KashFlow has no default bank account; name one in the payment mapping",
                   system="kashflow", reason="NoDefaultBankAccount")


@cache
def _method_by_name(hints: tuple[str, ...]) -> int:
    methods = {str(m["Name"]).strip().lower(): int(m["Id"])
               for m in shared_lookup(context.settings().redis_url, "invoice_payment_methods",
                                      context.kashflow().invoice_payment_methods)}
    for hint in hints:
        if hint in methods:
            return methods[hint]
    for hint in hints:  # then a looser match: "paypal" finds "PayPal Payments"
        for name, method_id in methods.items():
            if hint in name:
                return method_id
    raise Rejected(f"no KashFlow payment method matches {hints[0]!r}; map it in the mapping file",
                   system="kashflow", reason="UnknownPaymentMethod")
