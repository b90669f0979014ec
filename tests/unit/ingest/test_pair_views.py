"""Jobs, dead letters and reconciliation items per integration pair, through the API and the
dashboard (Flask's test client, SQLite and PostgreSQL, real Redis): the ``pair`` filter, an
unknown pair refused, requeue by pair, the dashboard's pair selector remembered in the
session and the overview's counts per pair. The browser test is
tests/integration/test_pair_dashboard_browser.py."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core import pairs as pairs_scope
from ingest.api.openapi import build_spec
from services import pairs
from store.db import session_scope
from store.models import DeadLetter, JobState, Step
from tests.unit.ingest.ops_helpers import (
    AUTH,
    PAIR_SECRETS,
    SECRETS,
    add_event_letter,
    add_job,
    add_pair,
    dead_job,
    make_app,
    make_settings,
)
from tests.unit.ingest.test_dashboard import logged_in

KEY = pairs.new_key()


@pytest.fixture
def app(db_url: str, redis_url: str) -> Flask:
    """Pair default with 2 done orders and 1 dead one; pair shopb with 1 done, 2 dead (one of
    them a dead event that never became a job) and 1 held for review."""
    add_pair(make_settings(db_url, redis_url, KFSYNC_PAIRS_KEY=KEY), "shopb")
    add_job(db_url, 1)
    add_job(db_url, 2)
    dead_job(db_url, 3)
    add_job(db_url, 1, pair="shopb")  # the same entity id in another shop: another job
    dead_job(db_url, 4, pair="shopb")
    add_event_letter(db_url, "shopb")
    add_job(db_url, 5, pair="shopb", state=JobState.NEEDS_REVIEW, step=Step.CREATE_INVOICE,
            reason="no VAT rate for 17%")
    return make_app(db_url, redis_url, KFSYNC_PAIRS_KEY=KEY)


def refs(items: list[dict[str, object]], key: str = "magento_ref") -> list[object]:
    return sorted(str(item[key]) for item in items)


def test_the_api_lists_one_pairs_jobs_and_dead_letters(app: Flask) -> None:
    client = app.test_client()
    jobs = client.get("/api/v1/jobs?pair=shopb", headers=AUTH).get_json()
    assert jobs["total"] == 3 and {j["pair"] for j in jobs["items"]} == {"shopb"}
    assert client.get("/api/v1/jobs?pair=default", headers=AUTH).get_json()["total"] == 3
    letters = client.get("/api/v1/dead-letters?pair=shopb", headers=AUTH).get_json()
    assert refs(letters["items"], "step") == ["ensure_customer", "process_event"]
    default = client.get("/api/v1/dead-letters?pair=default", headers=AUTH).get_json()
    assert default["total"] == 1 and default["items"][0]["payload_ref"].startswith("sync_jobs/")
    assert client.get("/api/v1/dead-letters", headers=AUTH).get_json()["total"] == 3


def test_the_api_refuses_a_pair_that_does_not_exist(app: Flask) -> None:
    client = app.test_client()
    for path in ("/api/v1/jobs?pair=shopc", "/api/v1/dead-letters?pair=shopc"):
        reply = client.get(path, headers=AUTH)
        assert reply.status_code == 400, path
        assert reply.get_json()["errors"] == {
            "pair": ["No pair named shopc (pairs: default, shopb)."]}
    reply = client.post("/api/v1/dead-letters/requeue", headers=AUTH,
                        json={"all": True, "pair": "shopc"})
    assert reply.status_code == 400 and "pair" in reply.get_json()["errors"]


def test_requeue_all_of_one_pair_leaves_the_other_pairs_letters(app: Flask,
                                                                db_url: str) -> None:
    client = app.test_client()
    reply = client.post("/api/v1/dead-letters/requeue", headers=AUTH,
                        json={"all": True, "pair": "shopb"})
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["count"] == 2
    with session_scope(db_url) as s:
        still_open = [x.payload_ref for x in s.query(DeadLetter).filter(
            DeadLetter.resolved_at.is_(None))]
    assert len(still_open) == 1 and still_open[0].startswith("sync_jobs/")  # default's


def test_the_openapi_document_names_the_pair_filters() -> None:
    paths = build_spec()["paths"]
    for path in ("/api/v1/jobs", "/api/v1/dead-letters"):
        names = [p["name"] for p in paths[path]["get"]["parameters"]]
        assert "pair" in names, path
    body = build_spec()["components"]["schemas"]["RequeueLettersRequest"]["properties"]
    assert "pair" in body


def cell(html: str, row_id: str) -> list[str]:
    row = re.search(rf'<tr id="{row_id}"[^>]*>(.*?)</tr>', html, re.S)
    assert row, f"no row {row_id}"
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                   row.group(1), re.S)]


def test_the_overview_counts_per_pair_and_the_selector_narrows_every_page(
        app: Flask) -> None:
    client = logged_in(app)
    html = client.get("/").get_data(as_text=True)
    assert 'id="pair-select"' in html
    # pair, synced 24h, in progress, waiting, review, dead, done, letters, queued, circuit
    assert cell(html, "pair-default") == ["default", "2", "0", "0", "0", "1", "2", "1", "0",
                                          "closed"]
    assert cell(html, "pair-shopb") == ["shopb", "1", "0", "0", "1", "1", "1", "2", "0",
                                        "closed"]
    assert re.search(r'id="letters-open">\s*3<', html)  # the cards: every pair

    html = client.get("/?pair=shopb").get_data(as_text=True)
    assert re.search(r'id="letters-open">\s*2<', html) and 'id="pair-shown"' in html
    assert '<option value="shopb" selected>' in html
    # remembered: the jobs and dead-letter pages show shopb's only, without ?pair
    jobs = client.get("/jobs").get_data(as_text=True)
    assert "3 in all" in jobs and "000000002" not in jobs and "000000005" in jobs
    letters = client.get("/dead-letters").get_data(as_text=True)
    assert "2 in all" in letters and "event " in letters
    assert letters.count("<td>shopb</td>") == 2  # the pair column
    # all pairs again
    assert "6 in all" in client.get("/jobs?pair=").get_data(as_text=True)
    assert "6 in all" in client.get("/jobs").get_data(as_text=True)  # and remembered so


def test_a_disabled_pair_is_still_shown_and_marked(app: Flask, db_url: str,
                                                   redis_url: str) -> None:
    settings = make_settings(db_url, redis_url, KFSYNC_PAIRS_KEY=KEY)
    pairs.set_enabled(settings, "shopb", False, "test")
    html = logged_in(app).get("/").get_data(as_text=True)
    assert cell(html, "pair-shopb")[0] == "shopb (disabled)"  # its jobs are still there
    assert cell(html, "pair-default")[0] == "default"
    rows = app.test_client().get("/api/v1/stats", headers=AUTH).get_json()["pairs"]
    assert [(r["pair"], r["enabled"]) for r in rows] == [("default", True), ("shopb", False)]


def test_an_unknown_pair_is_said_and_changes_nothing(app: Flask) -> None:
    client = logged_in(app)
    client.get("/jobs?pair=default")
    html = client.get("/jobs?pair=shopc").get_data(as_text=True)
    assert "No pair named shopc; pairs: default, shopb." in html
    assert "3 in all" in html and 'id="pair-shown"' in html  # still default's


def test_one_shop_shows_no_selector_and_no_secret(db_url: str, redis_url: str) -> None:
    add_job(db_url, 1)
    client = logged_in(make_app(db_url, redis_url))
    for path in ("/", "/jobs", "/dead-letters"):
        html = client.get(path).get_data(as_text=True)
        assert 'id="pair-select"' not in html and 'id="pairs"' not in html, path


def test_no_pair_secret_appears_on_the_pair_pages(app: Flask) -> None:
    client = logged_in(app)
    secrets = [*PAIR_SECRETS["webhook_secrets"], *(v for k, v in PAIR_SECRETS.items()
                                                   if isinstance(v, str)), *SECRETS.values()]
    for path in ("/", "/?pair=shopb", "/jobs?pair=shopb", "/dead-letters?pair=shopb"):
        html = client.get(path).get_data(as_text=True)
        for secret in secrets:
            assert secret not in html, (path, secret)


def test_a_session_with_a_pair_that_was_removed_shows_every_pair(
        app: Flask, db_url: str) -> None:
    client: FlaskClient = logged_in(app)
    client.get("/?pair=shopb")
    from sqlalchemy import delete

    from store.pair_models import IntegrationPair

    with session_scope(db_url) as s:
        s.execute(delete(IntegrationPair).where(IntegrationPair.name == "shopb"))
    html = client.get("/jobs").get_data(as_text=True)
    assert "6 in all" in html and 'id="pair-select"' not in html


def test_the_overview_shows_a_pairs_open_circuit_and_its_queue(app: Flask,
                                                                redis_url: str) -> None:
    import redis

    from core import pairs as scope
    from services import circuit

    with scope.scope("shopb"):
        circuit.trip(redis_url, "KashFlow refused shopb's login")
    redis.Redis.from_url(redis_url).rpush("ingest.shopb", "m1", "m2", "m3")
    client = logged_in(app)
    html = client.get("/?pair=").get_data(as_text=True)
    assert "kashflow@shopb: open</strong> — KashFlow refused shopb&#39;s login" in html
    assert cell(html, "pair-shopb")[8:] == ["3", "open"]
    assert cell(html, "pair-default")[8:] == ["0", "closed"]
    assert "<td>ingest.shopb</td><td>3</td>" in html
    shopb = client.get("/?pair=shopb").get_data(as_text=True)
    assert 'id="circuit-kashflow"><strong>kashflow: open' in shopb
    default = client.get("/?pair=default").get_data(as_text=True)
    assert 'id="circuits-closed"' in default and "ingest.shopb" not in default


def test_the_stats_api_gives_each_pairs_numbers_and_one_pairs_overview(app: Flask) -> None:
    client = app.test_client()
    body = client.get("/api/v1/stats", headers=AUTH).get_json()
    rows = {row["pair"]: row for row in body["pairs"]}
    assert list(rows) == ["default", "shopb"]
    assert (rows["shopb"]["jobs_by_state"]["needs_review"], rows["shopb"]["dead_letters_open"],
            rows["shopb"]["synced_24h"], rows["shopb"]["circuit_open"]) == (1, 2, 1, False)
    assert rows["default"]["jobs_by_state"]["dead"] == 1
    assert sum(body["dead_letters_open"].values()) == 3 and "ingest.shopb" in body["backlog"]
    shopb = client.get("/api/v1/stats?pair=shopb", headers=AUTH).get_json()
    assert shopb["jobs_by_state"]["done"] == 1 and sum(shopb["dead_letters_open"].values()) == 2
    assert client.get("/api/v1/stats?pair=shopc", headers=AUTH).status_code == 400


def add_item(db_url: str, pair: str, order_key: str) -> None:
    from datetime import date

    from store.reconcile_models import ItemReason, ItemStatus, ReconciliationItem

    with session_scope(db_url) as s:
        s.add(ReconciliationItem(
            pair=pair, fingerprint=pairs_scope.scoped_key(f"missing_payment:{order_key}:t", pair),
            day=date(2026, 11, 24), reason=ItemReason.MISSING_PAYMENT, status=ItemStatus.OPEN,
            order_key=order_key, order_ref=f"REF-{pair}-{order_key}"))


def test_reconciliation_items_are_listed_per_pair_in_the_api_and_the_dashboard(
        app: Flask, db_url: str) -> None:
    add_item(db_url, "default", "7102")
    add_item(db_url, "shopb", "7102")  # the same order id in the other shop: its own item
    client = app.test_client()
    shopb = client.get("/api/v1/reconciliation?pair=shopb", headers=AUTH).get_json()
    assert [(i["pair"], i["order_ref"]) for i in shopb["items"]] == [("shopb", "REF-shopb-7102")]
    assert client.get("/api/v1/reconciliation", headers=AUTH).get_json()["total"] == 2
    reply = client.get("/api/v1/reconciliation?pair=shopc", headers=AUTH)
    assert reply.status_code == 400 and reply.get_json()["errors"] == {
        "pair": ["No pair named shopc (pairs: default, shopb)."]}

    page = logged_in(app)
    html = page.get("/reconciliation?pair=shopb").get_data(as_text=True)
    assert 'id="pair-select"' in html and 'id="pair-shown"' in html
    assert "REF-shopb-7102" in html and "REF-default-7102" not in html
    every = page.get("/reconciliation?pair=").get_data(as_text=True)
    assert "REF-shopb-7102" in every and "REF-default-7102" in every
    assert every.count("<td>shopb</td>") == 1 and every.count("<td>default</td>") == 1
