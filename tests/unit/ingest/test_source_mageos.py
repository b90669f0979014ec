"""POST /webhooks/mageos-async: Mage-OS Async Events' HMAC, content dedupe, real DB."""

from __future__ import annotations

from typing import Any

import pytest
import simplejson
from flask.testing import FlaskClient
from sqlalchemy import select

from core.settings import Settings
from ingest import create_app
from store.db import session_scope
from store.models import InboundEvent
from tests.source_senders import mageos_body, mageos_headers

TOKEN, OLD_TOKEN = "mageos-token", "mageos-old-token"
ORDER = {"entity_id": 5101, "increment_id": "000005101", "state": "processing",
         "updated_at": "2026-11-24 10:00:03"}


@pytest.fixture
def client(db_url: str, redis_url: str) -> FlaskClient:
    settings = Settings.load({"KFSYNC_DATABASE_URL": db_url, "KFSYNC_REDIS_URL": redis_url,
                              "KFSYNC_MAGEOS_TOKENS": f"{OLD_TOKEN}, {TOKEN}"}, env_file=None)
    return create_app(settings).test_client()


def stored(url: str) -> list[InboundEvent]:
    with session_scope(url) as s:
        return list(s.scalars(select(InboundEvent).order_by(InboundEvent.id)))


def post(client: FlaskClient, body: bytes, headers: dict[str, str], query: str = "") -> Any:
    return client.post(f"/webhooks/mageos-async{query}", data=body, headers=headers)


def test_a_valid_event_delivered_three_times_is_stored_once(client: FlaskClient,
                                                           db_url: str) -> None:
    body = mageos_body("sales.order.created", ORDER)
    replies = [post(client, body, mageos_headers(TOKEN, body)) for _ in range(3)]
    assert [r.status_code for r in replies] == [202, 200, 200]
    assert [r.get_json()["status"] for r in replies[1:]] == ["duplicate", "duplicate"]
    [event] = stored(db_url)
    assert (event.source, event.topic, event.resource_type, event.resource_key,
            event.increment_id) == ("mageos-async", "order.created", "order", "5101",
                                    "000005101")


def test_a_later_change_of_the_same_order_is_a_new_event(client: FlaskClient,
                                                         db_url: str) -> None:
    for updated_at in ("2026-11-24 10:00:03", "2026-11-24 10:05:00"):
        body = mageos_body("sales.order.updated", {**ORDER, "updated_at": updated_at})
        assert post(client, body, mageos_headers(TOKEN, body)).status_code == 202
    assert len(stored(db_url)) == 2


@pytest.mark.parametrize("case", ["wrong-token", "tampered", "missing"])
def test_a_bad_hmac_is_refused_and_nothing_stored(client: FlaskClient, db_url: str,
                                                  case: str) -> None:
    body = mageos_body("sales.order.created", ORDER)
    headers = mageos_headers("not-the-token" if case == "wrong-token" else TOKEN, body)
    if case == "tampered":
        body = body.replace(b"5101", b"5102")
    if case == "missing":
        del headers["x-magento-signature"]
    assert post(client, body, headers).status_code == 401
    assert stored(db_url) == []


def test_the_older_token_still_verifies_during_a_change(client: FlaskClient,
                                                        db_url: str) -> None:
    body = mageos_body("sales.order.created", ORDER)
    assert post(client, body, mageos_headers(OLD_TOKEN, body)).status_code == 202


def test_a_data_only_body_takes_its_event_name_from_the_url(client: FlaskClient,
                                                            db_url: str) -> None:
    body = simplejson.dumps({"data": {"entity_id": 88, "order_id": 5101,
                                      "updated_at": "2026-11-24 10:00:03"}}).encode()
    assert post(client, body, mageos_headers(TOKEN, body)).status_code == 400
    reply = post(client, body, mageos_headers(TOKEN, body), "?event=sales.invoice.created")
    assert reply.status_code == 202
    [event] = stored(db_url)
    assert (event.topic, event.resource_type, event.resource_key) == (
        "invoice.created", "order", "5101")


def test_without_a_token_configured_the_sender_is_asked_to_retry(db_url: str,
                                                                 redis_url: str) -> None:
    settings = Settings.load({"KFSYNC_DATABASE_URL": db_url, "KFSYNC_REDIS_URL": redis_url},
                             env_file=None)
    body = mageos_body("sales.order.created", ORDER)
    reply = post(create_app(settings).test_client(), body, mageos_headers(TOKEN, body))
    assert reply.status_code == 503
    assert stored(db_url) == []
