"""POST /webhooks/magento against a real database (SQLite and PostgreSQL) and real Redis."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
import simplejson
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.settings import Settings
from ingest import create_app
from ingest.signing import sign, signed_headers
from store.db import session_scope
from store.models import InboundEvent

SECRET = "test-secret"


def envelope(event_id: str = "evt-1", topic: str = "order.created", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": event_id, "topic": topic, "occurred_at": "2026-11-24T10:00:03Z", "store_id": 1,
        "resource": {"type": "order", "entity_id": 123, "increment_id": "000000123",
                     "updated_at": "2026-11-24 10:00:03"},
        "data": {},
    }
    body.update(over)
    return body


def post(client: FlaskClient, body: bytes, event_id: str = "evt-1", **headers: str) -> Any:
    h = signed_headers(SECRET, event_id, body)
    h.update(headers)
    return client.post("/webhooks/magento", data=body, headers=h)


def encode(obj: Any) -> bytes:
    return simplejson.dumps(obj).encode()


def stored(url: str) -> int:
    with session_scope(url) as s:
        return int(s.scalar(select(func.count()).select_from(InboundEvent)) or 0)


@pytest.fixture
def app_for(db_url: str, redis_url: str) -> Any:
    settings = Settings.load({"KFSYNC_DATABASE_URL": db_url, "KFSYNC_REDIS_URL": redis_url,
                              "KFSYNC_WEBHOOK_SECRETS": f"older,{SECRET}"}, env_file=None)
    return create_app(settings)


@pytest.fixture
def client(app_for: Any) -> FlaskClient:
    return app_for.test_client()


def test_signed_event_is_stored_and_enqueued(client: FlaskClient, db_url: str,
                                             redis_url: str) -> None:
    reply = post(client, encode(envelope()))
    assert reply.status_code == 202
    assert reply.get_json() == {"status": "accepted", "event_id": "evt-1"}
    with session_scope(db_url) as s:
        event = s.scalars(select(InboundEvent)).one()
        assert (event.topic, event.resource_key, event.increment_id) == (
            "order.created", "123", "000000123")
        assert event.enqueued_at is not None
    assert redis.Redis.from_url(redis_url).llen("ingest") == 1


def test_repeated_event_id_is_a_duplicate_without_new_work(client: FlaskClient, db_url: str,
                                                            redis_url: str) -> None:
    body = encode(envelope())
    assert post(client, body).status_code == 202
    again = post(client, body)
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    assert stored(db_url) == 1
    assert redis.Redis.from_url(redis_url).llen("ingest") == 1


def test_unknown_topic_is_ignored_and_not_stored(client: FlaskClient, db_url: str) -> None:
    reply = post(client, encode(envelope(topic="wishlist.updated")))
    assert reply.status_code == 200 and reply.get_json()["status"] == "ignored"
    assert stored(db_url) == 0


def test_bad_signature_is_401_and_stores_nothing(client: FlaskClient, db_url: str) -> None:
    body = encode(envelope())
    ts = str(int(time.time()))
    reply = post(client, body, **{"X-Kfsync-Timestamp": ts,
                                  "X-Kfsync-Signature": sign("wrong", ts, body)})
    assert reply.status_code == 401
    assert stored(db_url) == 0


def test_ten_minute_old_timestamp_is_401(client: FlaskClient, db_url: str) -> None:
    body = encode(envelope())
    old = int(time.time()) - 600
    reply = client.post("/webhooks/magento", data=body,
                        headers=signed_headers(SECRET, "evt-1", body, timestamp=old))
    assert reply.status_code == 401
    assert "window" in reply.get_json()["errors"]["_signature"][0]
    assert stored(db_url) == 0


def test_malformed_json_is_400(client: FlaskClient, db_url: str) -> None:
    reply = post(client, b'{"id": "evt-1", "topic": ')
    assert reply.status_code == 400
    assert "Invalid JSON" in reply.get_json()["errors"]["_body"][0]
    assert stored(db_url) == 0


@pytest.mark.parametrize(("change", "field"), [
    ({"topic": None}, "topic"),
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"resource": {"type": "order"}}, "resource"),
    ({"resource": {"type": "order", "entity_id": "abc"}}, "resource"),
    ({"resource": {"type": "spaceship", "entity_id": 1}}, "resource"),
])
def test_invalid_envelope_is_400_naming_the_field(client: FlaskClient, db_url: str,
                                                  change: dict[str, Any], field: str) -> None:
    body = envelope(**change)
    reply = post(client, encode({k: v for k, v in body.items() if v is not None}))
    assert reply.status_code == 400
    assert field in reply.get_json()["errors"]
    assert stored(db_url) == 0


def test_missing_required_field_is_named(client: FlaskClient) -> None:
    body = envelope()
    del body["resource"]["entity_id"]
    reply = post(client, encode(body))
    assert reply.status_code == 400
    assert reply.get_json()["errors"] == {"resource": {"entity_id": [
        "Missing data for required field."]}}


def test_header_and_body_ids_must_agree(client: FlaskClient) -> None:
    reply = post(client, encode(envelope(event_id="evt-2")), event_id="evt-1")
    assert reply.status_code == 400 and "id" in reply.get_json()["errors"]


def test_body_over_one_mebibyte_is_413(client: FlaskClient, db_url: str) -> None:
    body = encode(envelope(data={"blob": "x" * (2 * 1024 * 1024)}))
    reply = post(client, body)
    assert reply.status_code == 413
    assert stored(db_url) == 0


def test_product_events_are_keyed_by_sku(client: FlaskClient, db_url: str) -> None:
    body = encode(envelope(topic="stock.updated", resource={"type": "product", "sku": "MUG 1/2"}))
    assert post(client, body).status_code == 202
    with session_scope(db_url) as s:
        assert s.scalars(select(InboundEvent)).one().resource_key == "MUG 1/2"


def test_database_down_is_503(redis_url: str) -> None:
    settings = Settings.load({"KFSYNC_DATABASE_URL": "postgresql+psycopg://kf@127.0.0.1:1/none",
                              "KFSYNC_REDIS_URL": redis_url, "KFSYNC_WEBHOOK_SECRETS": SECRET},
                             env_file=None)
    reply = post(create_app(settings).test_client(), encode(envelope()))
    assert reply.status_code == 503


def test_redis_down_still_accepts_and_leaves_the_event_for_the_relay(db_url: str) -> None:
    settings = Settings.load({"KFSYNC_DATABASE_URL": db_url,
                              "KFSYNC_REDIS_URL": "redis://127.0.0.1:1/0",
                              "KFSYNC_WEBHOOK_SECRETS": SECRET}, env_file=None)
    app = create_app(settings)
    try:
        reply = post(app.test_client(), encode(envelope()))
    finally:
        from workers.app import configure
        configure(Settings.load({}, env_file=None))
    assert reply.status_code == 202
    with session_scope(db_url) as s:
        event = s.scalars(select(InboundEvent)).one()
        assert event.enqueued_at is None
