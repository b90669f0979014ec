"""Summary mode's tables (``docs/accounting-modes.md``).

``summaries``: one row per (pair, kind, store, currency, day), ``kind`` ``invoice`` (its
orders) or ``credit`` (its credit memos). ``state`` moves ``open`` -> ``closing`` ->
``posted``: an open summary takes documents; the closer claims it (``closing``, under a
lease) and posts it; ``post_attempts`` counts posts begun (committed before each KashFlow
write), so a retry after a lost answer looks its document up by its deterministic number
first. ``summary_entries``: one row per order or credit memo, unique per pair and document,
so a document is in exactly one summary: its part (lines and payments, ``mappings.summary``)
is what every summary line traces back to. A summarised order's later capture (key: the order
and Magento's captured total; payments only, ``part["home"]`` the summary holding the order)
and its cancellation (key: the order, on a credit summary) are entries too
(``mappings.summary_life``).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, utcnow
from store.reconcile_models import MONEY


class SummaryState(enum.StrEnum):
    OPEN = "open"
    CLOSING = "closing"
    POSTED = "posted"


class Summary(Base):
    __tablename__ = "summaries"
    __table_args__ = (UniqueConstraint("pair", "kind", "store", "currency", "day",
                                       name="uq_summary_period"),
                      Index("ix_summary_state_day", "state", "day"))

    id: Mapped[int] = mapped_column(primary_key=True)
    pair: Mapped[str] = mapped_column(String(32), default="default")
    kind: Mapped[str] = mapped_column(String(16))        # invoice, credit
    store: Mapped[str] = mapped_column(String(16))       # Magento store id
    currency: Mapped[str] = mapped_column(String(3))
    day: Mapped[date] = mapped_column(Date)              # UTC day of its documents
    state: Mapped[str] = mapped_column(String(16), default=SummaryState.OPEN)
    documents: Mapped[int] = mapped_column(default=0)
    number: Mapped[int | None]                           # the KashFlow invoice / note number
    customer_code: Mapped[str | None] = mapped_column(String(64))
    net: Mapped[Decimal | None] = mapped_column(MONEY)
    vat: Mapped[Decimal | None] = mapped_column(MONEY)
    gross: Mapped[Decimal | None] = mapped_column(MONEY)
    lines: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)     # as posted
    payments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # as posted
    post_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    lease_task: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    posted_at: Mapped[datetime | None]


class SummaryEntry(Base):
    __tablename__ = "summary_entries"
    __table_args__ = (UniqueConstraint("pair", "doc_kind", "magento_key",
                                       name="uq_summary_entry_doc"),
                      Index("ix_summary_entry_summary", "summary_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    summary_id: Mapped[int] = mapped_column(ForeignKey("summaries.id"))
    pair: Mapped[str] = mapped_column(String(32), default="default")
    doc_kind: Mapped[str] = mapped_column(String(16))    # order, creditmemo, capture, cancel
    magento_key: Mapped[str] = mapped_column(String(64))
    magento_ref: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("sync_jobs.id", ondelete="SET NULL"))
    doc_day: Mapped[date] = mapped_column(Date)          # the document's own day
    late: Mapped[bool] = mapped_column(default=False)    # its day was closed: booked later
    net: Mapped[Decimal] = mapped_column(MONEY)
    vat: Mapped[Decimal] = mapped_column(MONEY)
    gross: Mapped[Decimal] = mapped_column(MONEY)
    part: Mapped[dict[str, Any]] = mapped_column(JSON)   # mappings.summary.Part.to_json
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
