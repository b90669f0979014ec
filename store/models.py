"""The state store's tables.

``inbound_events`` is the webhook outbox (unique per source and event id); ``sync_jobs`` holds
one row per Magento document with its state machine; ``attempts`` logs every step try;
``entity_links`` maps Magento keys to KashFlow keys; ``dead_letters`` keeps what exhausted its
retries until an operator requeues or discards it.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class JobState(enum.StrEnum):
    QUEUED = "queued"          # accepted, chain enqueued or about to be
    RUNNING = "running"        # a step is executing
    RETRYING = "retrying"      # a transient failure; a retry is scheduled
    DONE = "done"              # every step finished
    WAITING = "waiting"        # not invoiceable yet (pending payment...): a later event returns it
    SKIPPED = "skipped"        # nothing to post (canceled before invoice...), reason recorded
    NEEDS_REVIEW = "needs_review"  # a business rule or rejection stopped it: a human decides
    DEAD = "dead"              # retries exhausted: see dead_letters
    DISCARDED = "discarded"    # an operator decided it needs no sync (audited, with a reason)


class Step(enum.StrEnum):
    ENSURE_CUSTOMER = "ensure_customer"
    CREATE_INVOICE = "create_invoice"
    POST_PAYMENT = "post_payment"
    CREDIT_CANCELLATION = "credit_cancellation"
    ADD_TO_SUMMARY = "add_to_summary"  # summary mode (workers.summary)
    SYNC_CUSTOMER = "sync_customer"
    CREATE_CREDIT_NOTE = "create_credit_note"
    POST_REFUND = "post_refund"
    DONE = "done"


ORDER_STEPS = (Step.ENSURE_CUSTOMER, Step.CREATE_INVOICE, Step.POST_PAYMENT,
               Step.CREDIT_CANCELLATION, Step.ADD_TO_SUMMARY)
CUSTOMER_STEPS = (Step.SYNC_CUSTOMER,)
# The refund payment (a job's ``plan["pay"]``) only for online refunds.
CREDITMEMO_STEPS = (Step.CREATE_CREDIT_NOTE, Step.POST_REFUND)


class InboundEvent(Base):
    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("source", "event_id", name="uq_inbound_source_event"),
                      Index("ix_inbound_unenqueued", "enqueued_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    pair: Mapped[str] = mapped_column(String(32), default="default", server_default="default")
    event_id: Mapped[str] = mapped_column(String(128))
    topic: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_key: Mapped[str] = mapped_column(String(128))  # entity_id, or sku for products
    increment_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    enqueued_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(255))


class SyncJob(Base):
    __tablename__ = "sync_jobs"
    # Unique per integration pair (core.pairs): two shops have overlapping entity ids.
    __table_args__ = (UniqueConstraint("pair", "kind", "magento_key", name="uq_job_pair_kind_key"),
                      Index("ix_job_state", "state"), Index("ix_job_dup_key", "dup_key"))

    id: Mapped[int] = mapped_column(primary_key=True)
    pair: Mapped[str] = mapped_column(String(32), default="default", server_default="default")
    kind: Mapped[str] = mapped_column(String(32))              # order, customer, creditmemo
    magento_key: Mapped[str] = mapped_column(String(64))       # entity_id
    magento_ref: Mapped[str | None] = mapped_column(String(64))  # increment_id
    state: Mapped[str] = mapped_column(String(32), default=JobState.QUEUED)
    step: Mapped[str] = mapped_column(String(32), default=Step.ENSURE_CUSTOMER)
    reason: Mapped[str | None] = mapped_column(Text)
    document: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the Magento order as fetched
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)      # decisions: pay or not, why
    customer_code: Mapped[str | None] = mapped_column(String(64))
    invoice_number: Mapped[int | None] = mapped_column(Integer)
    payment_ref: Mapped[str | None] = mapped_column(String(128))
    profile_version: Mapped[int | None] = mapped_column(Integer)  # the mapping that built it
    # email + total + SKUs of an invoiced order: near-duplicates share it (mappings.checks)
    dup_key: Mapped[str | None] = mapped_column(String(64))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_events.id"))
    # A step is claimed by one task at a time; an expired lease means its worker died.
    lease_task: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    # Parked: a wait too long for the broker (circuit open, long Retry-After); beat re-enqueues.
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    attempts: Mapped[list[Attempt]] = relationship(
        back_populates="job", order_by="Attempt.id", cascade="all, delete-orphan"
    )


class Attempt(Base):
    """One try of one step. ``outcome`` is ``started`` until the call returns, so a worker killed
    mid-call leaves a ``started`` row: the next try treats the write as ambiguous."""

    __tablename__ = "attempts"
    __table_args__ = (Index("ix_attempt_job_step", "job_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("sync_jobs.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(32))
    # started, ok, transient, ambiguous, auth, rejected, not_found, error
    outcome: Mapped[str] = mapped_column(String(32))
    http_status: Mapped[int | None]
    duration_ms: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    job: Mapped[SyncJob] = relationship(back_populates="attempts")


class EntityLink(Base):
    """Magento key <-> KashFlow key. ``magento_key`` is namespaced: ``customer:45``,
    ``email:ann@example.com``, ``order:123``."""

    __tablename__ = "entity_links"
    __table_args__ = (UniqueConstraint("pair", "kind", "magento_key",
                                       name="uq_link_pair_kind_magento"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pair: Mapped[str] = mapped_column(String(32), default="default", server_default="default")
    kind: Mapped[str] = mapped_column(String(32))  # customer, invoice, payment
    magento_key: Mapped[str] = mapped_column(String(255))
    kashflow_key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeadLetter(Base):
    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_open", "resolved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("sync_jobs.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_events.id"))
    step: Mapped[str] = mapped_column(String(32))  # a job step, or "process_event"
    error_class: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    payload_ref: Mapped[str] = mapped_column(String(128))  # e.g. "sync_jobs/17", "inbound_events/4"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(32))  # requeued, discarded
    resolution_note: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Who did what to which record, and why (requeue, discard...)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))   # "cli:root", "api", "dashboard"
    action: Mapped[str] = mapped_column(String(32))   # requeue, discard
    target: Mapped[str] = mapped_column(String(128))  # "dead_letters/4", "sync_jobs/9"
    note: Mapped[str | None] = mapped_column(Text)


class Cursor(Base):
    """A named position that survives restarts: the catch-up poll's, a backfill's."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
