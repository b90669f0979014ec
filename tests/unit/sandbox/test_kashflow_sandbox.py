"""The KashFlow sandbox: login, customers, invoices to the penny, payments, strict rejects."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
import simplejson
from flask.testing import FlaskClient

import sandbox
from sandbox.kashflow import create_app

WORD = sandbox.KASHFLOW_MEMORABLE_WORD
INVALID_TOKEN = {"Error": "InvalidSessionToken", "Message": "Session token provided is invalid."}


class KashFlow:
    """A logged-in test client that speaks JSON with Decimal money."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.headers = {"Authorization": f"KfToken {login(client)}"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = simplejson.dumps(body, use_decimal=True) if body is not None else None
        reply = self.client.open(f"/v2{path}", method=method, data=data, headers=self.headers,
                                 content_type="application/json")
        text = reply.get_data(as_text=True)
        return reply.status_code, simplejson.loads(text, use_decimal=True) if text else None

    def customer(self, code: str = "ANN01", **extra: Any) -> dict[str, Any]:
        status, body = self.call("POST", "/customers", {"Code": code, "Name": "Ann Lee", **extra})
        assert status == 201, body
        return dict(body)

    def invoice(self, lines: list[dict[str, Any]], **extra: Any) -> tuple[int, Any]:
        return self.call("POST", "/invoices", {"CustomerCode": "ANN01", "LineItems": lines,
                                               "CustomerReference": "000001001", **extra})

    def pay(self, items: list[dict[str, Any]], account: int = 1201, method: int = 409844
            ) -> tuple[int, Any]:
        return self.call("POST", "/invoices/bulk/payments", {
            "Date": "2026-11-24 10:00:00", "AccountId": account, "Method": method,
            "Comment": "txn-abc", "PaymentItems": items})


def begin(client: FlaskClient, password: str = sandbox.KASHFLOW_PASSWORD) -> Any:
    return client.post("/v2/sessiontoken", json={"UserName": sandbox.KASHFLOW_USERNAME,
                                                 "Password": password})


def answer(temporary: dict[str, Any], word: str = WORD) -> dict[str, Any]:
    return {"TemporaryToken": temporary["TemporaryToken"], "MemorableWordList": [
        {"Position": p["Position"], "Value": word[p["Position"] - 1].upper()}
        for p in temporary["MemorableWordList"]]}


def login(client: FlaskClient) -> str:
    step1 = begin(client)
    assert step1.status_code == 200, step1.get_data(as_text=True)
    step2 = client.put("/v2/sessiontoken", json=answer(step1.get_json()))
    assert step2.status_code == 200, step2.get_data(as_text=True)
    return str(step2.get_json()["SessionToken"])


@pytest.fixture
def client() -> FlaskClient:
    return create_app().test_client()


@pytest.fixture
def kf(client: FlaskClient) -> KashFlow:
    api = KashFlow(client)
    api.customer()
    return api


def line(qty: int | str, rate: str, vat: int = 20, nominal: int = 4000,
         product: str | None = None, vat_amount: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"Description": "x", "Quantity": Decimal(str(qty)),
                           "Rate": Decimal(rate), "VATLevel": vat, "NominalCode": nominal}
    if product:
        doc["ProductCode"] = product
    if vat_amount is not None:
        doc["VATAmount"] = Decimal(vat_amount)
    return doc


# -- login --------------------------------------------------------------------------------------
def test_login_asks_for_three_distinct_positions_and_ignores_case(client: FlaskClient) -> None:
    step1 = begin(client).get_json()
    positions = [p["Position"] for p in step1["MemorableWordList"]]
    assert len(set(positions)) == 3 and all(1 <= p <= len(WORD) for p in positions)
    assert all(p["Value"] == "" for p in step1["MemorableWordList"])
    reply = client.put("/v2/sessiontoken", json=answer(step1))
    assert reply.status_code == 200 and reply.get_json()["SessionToken"]


def test_a_bad_password_or_wrong_characters_are_invalid_credentials(client: FlaskClient) -> None:
    reply = begin(client, "guess")
    assert reply.status_code == 400 and reply.get_json()["Error"] == "InvalidCredentials"
    step1 = begin(client).get_json()
    reply = client.put("/v2/sessiontoken", json=answer(step1, word="zzzzzzzzz"))
    assert reply.status_code == 400 and reply.get_json()["Error"] == "InvalidCredentials"


def test_five_failed_logins_lock_the_account_until_reset(client: FlaskClient) -> None:
    for _ in range(5):
        assert begin(client, "guess").status_code == 400
    reply = begin(client)  # even the right password
    assert reply.status_code == 401 and reply.get_json()["Error"] == "AccountLocked"
    assert client.get("/_sandbox/state").get_json()["account"]["locked"] is True
    client.post("/_sandbox/reset")
    assert login(client)


def test_a_successful_login_clears_the_failure_count(client: FlaskClient) -> None:
    for _ in range(4):
        begin(client, "guess")
    login(client)
    for _ in range(4):
        begin(client, "guess")
    assert begin(client).status_code == 200


@pytest.mark.parametrize("header", [None, "KfToken not-a-token", "Bearer x"])
def test_calls_need_a_live_session_token(client: FlaskClient, header: str | None) -> None:
    reply = client.get("/v2/bankaccounts", headers={"Authorization": header} if header else {})
    assert reply.status_code == 401 and reply.get_json() == INVALID_TOKEN


def test_expired_sessions_need_a_new_login(client: FlaskClient) -> None:
    api = KashFlow(client)
    assert api.call("GET", "/bankaccounts")[0] == 200
    client.post("/_sandbox/expire-sessions")
    assert api.call("GET", "/bankaccounts") == (401, INVALID_TOKEN)
    api.headers = {"Authorization": f"KfToken {login(client)}"}
    assert api.call("GET", "/bankaccounts")[0] == 200


def test_a_session_dies_after_the_idle_timeout(client: FlaskClient) -> None:
    client.post("/_sandbox/settings", json={"session_idle_timeout_s": 0.2})
    api = KashFlow(client)
    assert api.call("GET", "/bankaccounts")[0] == 200
    time.sleep(0.1)
    assert api.call("GET", "/bankaccounts")[0] == 200  # use restarts the idle clock
    time.sleep(0.3)
    assert api.call("GET", "/bankaccounts")[0] == 401


# -- customers ----------------------------------------------------------------------------------
def test_customer_codes_are_unique_ignoring_case(kf: KashFlow) -> None:
    status, body = kf.call("POST", "/customers", {"Code": "ann01", "Name": "Other Ann"})
    assert status == 400 and body["Error"] == "DuplicateCustomerCode"
    assert kf.call("GET", "/customers/ann01")[1]["Code"] == "ANN01"


@pytest.mark.parametrize("body", [{"Name": "No Code"}, {"Code": "X1"}, {"Code": " ", "Name": "y"}])
def test_code_and_name_are_required(kf: KashFlow, body: dict[str, Any]) -> None:
    assert kf.call("POST", "/customers", body)[0] == 400


def test_search_by_email_matches_contacts_trimmed_and_ignoring_case(kf: KashFlow) -> None:
    kf.customer("KIM01", Email="", Contacts=[{"Name": "Kim", "Email": " Kim@Example.NET "}])
    status, body = kf.call("GET", "/customers/search?email=kim@example.net")
    assert status == 200
    assert [c["Code"] for c in body["Data"]] == ["KIM01"]
    assert body["MetaData"]["TotalRecords"] == 1
    assert kf.call("GET", "/customers/search?email=nobody@example.net")[1]["Data"] == []


def test_search_follows_email_changes_and_finds_by_code(kf: KashFlow) -> None:
    kf.customer("KIM01", Email="kim@example.net")
    kf.customer("KIM02", Email="KIM@example.net")
    found = kf.call("GET", "/customers/search?email=kim@example.net")[1]["Data"]
    assert [c["Code"] for c in found] == ["KIM01", "KIM02"]
    assert kf.call("PUT", "/customers/KIM01", {"Email": "kim.lee@example.net",
                                               "Contacts": [{"Name": "Kim",
                                                             "Email": "accounts@example.net"}]}
                   )[0] == 200
    search = "/customers/search?email="
    assert [c["Code"] for c in kf.call("GET", f"{search}kim@example.net")[1]["Data"]] == ["KIM02"]
    for email in ("kim.lee@example.net", "Accounts@Example.net"):
        assert [c["Code"] for c in kf.call("GET", f"{search}{email}")[1]["Data"]] == ["KIM01"]
    assert [c["Code"] for c in kf.call("GET", "/customers/search?code=kim02")[1]["Data"]] == [
        "KIM02"]
    assert kf.call("GET", "/customers/search?code=NOPE01")[1]["Data"] == []


def test_update_and_404(kf: KashFlow) -> None:
    status, body = kf.call("PUT", "/customers/ANN01", {"Name": "Ann Lee-Smith", "Bogus": 1})
    assert status == 200 and body["Name"] == "Ann Lee-Smith" and "Bogus" not in body
    assert kf.call("GET", "/customers/NOPE01")[0] == 404
    assert kf.call("PUT", "/customers/NOPE01", {"Name": "x"})[0] == 404


# -- invoices -----------------------------------------------------------------------------------
def test_invoice_totals_to_the_penny(kf: KashFlow) -> None:
    status, invoice = kf.invoice([line(3, "7.99", product="MUG"),
                                  line(1, "4.17", nominal=4900, product="DELIVERY"),
                                  line(1, "9.99", vat=0, product="BOOK", vat_amount="0")])
    assert status == 201, invoice
    assert [i["VATAmount"] for i in invoice["LineItems"]] == [
        Decimal("4.79"), Decimal("0.83"), Decimal("0.00")]
    assert (invoice["NetAmount"], invoice["VATAmount"], invoice["GrossAmount"]) == (
        Decimal("38.13"), Decimal("5.62"), Decimal("43.75"))
    assert invoice["DueAmount"] == Decimal("43.75") and invoice["TotalPaidAmount"] == 0
    assert invoice["Status"] == "Unpaid" and invoice["PaymentLines"] == []
    assert invoice["Currency"]["Code"] == "GBP" and invoice["Currency"]["ExchangeRate"] == 1
    assert kf.call("GET", f"/invoices/{invoice['Number']}")[1] == invoice


def test_a_sent_vat_amount_within_a_penny_is_kept(kf: KashFlow) -> None:
    status, invoice = kf.invoice([line(3, "7.99", vat_amount="4.80")])
    assert status == 201 and invoice["VATAmount"] == Decimal("4.80")
    assert invoice["GrossAmount"] == Decimal("28.77")


@pytest.mark.parametrize(("lines", "extra", "error"), [
    ([line(1, "10.00")], {"CustomerCode": "NOPE01"}, "InvalidCustomerCode"),
    ([line(1, "9.99", nominal=4010, product="BOOK")], {}, "InvalidProductCode"),
    ([line(1, "9.99", product="NOSUCH")], {}, "InvalidProductCode"),
    ([line(1, "10.00", nominal=4999)], {}, "InvalidNominalCode"),
    ([{**line(1, "10.00"), "NominalCode": "4000"}], {}, "InvalidNominalCode"),
    ([{k: v for k, v in line(1, "10.00").items() if k != "NominalCode"}], {},
     "InvalidNominalCode"),
    ([line(1, "10.005")], {}, "InvalidRate"),
    ([line(0, "10.00")], {}, "InvalidQuantity"),
    ([line(3, "7.99", vat_amount="4.81")], {}, "VATAmountMismatch"),
    ([line(1, "10.00", vat_amount="2.001")], {}, "InvalidVATAmount"),
    ([], {}, "InvalidLineItems"),
])
def test_invoices_the_real_api_would_refuse_are_400(
        kf: KashFlow, lines: list[dict[str, Any]], extra: dict[str, Any], error: str) -> None:
    status, body = kf.invoice(lines, **extra)
    assert status == 400 and body["Error"] == error, body
    assert kf.call("GET", "/invoices")[1]["Data"] == []


def test_invoice_numbers_are_unique_and_assigned_after_the_highest(kf: KashFlow) -> None:
    assert kf.invoice([line(1, "10.00")], Number=1001)[1]["Number"] == 1001
    status, body = kf.invoice([line(1, "10.00")], Number=1001)
    assert status == 400 and body["Error"] == "DuplicateInvoiceNumber"
    assert kf.invoice([line(1, "10.00")])[1]["Number"] == 1002


def test_stock_managed_products_lose_what_is_invoiced(kf: KashFlow) -> None:
    kf.invoice([line(2, "34.00", product="HOODIE"), line(1, "12.50", product="TSHIRT")])
    assert kf.call("GET", "/products/4000/HOODIE")[1]["QuantityInStock"] == 23
    kf.invoice([line(-1, "34.00", product="HOODIE")])  # a credit note puts one back
    assert kf.call("GET", "/products/4000/HOODIE")[1]["QuantityInStock"] == 24
    assert kf.call("GET", "/products/4000/TSHIRT")[1]["QuantityInStock"] == 0


def test_invoice_summaries_by_customer_with_pages(kf: KashFlow) -> None:
    kf.customer("BOB01")
    for code in ("ANN01", "BOB01", "ANN01"):
        kf.invoice([line(1, "10.00")], CustomerCode=code)
    status, body = kf.call("GET", "/invoices?customerCode=ann01&perpage=1")
    assert status == 200 and body["MetaData"]["TotalRecords"] == 2
    assert [i["Number"] for i in body["Data"]] == [1]
    assert body["Data"][0]["LineItems"] is None and body["Data"][0]["PaymentLines"] is None
    assert "page=2" in body["MetaData"]["NextPageUrl"]
    assert kf.call("GET", "/invoices?customerCode=ann01&perpage=1&page=2")[1]["MetaData"][
        "NextPageUrl"] is None


# -- payments -----------------------------------------------------------------------------------
def test_payments_add_lines_and_settle_the_invoice(kf: KashFlow) -> None:
    number = kf.invoice([line(2, "12.50")])[1]["Number"]  # gross 30.00
    status, bulk = kf.pay([{"ObjectNumber": number, "Amount": Decimal("10.00")}])
    assert status == 201 and bulk["PaymentItems"][0]["ObjectNumber"] == number
    invoice = kf.call("GET", f"/invoices/{number}")[1]
    assert (invoice["Status"], invoice["TotalPaidAmount"], invoice["DueAmount"]) == (
        "PartiallyPaid", Decimal("10.00"), Decimal("20.00"))
    kf.pay([{"ObjectNumber": number, "Amount": Decimal("20.00")}], account=1202, method=409852)
    invoice = kf.call("GET", f"/invoices/{number}")[1]
    assert (invoice["Status"], invoice["DueAmount"]) == ("Paid", 0)
    first, second = invoice["PaymentLines"]
    assert first["Note"] == "txn-abc" and first["Amount"] == Decimal("10.00")
    assert (second["AccountId"], second["Method"], second["Date"]) == (
        1202, 409852, "2026-11-24 10:00:00")
    assert first["Id"] != second["Id"]


@pytest.mark.parametrize(("items", "account", "method", "error"), [
    ([{"ObjectNumber": 1, "Amount": 5}], 9999, 409844, "InvalidBankAccount"),
    ([{"ObjectNumber": 1, "Amount": 5}], 1201, 1, "InvalidPaymentMethod"),
    ([{"ObjectNumber": 77, "Amount": 5}], 1201, 409844, "InvalidInvoiceNumber"),
    ([{"ObjectNumber": 1, "Amount": 0}], 1201, 409844, "InvalidAmount"),
    ([{"ObjectNumber": 1, "Amount": Decimal("30.01")}], 1201, 409844, "Overpayment"),
    ([{"ObjectNumber": 1, "Amount": 20}, {"ObjectNumber": 1, "Amount": 11}], 1201, 409844,
     "Overpayment"),
    ([], 1201, 409844, "InvalidPaymentItems"),
])
def test_payments_the_real_api_would_refuse_are_400_and_change_nothing(
        kf: KashFlow, items: list[dict[str, Any]], account: int, method: int,
        error: str) -> None:
    kf.invoice([line(2, "12.50")], Number=1)
    status, body = kf.pay(items, account=account, method=method)
    assert status == 400 and body["Error"] == error, body
    invoice = kf.call("GET", "/invoices/1")[1]
    assert invoice["PaymentLines"] == [] and invoice["TotalPaidAmount"] == 0


def test_a_credit_note_is_refunded_with_a_negative_payment(kf: KashFlow) -> None:
    status, note = kf.invoice([line(-1, "7.99")], CustomerReference="CM-000000042")
    assert status == 201 and note["GrossAmount"] == Decimal("-9.59")
    assert kf.pay([{"ObjectNumber": note["Number"], "Amount": Decimal("9.59")}])[0] == 400
    assert kf.pay([{"ObjectNumber": note["Number"], "Amount": Decimal("-9.59")}])[0] == 201
    note = kf.call("GET", f"/invoices/{note['Number']}")[1]
    assert note["Status"] == "Paid" and note["PaymentLines"][0]["Amount"] == Decimal("-9.59")


# -- products and reference lists -------------------------------------------------------------
def test_products_list_get_and_put(kf: KashFlow) -> None:
    status, body = kf.call("GET", "/products")
    assert status == 200 and {"TSHIRT", "MUG", "BOOK", "HOODIE"} <= {
        p["Code"] for p in body["Data"]}
    book = kf.call("GET", "/products/4000/BOOK")[1]
    assert book["VATRate"] == 0 and book["Price"] == Decimal("9.99")
    status, hoodie = kf.call("PUT", "/products/4000/HOODIE", {"QuantityInStock": 12})
    assert status == 200 and hoodie["QuantityInStock"] == 12
    assert kf.call("GET", "/products/4010/BOOK")[0] == 404
    assert kf.call("PUT", "/products/4000/HOODIE", {"QuantityInStock": "lots"})[0] == 400


def test_reference_lists_are_bare_arrays(kf: KashFlow) -> None:
    accounts = kf.call("GET", "/bankaccounts")[1]
    assert [a["Id"] for a in accounts if a["IsDefaultAccount"]] == [1201]
    methods = {m["Name"]: m["Id"] for m in kf.call("GET", "/paymentmethods/invoice")[1]}
    assert {"Credit/Debit Card", "PayPal", "BACS"} <= set(methods)
    assert all(i > 1000 for i in methods.values())
    rates = {r["VATRate"] for r in kf.call("GET", "/vat/settings/vatrates")[1]}
    assert {20, 5, 0} <= rates


def test_state_and_calls_show_what_was_written(kf: KashFlow) -> None:
    number = kf.invoice([line(1, "10.00")])[1]["Number"]
    kf.pay([{"ObjectNumber": number, "Amount": Decimal("12.00")}])
    state = kf.client.get("/_sandbox/state").get_json(force=True)
    assert [c["Code"] for c in state["customers"]] == ["ANN01"]
    assert state["invoices"][0]["PaymentLines"][0]["Note"] == "txn-abc"
    calls = kf.client.get("/_sandbox/calls").get_json()
    assert calls["calls"]["POST /invoices"] == 1
    assert calls["calls"]["POST /invoices/bulk/payments"] == 1
    assert calls["calls"]["POST /sessiontoken"] == 1


def test_the_seed_holds_no_customers_or_invoices(client: FlaskClient) -> None:
    state = client.get("/_sandbox/state").get_json()
    assert state["customers"] == [] and state["invoices"] == []
    reply = client.post("/_sandbox/customers", json={"Code": "HAND01", "Name": "By Hand",
                                                     "Email": "hand@example.com"})
    assert reply.status_code == 200
    assert client.post("/_sandbox/customers", json={"Code": "hand01", "Name": "Again"}
                       ).status_code == 200  # the control endpoint upserts
    assert [c["Name"] for c in client.get("/_sandbox/state").get_json()["customers"]] == [
        "Again"]


def test_post_products_creates_once_under_an_existing_nominal(kf: KashFlow) -> None:
    body = {"Code": "LAMP", "NominalCode": 4010, "Name": "Brass Lamp", "Price": Decimal("24.99"),
            "VATRate": 20, "ManageStockLevel": False}
    status, created = kf.call("POST", "/products", body)
    assert status == 201 and (created["Code"], created["Name"], created["Price"]) == (
        "LAMP", "Brass Lamp", Decimal("24.99"))
    assert kf.call("GET", "/products/4010/LAMP")[0] == 200
    status, error = kf.call("POST", "/products", body)
    assert (status, error["Error"]) == (400, "DuplicateProductCode")
    status, error = kf.call("POST", "/products", {**body, "NominalCode": 4999})
    assert (status, error["Error"]) == (400, "InvalidNominalCode")
    status, error = kf.call("POST", "/products", {**body, "Code": "LAMP2", "Price": "x"})
    assert (status, error["Error"]) == (400, "InvalidProduct")
    assert kf.call("GET", "/products/4010/LAMP2")[0] == 404  # all or nothing
