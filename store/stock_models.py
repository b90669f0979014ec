"""Stock sync state (``workers.stock``): one baseline per SKU, the invoice ledger, run summaries.

``stock_baselines`` is what kfsync knew after the last sync of a SKU (``mappings.stock.Baseline``
plus what it last wrote to each side). ``stock_invoiced`` is the invoice ledger: per order job,
the stock-managed quantities kfsync's invoice posted to KashFlow (a job with none gets one row
with an empty SKU, so it is read once). ``stock_runs`` keeps each pass's counts and the SKUs
that needed a write or a human.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, utcnow

QTY = Numeric(18, 4)  # KashFlow keeps 4 decimals on QuantityInStock; Magento may be decimal


class StockBaseline(Base):
    __tablename__ = "stock_baselines"

    # Each pair's KashFlow company and shop have their own stock (core.pairs).
    pair: Mapped[str] = mapped_column(String(32), primary_key=True, default="default",
                                      server_default="default")
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    agreed_qty: Mapped[Decimal] = mapped_column(QTY)
    kashflow_qty: Mapped[Decimal] = mapped_column(QTY)
    magento_qty: Mapped[Decimal] = mapped_column(QTY)
    invoiced_qty: Mapped[Decimal] = mapped_column(QTY)
    last_written_kashflow: Mapped[Decimal | None] = mapped_column(QTY)
    last_written_magento: Mapped[Decimal | None] = mapped_column(QTY)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StockInvoiced(Base):
    __tablename__ = "stock_invoiced"
    __table_args__ = (Index("ix_stock_invoiced_sku", "sku"),)

    job_id: Mapped[int] = mapped_column(ForeignKey("sync_jobs.id", ondelete="CASCADE"),
                                        primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" = no stock lines
    qty: Mapped[Decimal] = mapped_column(QTY)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StockRun(Base):
    __tablename__ = "stock_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair: Mapped[str] = mapped_column(String(32), default="default", server_default="default")
    trigger: Mapped[str] = mapped_column(String(32))  # beat, cli, webhook
    sku: Mapped[str | None] = mapped_column(String(64))  # one SKU, or None: all
    dry_run: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    changed: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    conflicts: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)
    kashflow_calls: Mapped[int] = mapped_column(default=0)
    magento_calls: Mapped[int] = mapped_column(default=0)
    # SKUs written, skipped, in conflict or in error (in-step SKUs are only counted).
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
