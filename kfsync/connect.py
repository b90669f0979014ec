"""``kfsync connect``: test a shop's Magento and KashFlow credentials the way the workers will
use them, say in plain words what works and what is still missing, and keep what works in
``.env``.

Magento: one order is read (the newest), which proves the address, the token and the ACL for
orders. KashFlow: a login, then the bank accounts (payments go to the default one), the VAT
rates and the products (SKUs match product codes). What is left (no webhook source yet, SKUs
with no KashFlow product) is reported, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.settings import Settings


@dataclass
class Report:
    ok: list[str] = field(default_factory=list)       # what works
    missing: list[str] = field(default_factory=list)  # what to do next (not fatal)
    failed: list[str] = field(default_factory=list)   # a connection that did not work
    skus: list[str] = field(default_factory=list)     # SKUs of the order read


def check_magento(settings: Settings, report: Report) -> bool:
    """Read the newest order; True when Magento answered."""
    from connectors.errors import ConnectorError
    from services.clients import magento_client

    try:
        found = magento_client(settings).search_orders(
            [], page_size=1, sort=[("entity_id", "DESC")])
    except ConnectorError as exc:
        report.failed.append(f"Magento at {settings.magento_base_url}: {exc}")
        return False
    items, total = found.get("items") or [], found.get("total_count", 0)
    if not items:
        report.ok.append(f"Magento: connected to {settings.magento_base_url}; it has no "
                         "orders yet")
        return True
    order = items[0]
    report.skus = sorted({str(i.get("sku")) for i in order.get("items") or [] if i.get("sku")})
    report.ok.append(f"Magento: connected; read order {order.get('increment_id')} "
                     f"({order.get('state')}, {order.get('grand_total')} "
                     f"{order.get('order_currency_code')}) of {total}")
    return True


def check_kashflow(settings: Settings, report: Report) -> bool:
    """Log in and list bank accounts, VAT rates and products; True when KashFlow answered."""
    from connectors.errors import ConnectorError
    from services.clients import kashflow_client

    client = kashflow_client(settings)
    try:
        accounts = client.bank_accounts()
        rates = client.vat_rates()
        products = client.list_products()
    except ConnectorError as exc:
        report.failed.append(f"KashFlow at {settings.kashflow_base_url}: {exc}")
        return False
    default = [a for a in accounts if a.get("IsDefaultAccount")]
    levels = sorted({_number(r.get("VATRate")) for r in rates})
    report.ok.append(f"KashFlow: logged in as {settings.kashflow_username}; "
                     f"{len(accounts)} bank account(s)"
                     + (f", payments go to {default[0].get('AccountName')!r}" if default else "")
                     + f"; VAT rates {', '.join(f'{x:g}%' for x in levels)}; "
                     f"{len(products)} product(s)")
    if not default:
        report.missing.append("KashFlow has no default bank account: name one in the mapping "
                              "(payments.account_id), or payments cannot be posted")
    _match_skus(report, products)
    return True


def _match_skus(report: Report, products: list[dict[str, Any]]) -> None:
    codes = {str(p.get("Code") or "").strip().lower() for p in products}
    unmatched = [s for s in report.skus if s.strip().lower() not in codes]
    if unmatched:
        report.missing.append(
            f"SKUs with no KashFlow product of the same code: {', '.join(unmatched)}; they post "
            "on nominal 4000 until mapped (dashboard: Mapping)")
    elif report.skus:
        report.ok.append(f"SKUs of that order all match KashFlow products: "
                         f"{', '.join(report.skus)}")


def check_webhooks(settings: Settings, report: Report) -> None:
    """Whether any webhook has reached this kfsync yet (its database), else what to set up."""
    from sqlalchemy import func, select

    from store.db import session_scope
    from store.models import InboundEvent

    try:
        with session_scope(settings.database_url) as s:
            received = int(s.scalar(select(func.count()).select_from(InboundEvent)
                                    .where(InboundEvent.source != "replay")) or 0)
    except Exception:
        received = 0
    if received:
        report.ok.append(f"webhooks: {received} received so far")
        return
    report.missing.append(
        "no webhook source yet: send POST /webhooks/magento from the shop (kfsync's Magento "
        "module, Adobe I/O Events or Mage-OS Async Events) signed with KFSYNC_WEBHOOK_SECRETS "
        "from .env; until then beat's catch-up poll finds new orders every 5 minutes")


def _number(value: Any) -> float:
    try:
        return float(str(value))
    except ValueError:
        return 0.0
