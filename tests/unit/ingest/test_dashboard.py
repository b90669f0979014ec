"""The dashboard through Flask's test client, on SQLite and PostgreSQL: login, the pages an
operator reads, the requeue/discard forms, CSRF, and no secret anywhere in the HTML."""

from __future__ import annotations

import re

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from store.models import JobState, Step
from tests.unit.ingest.ops_helpers import OPS_TOKEN, SECRETS, add_job, dead_job, make_app


@pytest.fixture
def app(db_url: str, redis_url: str) -> Flask:
    return make_app(db_url, redis_url)


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "every form carries a CSRF token"
    return match.group(1)


def logged_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    reply = client.post("/login", data={"token": OPS_TOKEN, "csrf_token": csrf(page)})
    assert reply.status_code == 302
    return client


def dashboard_paths(app: Flask) -> list[tuple[str, str]]:
    paths = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("dashboard.") and rule.endpoint != "dashboard.login":
            path = re.sub(r"<[^>]+>", "1", rule.rule)
            paths += [(m, path) for m in rule.methods or () if m in ("GET", "POST")]
    return paths


def test_every_dashboard_page_sends_a_stranger_to_the_login(app: Flask, db_url: str) -> None:
    dead_job(db_url, 1)
    client = app.test_client()
    paths = dashboard_paths(app)
    assert len(paths) >= 10
    for method, path in paths:
        reply = client.open(path, method=method)
        assert reply.status_code == 302, (method, path)
        assert reply.headers["Location"].startswith("/login")


def test_wrong_token_is_refused_and_the_right_one_lets_you_in(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    wrong = client.post("/login", data={"token": "guess", "csrf_token": csrf(page)})
    assert wrong.status_code == 401 and "not the ops token" in wrong.get_data(as_text=True)
    assert client.get("/").status_code == 302
    right = client.post("/login?next=/jobs", data={"token": OPS_TOKEN, "csrf_token": csrf(page)})
    assert right.headers["Location"] == "/jobs"
    overview = client.get("/")
    assert overview.status_code == 200 and "Orders synced, last 24 h" in overview.text
    assert "kfsync_session" in (right.headers.get("Set-Cookie") or "")
    assert "HttpOnly" in (right.headers.get("Set-Cookie") or "")


def test_login_without_the_csrf_token_is_refused(app: Flask) -> None:
    reply = app.test_client().post("/login", data={"token": OPS_TOKEN})
    assert reply.status_code == 400 and "Nothing was changed" in reply.get_data(as_text=True)


def test_a_requeue_form_without_its_csrf_token_changes_nothing(app: Flask, db_url: str) -> None:
    _, letter = dead_job(db_url, 11)
    client = logged_in(app)
    reply = client.post("/dead-letters/requeue", data={"ids": str(letter)})
    assert reply.status_code == 400
    assert f"#{letter}" in client.get("/dead-letters").get_data(as_text=True)
    forged = client.post("/dead-letters/requeue", data={"ids": str(letter),
                                                        "csrf_token": "forged-token"})
    assert forged.status_code == 400


def test_requeue_from_the_list_resumes_the_job(app: Flask, db_url: str, redis_url: str) -> None:
    job_a, letter_a = dead_job(db_url, 21)
    _, letter_b = dead_job(db_url, 22)
    client = logged_in(app)
    page = client.get("/dead-letters").get_data(as_text=True)
    assert f'value="{letter_a}"' in page and f'value="{letter_b}"' in page
    reply = client.post("/dead-letters/requeue", data={
        "ids": [str(letter_a), str(letter_b)], "csrf_token": csrf(page), "back": "/dead-letters"},
        follow_redirects=True)
    text = reply.get_data(as_text=True)
    assert "Requeued 2 dead letter(s)" in text and "No dead letters match." in text
    job = client.get(f"/jobs/{job_a}").get_data(as_text=True)
    assert 'id="job-state">queued<' in job
    assert redis.Redis.from_url(redis_url).llen("customers") == 2


def test_discard_needs_a_reason(app: Flask, db_url: str) -> None:
    job_id, letter = dead_job(db_url, 31)
    client = logged_in(app)
    token = csrf(client.get("/dead-letters").get_data(as_text=True))
    empty = client.post("/dead-letters/discard", data={"ids": str(letter), "csrf_token": token,
                                                       "reason": " "}, follow_redirects=True)
    assert "A discard needs a reason" in empty.get_data(as_text=True)
    done = client.post("/dead-letters/discard", data={
        "ids": str(letter), "csrf_token": token, "reason": "test order"}, follow_redirects=True)
    assert "Discarded 1 dead letter(s)" in done.get_data(as_text=True)
    assert 'id="job-state">discarded<' in client.get(f"/jobs/{job_id}").get_data(as_text=True)


def test_review_page_requeues_the_ticked_jobs(app: Flask, db_url: str, redis_url: str) -> None:
    held = add_job(db_url, 41, state=JobState.NEEDS_REVIEW, step=Step.CREATE_INVOICE,
                   reason="no SKU mapping for GIFTCARD")
    client = logged_in(app)
    page = client.get("/review").get_data(as_text=True)
    assert "no SKU mapping for GIFTCARD" in page
    reply = client.post("/review/requeue", data={"ids": str(held), "csrf_token": csrf(page)},
                        follow_redirects=True)
    assert "Requeued 1 job(s)" in reply.get_data(as_text=True)
    assert redis.Redis.from_url(redis_url).llen("orders") == 1


def test_job_page_shows_the_timeline_documents_and_links(app: Flask, db_url: str) -> None:
    job_id = add_job(db_url, 51, invoice=1051, attempts=(
        ("ensure_customer", "ok"), ("create_invoice", "transient"), ("create_invoice", "ok")))
    page = logged_in(app).get(f"/jobs/{job_id}").get_data(as_text=True)
    assert page.count("<td>create_invoice</td>") == 2 and "KashFlow answered 503" in page
    assert 'id="invoice-number">1051<' in page
    # Browser pages of both products, not their REST APIs (which answer a browser 401).
    assert "/admin/sales/order/view/order_id/51/" in page and "/V1/orders/51" not in page
    assert "/invoices/1051" in page and "/v2/invoices/1051" not in page
    assert "ann.lee@example.com" in page  # the Magento order, as fetched


def test_jobs_filters_and_bad_filters(app: Flask, db_url: str) -> None:
    add_job(db_url, 61)
    add_job(db_url, 62, state=JobState.NEEDS_REVIEW, step=Step.CREATE_INVOICE, reason="VAT 17%")
    client = logged_in(app)
    page = client.get("/jobs?state=needs_review").get_data(as_text=True)
    assert "000000062" in page and "000000061" not in page
    bad = client.get("/jobs?state=lost&q=000000061")
    assert bad.status_code == 200 and "state: Must be one of" in bad.get_data(as_text=True)


def test_no_secret_appears_in_any_page(app: Flask, db_url: str) -> None:
    job_id, letter = dead_job(db_url, 71)
    add_job(db_url, 72, state=JobState.NEEDS_REVIEW, step=Step.CREATE_INVOICE)
    client = logged_in(app)
    pages = ["/", "/jobs", f"/jobs/{job_id}", "/dead-letters", f"/dead-letters/{letter}",
             "/review", "/login"]
    secrets = [v for value in SECRETS.values() for v in value.split(",")]
    secrets += [SECRETS["KFSYNC_FLOWER_BASIC_AUTH"].split(":")[1]]
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        assert "<html" in html, path
        for secret in secrets:
            if secret != "shop-owner":  # the KashFlow user name is not a secret
                assert secret not in html, (path, secret)
