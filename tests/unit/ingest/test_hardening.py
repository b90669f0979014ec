"""Regression tests for the defects issue #17's probe found, each answered at its cause: what
a stranger or a careless sender gets back, and that nothing was stored for it."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import simplejson
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from ingest import create_app
from ingest.signing import signed_headers
from store.db import get_engine, migrate, session_scope
from store.models import InboundEvent
from tests.unit.ingest.ops_helpers import AUTH, OPS_TOKEN, dead_job, make_app, make_settings

SECRET = "whsec-new-4b7a9f"  # one of ops_helpers' webhook secrets


@pytest.fixture
def app(db_url: str, redis_url: str) -> Flask:
    return make_app(db_url, redis_url)


def envelope(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "evt-h1", "topic": "order.created",
                            "occurred_at": "2026-11-24T10:00:03Z", "store_id": 1,
                            "resource": {"type": "order", "entity_id": 123}}
    body.update(over)
    return body


def send(client: FlaskClient, body: bytes, event_id: str = "evt-h1") -> Any:
    return client.post("/webhooks/magento", data=body,
                       headers=signed_headers(SECRET, event_id, body))


def stored(url: str) -> int:
    with session_scope(url) as s:
        return int(s.scalar(select(func.count()).select_from(InboundEvent)) or 0)


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def login(client: FlaskClient, next_path: str | None = None) -> Any:
    page = client.get("/login").get_data(as_text=True)
    url = "/login" if next_path is None else f"/login?next={next_path}"
    return client.post(url, data={"token": OPS_TOKEN, "csrf_token": csrf(page)})


# (1) is in test_signing.py: a 309-digit timestamp.
def test_a_huge_timestamp_is_401_not_500(app: Flask, db_url: str) -> None:
    body = simplejson.dumps(envelope()).encode()
    headers = {**signed_headers(SECRET, "evt-h1", body), "X-Kfsync-Timestamp": "9" * 309}
    reply = app.test_client().post("/webhooks/magento", data=body, headers=headers)
    assert reply.status_code == 401 and stored(db_url) == 0


# (2) open redirect after login and after a form
@pytest.mark.parametrize("target", ["/%09/evil.example", "/%0a/evil.example", "//evil.example",
                                    "/%5Cevil.example", "https://evil.example/",
                                    "/%20/evil.example"])
def test_login_never_redirects_off_site(app: Flask, target: str) -> None:
    reply = login(app.test_client(), target)
    assert reply.status_code == 302
    assert reply.headers["Location"] == "/"


def test_a_form_never_sends_the_operator_off_site(app: Flask, db_url: str) -> None:
    _, letter = dead_job(db_url, 7)
    client = app.test_client()
    login(client)
    token = csrf(client.get("/dead-letters").get_data(as_text=True))
    for back in ("/\t/evil.example", "/\\evil.example", "/\n/evil.example"):
        reply = client.post("/dead-letters/discard", data={
            "ids": str(letter), "reason": "x", "csrf_token": token, "back": back})
        assert reply.headers["Location"] == "/dead-letters", back
    ok = client.post("/dead-letters/discard", data={"ids": "1", "reason": "x",
                                                    "csrf_token": token, "back": "/jobs?q=a"})
    assert ok.headers["Location"] == "/jobs?q=a"


# (3) /readyz on a database without kfsync's tables
def test_readyz_is_503_on_a_database_without_kfsyncs_tables(tmp_path: Any,
                                                              redis_url: str) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    reply = make_app(empty, redis_url).test_client().get("/readyz")
    assert reply.status_code == 503
    assert reply.get_json()["checks"]["database"] == (
        "error: no kfsync tables (run: kfsync migrate)")


def test_readyz_is_200_on_a_migrated_database(app: Flask) -> None:
    reply = app.test_client().get("/readyz")
    assert reply.status_code == 200, reply.get_json()


def test_readyz_is_503_on_an_older_schema_and_200_on_a_newer_one(tmp_path: Any,
                                                                  redis_url: str) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "0005")
    client = make_app(url, redis_url).test_client()
    reply = client.get("/readyz")
    assert reply.status_code == 503
    assert reply.get_json()["checks"]["database"].startswith("error: schema at 0005, this code")
    with get_engine(url).begin() as conn:  # a rolling deploy migrated past this code
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    assert client.get("/readyz").status_code == 200


# (4) signed but unstorable JSON: deep nesting, a lone surrogate, NUL
@pytest.mark.parametrize("body", [
    b'{"id": "evt-h1", "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"id": "evt-h1", "data": ' + b'{"a":' * 70 + b"1" + b"}" * 70 + b"}",
    simplejson.dumps(envelope(data={"note": "\ud800"})).encode(),
    simplejson.dumps(envelope(data={"note": "a\x00b"})).encode(),
])
def test_unstorable_json_is_400_and_stores_nothing(app: Flask, db_url: str,
                                                   body: bytes) -> None:
    reply = send(app.test_client(), body)
    assert reply.status_code == 400, reply.get_data(as_text=True)[:200]
    assert "_body" in reply.get_json()["errors"]
    assert stored(db_url) == 0


@pytest.mark.parametrize("body", [b'{"ids": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                                  b'{"ids": [1], "reason": "\\ud800"}'])
def test_unstorable_json_in_an_api_body_is_400(app: Flask, body: bytes) -> None:
    reply = app.test_client().post("/api/v1/dead-letters/discard", data=body,
                                   headers={**AUTH, "Content-Type": "application/json"})
    assert reply.status_code == 400 and "_body" in reply.get_json()["errors"]


# (5) the API answers JSON when the database fails
def test_api_answers_json_when_the_database_is_not_there(tmp_path: Any, redis_url: str) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    app = create_app(make_settings(empty, redis_url))  # not TESTING: errors are not re-raised
    reply = app.test_client().get("/api/v1/jobs", headers=AUTH)
    assert reply.status_code == 503 and reply.mimetype == "application/json"
    assert reply.get_json()["status"] == "error" and "_service" in reply.get_json()["errors"]


# (6) a chunked body over 1 MiB
def test_a_chunked_body_over_one_mebibyte_is_413(app: Flask, db_url: str) -> None:
    big = simplejson.dumps(envelope(data={"blob": "x" * (1024 * 1024)})).encode()
    headers = signed_headers(SECRET, "evt-h1", big)
    reply = app.test_client().post("/webhooks/magento", input_stream=io.BytesIO(big),
                                   headers={**headers, "Transfer-Encoding": "chunked"},
                                   environ_overrides={"wsgi.input_terminated": True})
    assert reply.status_code == 413 and stored(db_url) == 0


def test_a_small_chunked_body_is_read_whole(app: Flask, db_url: str) -> None:
    body = simplejson.dumps(envelope()).encode()
    reply = app.test_client().post(
        "/webhooks/magento", input_stream=io.BytesIO(body),
        headers={**signed_headers(SECRET, "evt-h1", body), "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True})
    assert reply.status_code == 202 and stored(db_url) == 1


# (9) control characters, entity_id bound, topic against resource type
@pytest.mark.parametrize(("change", "field"), [
    ({"id": "evt-h1\x01"}, "id"),
    ({"topic": "order.created\x07"}, "topic"),
    ({"resource": {"type": "order", "entity_id": 123, "increment_id": "0001\x1b"}}, "resource"),
    ({"resource": {"type": "order", "entity_id": 2**31}}, "resource"),
    ({"resource": {"type": "order", "entity_id": 10**30}}, "resource"),
    ({"topic": "stock.updated"}, "resource"),
    ({"topic": "customer.created", "resource": {"type": "product", "sku": "MUG"}}, "resource"),
])
def test_envelope_strings_ids_and_topics_are_checked(app: Flask, db_url: str,
                                                     change: dict[str, Any], field: str) -> None:
    body = envelope(**change)
    reply = send(app.test_client(), simplejson.dumps(body).encode(), event_id=body["id"])
    assert reply.status_code == 400, reply.get_json()
    assert field in reply.get_json()["errors"]
    assert stored(db_url) == 0


def test_an_invoice_event_may_name_its_order(app: Flask, db_url: str) -> None:
    body = simplejson.dumps(envelope(topic="invoice.created")).encode()
    assert send(app.test_client(), body).status_code == 202


# (10) logout ends the session on the server: a copied cookie is refused at once
def test_a_copied_cookie_is_refused_after_logout(app: Flask) -> None:
    client = app.test_client()
    login(client)
    cookie = client.get_cookie("kfsync_session")
    assert cookie is not None and client.get("/").status_code == 200
    token = csrf(client.get("/").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})
    thief = app.test_client()
    thief.set_cookie("kfsync_session", cookie.value)
    reply = thief.get("/jobs")
    assert reply.status_code == 401 and "Your session has ended" in reply.get_data(as_text=True)


def test_rotating_the_ops_token_ends_its_sessions(db_url: str, redis_url: str) -> None:
    old = make_app(db_url, redis_url)
    client = old.test_client()
    login(client)
    cookie = client.get_cookie("kfsync_session")
    assert cookie is not None
    rotated = create_app(make_settings(db_url, redis_url, KFSYNC_OPS_TOKEN="a-new-ops-token-1"))
    other = rotated.test_client()
    other.set_cookie("kfsync_session", cookie.value)
    assert other.get("/").status_code in (302, 401)


def test_an_unexpected_error_is_a_json_500_for_machines(db_url: str, redis_url: str) -> None:
    app = create_app(make_settings(db_url, redis_url))

    def boom() -> str:
        raise RuntimeError("something nobody caught")

    app.add_url_rule("/api/v1/_boom", view_func=boom)
    reply = app.test_client().get("/api/v1/_boom")
    assert reply.status_code == 500 and reply.mimetype == "application/json"
    assert reply.get_json() == {"status": "error",
                                "errors": {"_service": ["Internal error; it was logged."]}}
