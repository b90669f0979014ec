"""MagentoClient against a faked Magento (``responses``): auth headers, OAuth signature,
searchCriteria, paging, path encoding and error messages."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import responses
from oauthlib.oauth1.rfc5849 import signature, utils

from connectors.errors import AuthFailed, NotFound, Rejected
from connectors.magento import Filter, MagentoClient, search_criteria

BASE = "https://shop.test/rest"
TOKEN = "bearer-token-abcdef123456"


@dataclass(frozen=True)
class Credentials:
    """Any object with the four OAuth fields will do (``connectors.magento.OAuthCredentials``)."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str


OAUTH = Credentials(consumer_key="ck-123", consumer_secret="cs-secret-456",
                    access_token="at-789", access_token_secret="ats-secret-000")


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def magento() -> MagentoClient:
    return MagentoClient(BASE, token=TOKEN, timeout=5.0)


def test_bearer_header_json_headers_and_timeout(rsps: responses.RequestsMock,
                                                magento: MagentoClient) -> None:
    rsps.get(f"{BASE}/V1/orders/42", json={"entity_id": 42, "grand_total": 19.99})
    order = magento.get_order(42)
    request = rsps.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/json"
    assert request.req_kwargs["timeout"] == (5.0, 5.0)
    assert order["grand_total"] == Decimal("19.99")


def test_oauth_header_is_hmac_sha256_and_signs_the_query(rsps: responses.RequestsMock) -> None:
    client = MagentoClient(BASE, oauth=OAUTH)
    rsps.get(f"{BASE}/V1/orders", json={"items": [], "total_count": 0})
    client.search_orders([[Filter("updated_at", "2024-05-01 10:00:00", "gteq")]],
                         sort=[("updated_at", "ASC")])

    request = rsps.calls[0].request
    raw = request.headers["Authorization"]
    header = raw.decode() if isinstance(raw, bytes) else raw  # requests-oauthlib sends bytes
    assert header.startswith("OAuth ")
    assert 'oauth_signature_method="HMAC-SHA256"' in header
    assert 'oauth_consumer_key="ck-123"' in header and 'oauth_token="at-789"' in header
    oauth = dict(utils.parse_authorization_header(header))
    # Recompute the signature as Magento does: method, URL without query, every query and
    # oauth_* parameter (bar the signature), key = consumer secret & token secret.
    url = request.url or ""
    params = signature.collect_parameters(uri_query=urlsplit(url).query,
                                          headers={"Authorization": header})
    base_string = signature.signature_base_string(
        "GET", signature.base_string_uri(url), signature.normalize_parameters(params))
    key = f"{utils.escape(OAUTH.consumer_secret)}&{utils.escape(OAUTH.access_token_secret)}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha256).digest()
    assert utils.unescape(oauth["oauth_signature"]) == base64.b64encode(digest).decode()
    assert "searchCriteria%255Bfilter_groups%255D%255B0%255D" in base_string  # query signed
    assert "2024-05-01%252010%253A00%253A00" in base_string


def test_search_criteria_encoding(rsps: responses.RequestsMock, magento: MagentoClient) -> None:
    rsps.get(f"{BASE}/V1/creditmemos", json={"items": [], "total_count": 0})
    magento.search_creditmemos(
        [[Filter("state", 2), ("state", 3, "eq")], [Filter("order_id", [5, 6], "in")]],
        page_size=50, current_page=2, sort=[("entity_id", "asc")])
    query = parse_qsl(urlsplit(rsps.calls[0].request.url).query)
    assert query == [
        ("searchCriteria[filter_groups][0][filters][0][field]", "state"),
        ("searchCriteria[filter_groups][0][filters][0][value]", "2"),
        ("searchCriteria[filter_groups][0][filters][0][condition_type]", "eq"),
        ("searchCriteria[filter_groups][0][filters][1][field]", "state"),
        ("searchCriteria[filter_groups][0][filters][1][value]", "3"),
        ("searchCriteria[filter_groups][0][filters][1][condition_type]", "eq"),
        ("searchCriteria[filter_groups][1][filters][0][field]", "order_id"),
        ("searchCriteria[filter_groups][1][filters][0][value]", "5,6"),
        ("searchCriteria[filter_groups][1][filters][0][condition_type]", "in"),
        ("searchCriteria[sortOrders][0][field]", "entity_id"),
        ("searchCriteria[sortOrders][0][direction]", "ASC"),
        ("searchCriteria[pageSize]", "50"),
        ("searchCriteria[currentPage]", "2"),
    ]


def test_search_criteria_refuses_pages_magento_would_reject() -> None:
    with pytest.raises(ValueError):
        search_criteria(page_size=301)
    with pytest.raises(ValueError):
        search_criteria(current_page=0)
    assert search_criteria() == [("searchCriteria[pageSize]", "100"),
                                 ("searchCriteria[currentPage]", "1")]


def test_iter_orders_walks_pages_until_total_count(rsps: responses.RequestsMock,
                                                   magento: MagentoClient) -> None:
    rsps.get(f"{BASE}/V1/orders", json={"items": [{"entity_id": 1}, {"entity_id": 2}],
                                        "total_count": 3})
    # Magento 2.3 repeats the last page past the end; the client must stop by counting.
    rsps.get(f"{BASE}/V1/orders", json={"items": [{"entity_id": 3}], "total_count": 3})
    ids = [o["entity_id"] for o in magento.iter_orders(page_size=2,
                                                         sort=[("entity_id", "ASC")])]
    assert ids == [1, 2, 3]
    pages = [dict(parse_qsl(urlsplit(c.request.url).query))["searchCriteria[currentPage]"]
             for c in rsps.calls]
    assert pages == ["1", "2"]


def test_transactions_filter_by_order(rsps: responses.RequestsMock,
                                      magento: MagentoClient) -> None:
    rsps.get(f"{BASE}/V1/transactions", json={"items": [{"txn_type": "capture"}],
                                              "total_count": 1})
    assert magento.search_transactions(77) == [{"txn_type": "capture"}]
    query = dict(parse_qsl(urlsplit(rsps.calls[0].request.url).query))
    assert query["searchCriteria[filter_groups][0][filters][0][field]"] == "order_id"
    assert query["searchCriteria[filter_groups][0][filters][0][value]"] == "77"


def test_sku_path_parts_are_url_encoded(rsps: responses.RequestsMock,
                                        magento: MagentoClient) -> None:
    rsps.get(f"{BASE}/V1/stockItems/AB%2F12%20x", json={"item_id": 9, "qty": 4})
    rsps.put(f"{BASE}/V1/products/AB%2F12%20x/stockItems/9", json=9)
    assert magento.get_stock_item("AB/12 x")["item_id"] == 9
    assert magento.update_stock_item("AB/12 x", 9, Decimal("3.5"), True) == 9
    assert rsps.calls[1].request.body == '{"stockItem": {"qty": 3.5, "is_in_stock": true}}'
    assert unquote(urlsplit(rsps.calls[1].request.url).path).endswith("AB/12 x/stockItems/9")


def test_save_source_items_chunk_limit(rsps: responses.RequestsMock,
                                       magento: MagentoClient) -> None:
    item = {"sku": "A", "source_code": "default", "quantity": Decimal("1"), "status": 1}
    with pytest.raises(ValueError):
        magento.save_source_items([item] * 21)
    assert len(rsps.calls) == 0
    rsps.post(f"{BASE}/V1/inventory/source-items", json=[])
    magento.save_source_items([item] * 20)
    assert rsps.calls[0].request.body.startswith('{"sourceItems": [{"sku": "A"')


def test_400_message_placeholders_are_filled(rsps: responses.RequestsMock,
                                             magento: MagentoClient) -> None:
    rsps.get(f"{BASE}/V1/products", status=400, json={
        "message": "Maximum SearchCriteria pageSize is %max", "parameters": {"max": 300}})
    rsps.get(f"{BASE}/V1/creditmemos", status=400, json={
        "message": '"%1" is required. Enter and try again.', "parameters": ["searchCriteria"]})
    with pytest.raises(Rejected) as named:
        magento.search_products()
    assert named.value.reason == "http_400" and "pageSize is 300" in str(named.value)
    with pytest.raises(Rejected) as numbered:
        magento.search_creditmemos()
    assert '"searchCriteria" is required' in str(numbered.value)


def test_404_is_not_found_and_401_is_auth_failed_without_the_token(
    rsps: responses.RequestsMock, magento: MagentoClient
) -> None:
    rsps.get(f"{BASE}/V1/orders/404", status=404, json={
        "message": "The entity that was requested doesn't exist."})
    rsps.get(f"{BASE}/V1/customers/5", status=401, json={
        "message": "The consumer isn't authorized to access %resources.",
        "parameters": {"resources": "Magento_Customer::customer"},
        "trace": f"Authorization: Bearer {TOKEN}"})
    with pytest.raises(NotFound):
        magento.get_order(404)
    with pytest.raises(AuthFailed) as caught:
        magento.get_customer(5)
    assert "Magento_Customer::customer" in str(caught.value)
    assert TOKEN not in str(caught.value) + caught.value.body + repr(caught.value.args)


def test_construction_needs_exactly_one_credential() -> None:
    with pytest.raises(ValueError):
        MagentoClient(BASE)
    with pytest.raises(ValueError):
        MagentoClient(BASE, token=TOKEN, oauth=OAUTH)
