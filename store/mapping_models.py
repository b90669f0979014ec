"""The mapping studio's tables: profile versions, the draft, suggestions, aliases, catalogue.

``mapping_versions`` rows are immutable: publishing or rolling back adds a row, and the
active profile is the newest row. The draft is the one editable copy (``mapping_draft``, one
row). ``mapping_suggestions`` is the inbox of assisted mappings, ``mapping_aliases`` what
accepted suggestions taught, ``catalogue_items`` the cached KashFlow (and Magento) reference
data the profile is validated against, and ``seen_values`` the SKUs, payment methods and VAT
rates the shop's orders actually used (for coverage and "unmapped in the last 90 days").
Edits, decisions, publishes, rollbacks and imports go to ``audit_log``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, utcnow


class MappingVersion(Base):
    __tablename__ = "mapping_versions"

    id: Mapped[int] = mapped_column(primary_key=True)  # the version number
    document: Mapped[dict[str, Any]]                   # the whole rules document
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))    # defaults, file, studio, import, rollback
    author: Mapped[str] = mapped_column(String(128))
    comment: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(Integer)  # the version it replaced
    rollback_of: Mapped[int | None] = mapped_column(Integer)
    changes: Mapped[dict[str, Any]]                    # {"changes": [...]} against parent
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MappingDraft(Base):
    __tablename__ = "mapping_draft"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)  # "default"
    document: Mapped[dict[str, Any]]
    base_version: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(32))    # studio, import
    updated_by: Mapped[str] = mapped_column(String(128))
    comment: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MappingSuggestion(Base):
    __tablename__ = "mapping_suggestions"
    __table_args__ = (UniqueConstraint("kind", "source_key", name="uq_suggestion_kind_key"),
                      Index("ix_suggestion_status", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))        # sku, payment, vat
    source_key: Mapped[str] = mapped_column(String(128))  # the SKU, method code, percent
    source_label: Mapped[str | None] = mapped_column(Text)  # Magento name or method title
    candidates: Mapped[dict[str, Any]]                   # {"top": [suggestion...]}
    status: Mapped[str] = mapped_column(String(16))      # open, accepted, rejected, applied
    chosen: Mapped[str | None] = mapped_column(String(128))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MappingAlias(Base):
    __tablename__ = "mapping_aliases"
    __table_args__ = (UniqueConstraint("kind", "alias", name="uq_alias_kind_alias"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    alias: Mapped[str] = mapped_column(String(255))      # a normalised SKU or name
    target: Mapped[str] = mapped_column(String(128))
    learned_from: Mapped[int | None] = mapped_column(Integer)  # the accepted suggestion
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogueItem(Base):
    """Reference data cached from KashFlow (``product``, ``vat_rate``, ``bank_account``,
    ``payment_method``) and Magento (``magento_product``). ``missing_since`` is set when a
    refresh no longer finds the item: rows of the profile pointing at it show as broken."""

    __tablename__ = "catalogue_items"

    # The KashFlow company's lists are its pair's (core.pairs); Magento's are the shop's.
    pair: Mapped[str] = mapped_column(String(32), primary_key=True, default="default",
                                      server_default="default")
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    key: Mapped[str] = mapped_column(String(160), primary_key=True)  # "4000/TSHIRT", an id
    name: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]]
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)
    missing_since: Mapped[datetime | None]


class SeenValue(Base):
    """A SKU, payment method or VAT rate seen on an order (kept up to date by the invoice step)."""

    __tablename__ = "seen_values"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # sku, payment, vat
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    label: Mapped[str | None] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_ref: Mapped[str | None] = mapped_column(String(64))  # the order's increment_id


# Everything the studio stores, in an order that deletes cleanly (tests reset with it).
STUDIO_TABLES = (MappingDraft, MappingVersion, MappingSuggestion, MappingAlias, CatalogueItem,
                 SeenValue)
