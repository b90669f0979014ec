"""The payment step of an order (``workers.orders``): ``post_payment`` on its invoice.

The gateway transaction id travels in the payment ``Comment`` (KashFlow shows it as the
line's ``Note``), which is how a retry after an ambiguous write finds the payment it may
already have posted. Bank account and method ids come from the mapping, or are resolved by
name from KashFlow once per process; they are never hard-coded. Adobe Commerce tenders (store
credit, gift cards, reward points) are payments too, one each, before the gateway's
(``mappings.tenders``); their reference ``<kind>:<increment_id>`` plays the transaction id.
"""

from __future__ import annotations

from functools import cache

from connectors.errors import Rejected
from mappings.orders import PaymentDraft, build_payments
from services.kashflow_session import shared_lookup
from store.jobs import JobView, StepResult
from store.models import Step
from workers import context
from workers.runner import parsed_order

# Method-name hints tried in order when the mapping names no KashFlow method.
CARD_NAMES = ("credit/debit card", "card", "credit card", "debit card")


def post_payment(job: JobView) -> StepResult:
    """Post the order's captured payments (tenders, then the gateway's) on its invoice, each
    once: a retry after an ambiguous write, or several payments, look the posted ones up.

    Raises:
        connectors.errors.ConnectorError: KashFlow failed (classified).
    """
    order = parsed_order(job.document)
    drafts = build_payments(order, context.rules())
    number = job.invoice_number
    assert number is not None, "create_invoice runs first"
    if not drafts:
        return StepResult(next_step=Step.DONE)
    gateway = [d.txn_id for d in drafts if d.kind == "gateway"]
    # What was posted, for the job page (kept on the plan with the invoice it paid).
    payments = [{"date": d.date, "amount": d.amount, "kind": d.kind, "reference": d.txn_id,
                 "method": d.method_name or d.magento_method} for d in drafts]
    done = StepResult(next_step=Step.DONE, updates={"payment_ref": (gateway or
                                                                    [drafts[0].txn_id])[0],
                                                    "plan": {**job.plan,
                                                             "kashflow_payments": payments}},
                      links=[("payment", f"txn:{d.txn_id}", str(number)) for d in drafts])
    # Several payments (tenders + gateway) are posted one call each: look first, so a retry
    # after a partial success never posts one twice.
    posted = _posted_notes(number) if job.recheck or len(drafts) > 1 else []
    for draft in drafts:
        if any(draft.txn_id in note for note in posted):
            continue
        context.kashflow().post_invoice_payment(
            date=draft.date, account_id=bank_account_id(draft),
            method=payment_method_id(draft), comment=draft.comment,
            items=[(number, draft.amount)],
        )
    return done


def _posted_notes(number: int) -> list[str]:
    invoice = context.kashflow().get_invoice(number)
    return [str(line.get("Note") or "") for line in invoice.get("PaymentLines") or []]


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
