"""Settlement CSV parsing: Stripe and PayPal headers -> rows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mappings.errors import MappingError
from mappings.settlements import parse_settlement

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
