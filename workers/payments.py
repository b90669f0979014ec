"""``kfsync.payments.post_payment``: the gateway payment on the order's invoice.

The gateway transaction id travels in the payment ``Comment`` (KashFlow shows it as the
line's ``Note``), which is how a retry after an ambiguous write finds the payment it may
already have posted. Bank account and method ids come from the mapping, or are resolved by
name from KashFlow once per process; they are never hard-coded.
"""

from __future__ import annotations

from functools import cache

from celery import Task

from connectors.errors import Rejected
from mappings.magento import parse_order
from mappings.orders import PaymentDraft, build_payment
from store.models import Step
from workers import context
from workers.app import celery_app
from workers.steps import JobView, StepResult, run_step

# Method-name hints tried in order when the mapping names no KashFlow method.
CARD_NAMES = ("credit/debit card", "card", "credit card", "debit card")


@celery_app.task(bind=True, name="kfsync.payments.post_payment")
def post_payment(self: Task, job_id: int) -> None:
    run_step(self, job_id, Step.POST_PAYMENT, _post_payment)


def _post_payment(job: JobView) -> StepResult:
    order = parse_order(job.document)
    draft = build_payment(order, context.rules())
    assert job.invoice_number is not None, "create_invoice runs first"
    if draft is None:
        return StepResult(next_step=Step.DONE)
    done = StepResult(next_step=Step.DONE, updates={"payment_ref": draft.txn_id},
                      links=[("payment", f"txn:{draft.txn_id}", str(job.invoice_number))])
    if job.recheck and _already_posted(job.invoice_number, draft.txn_id):
        return done
    context.kashflow().post_invoice_payment(
        date=draft.date, account_id=bank_account_id(draft), method=payment_method_id(draft),
        comment=draft.comment, items=[(job.invoice_number, draft.amount)],
    )
    return done


def _already_posted(number: int, txn_id: str) -> bool:
    invoice = context.kashflow().get_invoice(number)
    return any(txn_id in str(line.get("Note") or "") for line in invoice.get("PaymentLines") or [])


def bank_account_id(draft: PaymentDraft) -> int:
    if draft.account_id is not None:
        return draft.account_id
    return _default_bank_account()


def payment_method_id(draft: PaymentDraft) -> int:
    if draft.method_id is not None:
        return draft.method_id
    hints = ((draft.method_name,) if draft.method_name else ()) + CARD_NAMES
    return _method_by_name(tuple(h.lower() for h in hints))


@cache
def _default_bank_account() -> int:
    accounts = context.kashflow().bank_accounts()
    for account in accounts:
        if account.get("IsDefaultAccount"):
            return int(account["Id"])
    raise Rejected("KashFlow has no default bank account; name one in the payment mapping",
                   system="kashflow", reason="NoDefaultBankAccount")


@cache
def _method_by_name(hints: tuple[str, ...]) -> int:
    methods = {str(m["Name"]).strip().lower(): int(m["Id"])
               for m in context.kashflow().invoice_payment_methods()}
    for hint in hints:
        if hint in methods:
            return methods[hint]
    for hint in hints:  # then a looser match: "paypal" finds "PayPal Payments"
        for name, method_id in methods.items():
            if hint in name:
                return method_id
    raise Rejected(f"no KashFlow payment method matches {hints[0]!r}; map it in the mapping file",
                   system="kashflow", reason="UnknownPaymentMethod")
