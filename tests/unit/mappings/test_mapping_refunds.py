"""Credit memo -> credit note and refund payment: pure mapping, input -> expected tables."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kfsync.samples import Buyer, Line, make_creditmemo, make_order
from mappings.customer_master import master_body, master_code, parse_customer
from mappings.errors import MappingError
from mappings.magento import parse_order
from mappings.refunds import build_credit_note, build_refund_payment, credit_note_number
from mappings.rules import Rules

BUYER = Buyer("ann@example.com", "Ann", "Lee", customer_id=7)
ORDER = make_order(10, BUYER, [Line("TSHIRT", "T-shirt", Decimal("12.50"), 2),
                               Line("BOOK", "Book", Decimal("9.99"), 3, vat=Decimal(0))])


def _gross(body: dict[str, object]) -> Decimal:
    lines = body["LineItems"]
    assert isinstance(lines, list)
    return sum((Decimal(line["Quantity"]) * Decimal(line["Rate"]) + line["VATAmount"]
                for line in lines), Decimal(0))


@pytest.mark.parametrize(("refund", "kw", "gross"), [
    ({"TSHIRT": 2, "BOOK": 3}, {"shipping": Decimal(5)}, Decimal("-65.97")),
    ({"TSHIRT": 1}, {"adjustment_negative": Decimal("2.00")}, Decimal("-13.00")),
    ({"BOOK": 1}, {"adjustment_positive": Decimal("0.51")}, Decimal("-10.50")),
])
def test_credit_note_totals_minus_the_credit_memo(refund: dict[str, int], kw: dict[str, Decimal],
                                                   gross: Decimal) -> None:
    memo = make_creditmemo(20, ORDER, refund, **kw)  # type: ignore[arg-type]
    draft = build_credit_note(memo, parse_order(ORDER), Rules(), "M7")
    assert draft.expected_gross == gross == -memo["grand_total"]
    assert _gross(draft.body) == gross
    assert draft.body["CustomerReference"] == "CM-000000020"
    assert all(Decimal(line["Quantity"]) < 0 for line in draft.body["LineItems"])


def test_fee_is_a_negative_rate_and_the_number_is_offset() -> None:
    memo = make_creditmemo(20, ORDER, {"TSHIRT": 1}, adjustment_negative=Decimal("2.00"))
    body = build_credit_note(memo, parse_order(ORDER), Rules(), "M7").body
    assert body["Number"] == 900000020 == credit_note_number(memo, Rules())
    fee = body["LineItems"][-1]
    assert (fee["Quantity"], fee["Rate"], fee["VATAmount"]) == (-1, Decimal("-2.00"), 0)


def test_a_rate_not_exact_to_the_penny_becomes_one_unit_of_the_row() -> None:
    memo = make_creditmemo(21, ORDER, {"BOOK": 3})
    memo["items"][0].update(row_total=Decimal("29.98"))  # a rounding split: 9.993... each
    memo["grand_total"] = Decimal("29.98")
    [line] = build_credit_note(memo, parse_order(ORDER), Rules(), "M7").body["LineItems"]
    assert (line["Quantity"], line["Rate"]) == (-1, Decimal("29.98"))


def test_lines_that_do_not_add_up_are_refused() -> None:
    memo = make_creditmemo(22, ORDER, {"TSHIRT": 1})
    memo["grand_total"] = Decimal("99.00")
    with pytest.raises(MappingError, match=r"grand_total is 99\.00"):
        build_credit_note(memo, parse_order(ORDER), Rules(), "M7")


def test_refund_payment_only_for_online_refunds() -> None:
    order = parse_order(ORDER)
    offline = make_creditmemo(23, ORDER, {"TSHIRT": 1})
    online = make_creditmemo(24, ORDER, {"TSHIRT": 1}, transaction_id="re_1")
    assert build_refund_payment(offline, order, Rules()) is None
    draft = build_refund_payment(online, order, Rules())
    assert draft is not None and draft.amount == Decimal("-15.00") and "re_1" in draft.comment


def test_customer_master_body_from_a_magento_customer() -> None:
    from kfsync.samples import make_customer

    doc = make_customer(45, Buyer(" Zoë@Example.com", "Zoë", "Ångström", 45, "Zed Ltd"),
                        vat_id="GB1")
    customer = parse_customer(doc)
    body = master_body(customer, master_code(customer, Rules()))
    assert body["Code"] == "M45" and body["Name"] == "Zed Ltd"
    assert body["Email"] == "zoë@example.com"
    assert body["Contacts"] == [{"Name": "Zoë Ångström", "Email": "zoë@example.com",
                                 "Telephone": "0113 496 0000"}]
    assert body["Addresses"][0]["Line1"] == "1 High Street"
    assert body["DeliveryAddresses"][0]["Line1"] == "2 Mill Lane"
    assert body["VATNumber"] == "GB1"
