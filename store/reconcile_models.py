"""Payment reconciliation items (``workers.reconcile``): one row per difference found between
Magento's captured transactions and KashFlow's payment lines, kept until an operator matches,
posts or dismisses it (each action audited in ``audit_log``); and imported gateway payouts
(``services.settlements``).

``fingerprint`` (``<reason>:<order entity_id>:<txn_id>``) makes a re-run of the same day find
the same item instead of adding another. A payout is keyed by ``(format, payout_ref)``, so
importing the same export twice finds the first import.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, utcnow

MONEY = Numeric(18, 2)


class ItemReason(enum.StrEnum):
    MISSING_PAYMENT = "missing_payment"          # captured in Magento, not paid in KashFlow
    AMOUNT_DIFFERS = "amount_differs"            # paid, but not the captured amount
    PAYMENT_WITHOUT_INVOICE = "payment_without_invoice"  # captured; the order has no invoice
    UNKNOWN_TRANSACTION = "unknown_transaction"  # a KashFlow payment no capture explains


class ItemStatus(enum.StrEnum):
    OPEN = "open"
    MATCHED = "matched"      # an operator confirmed it balances (e.g. paid another way)
    POSTING = "posting"      # an operator asked for the post; the payments worker does it
    POSTED = "posted"        # kfsync posted the missing payment on the operator's word
    DISMISSED = "dismissed"  # an operator closed it with a reason
    CLEARED = "cleared"      # a later run found the difference gone


class ReconciliationItem(Base):
    __tablename__ = "reconciliation_items"
    __table_args__ = (Index("ix_recon_status_day", "status", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(255), unique=True)
    # The pair whose shop and company were compared; another pair's fingerprint ends in
    # ``@<pair>`` (core.pairs.scoped_key), so two shops' same order id never collide.
    pair: Mapped[str] = mapped_column(String(32), default="default", server_default="default")
    day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=ItemStatus.OPEN)
    order_key: Mapped[str] = mapped_column(String(64))            # Magento order entity_id
    order_ref: Mapped[str | None] = mapped_column(String(64))     # increment_id
    payment_method: Mapped[str | None] = mapped_column(String(64))
    txn_id: Mapped[str | None] = mapped_column(String(128))
    invoice_number: Mapped[int | None]
    magento_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    kashflow_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    # Posts of the missing payment begun (committed before each KashFlow call): above 0, an
    # earlier attempt may have reached KashFlow, so the next one looks the payment up first.
    post_attempts: Mapped[int] = mapped_column(default=0, server_default="0")


class SettlementPayout(Base):
    """One imported gateway payout (a settlement export): its totals, and each row with what
    it matched (``rows``: plain data, amounts as strings)."""

    __tablename__ = "settlement_payouts"
    __table_args__ = (UniqueConstraint("format", "payout_ref", name="uq_payout_format_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    format: Mapped[str] = mapped_column(String(16))             # stripe, paypal, braintree, csv
    payout_ref: Mapped[str] = mapped_column(String(128))        # the payout row's id, or digest
    source: Mapped[str | None] = mapped_column(String(255))     # the file name
    gateway_method: Mapped[str] = mapped_column(String(64))     # Magento method (clearing rule)
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    row_count: Mapped[int]
    matched: Mapped[int]
    unmatched: Mapped[int]
    matched_gross: Mapped[Decimal] = mapped_column(MONEY)       # into the clearing account
    unmatched_gross: Mapped[Decimal] = mapped_column(MONEY)     # nothing kfsync posted
    fees: Mapped[Decimal] = mapped_column(MONEY)                # the gateway's cost
    payout_amount: Mapped[Decimal] = mapped_column(MONEY)       # what reached the bank
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(128))
