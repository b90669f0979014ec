"""The mapping studio's pages through Flask's test client, on SQLite and PostgreSQL: every
form needs its CSRF token, a bad value is shown again with its one-line error and nothing is
stored, CSV and YAML imports, publish and rollback, and the job page naming its version."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import simplejson
from flask import Flask
from flask.testing import FlaskClient

from kfsync.samples import Buyer, Line, make_order
from mappings.profile import dump_rules
from mappings.rules import Rules
from services import profiles
from store.db import session_scope
from store.models import SyncJob
from tests.unit.ingest.ops_helpers import SECRETS, add_job, make_app
from tests.unit.ingest.test_dashboard import csrf, logged_in


@pytest.fixture
def app(db_url: str, redis_url: str) -> Flask:
    return make_app(db_url, redis_url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return logged_in(app)


def token(client: FlaskClient) -> str:
    return csrf(client.get("/mapping").get_data(as_text=True))


def flashes(html: str) -> list[str]:
    return re.findall(r'role="status">([^<]+)<', html)


def policy_form(**overrides: str) -> dict[str, str]:
    """The policies form as the page sends it, for the default rules."""
    doc = dump_rules(Rules())
    form = {k: "" if v is None else str(v) for k, v in doc.items()
            if not isinstance(v, dict | list)}
    form.update({f"steps.{name}": "on" for name, on in doc["steps"].items() if on})
    for check, rule in doc["checks"].items():
        form[f"checks.{check}.severity"] = rule["severity"]
        form[f"checks.{check}.threshold"] = "" if rule["threshold"] is None else str(
            rule["threshold"])
    return {**form, **overrides}


def test_every_studio_page_renders_and_shows_no_secret(client: FlaskClient) -> None:
    for path in ("/mapping", "/mapping/skus", "/mapping/payments", "/mapping/policies",
                 "/mapping/preview", "/mapping/impact", "/mapping/versions",
                 "/mapping/versions/1", "/mapping/audit"):
        reply = client.get(path)
        assert reply.status_code == 200, path
        assert "default-src 'none'" in reply.headers["Content-Security-Policy"]
        html = reply.get_data(as_text=True)
        assert "<script" not in html
        for secret in SECRETS.values():
            assert secret not in html, (path, secret)
    assert client.get("/mapping/versions/99").status_code == 404


def test_studio_forms_without_their_csrf_token_change_nothing(client: FlaskClient,
                                                               db_url: str) -> None:
    assert client.get("/mapping").status_code == 200  # version 1, from the defaults
    for path, form in (("/mapping/skus/save", {"sku": "MUG", "nominal_code": "4010"}),
                       ("/mapping/publish", {"comment": "sneaky"}),
                       ("/mapping/import", {"yaml": "due_days: 30"}),
                       ("/mapping/versions/1/rollback", {})):
        reply = client.post(path, data=form)
        assert reply.status_code == 400, path
        assert "Nothing was changed" in reply.get_data(as_text=True)
    assert profiles.draft(db_url) is None
    assert [v.id for v in profiles.versions(db_url)] == [1]


def test_a_bad_policy_is_shown_again_with_its_error_and_nothing_is_lost(
        client: FlaskClient, db_url: str) -> None:
    form = policy_form(default_nominal_code="forty", shipping_description="Carriage",
                       **{"checks.dup.near.threshold": "15"})
    reply = client.post("/mapping/policies", data={**form, "csrf_token": token(client)})
    html = reply.get_data(as_text=True)
    assert reply.status_code == 400
    assert "default_nominal_code: Not a valid integer." in html
    assert 'value="forty"' in html and 'value="Carriage"' in html and 'value="15"' in html
    assert profiles.draft(db_url) is None

    good = policy_form(shipping_description="Carriage", due_days="30")
    reply = client.post("/mapping/policies", data={**good, "csrf_token": token(client)},
                        follow_redirects=True)
    assert "Draft saved: policies." in flashes(reply.get_data(as_text=True))[0]
    draft = profiles.draft(db_url)
    assert draft is not None
    assert {str(c) for c in draft.changes} == {'~ due_days: 0 -> 30',
                                               '~ shipping_description: "Shipping" -> "Carriage"'}


def test_a_csv_with_a_bad_row_names_its_line_and_stores_nothing(client: FlaskClient,
                                                                db_url: str) -> None:
    text = "sku,nominal_code,product_code\nMUG,4000,MUG\nHOODIE,four,\n"
    reply = client.post("/mapping/skus/import", data={"csv": text, "csrf_token": token(client)},
                        follow_redirects=True)
    assert flashes(reply.get_data(as_text=True)) == [
        "CSV line 3: nominal_code &#39;four&#39; is not a number"]
    assert profiles.draft(db_url) is None

    good = "sku,nominal_code,product_code\nMUG,4000,MUG\nHOODIE,4010,\n"
    reply = client.post("/mapping/skus/import", data={"csv": good, "csrf_token": token(client)},
                        follow_redirects=True)
    assert flashes(reply.get_data(as_text=True)) == ["Imported 2 SKU row(s) into the draft."]
    exported = client.get("/mapping/skus.csv").get_data(as_text=True)
    assert exported.splitlines() == ["sku,nominal_code,product_code", "HOODIE,4010,",
                                     "MUG,4000,MUG"]


def test_an_imported_yaml_becomes_the_draft_and_shows_its_diff(client: FlaskClient,
                                                               db_url: str) -> None:
    yaml_text = "skus:\n  MUG: {nominal_code: 4010}\ndue_days: 14\n"
    reply = client.post("/mapping/import", data={"yaml": yaml_text, "csrf_token": token(client)})
    assert reply.status_code == 302 and reply.headers["Location"] == "/mapping"
    home = client.get("/mapping").get_data(as_text=True)
    assert "Imported pasted YAML as the draft: 2 change(s)" in flashes(home)[0]
    assert "~ due_days: 0 -&gt; 14" in home
    assert "+ skus.MUG: {&#34;nominal_code&#34;: 4010, &#34;product_code&#34;: null}" in home
    draft = profiles.draft(db_url)
    assert draft is not None and draft.source == "import"

    bad = client.post("/mapping/import", data={"yaml": "due_days: [", "csrf_token": token(client)},
                      follow_redirects=True)
    assert "Nothing imported: pasted YAML: invalid YAML" in flashes(bad.get_data(as_text=True))[0]


def test_publish_and_rollback_and_the_job_page_names_its_version(client: FlaskClient,
                                                                 db_url: str) -> None:
    save = client.post("/mapping/skus/save", follow_redirects=True, data={
        "sku": "MUG", "nominal_code": "4010", "csrf_token": token(client)})
    assert "Draft saved: skus.MUG -&gt; nominal 4010" in flashes(save.get_data(as_text=True))[0]
    published = client.post("/mapping/publish", follow_redirects=True, data={
        "comment": "mugs on 4010", "csrf_token": token(client)})
    assert flashes(published.get_data(as_text=True)) == [
        "Published version 2: it is in force for the next order."]
    again = client.post("/mapping/publish", follow_redirects=True, data={
        "csrf_token": token(client)})
    assert flashes(again.get_data(as_text=True)) == ["there is no draft to publish"]
    rolled = client.post("/mapping/versions/1/rollback", follow_redirects=True, data={
        "csrf_token": token(client)})
    assert flashes(rolled.get_data(as_text=True)) == [
        "Rolled back: version 3 is in force with version 1&#39;s rules."]
    assert "rollback of v1" in client.get("/mapping/versions").get_data(as_text=True)

    job_id = add_job(db_url, 7001)
    with session_scope(db_url) as s:
        job = s.get(SyncJob, job_id)
        assert job is not None
        job.profile_version = 2
        job.plan = {"pay": True, "notes": ["SKU X is not mapped: posted on nominal 4000"],
                    "findings": [{"check": "dup.near", "severity": "warn",
                                  "message": "same as order 000007000"}]}
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert '<a href="/mapping/versions/2">Mapping profile version 2</a>' in page
    assert "SKU X is not mapped: posted on nominal 4000" in page
    assert "dup.near" in page and "same as order 000007000" in page
    assert '<a href="/mapping/versions/2">v2</a>' in client.get("/jobs").get_data(as_text=True)


def test_the_preview_shows_the_draft_invoice_and_its_difference(client: FlaskClient,
                                                                db_url: str) -> None:
    order = make_order(7101, Buyer("pre.view@example.com", "Pat", "View"),
                       [Line("MUG", "Mug", Decimal("8.00"), 1)])
    job_id = add_job(db_url, 7101, document=simplejson.loads(
        simplejson.dumps(order, use_decimal=True), use_decimal=True))
    client.post("/mapping/skus/save", data={"sku": "MUG", "nominal_code": "4010",
                                            "product_code": "MUG", "csrf_token": token(client)})
    html = client.get(f"/mapping/preview?order={job_id}").get_data(as_text=True)
    assert "with the draft" in html and "ok: the lines total" in html
    assert "~ LineItems.1.NominalCode: 4000 -&gt; 4010" in html
    assert "NominalCode/ProductCode from skus.MUG" in html
    assert "SKU MUG is not mapped" not in html
    published = client.get(f"/mapping/preview?order={job_id}&version=1").get_data(as_text=True)
    assert "with version 1" in published and "SKU MUG is not mapped" in published
    impact = client.get("/mapping/impact").get_data(as_text=True)
    assert "Replayed 1 order(s), 1 would change." in impact
    for ref in ("\u00b2", "99999999999999999999", "nope"):  # never a server error
        reply = client.get("/mapping/preview", query_string={"order": ref})
        assert reply.status_code == 200 and "no stored order" in reply.get_data(as_text=True)


def test_vat_levels_are_listed_in_numeric_order(client: FlaskClient) -> None:
    for key in ("20", "5", "0", "17.5"):
        client.post("/mapping/vat/save", data={"key": key, "level": key,
                                                "csrf_token": token(client)})
    page = client.get("/mapping/payments").get_data(as_text=True)
    table = page[page.index('id="vat-levels"'):]
    keys = re.findall(r"<td><code>([^<]+)</code></td>", table)
    assert keys == sorted(keys, key=float) and {"0", "5", "17.5", "20"} <= set(keys)


def test_refresh_catalogue_queues_a_worker_task_and_the_page_shows_its_progress(
        client: FlaskClient, redis_url: str) -> None:
    """No web request calls KashFlow or Magento (the settings point at hosts that would not
    answer): the button queues ``refresh_catalogue`` once and the page follows its marks."""
    from services import catalogue
    from tests.unit.workers.test_dispatch import queued_tasks

    page = client.post("/mapping/refresh", data={"csrf_token": token(client)},
                       follow_redirects=True).get_data(as_text=True)
    assert flashes(page) == ["Catalogue refresh queued: a worker reads KashFlow and Magento, "
                             "and this page shows its progress."]
    assert queued_tasks(redis_url, "maintenance") == [
        ("kfsync.maintenance.refresh_catalogue", ["dashboard"])]
    assert "Catalogue refresh queued since" in page and 'http-equiv="refresh"' in page

    again = client.post("/mapping/refresh", data={"csrf_token": token(client)},
                        follow_redirects=True).get_data(as_text=True)
    assert flashes(again)[0].startswith("A catalogue refresh is already queued")
    assert len(queued_tasks(redis_url, "maintenance")) == 1  # not twice

    catalogue.mark_refresh(redis_url, "running", "dashboard")
    assert "Catalogue refresh running since" in client.get("/mapping").get_data(as_text=True)
    catalogue.mark_refresh(redis_url, "failed", "dashboard", "KashFlow answered 503")
    ended = client.get("/mapping").get_data(as_text=True)
    assert re.search(r"Last catalogue refresh failed at [^<]+ \(asked by dashboard\): "
                     r"KashFlow answered 503\.", ended), ended
    assert 'http-equiv="refresh"' not in ended
