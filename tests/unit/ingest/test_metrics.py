"""``/metrics`` on real Redis and both databases: recorded series and scrape-time gauges."""

from __future__ import annotations

import simplejson
from flask.testing import FlaskClient

from connectors.ratelimit import TokenBucket
from ingest.signing import signed_headers
from kfsync.metrics import recorder
from store.models import JobState
from tests.unit.ingest.ops_helpers import add_job, dead_job, make_app

SECRET = "whsec-new-4b7a9f"  # one of ops_helpers.SECRETS


def scrape(client: FlaskClient) -> str:
    reply = client.get("/metrics")
    assert reply.status_code == 200 and reply.mimetype == "text/plain"
    return reply.get_data(as_text=True)


def webhook(client: FlaskClient, event_id: str, secret: str = SECRET) -> int:
    body = simplejson.dumps({"id": event_id, "topic": "order.created",
                             "occurred_at": "2026-11-24T10:00:03Z",
                             "resource": {"type": "order", "entity_id": 5}}).encode()
    return client.post("/webhooks/magento", data=body,
                       headers=signed_headers(secret, event_id, body)).status_code


def test_webhook_outcomes_are_counted(db_url: str, redis_url: str) -> None:
    client = make_app(db_url, redis_url).test_client()
    assert webhook(client, "e1") == 202
    assert webhook(client, "e1") == 200
    assert webhook(client, "e2", secret="wrong") == 401
    text = scrape(client)
    for outcome in ("accepted", "duplicate", "unauthorized"):
        assert f'kfsync_webhooks_total{{outcome="{outcome}"}} 1.0' in text


def test_jobs_letters_queues_and_circuit_are_read_at_scrape(db_url: str, redis_url: str) -> None:
    client = make_app(db_url, redis_url).test_client()
    add_job(db_url, 1)
    add_job(db_url, 2, state=JobState.NEEDS_REVIEW)
    dead_job(db_url, 3, error_class="auth")
    text = scrape(client)
    assert 'kfsync_jobs{state="done"} 1.0' in text
    assert 'kfsync_jobs{state="needs_review"} 1.0' in text
    assert 'kfsync_jobs{state="dead"} 1.0' in text
    assert 'kfsync_dead_letters_open{error_class="auth"} 1.0' in text
    assert 'kfsync_queue_length{queue="dead_letter"} 0.0' in text
    assert 'kfsync_circuit_open{system="kashflow"} 0.0' in text


def test_api_calls_durations_and_rate_limit_waits(db_url: str, redis_url: str) -> None:
    client = make_app(db_url, redis_url).test_client()
    rec = recorder(redis_url)
    rec.api_call("kashflow", "POST", "/invoices", 201, 0.12)
    rec.api_call("kashflow", "POST", "/invoices", None, 30.0)
    rec.task_finished("kfsync.orders.create_invoice", "SUCCESS", 0.3)
    bucket = TokenBucket(redis_url, "kfsync:test:bucket", rate=50, burst=1,
                         on_wait=rec.rate_limit_wait)
    bucket.acquire()
    waited = bucket.acquire()  # the bucket is empty: this one waits ~20 ms
    assert waited > 0
    text = scrape(client)
    assert ('kfsync_api_calls_total{method="POST",status="201",system="kashflow"} 1.0' in text)
    assert ('kfsync_api_calls_total{method="POST",status="none",system="kashflow"} 1.0' in text)
    assert 'kfsync_api_call_duration_seconds_bucket{le="0.25",system="kashflow"} 1.0' in text
    assert 'kfsync_api_call_duration_seconds_count{system="kashflow"} 2.0' in text
    assert ('kfsync_task_duration_seconds_count{state="SUCCESS",'
            'task="kfsync.orders.create_invoice"} 1.0') in text
    assert 'kfsync_rate_limit_waits_total{system="kashflow"} 1.0' in text
