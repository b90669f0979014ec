"""The invoice step of an order (``workers.orders``): ``create_invoice``.

The invoice ``Number`` is deterministic (from ``increment_id``), so a second create is answered
``DuplicateInvoiceNumber`` and the existing invoice is adopted when its ``CustomerReference``
is this order's. Before posting, the data-quality checks of the profile in force run
(``mappings.checks``; a ``review`` or ``block`` finding holds the order, ``warn`` is
noted), and the job records the profile version that built the invoice. After KashFlow
answers, the penny guard compares its ``GrossAmount`` with Magento's ``grand_total``: a
difference stops the job for review and no payment is posted. Each SKU maps by the table,
else by KashFlow product code (``mappings.skus``); one matching nothing first makes
``workers.products.prepare`` re-read the catalogue and, under ``create_missing_products``,
create the product. ``plan.line_mapping`` records how each line was mapped (the job page).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from mappings.checks import run_checks
from mappings.ledger import CANCELLATION, entry, ledger_gap, posted_of
from mappings.magento import Order
from mappings.orders import InvoiceDraft, build_invoice_draft
from mappings.rules import Rules
from services.catalogue import dup_key, hold_for, recent_like_on, record_seen_on
from store.jobs import JobView, StepResult
from store.models import Step, utcnow
from workers import context, products
from workers.numbered import PAID_BEFORE, carries_payments, post_once
from workers.runner import find_link, parsed_order, step_read


def create_invoice(job: JobView) -> StepResult:
    """The order's KashFlow invoice, checked against Magento's totals (the penny guard).

    Returns the job's next step: ``post_payment`` when the order is to be paid, else done; or
    ``create_invoice`` again held for review (a check, or totals that differ).

    Raises:
        connectors.errors.ConnectorError: KashFlow or Magento failed (classified).
        mappings.errors.MappingError: the order cannot be mapped as it stands.
    """
    order = parsed_order(job.document)
    assert job.customer_code, "ensure_customer runs first"
    version, rules = context.profile()
    rules = rules.for_store(order.store_id)  # an integration pair's per-store rules
    # A SKU matching nothing: re-read the catalogue, create the product if so configured.
    prepared = products.prepare(order, rules)
    rules = prepared.rules
    url = context.db_url()
    with step_read(url) as bind:
        like = recent_like_on(bind, order, job.id)
    # What the order used (for the mapping studio), counted with the step's outcome.
    seen: list[Callable[[Connection], None]] = [lambda conn: record_seen_on(conn, order)]
    findings = run_checks(order, rules, like)
    plan = {**job.plan, "profile_version": version,
            "findings": [asdict(f) for f in findings]}
    if prepared.created:
        plan["created_products"] = sorted(set(plan.get("created_products", []))
                                          | set(prepared.created))
    held = hold_for(findings, job.plan.get("acknowledged_checks") or [])
    if held is not None:
        plan["held_checks"] = [f.check for f in findings if f.severity in ("review", "block")]
        return StepResult(next_step=Step.CREATE_INVOICE, review=held,
                          updates={"plan": plan, "profile_version": version}, writes=seen)
    # An edit whose original is invoiced already (and credited in full): its own number.
    own = order.edit is not None and find_link(
        url, "invoice", f"order:{order.edit.parent_entity_id}") is not None
    draft = build_invoice_draft(order, rules, job.customer_code, own_number=own)
    plan["notes"] = draft.notes + ([str(job.plan["pay_reason"])]
                                   if "not mapped" in str(job.plan.get("pay_reason")) else [])
    plan["line_mapping"] = draft.line_mapping
    body = draft.body
    number = int(body["Number"])
    invoice = post_once(context.kashflow().create_invoice, body, job.magento_ref,
                        recheck=job.recheck)
    result = StepResult(next_step=_posted(job, order, rules, plan, invoice),
                        updates={"invoice_number": number, "profile_version": version,
                                 "plan": plan, "dup_key": dup_key(order)},
                        links=[("invoice", f"order:{job.magento_key}", str(number))],
                        writes=seen)
    return _penny_guard(result, invoice, draft, order.grand_total)


def _posted(job: JobView, order: Order, rules: Rules, plan: dict[str, Any],
            invoice: dict[str, Any]) -> Step:
    """Record the invoice on ``plan`` (the job page, the order's ledger); the next step:
    the payments, else the cancellation note an order already replaced by an edit needs."""
    if carries_payments(invoice):  # adopted with payments on it: the payment step looks
        plan[PAID_BEFORE] = True
    plan["kashflow_invoice"] = posted_invoice(invoice)  # the job page shows it by the order
    plan["ledger"] = [entry("invoice", str(job.magento_ref), int(invoice["Number"]),
                            Decimal(str(invoice["GrossAmount"])),
                            utcnow().isoformat(timespec="seconds"),
                            str(job.plan.get("why") or "order invoiced"))]
    if job.plan.get("pay"):
        return Step.POST_PAYMENT
    gap = ledger_gap(order, rules, posted_of(plan))
    return Step.CREDIT_CANCELLATION if gap and gap[0] == CANCELLATION else Step.DONE


def _penny_guard(result: StepResult, invoice: dict[str, Any], draft: InvoiceDraft,
                 grand_total: Decimal) -> StepResult:
    """``result``, held for review when KashFlow's gross is not Magento's to the penny (or
    rows were left out): no payment is posted then."""
    number = int(draft.body["Number"])
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
                         f"grand_total is {grand_total} (expected gross {wanted}); "
                         "payment not posted")
    return result


INVOICE_KEYS = ("Number", "CustomerCode", "CustomerReference", "IssuedDate", "NetAmount",
                "VATAmount", "GrossAmount")
LINE_KEYS = ("Description", "Quantity", "Rate", "VATLevel", "VATAmount", "NominalCode",
             "ProductCode")


def posted_invoice(invoice: dict[str, Any]) -> dict[str, Any]:
    """The invoice as KashFlow answered it (lines, VAT, totals), kept on the job's plan so an
    accountant sees what kfsync posted next to the Magento order without a KashFlow login."""
    currency = invoice.get("Currency") or {}
    return {**{k: invoice.get(k) for k in INVOICE_KEYS},
            "Currency": currency.get("Code") if isinstance(currency, dict) else currency,
            "LineItems": [{k: line.get(k) for k in LINE_KEYS}
                          for line in invoice.get("LineItems") or []]}
