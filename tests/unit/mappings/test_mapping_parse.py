"""parse_order at the boundary, and the money helpers."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from mapping_helpers import FIXTURES, fixture_doc

from mappings.errors import MappingError
from mappings.magento import parse_order
from mappings.money import plain, round_money, to_decimal


def test_fixture_parses_to_frozen_dataclasses() -> None:
    order = parse_order(fixture_doc("order_configurable"))
    assert order.increment_id == "000000103"
    assert order.grand_total == Decimal("95.93")
    assert [i.product_type for i in order.items] == ["configurable", "simple", "simple"]
    assert order.items[1].parent_item_id == order.items[0].item_id
    assert order.shipping_address is not None and order.shipping_address.city == "Leeds"
    assert order.payment is not None and order.payment.last_trans_id == "k3n7w2d1"
    assert order.applied_taxes[0].percent == Decimal("20")
    with pytest.raises(AttributeError):
        order.state = "closed"  # type: ignore[misc]


def test_floats_are_read_through_str() -> None:
    doc = json.loads((FIXTURES / "order_simple_guest.json").read_text())  # floats, not Decimal
    order = parse_order(doc)
    assert order.items[1].price == Decimal("7.99")
    assert order.grand_total == Decimal("45.53")


def test_guest_has_no_customer_id() -> None:
    order = parse_order(fixture_doc("order_simple_guest"))
    assert order.customer_id is None and order.customer_is_guest is True


def test_errors_name_the_fields() -> None:
    doc = fixture_doc("order_simple_guest")
    del doc["items"][1]["sku"]
    doc["grand_total"] = "lots"
    doc["created_at"] = "yesterday"
    with pytest.raises(MappingError) as caught:
        parse_order(doc)
    message = str(caught.value)
    assert message.startswith("Magento order 000000101: ")
    assert "items.1.sku: Missing data for required field." in message
    assert "grand_total: Not a valid number." in message
    assert "created_at: Not a valid datetime." in message


def test_not_an_object() -> None:
    with pytest.raises(MappingError, match="expected a JSON object"):
        parse_order([])  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "expected"), [
    (Decimal("1.10"), Decimal("1.10")), (3, Decimal("3")), ("2.5", Decimal("2.5")),
    (0.1, Decimal("0.1")), (19.99, Decimal("19.99")),
])
def test_to_decimal(value: object, expected: Decimal) -> None:
    assert to_decimal(value) == expected
    assert str(to_decimal(value)) == str(expected)


@pytest.mark.parametrize("value", [None, True, "abc", float("nan"), "Infinity", [1]])
def test_to_decimal_rejects(value: object) -> None:
    with pytest.raises(MappingError):
        to_decimal(value)


@pytest.mark.parametrize(("value", "expected"), [
    ("2.345", "2.35"), ("2.344", "2.34"), ("-2.345", "-2.35"), ("0.005", "0.01"), ("7", "7.00"),
])
def test_round_money_half_up(value: str, expected: str) -> None:
    assert str(round_money(Decimal(value))) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("20.0000", "20"), ("3", "3"), ("10", "10"), ("2.50", "2.5"), ("100", "100")])
def test_plain(value: str, expected: str) -> None:
    assert str(plain(Decimal(value))) == expected
