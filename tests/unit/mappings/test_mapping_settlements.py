"""Settlement CSV parsing: Stripe, PayPal and Braintree headers, and any CSV through a column
mapping -> rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from mappings.errors import MappingError
from mappings.settlements import parse_columns, parse_settlement

PAYPAL = ('"Date","Time","TimeZone","Name","Type","Status","Currency","Gross","Fee","Net",'
          '"Transaction ID","Reference Txn ID"\n'
          '"24/11/2026","10:00:00","GMT","Ann","Express Checkout Payment","Completed","GBP",'
          '"1,045.99","-1.86","1,044.13","8AB12345CD678901E",""\n'
          '"25/11/2026","09:00:00","GMT","Ann","Payment Refund","Completed","GBP","-15.00",'
          '"0.00","-15.00","9ZY98765XW432109V","8AB12345CD678901E"\n'
          '"26/11/2026","02:00:00","GMT","","General Withdrawal","Completed","GBP","-1029.13",'
          '"0.00","-1029.13","1QQ","" \n')


def test_paypal_rows() -> None:
    fmt, rows = parse_settlement(PAYPAL)
    assert fmt == "paypal"
    assert [(r.kind, r.txn_id, r.gross, r.fee) for r in rows] == [
        ("charge", "8AB12345CD678901E", Decimal("1045.99"), Decimal("1.86")),
        ("refund", "9ZY98765XW432109V", Decimal("-15.00"), Decimal("0.00")),
        ("payout", "1QQ", Decimal("-1029.13"), Decimal("0.00"))]


def test_bad_amount_names_its_line() -> None:
    text = "id,Type,Source,Amount,Fee,Net,Currency\ntxn_1,charge,ch_1,abc,0,0,gbp\n"
    with pytest.raises(MappingError, match="line 2"):
        parse_settlement(text)


def test_paypal_dates_are_day_first() -> None:
    _, rows = parse_settlement(PAYPAL)
    assert [r.day for r in rows] == [date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26)]


BRAINTREE = ("Transaction ID,Transaction Type,Transaction Status,Disbursement Date,"
             "Settlement Amount,Settlement Currency ISO Code,Braintree Total Amount\n"
             "fbad0mty,sale,settled,2026-11-26,45.99,GBP,0.98\n"
             "k2p9q1zz,credit,settled,2026-11-26,15.00,GBP,-0.10\n"
             "d1spute1,dispute debit,settled,2026-11-26,-20.00,GBP,0\n")


def test_braintree_rows() -> None:
    fmt, rows = parse_settlement(BRAINTREE)
    assert fmt == "braintree"
    assert [(r.kind, r.txn_id, r.gross, r.fee, r.net, r.currency) for r in rows] == [
        ("charge", "fbad0mty", Decimal("45.99"), Decimal("0.98"), Decimal("45.01"), "GBP"),
        ("refund", "k2p9q1zz", Decimal("-15.00"), Decimal("0.10"), Decimal("-15.10"), "GBP"),
        ("other", "d1spute1", Decimal("-20.00"), Decimal("0"), Decimal("-20.00"), "GBP")]
    assert {r.day for r in rows} == {date(2026, 11, 26)}


GENERIC = ("Ref,When,What,Amount,Cost,Cur\n"
           "A-1,2026-11-24,sale,10.00,0.30,eur\n"
           "A-2,2026-11-24,,-4.00,,eur\n"
           "A-3,2026-11-25,Bank payout,-5.70,,eur\n")


@pytest.mark.parametrize(("spec", "expected"), [
    ("txn_id=Ref,gross=Amount", {"txn_id": "Ref", "gross": "Amount"}),
    (" txn_id = Ref , gross=Amount, fee=Cost ", {"txn_id": "Ref", "gross": "Amount",
                                                   "fee": "Cost"}),
])
def test_parse_columns(spec: str, expected: dict[str, str]) -> None:
    assert parse_columns(spec) == expected


@pytest.mark.parametrize(("spec", "error"), [
    ("gross=Amount", "needs txn_id"),
    ("txn_id=Ref", "needs gross"),
    ("txn_id=Ref,gross=Amount,colour=Red", "unknown field 'colour'"),
    ("txn_id=Ref,gross", "is not FIELD=HEADER"),
    ("txn_id=,gross=Amount", "is not FIELD=HEADER"),
])
def test_parse_columns_refuses(spec: str, error: str) -> None:
    with pytest.raises(MappingError, match=error):
        parse_columns(spec)


def test_a_generic_csv_through_its_column_mapping() -> None:
    columns = parse_columns("txn_id=Ref,gross=Amount,fee=Cost,kind=What,currency=Cur,date=When")
    fmt, rows = parse_settlement(GENERIC, columns=columns)
    assert fmt == "csv"
    assert [(r.txn_id, r.kind, r.gross, r.fee, r.net, r.currency, r.day) for r in rows] == [
        ("A-1", "charge", Decimal("10.00"), Decimal("0.30"), Decimal("9.70"), "EUR",
         date(2026, 11, 24)),
        ("A-2", "refund", Decimal("-4.00"), Decimal("0"), Decimal("-4.00"), "EUR",
         date(2026, 11, 24)),
        ("A-3", "payout", Decimal("-5.70"), Decimal("0"), Decimal("-5.70"), "EUR",
         date(2026, 11, 25))]


def test_a_generic_csv_without_currency_takes_the_one_given() -> None:
    _, rows = parse_settlement("Ref,Amount\nA-1,1.00\n", "csv",
                               parse_columns("txn_id=Ref,gross=Amount"), currency="usd")
    assert rows[0].currency == "USD" and rows[0].kind == "charge"


@pytest.mark.parametrize(("text", "fmt", "columns", "error"), [
    ("a,b\n1,2\n", None, None, "not a Stripe, PayPal or Braintree settlement export"),
    (PAYPAL, "stripe", None, "not a stripe export; its header needs id, Type"),
    ("Ref,Amount\n", "csv", None, "needs --columns"),
    ("Ref,Amount\n", "csv", {"txn_id": "Ref", "gross": "Gross"}, "no column 'Gross'"),
])
def test_wrong_files_are_one_clear_error(text: str, fmt: str | None,
                                         columns: dict[str, str] | None, error: str) -> None:
    with pytest.raises(MappingError, match=error):
        parse_settlement(text, fmt, columns)
