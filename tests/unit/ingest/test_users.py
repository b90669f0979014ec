"""Named operators through the app, on SQLite and PostgreSQL with real Redis: roles in the
API and the dashboard, audit names, revocation at once, throttled and logged failures."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from store.accounts import add_user, disable_user, issue_token, revoke_token
from store.db import session_scope
from store.models import AuditEntry, JobState, Step
from tests.unit.ingest.ops_helpers import add_job, dead_job, make_app

PASSWORD = "correct horse battery"


@pytest.fixture
def app(db_url: str, redis_url: str) -> Flask:
    return make_app(db_url, redis_url)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user_token(url: str, name: str, role: str) -> str:
    add_user(url, name, role, PASSWORD)
    return issue_token(url, name, "tests")[1]


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def login(client: FlaskClient, user: str, password: str = PASSWORD) -> Any:
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login", data={"user": user, "token": password,
                                       "csrf_token": csrf(page)})


def audit(url: str) -> list[tuple[str, str, str]]:
    with session_scope(url) as s:
        return [(a.actor, a.action, a.target) for a in s.query(AuditEntry)]


def test_a_viewer_reads_but_cannot_requeue_and_an_operator_can(app: Flask,
                                                                db_url: str) -> None:
    _, letter = dead_job(db_url, 301)
    client = app.test_client()
    viewer, operator = user_token(db_url, "vera", "viewer"), user_token(db_url, "otto", "operator")
    assert client.get("/api/v1/dead-letters", headers=bearer(viewer)).get_json()["total"] == 1
    refused = client.post("/api/v1/dead-letters/requeue", headers=bearer(viewer),
                          json={"ids": [letter]})
    assert refused.status_code == 403
    assert refused.get_json()["errors"]["_auth"] == [
        "vera is a viewer; this needs the operator role."]
    done = client.post("/api/v1/dead-letters/requeue", headers=bearer(operator),
                       json={"ids": [letter]})
    assert done.status_code == 200 and done.get_json()["ids"] == [letter]
    assert audit(db_url) == [("api:otto", "requeue", f"dead_letters/{letter}")]


def test_an_operator_cannot_publish_the_mapping_an_admin_can(app: Flask, db_url: str) -> None:
    client = app.test_client()
    operator, admin = user_token(db_url, "otto", "operator"), user_token(db_url, "ada", "admin")
    refused = client.post("/api/v1/mapping/publish", headers=bearer(operator), json={})
    assert refused.status_code == 403
    reply = client.post("/api/v1/mapping/publish", headers=bearer(admin), json={})
    assert reply.status_code != 403 and reply.status_code < 500


def test_a_revoked_token_and_a_disabled_users_token_get_401_at_once(app: Flask,
                                                                     db_url: str) -> None:
    client = app.test_client()
    add_user(db_url, "otto", "operator", PASSWORD)
    token_id, token = issue_token(db_url, "otto", "script")
    _, other = issue_token(db_url, "otto", "laptop")
    assert client.get("/api/v1/jobs", headers=bearer(token)).status_code == 200
    revoke_token(db_url, token_id)
    assert client.get("/api/v1/jobs", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/jobs", headers=bearer(other)).status_code == 200
    disable_user(db_url, "otto")
    assert client.get("/api/v1/jobs", headers=bearer(other)).status_code == 401


def test_a_viewer_sees_no_requeue_button_and_cannot_post_the_form(app: Flask,
                                                                   db_url: str) -> None:
    job_id, letter = dead_job(db_url, 311)
    held = add_job(db_url, 312, state=JobState.NEEDS_REVIEW, step=Step.CREATE_INVOICE)
    add_user(db_url, "vera", "viewer", PASSWORD)
    client = app.test_client()
    assert login(client, "vera").status_code == 302
    for path in ("/dead-letters", f"/dead-letters/{letter}", "/review", f"/jobs/{held}"):
        page = client.get(path).get_data(as_text=True)
        assert "vera (viewer)" in page and "Requeue" not in page, path
    token = csrf(client.get("/dead-letters").get_data(as_text=True))
    reply = client.post("/dead-letters/requeue", data={"ids": str(letter), "csrf_token": token})
    assert reply.status_code == 403
    assert f"#{letter}" in client.get("/dead-letters").get_data(as_text=True)
    assert audit(db_url) == [] and job_id


def test_an_operator_requeues_from_the_dashboard_under_their_name(app: Flask,
                                                                  db_url: str) -> None:
    _, letter = dead_job(db_url, 321)
    add_user(db_url, "otto", "operator", PASSWORD)
    client = app.test_client()
    login(client, "otto")
    page = client.get("/dead-letters").get_data(as_text=True)
    assert "Requeue selected" in page
    reply = client.post("/dead-letters/requeue", data={"ids": str(letter),
                                                       "csrf_token": csrf(page)},
                        follow_redirects=True)
    assert "Requeued 1 dead letter(s)" in reply.get_data(as_text=True)
    assert audit(db_url) == [("dashboard:otto", "requeue", f"dead_letters/{letter}")]
    studio = client.post("/mapping/publish", data={"csrf_token": csrf(page)})
    assert studio.status_code == 403  # the mapping is an admin's


def test_disabling_a_user_ends_their_dashboard_session(app: Flask, db_url: str) -> None:
    add_user(db_url, "otto", "operator", PASSWORD)
    client = app.test_client()
    login(client, "otto")
    assert client.get("/jobs").status_code == 200
    disable_user(db_url, "otto")
    assert client.get("/jobs").status_code == 401
    assert login(client, "otto").status_code == 401


def test_ten_wrong_logins_in_a_minute_are_throttled_and_logged(
        app: Flask, db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    add_user(db_url, "otto", "operator", PASSWORD)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="ingest"):
        codes = [login(client, "otto", f"guess-{n}").status_code for n in range(10)]
        assert codes == [401] * 5 + [429] * 5
        right = login(client, "otto")  # even the right password waits for the window
    assert right.status_code == 429 and "Too many failed logins" in right.get_data(as_text=True)
    lines = [r.getMessage() for r in caplog.records]
    assert sum("failed dashboard login: client 127.0.0.1, account otto" in m
               for m in lines) == 5
    assert any("dashboard login throttled: client 127.0.0.1" in m for m in lines)
    assert not any("guess-" in m or PASSWORD in m for m in lines)


def test_failed_bearer_tokens_are_throttled_per_client_and_logged(
        app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="ingest"):
        codes = {client.get("/api/v1/jobs", headers=bearer(f"kfs_wrong{n}")).status_code
                 for n in range(61)}
        last = client.get("/api/v1/jobs", headers=bearer("kfs_wrong-again"))
    assert codes == {401, 429} and last.status_code == 429
    assert any("refused an API token from client 127.0.0.1" in r.getMessage()
               for r in caplog.records)
    assert not any("kfs_wrong" in r.getMessage() for r in caplog.records)


def test_a_user_name_that_is_unknown_is_not_logged(app: Flask,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A password typed into the name field must not land in the log."""
    with caplog.at_level(logging.WARNING, logger="ingest"):
        login(app.test_client(), "my-real-password-123", "x")
    assert not any("my-real-password-123" in r.getMessage() for r in caplog.records)
