"""The stock sync's state in the store: the invoice ledger, baselines and run summaries.

The invoice ledger answers "how much stock have kfsync's own invoices taken out of KashFlow
for this SKU, ever": each order job whose invoice exists (``invoice_number`` set, written only
after KashFlow answered) is read once, its invoice body rebuilt by the same pure mapping that
posted it, and its stock-managed lines stored per SKU. ``mappings.stock`` compares the total
with the one stored in the baseline, so history before the first sync never matters.
Everything here is the current integration pair's (``core.pairs``): its orders' invoices,
its baselines and its runs (each pair's shop and KashFlow company have their own stock).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core import pairs
from mappings.errors import MappingError
from mappings.magento import parse_order
from mappings.orders import build_invoice_draft
from mappings.rules import Rules
from mappings.stock import Baseline, SkuPlan, invoiced_by_sku
from store.db import session_scope
from store.models import SyncJob, utcnow
from store.stock_models import StockBaseline, StockInvoiced, StockRun

log = logging.getLogger(__name__)

LEDGER_BATCH = 500


def invoiced_totals(url: str, rules: Rules, sku_of_product: Mapping[tuple[int, str], str],
                    *, record: bool) -> dict[str, Decimal]:
    """Ledger total per SKU, including invoices not yet in the ledger.

    ``record``: store the new ledger rows (only under the sync lock); otherwise they are
    counted without being stored (``status`` and dry runs change nothing).
    """
    totals: dict[str, Decimal] = {}
    pair = pairs.current()
    with session_scope(url) as s:
        for sku, qty in s.execute(select(StockInvoiced.sku, func.sum(StockInvoiced.qty))
                                  .join(SyncJob, SyncJob.id == StockInvoiced.job_id)
                                  .where(SyncJob.pair == pair)
                                  .group_by(StockInvoiced.sku)):
            totals[sku] = Decimal(qty)
        counted = select(StockInvoiced.job_id)
        jobs = list(s.execute(select(SyncJob.id, SyncJob.document, SyncJob.customer_code)
                              .where(SyncJob.kind == "order", SyncJob.pair == pair,
                                     SyncJob.invoice_number.is_not(None),
                                     SyncJob.id.not_in(counted))
                              .order_by(SyncJob.id)))
    rows: list[StockInvoiced] = []
    for job_id, document, customer_code in jobs:
        lines = _stock_lines(job_id, document, customer_code, rules, sku_of_product)
        for sku, qty in lines.items():
            totals[sku] = totals.get(sku, Decimal(0)) + qty
        rows += [StockInvoiced(job_id=job_id, sku=sku, qty=qty) for sku, qty in lines.items()]
        rows += [] if lines else [StockInvoiced(job_id=job_id, sku="", qty=Decimal(0))]
    if record:
        for start in range(0, len(rows), LEDGER_BATCH):
            _store_rows(url, rows[start:start + LEDGER_BATCH])
    totals.pop("", None)
    return totals


def _stock_lines(job_id: int, document: Any, customer_code: str | None, rules: Rules,
                 sku_of_product: Mapping[tuple[int, str], str]) -> dict[str, Decimal]:
    try:
        draft = build_invoice_draft(parse_order(document), rules, customer_code or "")
    except (MappingError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
        log.warning("stock ledger: order job %s cannot be re-mapped (%s); its invoice is "
                    "not counted", job_id, exc)
        return {}
    return invoiced_by_sku(draft.body.get("LineItems") or (), sku_of_product)


def _store_rows(url: str, rows: list[StockInvoiced]) -> None:
    try:
        with session_scope(url) as s:
            s.add_all(rows)
    except IntegrityError:  # another pass stored some of them first: store the rest one by one
        for row in rows:
            try:
                with session_scope(url) as s:
                    s.add(StockInvoiced(job_id=row.job_id, sku=row.sku, qty=row.qty))
            except IntegrityError:
                continue


def load_baselines(url: str, skus: Iterable[str] | None) -> dict[str, Baseline]:
    query = select(StockBaseline).where(StockBaseline.pair == pairs.current())
    if skus is not None:
        query = query.where(StockBaseline.sku.in_(list(skus)))
    with session_scope(url) as s:
        return {b.sku: Baseline(b.agreed_qty, b.kashflow_qty, b.magento_qty, b.invoiced_qty)
                for b in s.scalars(query)}


def save_baselines(url: str, after: Mapping[str, tuple[Baseline, SkuPlan]]) -> None:
    """Upsert the baselines of the SKUs synced this pass (with what kfsync wrote)."""
    if not after:
        return
    with session_scope(url) as s:
        existing = {b.sku: b for b in s.scalars(
            select(StockBaseline).where(StockBaseline.pair == pairs.current(),
                                        StockBaseline.sku.in_(list(after))))}
        for sku, (base, plan) in after.items():
            row = existing.get(sku) or StockBaseline(pair=pairs.current(), sku=sku)
            row.agreed_qty, row.kashflow_qty = base.agreed, base.kashflow
            row.magento_qty, row.invoiced_qty = base.magento, base.invoiced
            if plan.write_kashflow is not None and base.kashflow == plan.write_kashflow:
                row.last_written_kashflow = plan.write_kashflow
            if plan.write_magento is not None and base.magento == plan.write_magento:
                row.last_written_magento = plan.write_magento
            row.updated_at = utcnow()
            s.add(row)


def start_run(url: str, trigger: str, sku: str | None, dry_run: bool) -> int:
    with session_scope(url) as s:
        run = StockRun(pair=pairs.current(), trigger=trigger, sku=sku, dry_run=dry_run,
                       details={})
        s.add(run)
        s.flush()
        return run.id


def finish_run(url: str, run_id: int, counts: Mapping[str, int],
               details: dict[str, Any]) -> None:
    with session_scope(url) as s:
        run = s.get(StockRun, run_id)
        assert run is not None
        for name, value in counts.items():
            setattr(run, name, value)
        run.details, run.finished_at = details, utcnow()


def last_runs(url: str, limit: int = 5) -> list[StockRun]:
    with session_scope(url) as s:
        return list(s.scalars(select(StockRun).where(StockRun.pair == pairs.current())
                              .order_by(StockRun.id.desc()).limit(limit)))
