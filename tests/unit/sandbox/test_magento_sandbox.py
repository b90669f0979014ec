"""The Magento sandbox answers like Magento 2.4: auth, searchCriteria, stock, errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
import simplejson
from flask.testing import FlaskClient
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256, Client

import sandbox
from sandbox.magento import create_app

BEARER = {"Authorization": f"Bearer {sandbox.MAGENTO_TOKEN}"}
UNAUTHORIZED = {"message": "The consumer isn't authorized to access %resources.",
                "parameters": {"resources": "Magento_Sales::actions_view"}}


@pytest.fixture
def client() -> FlaskClient:
    return create_app().test_client()


def order(entity_id: int | None, updated_at: str, state: str = "processing",
          grand_total: str = "38.99", email: str = "ann.lee@example.com") -> dict[str, Any]:
    doc: dict[str, Any] = {
        "increment_id": f"{entity_id or 0:09d}", "state": state, "status": state,
        "created_at": updated_at, "updated_at": updated_at, "customer_email": email,
        "customer_is_guest": 1, "customer_id": None, "grand_total": Decimal(grand_total),
        "items": [{"item_id": 1, "sku": "TSHIRT", "qty_ordered": 2, "price": Decimal("12.50"),
                   "parent_item_id": None}],
    }
    if entity_id is not None:
        doc["entity_id"] = entity_id
    return doc


def seed(client: FlaskClient, collection: str, doc: Any) -> Any:
    reply = client.post(f"/_sandbox/{collection}", data=simplejson.dumps(doc, use_decimal=True),
                        content_type="application/json")
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return simplejson.loads(reply.get_data(as_text=True), use_decimal=True)


def get(client: FlaskClient, url: str) -> tuple[int, Any]:
    reply = client.get(url, headers=BEARER)
    return reply.status_code, simplejson.loads(reply.get_data(as_text=True), use_decimal=True)


def criteria(*filters: tuple[int, int, str, str, str], page_size: int | None = 50,
             sort: tuple[str, str] | None = None, page: int | None = None) -> str:
    parts = [f"searchCriteria[filter_groups][{g}][filters][{f}][field]={field}&"
             f"searchCriteria[filter_groups][{g}][filters][{f}][value]={quote(value)}&"
             f"searchCriteria[filter_groups][{g}][filters][{f}][condition_type]={cond}"
             for g, f, field, value, cond in filters]
    if sort:
        parts.append(f"searchCriteria[sortOrders][0][field]={sort[0]}&"
                     f"searchCriteria[sortOrders][0][direction]={sort[1]}")
    if page_size is not None:
        parts.append(f"searchCriteria[pageSize]={page_size}")
    if page is not None:
        parts.append(f"searchCriteria[currentPage]={page}")
    return "&".join(parts)


# -- auth ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": f"Basic {sandbox.MAGENTO_TOKEN}"}])
def test_a_call_without_valid_auth_is_401_with_magentos_body(client: FlaskClient,
                                                             headers: dict[str, str]) -> None:
    reply = client.get("/rest/V1/orders/1", headers=headers)
    assert reply.status_code == 401
    assert reply.get_json() == UNAUTHORIZED


def sign(url: str, method: str = "GET", signature_method: str = SIGNATURE_HMAC_SHA256,
         **overrides: str) -> dict[str, str]:
    creds = {**sandbox.MAGENTO_OAUTH, **overrides}
    oauth = Client(creds["consumer_key"], client_secret=creds["consumer_secret"],
                   resource_owner_key=creds["access_token"],
                   resource_owner_secret=creds["access_token_secret"],
                   signature_method=signature_method)
    _, headers, _ = oauth.sign(url, http_method=method)
    return dict(headers)


def test_an_oauth_hmac_sha256_signature_is_verified(client: FlaskClient) -> None:
    seed(client, "orders", order(7, "2026-11-20 10:00:00"))
    query = criteria((0, 0, "entity_id", "7", "eq")).replace("[", "%5B").replace("]", "%5D")
    path = f"/rest/V1/orders?{query}"  # encoded the way requests encodes params=
    reply = client.get(path, headers=sign("http://localhost" + path))
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert reply.get_json()["total_count"] == 1


@pytest.mark.parametrize("change", ["tampered", "sha1", "wrong_secret", "wrong_key"])
def test_a_bad_oauth_signature_is_refused(client: FlaskClient, change: str) -> None:
    url = "http://localhost/rest/V1/orders/1"
    if change == "sha1":
        headers = sign(url, signature_method=SIGNATURE_HMAC_SHA1)
    elif change == "wrong_secret":
        headers = sign(url, consumer_secret="guessed")
    elif change == "wrong_key":
        headers = sign(url, consumer_key="someone-else")
    else:
        headers = sign("http://localhost/rest/V1/orders/2")  # signed for another URL
    reply = client.get("/rest/V1/orders/1", headers=headers)
    assert reply.status_code == 401


def test_an_oauth_nonce_cannot_be_replayed(client: FlaskClient) -> None:
    seed(client, "orders", order(1, "2026-11-20 10:00:00"))
    headers = sign("http://localhost/rest/V1/orders/1")
    assert client.get("/rest/V1/orders/1", headers=headers).status_code == 200
    assert client.get("/rest/V1/orders/1", headers=headers).status_code == 401


# -- orders and searchCriteria -----------------------------------------------------------------
def test_an_order_comes_back_as_stored_with_nulls_omitted_and_exact_money(
        client: FlaskClient) -> None:
    stored = seed(client, "orders", order(None, "2026-11-20 10:00:00"))
    assert stored["entity_id"] == 1 and stored["increment_id"] == "000000000"
    reply = client.get("/rest/V1/orders/1", headers=BEARER)
    assert reply.status_code == 200
    assert '"grand_total": 38.99' in reply.get_data(as_text=True)
    body = reply.get_json()
    assert "customer_id" not in body and "parent_item_id" not in body["items"][0]


def test_an_unknown_order_is_404(client: FlaskClient) -> None:
    status, body = get(client, "/rest/V1/orders/999")
    assert status == 404
    assert body == {"message": "The entity that was requested doesn't exist. "
                               "Verify the entity and try again."}


def test_upserting_an_order_replaces_it(client: FlaskClient) -> None:
    seed(client, "orders", order(5, "2026-11-20 10:00:00", state="pending_payment"))
    seed(client, "orders", order(5, "2026-11-20 11:00:00", state="processing"))
    status, body = get(client, "/rest/V1/orders/5")
    assert (status, body["state"], body["updated_at"]) == (200, "processing",
                                                            "2026-11-20 11:00:00")


def test_a_document_changed_after_it_was_read_is_served_changed(client: FlaskClient) -> None:
    # The store keeps each document's answer text between reads: a change must replace it.
    seed(client, "orders", order(5, "2026-11-20 10:00:00", state="pending_payment"))
    assert get(client, "/rest/V1/orders/5")[1]["state"] == "pending_payment"
    seed(client, "orders", order(5, "2026-11-20 11:00:00", state="processing"))
    assert get(client, "/rest/V1/orders/5")[1]["state"] == "processing"
    assert get(client, "/rest/V1/customers/501")[1]["email"] == "ann.lee@example.com"
    seed(client, "customers", {"id": 501, "email": "ann@new.example"})
    assert get(client, "/rest/V1/customers/501")[1]["email"] == "ann@new.example"
    client.post("/_sandbox/reset")
    assert get(client, "/rest/V1/orders/5")[0] == 404
    assert get(client, "/rest/V1/customers/501")[1]["email"] == "ann.lee@example.com"


def test_missing_search_criteria_is_400(client: FlaskClient) -> None:
    status, body = get(client, "/rest/V1/orders")
    assert status == 400
    assert body == {"message": '"%fieldName" is required. Enter and try again.',
                    "parameters": {"fieldName": "searchCriteria"}}


def test_page_size_above_300_is_400(client: FlaskClient) -> None:
    status, body = get(client, "/rest/V1/orders?searchCriteria[pageSize]=301")
    assert status == 400
    assert body == {"message": "Maximum SearchCriteria pageSize is %max",
                    "parameters": {"max": 300}}
    assert get(client, "/rest/V1/orders?searchCriteria[pageSize]=300")[0] == 200


@pytest.fixture
def orders(client: FlaskClient) -> FlaskClient:
    seed(client, "orders", [
        order(1, "2026-11-20 09:00:00", "processing", "10.00"),
        order(2, "2026-11-20 10:00:00", "complete", "20.00"),
        order(3, "2026-11-20 11:00:00", "pending_payment", "30.00"),
        order(4, "2026-11-21 08:00:00", "processing", "40.00", email="Bob@Example.com"),
        order(5, "2026-11-21 09:30:00", "canceled", "5.00"),
    ])
    return client


def ids(body: dict[str, Any]) -> list[int]:
    return [item["entity_id"] for item in body["items"]]


def test_filters_in_a_group_are_ored_and_groups_are_anded(orders: FlaskClient) -> None:
    query = criteria((0, 0, "updated_at", "2026-11-20 10:00:00", "gteq"),
                     (1, 0, "state", "processing", "eq"), (1, 1, "state", "complete", "eq"))
    status, body = get(orders, f"/rest/V1/orders?{query}")
    assert status == 200
    assert ids(body) == [2, 4] and body["total_count"] == 2
    assert body["search_criteria"]["filter_groups"][1]["filters"][1] == {
        "field": "state", "value": "complete", "condition_type": "eq"}


@pytest.mark.parametrize(("condition", "field", "value", "expected"), [
    ("eq", "entity_id", "3", [3]),
    ("neq", "state", "processing", [2, 3, 5]),
    ("gt", "grand_total", "20", [3, 4]),
    ("lt", "updated_at", "2026-11-20 10:00:00", [1]),
    ("lteq", "updated_at", "2026-11-20 10:00:00", [1, 2]),
    ("in", "state", "complete,canceled", [2, 5]),
    ("eq", "customer_email", "bob@example.com", [4]),
    ("like", "customer_email", "bob%", [4]),
])
def test_condition_types(orders: FlaskClient, condition: str, field: str, value: str,
                         expected: list[int]) -> None:
    status, body = get(orders, "/rest/V1/orders?" + criteria((0, 0, field, value, condition)))
    assert status == 200
    assert ids(body) == expected


def test_sort_orders_and_pages(orders: FlaskClient) -> None:
    query = criteria(sort=("grand_total", "DESC"), page_size=2, page=2)
    status, body = get(orders, f"/rest/V1/orders?{query}")
    assert status == 200
    assert ids(body) == [2, 1] and body["total_count"] == 5
    assert body["search_criteria"]["page_size"] == 2
    assert body["search_criteria"]["current_page"] == 2


def test_camel_case_keys_are_accepted(orders: FlaskClient) -> None:
    query = ("searchCriteria[filterGroups][0][filters][0][field]=state&"
             "searchCriteria[filterGroups][0][filters][0][value]=processing&"
             "searchCriteria[filterGroups][0][filters][0][conditionType]=eq&"
             "searchCriteria[pageSize]=10")
    assert ids(get(orders, f"/rest/V1/orders?{query}")[1]) == [1, 4]


def test_the_default_page_size_is_20(client: FlaskClient) -> None:
    seed(client, "orders", [order(n, "2026-11-20 09:00:00") for n in range(1, 26)])
    status, body = get(client, "/rest/V1/orders?searchCriteria=")
    assert status == 200
    assert len(body["items"]) == 20 and body["total_count"] == 25


def test_store_code_paths_work(orders: FlaskClient) -> None:
    assert get(orders, "/rest/all/V1/orders/2")[0] == 200
    assert get(orders, "/rest/default/V1/orders/2")[0] == 200


def test_an_unknown_route_is_404(client: FlaskClient) -> None:
    assert get(client, "/rest/V1/nothing") == (404, {"message": "Request does not match any "
                                                                "route."})


# -- credit memos, customers, transactions ------------------------------------------------------
def test_credit_memos_customers_and_transactions(client: FlaskClient) -> None:
    seed(client, "creditmemos", {"entity_id": 3, "order_id": 2, "state": 2,
                                 "grand_total": Decimal("9.00"), "transaction_id": "RF-1"})
    seed(client, "transactions", [
        {"transaction_id": 1, "order_id": 2, "txn_id": "CAP-1", "txn_type": "capture"},
        {"transaction_id": 2, "order_id": 2, "txn_id": "RF-1", "txn_type": "refund"},
        {"transaction_id": 3, "order_id": 9, "txn_id": "CAP-9", "txn_type": "capture"}])
    assert get(client, "/rest/V1/creditmemo/3")[1]["transaction_id"] == "RF-1"
    assert get(client, "/rest/V1/creditmemo/4")[0] == 404
    query = criteria((0, 0, "order_id", "2", "eq"))
    assert ids(get(client, f"/rest/V1/creditmemos?{query}")[1]) == [3]
    found = get(client, f"/rest/V1/transactions?{query}")[1]
    assert [t["txn_id"] for t in found["items"]] == ["CAP-1", "RF-1"]
    assert get(client, "/rest/V1/customers/501")[1]["email"] == "ann.lee@example.com"
    status, body = get(client, "/rest/V1/customers/9")
    assert status == 404 and body["parameters"] == {"fieldName": "customerId", "fieldValue": 9}


def test_invoices_by_id_and_by_order(client: FlaskClient) -> None:
    seed(client, "invoices", [
        {"entity_id": 5, "order_id": 2, "state": 2, "grand_total": Decimal("10.00"),
         "transaction_id": "CAP-1"},
        {"entity_id": 6, "order_id": 2, "state": 1, "grand_total": Decimal("5.00")},
        {"entity_id": 7, "order_id": 9, "state": 2, "grand_total": Decimal("1.00")}])
    status, body = get(client, "/rest/V1/invoices/5")
    assert status == 200 and body["transaction_id"] == "CAP-1" and body["updated_at"]
    assert get(client, "/rest/V1/invoices/8")[0] == 404
    found = get(client, "/rest/V1/invoices?" + criteria((0, 0, "order_id", "2", "eq")))[1]
    assert ids(found) == [5, 6] and found["total_count"] == 2
    assert get(client, "/rest/V1/invoices")[0] == 400  # searchCriteria is required


# -- catalog and stock --------------------------------------------------------------------------
def test_products_list_with_search_criteria(client: FlaskClient) -> None:
    status, body = get(client, "/rest/V1/products?" + criteria((0, 0, "sku", "MUG,BOOK", "in")))
    assert status == 200
    assert [(p["sku"], p["price"]) for p in body["items"]] == [
        ("MUG", Decimal("7.99")), ("BOOK", Decimal("9.99"))]


def test_legacy_stock_update_returns_the_item_id_and_moves_the_default_source(
        client: FlaskClient) -> None:
    status, item = get(client, "/rest/V1/stockItems/HOODIE")
    assert status == 200 and item["qty"] == 25
    reply = client.put("/rest/V1/products/HOODIE/stockItems/1", headers=BEARER,
                       json={"stockItem": {"qty": 7, "is_in_stock": True}})
    assert reply.status_code == 200 and reply.get_json() == item["item_id"]
    assert get(client, "/rest/V1/stockItems/HOODIE")[1]["qty"] == 7
    query = criteria((0, 0, "sku", "HOODIE", "eq"))
    assert get(client, f"/rest/V1/inventory/source-items?{query}")[1]["items"] == [
        {"sku": "HOODIE", "source_code": "default", "quantity": 7, "status": 1}]


def test_stock_of_an_unknown_sku_is_404(client: FlaskClient) -> None:
    assert get(client, "/rest/V1/stockItems/NOPE")[0] == 404
    reply = client.put("/rest/V1/products/NOPE/stockItems/1", headers=BEARER,
                       json={"stockItem": {"qty": 1}})
    assert reply.status_code == 404
    reply = client.put("/rest/V1/products/MUG/stockItems/1", headers=BEARER, json={"qty": 1})
    assert reply.status_code == 400


def source_items(n: int, source: str = "default") -> dict[str, Any]:
    return {"sourceItems": [{"sku": "MUG", "source_code": source, "quantity": i, "status": 1}
                            for i in range(n)]}


def test_msi_saves_at_most_20_source_items(client: FlaskClient) -> None:
    reply = client.post("/rest/V1/inventory/source-items", headers=BEARER, json=source_items(21))
    assert reply.status_code == 400
    assert reply.get_json()["parameters"]["max"] == 20
    reply = client.post("/rest/V1/inventory/source-items", headers=BEARER, json=source_items(20))
    assert reply.status_code == 200
    assert get(client, "/rest/V1/stockItems/MUG")[1]["qty"] == 19


def test_msi_rejects_an_unknown_source(client: FlaskClient) -> None:
    reply = client.post("/rest/V1/inventory/source-items", headers=BEARER,
                        json=source_items(1, source="warehouse_9"))
    assert reply.status_code == 400
    assert reply.get_json()["message"] == "Validation Failed"


# -- control ------------------------------------------------------------------------------------
def test_reset_restores_the_seed_and_calls_are_counted(client: FlaskClient) -> None:
    seed(client, "orders", order(1, "2026-11-20 09:00:00"))
    seed(client, "products", {"sku": "SCARF", "name": "Scarf", "price": Decimal("15.00"),
                              "qty": 4})
    assert get(client, "/rest/V1/stockItems/SCARF")[1]["qty"] == 4
    get(client, "/rest/V1/orders/1")
    get(client, "/rest/V1/orders/2")
    calls = client.get("/_sandbox/calls").get_json()
    assert calls["calls"]["GET /V1/orders/{entity_id}"] == 2
    assert calls["statuses"] == {"200": 2, "404": 1}
    client.post("/_sandbox/reset")
    state = client.get("/_sandbox/state").get_json()
    assert state["orders"] == [] and "SCARF" not in {p["sku"] for p in state["products"]}
    assert client.get("/_sandbox/calls").get_json()["total"] == 0
