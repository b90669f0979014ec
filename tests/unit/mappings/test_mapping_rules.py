"""Mapping rules from YAML: defaults, overrides, and errors that name the file and the key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from mappings.errors import MappingError
from mappings.rules import PaymentMethodRule, Rules, SkuRule, load_rules

DEFAULT_FILE = Path(__file__).resolve().parents[3] / "mappings" / "default_mapping.yml"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "mapping.yml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_none_gives_the_defaults() -> None:
    rules = load_rules(None)
    assert rules == Rules()
    assert (rules.default_nominal_code, rules.shipping_nominal_code) == (4000, 4000)
    assert rules.shipping_description == "Shipping"
    assert rules.unmapped_sku == "default_nominal"
    assert rules.offline_payment_methods == {
        "checkmo", "banktransfer", "cashondelivery", "purchaseorder", "free"}
    assert (rules.due_days, rules.invoice_number_offset) == (0, 0)
    assert (rules.guest_code_prefix, rules.customer_code_prefix) == ("G", "M")
    assert rules.payment_methods["paypal_express"].method_name == "PayPal"


def test_sample_file_matches_the_defaults() -> None:
    assert load_rules(str(DEFAULT_FILE)) == Rules()


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    assert load_rules(write(tmp_path, "# nothing\n")) == Rules()


def test_file_overrides(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, """
default_nominal_code: 4010
unmapped_sku: review
due_days: 14
skus:
  TSHIRT: {product_code: TSHIRT, nominal_code: 4000}
  GIFT-WRAP: {nominal_code: 4020}
payment_methods:
  braintree: {method_id: 409844, account_id: 12}
offline_payment_methods: [checkmo]
vat_levels: {"20.0": 20, "0": 0, EXEMPT: 0}
"""))
    assert rules.default_nominal_code == 4010
    assert rules.unmapped_sku == "review"
    assert rules.due_days == 14
    assert rules.skus == {"TSHIRT": SkuRule(4000, "TSHIRT"), "GIFT-WRAP": SkuRule(4020, None)}
    assert rules.payment_methods["braintree"] == PaymentMethodRule(409844, 12, None)
    assert rules.payment_methods["paypal_express"].method_name == "PayPal"  # merged, kept
    assert rules.offline_payment_methods == {"checkmo"}
    assert rules.vat_levels == {"20": Decimal(20), "0": Decimal(0), "EXEMPT": Decimal(0)}
    assert rules.shipping_description == "Shipping"  # untouched key keeps its default


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("skus:\n  TSHIRT: {nominal_code: abc}\n",
         "mapping.yml: skus.TSHIRT.nominal_code: Not a valid integer."),
        ("skus:\n  TSHIRT: {product_code: TSHIRT}\n",
         "mapping.yml: skus.TSHIRT.nominal_code: Missing data for required field."),
        ("skus:\n  TSHIRT: {nominal_code: 4000, nominal: 1}\n",
         "mapping.yml: skus.TSHIRT.nominal: Unknown field."),
        ("skus:\n  TSHIRT: 4000\n", "mapping.yml: skus.TSHIRT: Invalid input type."),
        ("unmapped_sku: ignore\n", "mapping.yml: unmapped_sku: Must be one of"),
        ("defualt_nominal_code: 4000\n", "mapping.yml: defualt_nominal_code: Unknown field."),
        ("due_days: -3\n", "mapping.yml: due_days: Must be greater than or equal to 0."),
        ("payment_methods:\n  braintree: {method_id: card}\n",
         "mapping.yml: payment_methods.braintree.method_id: Not a valid integer."),
        ("guest_code_prefix: GUEST-CUSTOMER-\n", "mapping.yml: guest_code_prefix: Longer than"),
        ("- just\n- a list\n", "mapping.yml: the top level must be a mapping"),
        ("skus: [\n", "mapping.yml: invalid YAML"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(MappingError) as caught:
        load_rules(write(tmp_path, text))
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path / "mapping.yml"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read mapping rules"):
        load_rules(str(tmp_path / "absent.yml"))
