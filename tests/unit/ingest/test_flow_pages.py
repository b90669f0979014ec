"""The flow page and its node pages through Flask's test client, on SQLite and PostgreSQL:
the graphs as lists of links with today's counts, the scripts allowed on that page only,
routes added to the draft, refused with their reason, previewed, published, rolled back."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest
import simplejson
from flask import Flask
from flask.testing import FlaskClient

from kfsync.samples import Buyer, Line, make_order
from services import catalogue, profiles
from store.accounts import add_user
from store.db import session_scope
from store.models import Step, utcnow
from tests.unit.ingest.ops_helpers import AUTH, SECRETS, add_job, make_app
from tests.unit.ingest.test_dashboard import csrf, logged_in
from tests.unit.ingest.test_users import PASSWORD, login
from workers import orders
from workers.runner import Flow, StepDef

STATIC = Path(__file__).resolve().parents[3] / "ingest" / "static"
BASE_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@pytest.fixture
def app(db_url: str, redis_url: str) -> Flask:
    return make_app(db_url, redis_url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return logged_in(app)


def flashes(html: str) -> list[str]:
    return re.findall(r'role="status">([^<]+)<', html)


def add_route(client: FlaskClient, node: str, **form: str) -> str:
    token = csrf(client.get(f"/flow/{node}").get_data(as_text=True))
    reply = client.post(f"/flow/{node}/routes", follow_redirects=True,
                        data={"csrf_token": token, **form})
    assert reply.status_code == 200
    return " ".join(flashes(reply.get_data(as_text=True)))


PO_FORM = {"field-0": "payment_method", "op-0": "is", "value-0": "purchaseorder",
           "action": "invoice_if_invoiced"}


def po_order(entity_id: int) -> dict[str, object]:
    doc = make_order(entity_id, Buyer("po@example.com", "Pam", "Orders"),
                     [Line("MUG", "Mug", Decimal("8.00"), 1)], method="purchaseorder")
    doc["total_paid"] = doc["total_invoiced"] = Decimal(0)
    loaded: dict[str, object] = simplejson.loads(simplejson.dumps(doc, use_decimal=True),
                                                 use_decimal=True)
    return loaded


def test_the_flow_page_lists_every_node_with_its_counts_and_allows_only_its_scripts(
        client: FlaskClient, db_url: str) -> None:
    add_job(db_url, 7301, attempts=(("create_invoice", "ok"), ("post_payment", "rejected")))
    reply = client.get("/flow")
    assert reply.status_code == 200
    assert reply.headers["Content-Security-Policy"] == BASE_CSP + "; script-src 'self'"
    html = reply.get_data(as_text=True)
    for node in ("order.event", "order.decide", "ensure_customer", "create_invoice",
                 "post_payment", "credit_cancellation", "create_credit_note", "post_refund",
                 "sync_customer", "stock.pass", "reconciliation.items"):
        assert f'<a href="/flow/{node}">' in html, node
    invoice = re.search(r'<li data-node="create_invoice">(.*?)</li>', html, re.S)
    assert invoice and "1 done" in invoice.group(1) and "failed" not in invoice.group(1)
    payment = re.search(r'<li data-node="post_payment">(.*?)</li>', html, re.S)
    assert payment and "0 done" in payment.group(1) and "1 failed" in payment.group(1)
    assert "when pay: only when the decision says pay" in payment.group(1)
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all('src="/flow/static/' in s or 'type="application/json"' in s
                           for s in scripts)  # no inline script
    data = json.loads(re.search(r'id="flow-data">(.*?)</script>', html, re.S).group(1))
    order = next(g for g in data["graphs"] if g["name"] == "order")
    assert {"source": "create_invoice", "target": "post_payment",
            "label": "when pay"} in order["edges"]
    for secret in SECRETS.values():
        assert secret not in html
    for other in ("/", "/jobs", "/mapping", "/flow/create_invoice"):  # unchanged elsewhere
        assert client.get(other).headers["Content-Security-Policy"] == BASE_CSP, other


def test_a_step_added_to_the_order_flow_in_code_appears_on_the_page(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    flow = orders.ORDER_FLOW
    extra = StepDef(cast(Step, "notify_accounts"), "kfsync.orders.notify_accounts",
                    flow.steps[0].act)
    monkeypatch.setattr(orders, "ORDER_FLOW", Flow(
        flow.kind, (*flow.steps[:2], extra, *flow.steps[2:]), flow.in_process))
    html = client.get("/flow").get_data(as_text=True)
    listed = re.search(r'aria-label="Order to cash steps in order">(.*?)</ol>', html, re.S)
    assert listed is not None
    assert re.findall(r'data-node="([^"]+)"', listed.group(1)) == [
        "order.event", "order.decide", "ensure_customer", "create_invoice", "notify_accounts",
        "post_payment", "credit_cancellation", "add_to_summary"]
    data = json.loads(re.search(r'id="flow-data">(.*?)</script>', html, re.S).group(1))
    edges = next(g for g in data["graphs"] if g["name"] == "order")["edges"]
    assert {"source": "create_invoice", "target": "notify_accounts", "label": ""} in edges
    node = client.get("/flow/notify_accounts").get_data(as_text=True)
    assert "kfsync.orders.notify_accounts" in node and "0 done" in node


def test_the_vendored_graph_library_and_the_page_script_are_served_with_the_licence(
        client: FlaskClient) -> None:
    for name in ("flow.js", "vendor/cytoscape/cytoscape.min.js"):
        reply = client.get(f"/flow/static/{name}")
        assert reply.status_code == 200 and "javascript" in reply.content_type
        assert reply.get_data() == (STATIC / name).read_bytes()
    assert client.get("/flow/static/vendor/cytoscape/LICENSE").status_code == 404
    assert client.get("/flow/static/../app.py").status_code == 404
    assert "Cytoscape Consortium" in (STATIC / "vendor/cytoscape/LICENSE").read_text()
    script = (STATIC / "flow.js").read_text()
    assert "eval(" not in script and "innerHTML" not in script


def test_a_node_page_shows_its_settings_and_the_studio_forms_behind_it(
        client: FlaskClient) -> None:
    html = client.get("/flow/create_invoice").get_data(as_text=True)
    assert "<code>default_nominal_code</code></dt><dd>4000</dd>" in html
    for form in ('href="/mapping/skus">SKU map', 'href="/mapping/payments">Payments and VAT',
                 'href="/mapping/policies">Policies'):
        assert form in html
    assert "<script" not in html
    assert "use nominal" in html and "skip payment" not in html
    payments = client.get("/flow/post_payment").get_data(as_text=True)
    assert "skip payment" in payments and "use bank account" in payments
    assert "bill customer" in client.get("/flow/ensure_customer").get_data(as_text=True)
    assert "Add a route" not in client.get("/flow/credit_cancellation").get_data(as_text=True)
    assert client.get("/flow/nowhere").status_code == 404


@pytest.mark.parametrize(("node", "form", "reason"), [
    ("order.decide", {**PO_FORM, "field-0": "colour"},
     "Route refused: unknown field &#39;colour&#39;: use one of store_id"),
    ("order.decide", {**PO_FORM, "action": "skip_payment"},
     "Route refused: action &#39;skip_payment&#39; is not allowed on node decide (it belongs "
     "to post_payment): allowed here: hold_for_review, invoice_if_invoiced"),
    ("create_invoice", {**PO_FORM, "action": "use_nominal", "value": "four"},
     "Route refused: use nominal needs a nominal code"),
    ("order.decide", {**PO_FORM, "op-0": "above"},
     "Route refused: operator &#39;above&#39; does not apply to payment method (text)"),
])
def test_an_invalid_route_is_refused_with_its_reason_and_nothing_is_stored(
        client: FlaskClient, db_url: str, node: str, form: dict[str, str], reason: str) -> None:
    assert reason in add_route(client, node, **form)
    assert profiles.draft(db_url) is None


def test_an_operator_sees_the_flow_but_only_an_admin_edits_routes(app: Flask,
                                                                  db_url: str) -> None:
    add_user(db_url, "otto", "operator", PASSWORD)
    client = app.test_client()
    assert login(client, "otto").status_code == 302
    assert client.get("/flow").status_code == 200
    page = client.get("/flow/order.decide").get_data(as_text=True)
    assert "Routes are edited by an admin." in page and "Add a route" not in page
    token = csrf(page)  # the logout form's
    reply = client.post("/flow/order.decide/routes", data={"csrf_token": token, **PO_FORM})
    assert reply.status_code == 403 and profiles.draft(db_url) is None


def test_a_bank_account_or_nominal_kashflow_lacks_is_refused_with_the_known_ones(
        client: FlaskClient, db_url: str) -> None:
    with session_scope(db_url) as s:
        catalogue.store_rows(s, "bank_account", [("1201", "Current Account", {"Id": 1201})],
                             utcnow())
        catalogue.store_rows(s, "product", [catalogue.product_row(
            {"Code": "MUG", "Name": "Mug", "NominalCode": 4010})], utcnow())
    form = {"field-0": "currency", "op-0": "is", "value-0": "EUR"}
    said = add_route(client, "post_payment", action="use_bank_account", value="99", **form)
    assert said == ("Route refused: route 1: KashFlow has no bank account 99: use one of 1201 "
                    "(Current Account)")
    said = add_route(client, "create_invoice", action="use_nominal", value="4999", **form)
    assert "Route refused: route 1: nominal 4999 is not in the KashFlow catalogue" in said
    assert profiles.draft(db_url) is None
    said = add_route(client, "post_payment", action="use_bank_account", value="1201", **form)
    assert said.startswith("Draft saved: routes.1 added: when currency is EUR then use bank "
                           "account 1201")


def test_a_route_is_a_draft_previewed_published_and_rolled_back(
        client: FlaskClient, db_url: str) -> None:
    job_id = add_job(db_url, 7401, document=po_order(7401))
    said = add_route(client, "order.decide", **PO_FORM)
    assert ("Draft saved: routes.1 added: when payment method is purchaseorder then invoice "
            "when Magento invoices") in said
    page = client.get("/flow/order.decide").get_data(as_text=True)
    assert '<tr data-route="1"><td>1</td><td>when payment method is purchaseorder' in page
    preview = client.get(f"/mapping/preview?order={job_id}").get_data(as_text=True)
    assert ("wait: order is processing, route 1: when payment method is purchaseorder then "
            "invoice when Magento invoices; nothing invoiced in Magento yet") in preview
    assert "path: invoice: order is processing: post the sales invoice -&gt; wait:" in preview
    assert "Posts nothing now: the order would wait" in preview
    api = client.get(f"/api/v1/mapping/preview?order={job_id}", headers=AUTH).get_json()
    assert api["action"] == "wait" and api["path"][0][0] == "decide"
    assert api["routes"] == ["route 1: when payment method is purchaseorder then invoice when "
                             "Magento invoices"]
    before = client.get(f"/mapping/preview?order={job_id}&version=1").get_data(as_text=True)
    assert "create_invoice</a>: post the sales invoice" in before
    token = csrf(client.get("/mapping").get_data(as_text=True))
    published = client.post("/mapping/publish", follow_redirects=True,
                            data={"comment": "PO waits", "csrf_token": token})
    assert flashes(published.get_data(as_text=True)) == [
        "Published version 2: it is in force for the next order."]
    assert profiles.active(db_url).rules.routes[0].action == "invoice_if_invoiced"
    rolled = client.post("/mapping/versions/1/rollback", follow_redirects=True,
                         data={"csrf_token": token})
    assert "version 3 is in force" in flashes(rolled.get_data(as_text=True))[0]
    assert profiles.active(db_url).rules.routes == ()
    assert profiles.active(db_url).content_hash == profiles.get_version(db_url, 1).content_hash
    audit = client.get("/mapping/audit").get_data(as_text=True)
    assert "mapping-route" in audit and "routes.1 added" in audit
    token = csrf(client.get("/flow/order.decide").get_data(as_text=True))
    add_route(client, "order.decide", **PO_FORM)
    removed = client.post("/flow/order.decide/routes/delete", follow_redirects=True,
                          data={"number": "1", "csrf_token": token})
    assert "routes.1 removed" in " ".join(flashes(removed.get_data(as_text=True)))
    draft = profiles.draft(db_url)
    assert draft is not None and "routes" not in draft.document and not draft.changes
