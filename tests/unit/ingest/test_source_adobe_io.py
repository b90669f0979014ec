"""POST/GET /webhooks/adobe-io: RSA signatures with keys from a loopback key host, real DB."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from core.settings import Settings
from ingest import create_app
from ingest.sources import adobe_io, adobe_keys
from store.db import session_scope
from store.models import InboundEvent
from tests.source_senders import (
    CLIENT_ID,
    KeyServer,
    adobe_event,
    adobe_headers,
    new_key,
    pem,
)

KEY1, KEY2, STRANGER = new_key(), new_key(), new_key()
PATH1, PATH2 = "/prod/keys/pub-key-one.pem", "/prod/keys/pub-key-two.pem"
ORDER = {"entity_id": 4101, "increment_id": "000004101", "updated_at": "2026-11-24 10:00:03"}


@pytest.fixture(scope="module")
def key_host() -> Iterator[KeyServer]:
    server = KeyServer({PATH1: pem(KEY1), PATH2: pem(KEY2)})
    yield server
    server.close()


@pytest.fixture
def client(db_url: str, redis_url: str, key_host: KeyServer) -> FlaskClient:
    adobe_io.KEYS.clear()  # each test starts with an empty key cache
    settings = Settings.load({"KFSYNC_DATABASE_URL": db_url, "KFSYNC_REDIS_URL": redis_url,
                              "KFSYNC_WEBHOOK_SECRETS": "s", "KFSYNC_ADOBE_CLIENT_ID": CLIENT_ID,
                              "KFSYNC_ADOBE_KEY_HOST": key_host.url}, env_file=None)
    return create_app(settings).test_client()


def stored(url: str) -> list[InboundEvent]:
    with session_scope(url) as s:
        return list(s.scalars(select(InboundEvent).order_by(InboundEvent.id)))


def post(client: FlaskClient, body: bytes, headers: dict[str, str]) -> Any:
    return client.post("/webhooks/adobe-io", data=body, headers=headers)


def test_the_registration_challenge_is_echoed(client: FlaskClient) -> None:
    reply = client.get("/webhooks/adobe-io?challenge=8ec8d794-e0ab-42df-9017-e3dada8e84f7")
    assert reply.status_code == 200
    assert reply.get_json() == {"challenge": "8ec8d794-e0ab-42df-9017-e3dada8e84f7"}
    assert client.get("/webhooks/adobe-io?challenge=<script>").status_code == 400


@pytest.mark.parametrize("signers", [
    [(KEY1, PATH1), (KEY2, PATH2)],
    [(STRANGER, PATH1), (KEY2, PATH2)],  # key 1 rotated away: key 2 alone verifies
    [(KEY1, PATH1)],
], ids=["both", "second-only", "first-only"])
def test_an_event_signed_with_either_key_is_stored_as_an_order_hint(
        client: FlaskClient, db_url: str, signers: list[Any]) -> None:
    body = adobe_event("sales_order_save_commit_after", ORDER, event_id="adobe-evt-1")
    reply = post(client, body, adobe_headers(body, signers))
    assert reply.status_code == 202, reply.get_json()
    [event] = stored(db_url)
    assert (event.source, event.event_id, event.topic) == ("adobe-io", "adobe-evt-1",
                                                           "order.updated")
    assert (event.resource_type, event.resource_key, event.increment_id) == (
        "order", "4101", "000004101")


def test_the_same_event_id_twice_is_stored_once(client: FlaskClient, db_url: str) -> None:
    body = adobe_event("sales_order_place_after", ORDER, event_id="adobe-evt-2")
    headers = adobe_headers(body, [(KEY1, PATH1), (KEY2, PATH2)])
    assert post(client, body, headers).status_code == 202
    again = post(client, body, headers)
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    assert len(stored(db_url)) == 1


@pytest.mark.parametrize("case", ["tampered", "wrong-key", "no-signature"])
def test_a_bad_signature_is_refused_and_nothing_stored(client: FlaskClient, db_url: str,
                                                       case: str) -> None:
    body = adobe_event("sales_order_save_commit_after", ORDER)
    headers = adobe_headers(body, [(STRANGER if case == "wrong-key" else KEY1, PATH1)])
    if case == "tampered":
        body = body.replace(b"4101", b"4102")
    if case == "no-signature":
        del headers["x-adobe-digital-signature-1"]
    reply = post(client, body, headers)
    assert reply.status_code == 401
    assert stored(db_url) == []


def test_another_recipient_is_refused(client: FlaskClient, db_url: str) -> None:
    body = adobe_event("sales_order_save_commit_after", ORDER, recipient="someone-else")
    reply = post(client, body, adobe_headers(body, [(KEY1, PATH1)]))
    assert reply.status_code == 401
    assert "recipient_client_id" in reply.get_json()["errors"]
    assert stored(db_url) == []


@pytest.mark.parametrize("path", ["//evil.example/pub.pem", "https://evil.example/pub.pem",
                                  "@evil.example/pub.pem", "/x@evil.example/pub.pem", ""])
def test_a_key_path_on_another_host_is_refused_without_fetching(
        client: FlaskClient, db_url: str, key_host: KeyServer, path: str) -> None:
    body = adobe_event("sales_order_save_commit_after", ORDER)
    before = key_host.fetches
    reply = post(client, body, adobe_headers(body, [(KEY1, path)]))
    assert reply.status_code == 401
    assert stored(db_url) == []
    assert key_host.fetches == before


def test_keys_are_fetched_once_and_cached(client: FlaskClient, key_host: KeyServer) -> None:
    before = key_host.fetches
    for n in range(3):
        body = adobe_event("sales_order_save_commit_after", ORDER, event_id=f"cache-{n}")
        assert post(client, body, adobe_headers(body, [(KEY1, PATH1)])).status_code == 202
    assert key_host.fetches == before + 1


def test_an_unreachable_key_host_asks_adobe_to_retry(db_url: str, redis_url: str) -> None:
    adobe_io.KEYS.clear()
    settings = Settings.load({"KFSYNC_DATABASE_URL": db_url, "KFSYNC_REDIS_URL": redis_url,
                              "KFSYNC_ADOBE_CLIENT_ID": CLIENT_ID,
                              "KFSYNC_ADOBE_KEY_HOST": "http://127.0.0.1:9"}, env_file=None)
    body = adobe_event("sales_order_save_commit_after", ORDER)
    reply = post(create_app(settings).test_client(), body, adobe_headers(body, [(KEY1, PATH1)]))
    assert reply.status_code == 503
    assert stored(db_url) == []


@pytest.mark.parametrize("event_type,value,topic,kind,key", [
    ("sales_order_invoice_save_commit_after", {"entity_id": 9, "order_id": 4101},
     "invoice.created", "order", "4101"),
    ("sales_order_creditmemo_save_commit_after", {"entity_id": 77, "order_id": 4101},
     "creditmemo.created", "creditmemo", "77"),
    ("customer_save_commit_after", {"entity_id": 501}, "customer.updated", "customer", "501"),
    ("cataloginventory_stock_item_save_commit_after", {"sku": "MUG-1", "qty": 3},
     "stock.updated", "product", "MUG-1"),
])
def test_commerce_event_types_map_to_kfsync_topics(
        client: FlaskClient, db_url: str, event_type: str, value: dict[str, Any], topic: str,
        kind: str, key: str) -> None:
    body = adobe_event(event_type, value)
    assert post(client, body, adobe_headers(body, [(KEY1, PATH1)])).status_code == 202
    [event] = stored(db_url)
    assert (event.topic, event.resource_type, event.resource_key) == (topic, kind, key)


def test_an_event_type_kfsync_does_not_sync_is_acknowledged_and_not_stored(
        client: FlaskClient, db_url: str) -> None:
    body = adobe_event("catalog_product_save_after", {"entity_id": 5})
    reply = post(client, body, adobe_headers(body, [(KEY1, PATH1)]))
    assert reply.status_code == 200 and reply.get_json()["status"] == "ignored"
    assert stored(db_url) == []


def test_a_cached_key_is_fetched_again_once_it_is_older_than_its_lifetime(
        key_host: KeyServer) -> None:
    assert adobe_keys.KEY_TTL_S <= 24 * 3600  # Adobe: cache a key for at most a day
    cache = adobe_keys.KeyCache(ttl_s=0.2)
    url = key_host.url + PATH1
    before = key_host.fetches
    cache.get(url)
    cache.get(url)
    assert key_host.fetches == before + 1
    time.sleep(0.3)
    cache.get(url)
    assert key_host.fetches == before + 2
