"""Profile documents (``mappings.profile``) and studio validation (``mappings.studio``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from mappings.errors import MappingError
from mappings.profile import diff_documents, dump_rules, from_yaml, parse_document, to_yaml
from mappings.rules import Rules, load_rules
from mappings.studio import Catalogue, CatalogueProduct, Seen, coverage, validate

ROOT = Path(__file__).resolve().parents[3]
FILES = [ROOT / "mappings" / "default_mapping.yml", ROOT / "tests" / "fixtures" / "mapping"
         / "integration.yml"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_a_document_means_exactly_its_rules(path: Path) -> None:
    rules = load_rules(str(path))
    doc = dump_rules(rules)
    assert parse_document(doc) == rules
    assert from_yaml(to_yaml(doc, version=3, comment="x")) == doc  # export -> import


def test_diff_names_each_changed_leaf() -> None:
    before = dump_rules(Rules())
    after = dump_rules(parse_document({"skus": {"MUG": {"nominal_code": 4010}},
                                       "checks": {"dup.near": {"severity": "off"}}}))
    assert [str(c) for c in diff_documents(before, after)] == [
        '~ checks.dup.near.severity: "warn" -> "off"',
        '~ checks.dup.near.threshold: 30 -> null',
        '+ skus.MUG: {"nominal_code": 4010, "product_code": null}',
    ]


def test_templates_take_only_the_closed_placeholder_set() -> None:
    assert parse_document({"line_description": "{sku} - {name}"}).line_description
    with pytest.raises(MappingError, match=r"unknown placeholder \{order.customer\}"):
        parse_document({"line_description": "{order.customer}"})
    with pytest.raises(MappingError, match="unknown placeholder"):
        parse_document({"line_description": "{name!r}"})


CATALOGUE = Catalogue(
    products=[CatalogueProduct("MUG", "Enamel Mug", 4000)],
    vat_rates=[Decimal(20), Decimal(5), Decimal(0)],
    bank_accounts={1201: "Current"}, payment_methods={409844: "Credit/Debit Card"},
    refreshed=True)


def test_validation_marks_broken_references_and_duplicate_skus() -> None:
    doc = dump_rules(Rules())
    doc["skus"] = {"MUG": {"nominal_code": 4010, "product_code": "MUG"},
                   "mug ": {"nominal_code": 4000, "product_code": None},
                   "GONE": {"nominal_code": 4000, "product_code": "GONE"}}
    doc["payment_methods"]["braintree"] = {"method_id": 1, "account_id": 9, "method_name": None,
                                           "due_days": None}
    doc["vat_levels"]["17.5"] = "17.5"
    errors = {p.path: p.message for p in validate(doc, CATALOGUE) if p.severity == "error"}
    assert "it is under nominal 4000" in errors["skus.MUG.product_code"]
    assert "deleted or never created" in errors["skus.GONE.product_code"]
    assert "mapped more than once" in errors["skus.MUG"]
    assert errors["payment_methods.braintree.method_id"].startswith("broken")
    assert errors["payment_methods.braintree.account_id"].startswith("broken")
    assert errors["vat_levels.17.5"] == "KashFlow has no 17.5% VAT rate"
    # The default method names all exist in this catalogue except PayPal and Cash.
    assert "payment_methods.paypal_express.method_name" in errors


def test_coverage_warns_about_recent_gaps_with_their_policy() -> None:
    rules = parse_document({"skus": {"MUG": {"nominal_code": 4000}}})
    seen = Seen(skus={"MUG": "Mug", "BOWL": "Bowl"}, methods=["checkmo", "fancypay"],
                vat_rates=["20", "7.5"])
    warnings = [str(p) for p in validate(dump_rules(rules), Catalogue(), seen)]
    assert any("not been refreshed" in w for w in warnings)
    assert any("1 SKU(s)" in w and "BOWL" in w and "default_nominal_code 4000" in w
               for w in warnings)
    assert any(w.startswith("payment_methods.fancypay") for w in warnings)
    assert not any("checkmo" in w for w in warnings)  # offline: needs no mapping
    assert any(w.startswith("vat_levels.7.5") for w in warnings)
    assert coverage(rules, seen) == (1, 2)
