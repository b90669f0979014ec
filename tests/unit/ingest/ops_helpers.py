"""Shared fixtures for the ops surface tests: an app with an ops token and seeded records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask

from core.settings import Settings
from ingest import create_app
from store.db import session_scope
from store.models import Attempt, DeadLetter, JobState, Step, SyncJob, utcnow

OPS_TOKEN = "ops-token-5f1e9a77c3"
AUTH = {"Authorization": f"Bearer {OPS_TOKEN}"}
SECRETS = {
    "KFSYNC_OPS_TOKEN": OPS_TOKEN,
    "KFSYNC_WEBHOOK_SECRETS": "whsec-old-8c1d2e,whsec-new-4b7a9f",
    "KFSYNC_KASHFLOW_USERNAME": "shop-owner",
    "KFSYNC_KASHFLOW_PASSWORD": "kf-pass-Zq81xx",
    "KFSYNC_KASHFLOW_MEMORABLE_WORD": "marmalade-sky",
    "KFSYNC_MAGENTO_TOKEN": "mage-token-0a9b8c7d6e",
    "KFSYNC_FLOWER_BASIC_AUTH": "admin:flower-pw-77aa",
}


def make_settings(db_url: str, redis_url: str, **extra: str) -> Settings:
    return Settings.load({"KFSYNC_DATABASE_URL": db_url, "KFSYNC_REDIS_URL": redis_url,
                          **SECRETS, **extra}, env_file=None)


def make_app(db_url: str, redis_url: str, **extra: str) -> Flask:
    app = create_app(make_settings(db_url, redis_url, **extra))
    app.config["TESTING"] = True
    return app


def add_job(url: str, entity_id: int, state: str = JobState.DONE, step: str = Step.DONE,
            reason: str | None = None, invoice: int | None = None, age_h: float = 0,
            attempts: tuple[tuple[str, str], ...] = (), document: dict[str, Any] | None = None,
            pair: str = "default") -> int:
    when = utcnow() - timedelta(hours=age_h)
    with session_scope(url) as s:
        job = SyncJob(kind="order", magento_key=str(entity_id), magento_ref=f"{entity_id:09d}",
                      pair=pair,
                      state=state, step=step, reason=reason, invoice_number=invoice,
                      document=document or {"entity_id": entity_id,
                                            "customer_email": "ann.lee@example.com"},
                      plan={"pay": True}, created_at=when, updated_at=when)
        s.add(job)
        s.flush()
        for attempt_step, outcome in attempts:
            s.add(Attempt(job_id=job.id, step=attempt_step, outcome=outcome, duration_ms=12,
                          error=None if outcome == "ok" else "KashFlow answered 503",
                          created_at=when))
        return job.id


def add_letter(url: str, job_id: int | None, error_class: str = "transient",
               step: str = Step.ENSURE_CUSTOMER, age_h: float = 0) -> int:
    with session_scope(url) as s:
        letter = DeadLetter(job_id=job_id, step=step, error_class=error_class,
                            reason="kashflow: 503 Service Unavailable",
                            payload_ref=f"sync_jobs/{job_id}",
                            created_at=utcnow() - timedelta(hours=age_h))
        s.add(letter)
        s.flush()
        return letter.id


def dead_job(url: str, entity_id: int, pair: str = "default", **kw: Any) -> tuple[int, int]:
    """A job that outlasted its retries at ensure_customer, with its dead letter."""
    job_id = add_job(url, entity_id, state=JobState.DEAD, step=Step.ENSURE_CUSTOMER,
                     reason="ensure_customer: 503", attempts=(("ensure_customer", "transient"),),
                     pair=pair)
    return job_id, add_letter(url, job_id, **kw)


PAIR_CONFIG = {"magento_base_url": "https://b.example/rest",
               "kashflow_base_url": "https://api.kashflow.com/v2", "kashflow_username": "bee",
               "store_ids": [2]}
PAIR_SECRETS = {"magento_token": "b-token-value-9f", "kashflow_password": "b-password-value-3c",
                "kashflow_memorable_word": "b-memorable-77",
                "webhook_secrets": ["b-hook-secret-1a"]}


def add_pair(settings: Settings, name: str) -> None:
    """Store integration pair ``name`` (its secrets encrypted with the settings' key)."""
    from services import pairs

    pairs.add(settings, name, PAIR_CONFIG, PAIR_SECRETS, "test")


def add_event_letter(url: str, pair: str, event_key: str = "evt-1") -> int:
    """A dead letter of an event that never became a job (its pair is the event's)."""
    from store.models import InboundEvent

    with session_scope(url) as s:
        event = InboundEvent(source="webhook", pair=pair, event_id=event_key,
                             topic="order.created", resource_type="order", resource_key="77",
                             payload={})
        s.add(event)
        s.flush()
        letter = DeadLetter(event_id=event.id, step="process_event", error_class="error",
                            reason="bad payload", payload_ref=f"inbound_events/{event.id}")
        s.add(letter)
        s.flush()
        return letter.id
