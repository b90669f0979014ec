"""The ops JSON API on SQLite and PostgreSQL with real Redis: what an operator's script sees."""

from __future__ import annotations

import re
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from store.db import session_scope
from store.models import AuditEntry, JobState, Step, SyncJob
from tests.unit.ingest.ops_helpers import AUTH, add_job, add_letter, dead_job, make_app


@pytest.fixture
def app(db_url: str, redis_url: str) -> Flask:
    return make_app(db_url, redis_url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def api_routes(app: Flask) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<int\(max=2147483647\):\w+>", "1", rule.rule)
            routes += [(method, path) for method in sorted(rule.methods or ())
                       if method in ("GET", "POST")]
    return routes


def test_every_api_route_needs_the_bearer_token(app: Flask, client: FlaskClient) -> None:
    routes = api_routes(app)
    assert len(routes) >= 10
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "ops-token"}):
            reply = client.open(path, method=method, headers=headers, json={})
            assert reply.status_code == 401, (method, path)
            assert reply.get_json()["status"] == "error"
            assert "_auth" in reply.get_json()["errors"]


def test_without_a_configured_token_nothing_gets_in(db_url: str, redis_url: str) -> None:
    client = make_app(db_url, redis_url, KFSYNC_OPS_TOKEN="").test_client()
    assert client.get("/api/v1/jobs", headers={"Authorization": "Bearer "}).status_code == 401


def test_jobs_list_filters_and_pages(client: FlaskClient, db_url: str) -> None:
    for n in range(5):
        add_job(db_url, 100 + n, age_h=n)
    add_job(db_url, 200, state=JobState.NEEDS_REVIEW, step=Step.CREATE_INVOICE,
            reason="no VAT rate for 17%")
    page = client.get("/api/v1/jobs?per_page=2&page=2", headers=AUTH).get_json()
    assert (page["total"], page["page"], page["per_page"], len(page["items"])) == (6, 2, 2, 2)
    review = client.get("/api/v1/jobs?state=needs_review", headers=AUTH).get_json()
    assert [j["magento_ref"] for j in review["items"]] == ["000000200"]
    assert client.get("/api/v1/jobs?q=VAT", headers=AUTH).get_json()["total"] == 1
    assert client.get("/api/v1/jobs?q=000000103", headers=AUTH).get_json()["total"] == 1
    assert client.get("/api/v1/jobs?kind=refund", headers=AUTH).get_json()["total"] == 0


@pytest.mark.parametrize("query", ["state=lost", "per_page=0", "per_page=500", "page=x",
                                   "colour=red", "q=%00"])
def test_bad_filters_are_400_with_field_errors(client: FlaskClient, query: str) -> None:
    reply = client.get(f"/api/v1/jobs?{query}", headers=AUTH)
    assert reply.status_code == 400
    body = reply.get_json()
    assert body["status"] == "error" and body["errors"]


def test_job_detail_has_attempts_document_and_invoice(client: FlaskClient, db_url: str) -> None:
    job_id = add_job(db_url, 301, invoice=1042, attempts=(
        ("ensure_customer", "ok"), ("create_invoice", "transient"), ("create_invoice", "ok")))
    job = client.get(f"/api/v1/jobs/{job_id}", headers=AUTH).get_json()
    assert job["invoice_number"] == 1042 and job["state"] == "done"
    assert [(a["step"], a["outcome"]) for a in job["attempts"]] == [
        ("ensure_customer", "ok"), ("create_invoice", "transient"), ("create_invoice", "ok")]
    assert job["document"]["entity_id"] == 301
    assert job["magento_url"].endswith("/V1/orders/301")
    assert job["kashflow_url"].endswith("/invoices/1042")
    assert job["magento_admin_url"].endswith("/admin/sales/order/view/order_id/301/")
    assert job["kashflow_page_url"].endswith("/invoices/1042")
    assert "/v2/" not in job["kashflow_page_url"]
    assert job["created_at"].endswith("+00:00")
    missing = client.get("/api/v1/jobs/999999", headers=AUTH)
    assert missing.status_code == 404 and missing.get_json()["status"] == "error"


def test_dead_letters_filter_by_entity_class_and_date(client: FlaskClient, db_url: str) -> None:
    _, old = dead_job(db_url, 401, age_h=48)
    _, auth = dead_job(db_url, 402, error_class="auth")
    add_letter(db_url, None, error_class="transient")  # an event's letter, not a job's

    def ids(query: str) -> list[int]:
        reply = client.get(f"/api/v1/dead-letters?{query}", headers=AUTH)
        assert reply.status_code == 200, reply.get_json()
        return [x["id"] for x in reply.get_json()["items"]]

    assert len(ids("")) == 3
    assert ids("error_class=auth") == [auth]
    assert ids("entity=order&until=2099-01-01T00:00:00Z") == [auth, old]
    assert old not in ids("since=" + _hours_ago(24))
    detail = client.get(f"/api/v1/dead-letters/{auth}", headers=AUTH).get_json()
    assert detail["error_class"] == "auth" and detail["job"]["magento_ref"] == "000000402"


def _hours_ago(hours: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S")


def test_requeue_resumes_the_job_at_its_failed_step(client: FlaskClient, db_url: str,
                                                    redis_url: str) -> None:
    job_id, letter_id = dead_job(db_url, 501)
    reply = client.post("/api/v1/dead-letters/requeue", headers=AUTH, json={"ids": [letter_id]})
    assert reply.status_code == 200
    assert reply.get_json() == {"status": "ok", "action": "requeue", "ids": [letter_id],
                                "count": 1}
    with session_scope(db_url) as s:
        job = s.get(SyncJob, job_id)
        assert job is not None and (job.state, job.step) == ("queued", "ensure_customer")
        actions = [(a.actor, a.action, a.target) for a in s.query(AuditEntry)]
    assert ("api", "requeue", f"dead_letters/{letter_id}") in actions
    assert redis.Redis.from_url(redis_url).llen("customers") == 1  # the chain's first task
    open_letters = client.get("/api/v1/dead-letters", headers=AUTH).get_json()
    assert open_letters["total"] == 0
    again = client.post("/api/v1/dead-letters/requeue", headers=AUTH, json={"ids": [letter_id]})
    assert again.status_code == 404 and "_operation" in again.get_json()["errors"]


def test_requeue_all_matching_a_filter(client: FlaskClient, db_url: str) -> None:
    _, a = dead_job(db_url, 601, error_class="transient")
    _, b = dead_job(db_url, 602, error_class="transient")
    _, keep = dead_job(db_url, 603, error_class="auth")
    reply = client.post("/api/v1/dead-letters/requeue", headers=AUTH,
                        json={"all": True, "error_class": "transient"})
    assert sorted(reply.get_json()["ids"]) == sorted([a, b])
    left = client.get("/api/v1/dead-letters", headers=AUTH).get_json()["items"]
    assert [x["id"] for x in left] == [keep]


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"ids": [1], "all": True},
                                  {"ids": ["1"]}, {"ids": [1], "colour": "red"}, [1, 2]])
def test_bad_requeue_bodies_are_400(client: FlaskClient, body: Any) -> None:
    reply = client.post("/api/v1/dead-letters/requeue", headers=AUTH, json=body)
    assert reply.status_code == 400 and reply.get_json()["status"] == "error"


def test_discard_needs_a_reason_and_closes_the_job(client: FlaskClient, db_url: str) -> None:
    job_id, letter_id = dead_job(db_url, 701)
    for reason in (None, "", "   "):
        body = {"ids": [letter_id]} | ({} if reason is None else {"reason": reason})
        reply = client.post("/api/v1/dead-letters/discard", headers=AUTH, json=body)
        assert reply.status_code == 400 and "reason" in reply.get_json()["errors"]
    reply = client.post("/api/v1/dead-letters/discard", headers=AUTH,
                        json={"ids": [letter_id], "reason": "test order, never paid"})
    assert reply.status_code == 200 and reply.get_json()["count"] == 1
    job = client.get(f"/api/v1/jobs/{job_id}", headers=AUTH).get_json()
    assert job["state"] == "discarded" and "test order" in job["reason"]


def test_review_items_requeue_and_discard(client: FlaskClient, db_url: str,
                                          redis_url: str) -> None:
    held = add_job(db_url, 801, state=JobState.NEEDS_REVIEW, step=Step.CREATE_INVOICE,
                   reason="no SKU mapping for GIFTCARD")
    other = add_job(db_url, 802, state=JobState.NEEDS_REVIEW, step=Step.CREATE_INVOICE)
    done = add_job(db_url, 803)
    review = client.get("/api/v1/review", headers=AUTH).get_json()
    assert sorted(j["id"] for j in review["items"]) == sorted([held, other])
    reply = client.post("/api/v1/review/requeue", headers=AUTH, json={"ids": [held]})
    assert reply.status_code == 200
    assert redis.Redis.from_url(redis_url).llen("orders") == 1  # resumes at create_invoice
    refused = client.post("/api/v1/review/requeue", headers=AUTH, json={"ids": [done]})
    assert refused.status_code == 409
    reply = client.post("/api/v1/review/discard", headers=AUTH,
                        json={"ids": [other], "reason": "duplicate order, refunded in shop"})
    assert reply.status_code == 200
    assert client.get("/api/v1/review", headers=AUTH).get_json()["total"] == 0


def test_stats_give_the_overview_numbers(client: FlaskClient, db_url: str) -> None:
    add_job(db_url, 901, attempts=(("ensure_customer", "ok"), ("create_invoice", "ok")))
    add_job(db_url, 902, age_h=3, attempts=(("create_invoice", "transient"),))
    dead_job(db_url, 903, error_class="auth")
    stats = client.get("/api/v1/stats", headers=AUTH).get_json()
    assert stats["jobs_by_state"]["done"] == 2 and stats["jobs_by_state"]["dead"] == 1
    assert len(stats["synced_per_hour"]) == 24
    assert sum(h["orders"] for h in stats["synced_per_hour"]) == 2
    assert stats["synced_per_hour"][-1]["orders"] == 1
    assert stats["error_rate"] == {"window_hours": 24, "attempts": 4, "failed": 2, "rate": 0.5}
    assert stats["last_success"]["invoice"] is not None and stats["last_success"]["payment"] is None
    assert stats["backlog"]["dead_letter"] == 0 and "orders" in stats["backlog"]
    assert stats["open_circuits"] == {}
    assert stats["dead_letters_open"] == {"auth": 1}
