"""KashFlowClient against a faked KashFlow (``responses``): login, re-login, cooldown, errors,
paging, Decimal money, and no secret in any error."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
import responses
from hypothesis import given
from hypothesis import strategies as st
from urllib3.exceptions import ProtocolError

from connectors.errors import (
    Ambiguous,
    AuthFailed,
    ConnectorError,
    NotFound,
    Rejected,
    Transient,
)
from connectors.kashflow import PER_PAGE, KashFlowClient, memorable_word_answer

BASE = "https://kf.test/v2"
USER = "shop-sync"
PASSWORD = "Pa55-w0rd-Sekret"
WORD = "PineApple"
TEMP = "temp-0000-1111-2222-3333"
TOKEN_1 = "sess-aaaa-1111-bbbb-2222"
TOKEN_2 = "sess-cccc-3333-dddd-4444"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def kf(clock: FakeClock) -> KashFlowClient:
    return KashFlowClient(BASE, username=USER, password=PASSWORD, memorable_word=WORD,
                          timeout=5.0, clock=clock)


def add_login(rsps: responses.RequestsMock, token: str, positions: tuple[int, ...] = (3, 4, 6),
              ) -> None:
    """Step 1 and a step 2 that, like KashFlow, checks the characters ignoring case."""
    rsps.add(responses.POST, f"{BASE}/sessiontoken", json={
        "TemporaryToken": TEMP, "IsAdmin": True,
        "MemorableWordList": [{"Position": p, "Value": ""} for p in positions]})

    def check(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body or "{}")
        ok = body["TemporaryToken"] == TEMP and all(
            item["Value"].lower() == WORD[item["Position"] - 1].lower()
            for item in body["MemorableWordList"]
        ) and {i["Position"] for i in body["MemorableWordList"]} == set(positions)
        if not ok:
            return 400, {}, json.dumps({"Error": "InvalidMemorableWord", "Message": "wrong"})
        return 200, {}, json.dumps({"SessionToken": token, "CompanyName": "Shop Ltd"})

    rsps.add_callback(responses.PUT, f"{BASE}/sessiontoken", callback=check)


def logins(rsps: responses.RequestsMock) -> int:
    return sum(1 for c in rsps.calls if c.request.method == "POST"
               and c.request.url == f"{BASE}/sessiontoken")


def calls_to(rsps: responses.RequestsMock, path: str) -> list[Any]:
    return [c for c in rsps.calls if (c.request.url or "").split("?")[0] == BASE + path]


def assert_no_secrets(exc: ConnectorError) -> None:
    text = " ".join([str(exc), repr(exc.args), exc.reason, exc.body])
    for secret in (PASSWORD, WORD, TOKEN_1, TOKEN_2, TEMP):
        assert secret not in text


# -- login ------------------------------------------------------------------------------------


def test_login_answers_the_asked_positions_and_sends_kftoken(
    rsps: responses.RequestsMock, kf: KashFlowClient
) -> None:
    add_login(rsps, TOKEN_1, positions=(3, 4, 6))
    rsps.get(f"{BASE}/customers/C1", json={"Code": "C1"})

    assert kf.get_customer("C1") == {"Code": "C1"}
    assert kf.get_customer("C1") == {"Code": "C1"}

    step2 = json.loads(rsps.calls[1].request.body)
    assert [(i["Position"], i["Value"].upper()) for i in step2["MemorableWordList"]] == [
        (3, "N"), (4, "E"), (6, "P")]  # KashFlow's own "pineapple" example
    assert json.loads(rsps.calls[0].request.body) == {"UserName": USER, "Password": PASSWORD}
    for call in calls_to(rsps, "/customers/C1"):
        assert call.request.headers["Authorization"] == f"KfToken {TOKEN_1}"
    assert "Authorization" not in rsps.calls[0].request.headers
    assert kf.login_count == 1 and logins(rsps) == 1


@given(word=st.text(min_size=1, max_size=30), data=st.data())
def test_memorable_word_answer_picks_each_position(word: str, data: st.DataObject) -> None:
    positions = data.draw(st.lists(st.integers(1, len(word)), min_size=1, max_size=3))
    answer = memorable_word_answer(word, positions)
    assert [a["Position"] for a in answer] == positions
    assert all(a["Value"] == word[a["Position"] - 1] for a in answer)


@given(word=st.text(max_size=10), position=st.integers(-5, 20))
def test_memorable_word_answer_refuses_positions_outside_the_word(word: str,
                                                                  position: int) -> None:
    if 1 <= position <= len(word):
        assert memorable_word_answer(word, [position])[0]["Value"] == word[position - 1]
    else:
        with pytest.raises(ValueError):
            memorable_word_answer(word, [position])


def test_relogin_once_on_invalid_session_token_then_success(
    rsps: responses.RequestsMock, kf: KashFlowClient
) -> None:
    add_login(rsps, TOKEN_1)
    add_login(rsps, TOKEN_2)
    rsps.post(f"{BASE}/invoices", status=401, json={
        "Error": "InvalidSessionToken", "Message": "Session token provided is invalid."})
    rsps.post(f"{BASE}/invoices", status=201, json={"Number": 1001, "GrossAmount": 12.30})

    invoice = kf.create_invoice({"Number": 1001, "CustomerCode": "C1", "LineItems": []})

    assert invoice["Number"] == 1001
    posts = calls_to(rsps, "/invoices")
    assert [c.request.headers["Authorization"] for c in posts] == [
        f"KfToken {TOKEN_1}", f"KfToken {TOKEN_2}"]
    assert kf.login_count == 2 and logins(rsps) == 2


def test_second_401_after_relogin_is_auth_failed_with_exactly_two_logins(
    rsps: responses.RequestsMock, kf: KashFlowClient
) -> None:
    add_login(rsps, TOKEN_1)
    add_login(rsps, TOKEN_2)
    rsps.get(f"{BASE}/invoices/7", status=401,
             json={"Error": "InvalidSessionToken", "Message": f"token {TOKEN_2} is invalid"})

    with pytest.raises(AuthFailed) as caught:
        kf.get_invoice(7)

    assert caught.value.reason == "InvalidSessionToken" and caught.value.status == 401
    assert kf.login_count == 2 and logins(rsps) == 2
    assert len(calls_to(rsps, "/invoices/7")) == 2
    assert_no_secrets(caught.value)
    # A fresh token refused: logins now pause, so the next call cannot log in again.
    with pytest.raises(AuthFailed):
        kf.get_invoice(7)
    assert logins(rsps) == 2


def test_invalid_credentials_is_auth_failed_and_cooldown_makes_no_request(
    rsps: responses.RequestsMock, kf: KashFlowClient, clock: FakeClock
) -> None:
    rsps.post(f"{BASE}/sessiontoken", status=400, json={
        "Error": "InvalidCredentials", "Message": f"Bad password {PASSWORD} for {USER}"})

    with pytest.raises(AuthFailed) as first:
        kf.get_customer("C1")
    assert first.value.reason == "InvalidCredentials"
    assert_no_secrets(first.value)
    sent = len(rsps.calls)

    clock.now += 599
    with pytest.raises(AuthFailed) as second:
        kf.create_customer({"Code": "C1", "Name": "Ann"})
    assert len(rsps.calls) == sent  # no HTTP at all while paused
    assert second.value.reason == "InvalidCredentials"
    assert kf.login_count == 1

    clock.now += 2  # cooldown over: one new attempt is allowed
    with pytest.raises(AuthFailed):
        kf.get_customer("C1")
    assert kf.login_count == 2 and len(rsps.calls) == sent + 1


def test_account_locked_on_login_pauses_too(rsps: responses.RequestsMock,
                                            kf: KashFlowClient) -> None:
    rsps.post(f"{BASE}/sessiontoken", status=401, json={
        "Error": "AccountLocked", "Message": "User account is locked"})
    for _ in range(3):
        with pytest.raises(AuthFailed) as caught:
            kf.get_invoice(1)
        assert caught.value.reason == "AccountLocked"
    assert logins(rsps) == 1


def test_server_error_on_login_is_transient_and_does_not_pause(
    rsps: responses.RequestsMock, kf: KashFlowClient
) -> None:
    rsps.post(f"{BASE}/sessiontoken", status=503, body="down")
    with pytest.raises(Transient) as caught:
        kf.get_invoice(1)
    assert not isinstance(caught.value, Ambiguous)  # a login is safe to repeat
    add_login(rsps, TOKEN_1)
    rsps.get(f"{BASE}/invoices/1", json={"Number": 1})
    assert kf.get_invoice(1) == {"Number": 1}


def test_concurrent_first_calls_log_in_once(rsps: responses.RequestsMock,
                                            kf: KashFlowClient) -> None:
    add_login(rsps, TOKEN_1)
    rsps.get(f"{BASE}/bankaccounts", json=[{"Id": 1, "Code": "1200"}])
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(kf.bank_accounts()))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and kf.login_count == 1


# -- error classification ---------------------------------------------------------------------


@pytest.fixture
def logged_in(rsps: responses.RequestsMock, kf: KashFlowClient) -> KashFlowClient:
    add_login(rsps, TOKEN_1)
    return kf


def test_429_with_retry_after_is_transient_with_the_wait(
    rsps: responses.RequestsMock, logged_in: KashFlowClient
) -> None:
    rsps.post(f"{BASE}/invoices", status=429, headers={"Retry-After": "7"},
              json={"Message": "slow down"})
    with pytest.raises(Transient) as caught:
        logged_in.create_invoice({"Number": 1})
    assert caught.value.retry_after == 7.0 and caught.value.reason == "rate_limited"
    assert not isinstance(caught.value, Ambiguous)


@pytest.mark.parametrize(("method", "expected"), [("POST", Ambiguous), ("GET", Transient)])
def test_503_is_ambiguous_on_a_write_and_transient_on_a_read(
    rsps: responses.RequestsMock, logged_in: KashFlowClient, method: str, expected: type
) -> None:
    rsps.add(method, f"{BASE}/invoices", status=503, body="Service Unavailable")
    rsps.add(method, f"{BASE}/invoices/5", status=503, body="Service Unavailable")
    with pytest.raises(Transient) as caught:
        if method == "POST":
            logged_in.create_invoice({"Number": 5})
        else:
            logged_in.get_invoice(5)
    assert type(caught.value) is expected and caught.value.reason == "http_503"
    assert caught.value.status == 503


def test_connection_reset_after_sending_a_post_is_ambiguous(
    rsps: responses.RequestsMock, logged_in: KashFlowClient
) -> None:
    reset = requests.ConnectionError(ProtocolError(
        "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")))
    rsps.post(f"{BASE}/invoices/bulk/payments", body=reset)
    rsps.get(f"{BASE}/invoices/9", body=reset)
    with pytest.raises(Ambiguous) as caught:
        logged_in.post_invoice_payment(date="2024-05-01", account_id=1, method=2,
                                       comment="Magento 100001", items=[(9, Decimal("1.00"))])
    assert caught.value.reason == "connection_reset"
    assert isinstance(caught.value.__cause__, requests.ConnectionError)
    with pytest.raises(Transient) as read:
        logged_in.get_invoice(9)
    assert not isinstance(read.value, Ambiguous)


def test_connect_timeout_is_transient_not_ambiguous_even_on_a_post(
    rsps: responses.RequestsMock, logged_in: KashFlowClient
) -> None:
    rsps.post(f"{BASE}/customers", body=requests.ConnectTimeout("connect timed out"))
    with pytest.raises(Transient) as caught:
        logged_in.create_customer({"Code": "C1", "Name": "Ann"})
    assert not isinstance(caught.value, Ambiguous)
    assert caught.value.reason == "connect_timeout"


def test_read_timeout_on_a_post_is_ambiguous(rsps: responses.RequestsMock,
                                             logged_in: KashFlowClient) -> None:
    rsps.post(f"{BASE}/customers", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(Ambiguous) as caught:
        logged_in.create_customer({"Code": "C1", "Name": "Ann"})
    assert caught.value.reason == "read_timeout"


def test_database_timeout_400_is_transient(rsps: responses.RequestsMock,
                                           logged_in: KashFlowClient) -> None:
    rsps.get(f"{BASE}/products", status=400, json={
        "Error": "-2146232060", "Message": "Execution Timeout Expired."})
    with pytest.raises(Transient) as caught:
        logged_in.list_products()
    assert caught.value.reason == "db_timeout" and caught.value.status == 400


def test_duplicate_invoice_number_is_rejected_with_the_api_error_name(
    rsps: responses.RequestsMock, logged_in: KashFlowClient
) -> None:
    rsps.post(f"{BASE}/invoices", status=400, json={
        "Error": "DuplicateInvoiceNumber", "Message": "Invoice number 1001 already exists"})
    with pytest.raises(Rejected) as caught:
        logged_in.create_invoice({"Number": 1001})
    assert caught.value.reason == "DuplicateInvoiceNumber"
    assert "Invoice number 1001 already exists" in str(caught.value)
    assert "DuplicateInvoiceNumber" in caught.value.body


def test_create_product_posts_it_and_names_a_duplicate_code(
    rsps: responses.RequestsMock, logged_in: KashFlowClient
) -> None:
    rsps.post(f"{BASE}/products", status=201, json={"Code": "LAMP", "NominalCode": 4000})
    assert logged_in.create_product({"Code": "LAMP", "NominalCode": 4000})["Code"] == "LAMP"
    rsps.post(f"{BASE}/products", status=400, json={
        "Error": "DuplicateProductCode", "Message": "A product with code 'LAMP' already exists"})
    with pytest.raises(Rejected) as caught:
        logged_in.create_product({"Code": "LAMP", "NominalCode": 4000})
    assert caught.value.reason == "DuplicateProductCode"


def test_404_is_not_found(rsps: responses.RequestsMock, logged_in: KashFlowClient) -> None:
    rsps.get(f"{BASE}/customers/NOPE", status=404,
             json={"Error": "NotFound", "Message": "Customer not found"})
    rsps.get(f"{BASE}/invoices/404", status=404, body="")
    with pytest.raises(NotFound):
        logged_in.get_customer("NOPE")
    with pytest.raises(NotFound) as caught:
        logged_in.get_invoice(404)
    assert caught.value.reason == "http_404"


def test_no_password_or_token_text_in_errors(rsps: responses.RequestsMock,
                                             logged_in: KashFlowClient) -> None:
    echo = (f'{{"Error": "BadThing", "Message": "you sent Authorization: KfToken {TOKEN_1} '
            f'and {PASSWORD}", "SessionToken": "{TOKEN_1}"}}')
    rsps.put(f"{BASE}/customers/C1", status=400, body=echo)
    with pytest.raises(Rejected) as caught:
        logged_in.update_customer("C1", {"Name": "Ann"})
    assert_no_secrets(caught.value)
    assert caught.value.reason == "BadThing"


# -- bodies, paths, lists ---------------------------------------------------------------------


def test_decimal_money_round_trips(rsps: responses.RequestsMock,
                                   logged_in: KashFlowClient) -> None:
    rsps.post(f"{BASE}/invoices", status=201,
              body='{"Number": 1, "NetAmount": 0.1, "GrossAmount": 12.30}')
    invoice = logged_in.create_invoice({"Number": 1, "LineItems": [
        {"Quantity": Decimal("1"), "Rate": Decimal("12.30"), "NominalCode": 4000}]})
    sent = calls_to(rsps, "/invoices")[0].request.body
    assert '"Rate": 12.30' in sent and '"Quantity": 1' in sent
    assert invoice["NetAmount"] == Decimal("0.1")
    assert isinstance(invoice["GrossAmount"], Decimal)
    assert invoice["GrossAmount"] == Decimal("12.30")


def test_payment_body(rsps: responses.RequestsMock, logged_in: KashFlowClient) -> None:
    rsps.post(f"{BASE}/invoices/bulk/payments", body="")
    logged_in.post_invoice_payment(date="2024-05-01 00:00:00", account_id=3, method=7,
                                   comment="Magento 100001",
                                   items=[(1001, Decimal("24.99")), (1002, Decimal("-5.00"))])
    body = calls_to(rsps, "/invoices/bulk/payments")[0].request.body
    assert json.loads(body) == {
        "Date": "2024-05-01 00:00:00", "AccountId": 3, "Method": 7, "Comment": "Magento 100001",
        "PaymentItems": [{"ObjectNumber": 1001, "Amount": 24.99},
                         {"ObjectNumber": 1002, "Amount": -5.0}]}
    assert '"Amount": 24.99' in body and '"Amount": -5.00' in body


def test_credit_note_needs_negative_quantities(rsps: responses.RequestsMock,
                                               logged_in: KashFlowClient) -> None:
    with pytest.raises(ValueError):
        logged_in.create_credit_note({"LineItems": [{"Quantity": Decimal("1")}]})
    assert len(rsps.calls) == 0
    rsps.post(f"{BASE}/invoices", status=201, json={"Number": 2, "GrossAmount": -5})
    note = logged_in.create_credit_note({"CustomerReference": "CM-100001",
                                         "LineItems": [{"Quantity": Decimal("-1")}]})
    assert note["Number"] == 2


def test_path_parts_are_url_encoded(rsps: responses.RequestsMock,
                                    logged_in: KashFlowClient) -> None:
    rsps.get(f"{BASE}/products/4000/A%2FB%201", json={"Code": "A/B 1"})
    assert logged_in.get_product(4000, "A/B 1")["Code"] == "A/B 1"


def test_email_search_sends_the_assumed_parameter(rsps: responses.RequestsMock,
                                                  logged_in: KashFlowClient) -> None:
    rsps.get(f"{BASE}/customers/search", json={"Data": [{"Code": "ANN01"}],
                                               "MetaData": {"NextPageUrl": None}})
    assert logged_in.find_customers_by_email("Ann@Example.com") == [{"Code": "ANN01"}]
    assert calls_to(rsps, "/customers/search")[0].request.params["email"] == "Ann@Example.com"


def test_list_follows_next_page_url_relative_and_absolute(rsps: responses.RequestsMock,
                                                          logged_in: KashFlowClient) -> None:
    pages = {
        "1": {"Data": [{"Code": "A"}], "MetaData": {"NextPageUrl": "/v2/products?page=2"}},
        "2": {"Data": [{"Code": "B"}],
              "MetaData": {"NextPageUrl": "https://elsewhere.test/v2/products?page=3"}},
        "3": {"Data": [{"Code": "C"}], "MetaData": {"NextPageUrl": "products?page=4"}},
        "4": {"Data": [{"Code": "D"}], "MetaData": {"NextPageUrl": None, "TotalRecords": 4}},
    }

    def page(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        number = request.params.get("page", "1")  # type: ignore[attr-defined]
        return 200, {}, json.dumps(pages[number])

    rsps.add_callback(responses.GET, f"{BASE}/products", callback=page)

    assert [p["Code"] for p in logged_in.list_products()] == ["A", "B", "C", "D"]
    urls = [c.request.url for c in calls_to(rsps, "/products")]
    assert len(urls) == 4  # the token never went to elsewhere.test
    assert all(c.request.headers["Authorization"] == f"KfToken {TOKEN_1}"
               for c in calls_to(rsps, "/products"))


def test_list_without_next_page_url_counts_pages(rsps: responses.RequestsMock,
                                                 logged_in: KashFlowClient) -> None:
    full = [{"Code": f"P{i}"} for i in range(PER_PAGE)]
    rsps.get(f"{BASE}/invoices", json={"Data": full, "MetaData": {"TotalRecords": PER_PAGE + 1}})
    rsps.get(f"{BASE}/invoices", json={"Data": [{"Code": "last"}], "MetaData": {}})
    invoices = logged_in.list_invoices("C1")
    assert len(invoices) == PER_PAGE + 1
    params = [c.request.params for c in calls_to(rsps, "/invoices")]
    assert params == [{"customerCode": "C1", "page": "1", "perpage": str(PER_PAGE)},
                      {"customerCode": "C1", "page": "2", "perpage": str(PER_PAGE)}]


def test_reference_lists_accept_bare_arrays_and_envelopes(rsps: responses.RequestsMock,
                                                          logged_in: KashFlowClient) -> None:
    rsps.get(f"{BASE}/vat/settings/vatrates", json=[{"VATId": 1, "VATRate": 20.0}])
    rsps.get(f"{BASE}/paymentmethods/invoice", json={"Data": [{"Id": 2, "Name": "Card"}]})
    assert logged_in.vat_rates() == [{"VATId": 1, "VATRate": Decimal("20.0")}]
    assert logged_in.invoice_payment_methods() == [{"Id": 2, "Name": "Card"}]


def test_on_call_observer_sees_each_call(rsps: responses.RequestsMock) -> None:
    seen: list[tuple[str, str, str, int | None]] = []
    client = KashFlowClient(BASE, username=USER, password=PASSWORD, memorable_word=WORD,
                            on_call=lambda s, m, p, st_, sec: seen.append((s, m, p, st_)))
    add_login(rsps, TOKEN_1)
    rsps.get(f"{BASE}/customers/C1", status=404, json={})
    with pytest.raises(NotFound):
        client.get_customer("C1")
    assert seen == [("kashflow", "POST", "/sessiontoken", 200),
                    ("kashflow", "PUT", "/sessiontoken", 200),
                    ("kashflow", "GET", "/customers/C1", 404)]
