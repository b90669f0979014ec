"""Customer codes, email normalisation and the KashFlow customer body."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from mapping_helpers import fixture_doc, fixture_order

from mappings.errors import MappingError
from mappings.magento import parse_order
from mappings.orders import build_customer, customer_code, normalise_email
from mappings.rules import Rules


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("a@b.co", "a@b.co"),
        ("  Jane.Doe@Example.COM \n", "jane.doe@example.com"),
        ("\tX@Y.Z", "x@y.z"),
    ],
)
def test_normalise_email(raw: str, normal: str) -> None:
    assert normalise_email(raw) == normal


def test_registered_code_is_prefix_plus_customer_id() -> None:
    assert customer_code(fixture_order("order_registered_two_rates"), Rules()) == "M501"
    assert customer_code(fixture_order("order_registered_two_rates"),
                         Rules(customer_code_prefix="MAG-")) == "MAG-501"


def test_guest_code_hashes_the_normalised_email() -> None:
    order = fixture_order("order_simple_guest")  # customer_email "Zoe.Bronte@Example.com"
    digest = hashlib.sha256(b"zoe.bronte@example.com").hexdigest()[:10]
    assert customer_code(order, Rules()) == "G" + digest
    # the same person typing her address differently gets the same code
    doc = fixture_doc("order_simple_guest")
    doc["customer_email"] = "  ZOE.BRONTE@example.com "
    assert customer_code(parse_order(doc), Rules()) == "G" + digest


def test_codes_fit_kashflow() -> None:
    for name in ("order_simple_guest", "order_registered_two_rates", "order_eur"):
        assert len(customer_code(fixture_order(name), Rules(guest_code_prefix="GUEST-"))) <= 20


def test_guest_without_email_is_an_error() -> None:
    doc = fixture_doc("order_simple_guest")
    del doc["customer_email"]
    del doc["billing_address"]["email"]
    with pytest.raises(MappingError, match="no customer_email"):
        customer_code(parse_order(doc), Rules())


def test_build_customer_guest_keeps_non_ascii_names() -> None:
    body = build_customer(fixture_order("order_simple_guest"), "Ga8228624fa")
    assert body == {
        "Code": "Ga8228624fa",
        "Name": "Zoë Brontë",
        "Email": "zoe.bronte@example.com",
        "Contacts": [{"Name": "Zoë Brontë", "Email": "zoe.bronte@example.com",
                      "Telephone": "0117 496 0123"}],
        "Addresses": [{"Line1": "14 Wharf Road", "Line2": "Flat 3", "Line3": "Bristol",
                       "PostCode": "BS1 4RN", "CountryCode": "GB"}],
        "DeliveryAddresses": [{"Line1": "14 Wharf Road", "Line2": "Flat 3", "Line3": "Bristol",
                               "PostCode": "BS1 4RN", "CountryCode": "GB"}],
        "Currency": {"Code": "GBP"},
    }


def test_build_customer_registered_with_separate_delivery_address() -> None:
    body = build_customer(fixture_order("order_registered_two_rates"), "M501")
    assert body["Name"] == "Ann Lee"
    assert body["Addresses"] == [{"Line1": "21 High Street", "Line2": "Leeds",
                                  "Line3": "West Yorkshire", "PostCode": "LS1 1AA",
                                  "CountryCode": "GB"}]
    assert body["DeliveryAddresses"] == [{"Line1": "Unit 7, Brunel Way", "Line2": "Newport",
                                          "PostCode": "NP20 2AB", "CountryCode": "GB"}]


def test_build_customer_company_name_and_contact() -> None:
    body: dict[str, Any] = build_customer(fixture_order("order_configurable"), "M502")
    assert body["Name"] == "Acme Ltd"
    assert body["Contacts"][0]["Name"] == "Raj Patel"


def test_build_customer_virtual_order_has_no_delivery_address() -> None:
    doc = fixture_doc("order_simple_guest")
    doc["extension_attributes"]["shipping_assignments"] = []
    body = build_customer(parse_order(doc), "G1")
    assert "DeliveryAddresses" not in body


def test_region_equal_to_city_is_not_repeated() -> None:
    doc = fixture_doc("order_simple_guest")
    doc["billing_address"]["region"] = "bristol"
    assert build_customer(parse_order(doc), "G1")["Addresses"][0] == {
        "Line1": "14 Wharf Road", "Line2": "Flat 3", "Line3": "Bristol",
        "PostCode": "BS1 4RN", "CountryCode": "GB"}
