"""Alerts for the things a human must look at: dead letters, review holds, an open circuit,
payment reconciliation items.

Each alert goes to Sentry (when configured) and to ``KFSYNC_ALERT_WEBHOOK_URL`` as
Slack-compatible JSON (``{"text": ...}``). A burst is one message: the first alert of a kind
is sent at once, the rest of that kind within ``WINDOW_S`` are counted in Redis and summed up
by beat's ``flush_alerts`` ("12 more dead letters in the last 5 minutes").
"""

from __future__ import annotations

import logging

import redis
import requests

from core import redis_clients

log = logging.getLogger(__name__)

WINDOW_S = 300  # one immediate message per kind per 5 minutes; the rest are counted
KINDS = {"dead_letter": "dead letters", "needs_review": "orders held for review",
         "circuit_open": "KashFlow circuit openings",
         "reconciliation": "payment reconciliation items",
         "summary": "summary invoices not posted"}


def alert(kind: str, message: str) -> None:
    """Raise alert ``kind`` (a key of ``KINDS``) with a one-line ``message``; never raises."""
    from workers import context

    settings = context.settings()
    try:
        client = redis_clients.client(settings.redis_url)
        if not client.set(f"kfsync:alert:window:{kind}", 1, nx=True, ex=WINDOW_S):
            client.incr(f"kfsync:alert:pending:{kind}")
            return
    except redis.RedisError:
        log.warning("alert de-duplication unavailable (Redis); sending anyway")
    _deliver(settings.alert_webhook_url, f"kfsync: {message}")


def flush(redis_url: str, webhook_url: str | None) -> int:
    """Send one summary per kind for the alerts held back since the last flush."""
    client = redis_clients.client(redis_url)
    sent = 0
    for kind, label in KINDS.items():
        count = int(client.getdel(f"kfsync:alert:pending:{kind}") or 0)
        if count:
            _deliver(webhook_url, f"kfsync: {count} more {label} in the last few minutes "
                                  "(see kfsync dlq list / kfsync jobs list)")
            sent += 1
    return sent


def _deliver(webhook_url: str | None, text: str) -> None:
    log.error("ALERT %s", text)
    try:
        import sentry_sdk

        sentry_sdk.capture_message(text, level="error")
    except Exception:  # Sentry is optional; an alert must never break the work
        log.debug("sentry capture failed", exc_info=True)
    if webhook_url:
        try:
            requests.post(webhook_url, json={"text": text}, timeout=5).raise_for_status()
        except requests.RequestException as exc:
            log.warning("alert webhook failed: %s", type(exc).__name__)
