"""Driving non-order documents through the stack: customers and credit memos."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import requests
import simplejson
from sqlalchemy import delete, select

from ingest.signing import signed_headers
from store.db import session_scope
from store.models import Attempt, EntityLink, JobState, SyncJob
from tests.integration.conftest import SECRET, SETTLED, Stack


def seed(stack: Stack, collection: str, doc: dict[str, Any]) -> None:
    """Put a customer or credit memo into the Magento sandbox as Magento would return it."""
    requests.post(f"{stack.servers.magento_control}/{collection}", timeout=5,
                  data=simplejson.dumps(doc, use_decimal=True),
                  headers={"Content-Type": "application/json"}).raise_for_status()


def send_event(stack: Stack, topic: str, kind: str, entity_id: int,
               increment_id: str | None = None) -> None:
    event_id = str(uuid.uuid4())
    resource: dict[str, Any] = {"type": kind, "entity_id": entity_id}
    if increment_id:
        resource["increment_id"] = increment_id
    body = simplejson.dumps({"id": event_id, "topic": topic, "store_id": 1,
                             "occurred_at": "2026-11-24T10:00:03Z",
                             "resource": resource}).encode()
    reply = stack.client.post("/webhooks/magento", data=body,
                              headers=signed_headers(SECRET, event_id, body))
    assert reply.status_code == 202, reply.get_data(as_text=True)


def running_at(stack: Stack, entity_id: int, step: str) -> Callable[[], bool]:
    """A check for ``Stack.wait_until``: the order's job is running at ``step``."""
    def check() -> bool:
        job = stack.job(entity_id)
        return job is not None and (job.state, job.step) == (JobState.RUNNING, step)
    return check


def job_of(stack: Stack, kind: str, key: int) -> SyncJob | None:
    with session_scope(stack.db_url) as s:
        return s.scalar(select(SyncJob).where(SyncJob.kind == kind,
                                              SyncJob.magento_key == str(key)))


def wait_job(stack: Stack, kind: str, key: int, *states: str) -> SyncJob:
    """Wait until the job is in one of ``states`` (default: any settled state)."""
    wanted = states or tuple(SETTLED)

    def settled() -> bool:
        job = job_of(stack, kind, key)
        return job is not None and job.state in wanted and stack.events_pending() == 0
    stack.wait_until(settled, f"{kind} {key} to reach {wanted}")
    job = job_of(stack, kind, key)
    assert job is not None
    return job


def customers_by_email(stack: Stack, email: str) -> list[dict[str, Any]]:
    return [c for c in stack.kashflow()["customers"]
            if str(c.get("Email", "")).strip().lower() == email.strip().lower()]


def forget(stack: Stack, kind: str, key: int) -> None:
    """kfsync loses what it knew of Magento document ``key`` (a new database, say): its job,
    attempts and links, while KashFlow keeps what kfsync wrote there."""
    with session_scope(stack.db_url) as s:
        ids = list(s.scalars(select(SyncJob.id).where(SyncJob.kind == kind,
                                                      SyncJob.magento_key == str(key))))
        s.execute(delete(Attempt).where(Attempt.job_id.in_(ids)))
        s.execute(delete(SyncJob).where(SyncJob.id.in_(ids)))
        s.execute(delete(EntityLink).where(EntityLink.magento_key == f"{kind}:{key}"))
