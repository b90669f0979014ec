"""What the job page shows side by side: the Magento order (lines, VAT, totals, payment) and
the KashFlow documents kfsync posted for it (the invoice as KashFlow answered, the payments),
plus links to both products' own web pages. Pure functions of the job's stored data: the page
never calls Magento or KashFlow."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from core.settings import Settings

PLAN_LABELS = {"action": "decision", "pay": "post a payment", "pay_reason": "why (payment)",
               "profile_version": "mapping profile version", "replaces": "replaces order",
               "why": "why (invoice)", "reopened": "re-opened because",
               "replaced_by": "replaced by edited order"}
# Plan keys with a card of their own: the KashFlow side, policies, checks, how each line
# was mapped (``_line_mapping.html``) and the order's ledger (``_ledger.html``).
SHOWN_ELSEWHERE = {"kashflow_invoice", "kashflow_payments", "notes", "findings", "line_mapping",
                   "created_products", "ledger", "summary"}


@dataclass(frozen=True)
class Link:
    url: str
    label: str


@dataclass
class Side:
    """One column: lines (dicts), totals (label, amount), payments (dicts)."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    totals: list[tuple[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    currency: str = ""


def magento_admin_link(settings: Settings, entity_id: str, ref: str | None) -> Link:
    """The order's page in the Magento admin (``KFSYNC_MAGENTO_ADMIN_URL``, default the shop
    root of ``KFSYNC_MAGENTO_BASE_URL`` + ``/admin``)."""
    admin = settings.magento_admin_url
    if not admin:
        base = settings.magento_base_url
        shop = base[: base.find("/rest")] if "/rest" in base else base
        admin = f"{shop}/admin"
    return Link(f"{admin.rstrip('/')}/sales/order/view/order_id/{entity_id}/",
                f"Magento admin: order {ref or entity_id}")


def kashflow_invoice_link(settings: Settings, number: int | None) -> Link | None:
    """The invoice's page in KashFlow's web app: ``KFSYNC_KASHFLOW_INVOICE_URL`` with
    ``{number}``; unset, the sandbox's own page, or KashFlow's web app for the real API."""
    if number is None:
        return None
    if settings.kashflow_invoice_url:
        return Link(settings.kashflow_invoice_url.replace("{number}", str(number)),
                    f"KashFlow: invoice {number}")
    base = settings.kashflow_base_url
    if (urlsplit(base).hostname or "").endswith("kashflow.com"):
        return Link("https://app.kashflow.com/", f"KashFlow web app (invoice {number})")
    root = base[: -len("/v2")] if base.endswith("/v2") else base
    return Link(f"{root}/invoices/{number}", f"KashFlow: invoice {number}")


def magento_side(document: dict[str, Any] | None) -> Side:
    """The order's lines (parents only: a configurable's child carries no money), totals
    and payment, as Magento holds them."""
    if not document:
        return Side()
    lines = [{"sku": i.get("sku"), "name": i.get("name"), "qty": i.get("qty_ordered"),
              "price": i.get("price"), "vat": i.get("tax_percent"),
              "vat_amount": i.get("tax_amount"), "discount": i.get("discount_amount"),
              "net": i.get("row_total")}
             for i in document.get("items") or [] if not i.get("parent_item_id")]
    totals = [("subtotal", document.get("subtotal")),
              ("shipping", document.get("shipping_amount")),
              ("discount", document.get("discount_amount")),
              ("VAT", document.get("tax_amount")), ("grand total", document.get("grand_total"))]
    payment = document.get("payment") or {}
    payments = [{"method": payment.get("method"), "amount": payment.get("amount_paid"),
                 "reference": payment.get("last_trans_id")}] if payment else []
    return Side(lines, [(k, v) for k, v in totals if v not in (None, 0, "0")], payments,
                str(document.get("order_currency_code") or ""))


def kashflow_side(plan: dict[str, Any] | None) -> Side | None:
    """The invoice and payments kfsync posted (stored on the plan when KashFlow answered);
    None when nothing was posted yet."""
    invoice = (plan or {}).get("kashflow_invoice")
    if not invoice:
        return None
    lines = [{"description": x.get("Description"), "qty": x.get("Quantity"),
              "rate": x.get("Rate"), "vat": x.get("VATLevel"), "vat_amount": x.get("VATAmount"),
              "nominal": x.get("NominalCode"), "product": x.get("ProductCode")}
             for x in invoice.get("LineItems") or []]
    totals = [("net", invoice.get("NetAmount")), ("VAT", invoice.get("VATAmount")),
              ("gross", invoice.get("GrossAmount"))]
    return Side(lines, totals, list((plan or {}).get("kashflow_payments") or []),
                str(invoice.get("Currency") or ""))


def totals_agree(magento: Side, kashflow: Side | None) -> bool | None:
    """Whether KashFlow's gross equals Magento's grand total (None: nothing to compare)."""
    if kashflow is None:
        return None
    grand = dict(magento.totals).get("grand total")
    gross = dict(kashflow.totals).get("gross")
    try:
        return Decimal(str(grand)) == Decimal(str(gross))
    except (InvalidOperation, ValueError):
        return None


def plan_rows(plan: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The plan as readable rows (what kfsync decided and why), not a JSON dump."""
    rows: list[tuple[str, str]] = []
    for key, value in (plan or {}).items():
        if key in SHOWN_ELSEWHERE or value in (None, "", [], {}):
            continue
        text = ("yes" if value else "no") if isinstance(value, bool) else (
            ", ".join(map(str, value)) if isinstance(value, list) else str(value))
        rows.append((PLAN_LABELS.get(key, key.replace("_", " ")), text))
    return rows
