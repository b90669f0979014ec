"""The SKU is the key (mappings/skus.py): table entry, then product code, then the policy."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kfsync.samples import Buyer, Line, make_order
from mappings.errors import MappingError
from mappings.magento import parse_order
from mappings.orders import build_invoice_draft
from mappings.products import ProductIndex, ProductRef
from mappings.rules import Rules, SkuRule, parse_rules, with_products
from mappings.skus import map_sku, products_to_create, unmatched_skus
from mappings.stock import stock_map

CATALOGUE = ProductIndex.of([
    ProductRef(4000, "MUG", manage_stock=True), ProductRef(4000, "TSHIRT"),
    ProductRef(4010, "Tea Tin"), ProductRef(4000, "x1"), ProductRef(4010, "X1"),
    ProductRef(4000, "CARD"), ProductRef(4010, "CARD")])
RULES = with_products(Rules(), CATALOGUE)


@pytest.mark.parametrize(("sku", "nominal", "product", "how"), [
    ("MUG", 4000, "MUG", "matched by code"),           # exact
    ("mug", 4000, "MUG", "matched by code"),           # case
    (" M UG ", 4000, "MUG", "matched by code"),        # whitespace
    ("TEATIN", 4010, "Tea Tin", "matched by code"),     # the product's nominal, not the default
    ("x1", 4000, "x1", "matched by code"),              # exact wins over a loose twin
    ("X1", 4010, "X1", "matched by code"),
    ("Y1", 4000, None, "unmapped"),                     # no product: the policy
    ("card", 4000, None, "suggested"),                  # two loose matches: no guess
    ("CARD", 4000, None, "suggested"),                  # one code under two nominals
])
def test_a_sku_maps_to_the_product_whose_code_it_is(sku: str, nominal: int,
                                                    product: str | None, how: str) -> None:
    mapping = map_sku(sku, RULES)
    assert (mapping.nominal_code, mapping.product_code, mapping.how) == (nominal, product, how)


def test_an_explicit_entry_wins_over_a_code_match() -> None:
    rules = with_products(parse_rules({"skus": {"MUG": {"nominal_code": 4900}}}), CATALOGUE)
    mapping = map_sku("MUG", rules)
    assert (mapping.nominal_code, mapping.product_code, mapping.how, mapping.rule) == (
        4900, None, "mapped", "skus.MUG")


def test_suggested_names_the_candidates_and_review_holds_with_them() -> None:
    assert map_sku("card", RULES).candidates == ("4000/CARD", "4010/CARD")
    review = with_products(parse_rules({"unmapped_sku": "review"}), CATALOGUE)
    with pytest.raises(MappingError, match=r"several KashFlow products match it: 4000/CARD"):
        map_sku("card", review)
    with pytest.raises(MappingError, match="no KashFlow product has it as its code"):
        map_sku("Y1", review)
    assert map_sku("mug", review).product_code == "MUG"


def test_without_a_catalogue_the_old_rule_holds() -> None:
    assert map_sku("MUG", Rules()).how == "unmapped"
    assert Rules(skus={"MUG": SkuRule(4000, "MUG")}) == with_products(
        Rules(skus={"MUG": SkuRule(4000, "MUG")}), CATALOGUE)  # the catalogue is not a rule


ORDER = parse_order(make_order(1, Buyer("a@example.com", "A", "B"), [
    Line("mug", "Enamel Mug", Decimal("7.99"), 2), Line("LAMP", "Brass Lamp", Decimal("24.99"), 1),
    Line("card", "Card", Decimal("1.50"), 1, vat=Decimal(0))]))


def test_invoice_lines_carry_the_matched_product_and_say_how() -> None:
    draft = build_invoice_draft(ORDER, RULES, "C1")
    items = [(x.get("ProductCode"), x["NominalCode"]) for x in draft.body["LineItems"]][:3]
    assert items == [("MUG", 4000), (None, 4000), (None, 4000)]
    assert [(m["sku"], m["how"]) for m in draft.line_mapping] == [
        ("mug", "matched by code"), ("LAMP", "unmapped"), ("card", "suggested")]
    assert any("SKU card is not mapped" in n and "4000/CARD, 4010/CARD" in n for n in draft.notes)


def test_only_skus_matching_nothing_are_created_and_only_when_asked() -> None:
    assert unmatched_skus(ORDER, RULES) == ["LAMP"]
    assert products_to_create(ORDER, RULES) == []
    rules = with_products(parse_rules({"create_missing_products": True,
                                       "default_nominal_code": 4010}), CATALOGUE)
    assert products_to_create(ORDER, rules) == [{
        "Code": "LAMP", "NominalCode": 4010, "Name": "Brass Lamp", "Description": "Brass Lamp",
        "Price": Decimal("24.99"), "VATRate": Decimal(20), "ManageStockLevel": False}]


def test_stock_covers_table_entries_and_magento_skus_matched_by_code() -> None:
    rules = with_products(parse_rules({"skus": {"HOODIE": {"nominal_code": 4000,
                                                           "product_code": "HOOD"},
                                                "TSHIRT": {"nominal_code": 4000}}}), CATALOGUE)
    found = stock_map(["mug", "TSHIRT", "LAMP", "card", "HOODIE"], rules)
    assert dict(found.products) == {"HOODIE": (4000, "HOOD"), "mug": (4000, "MUG")}
    assert found.by_code == {"mug"}
    assert found.unmatched == ("LAMP", "card")  # TSHIRT has a row (no product): not reported
    one = stock_map([], rules, only="mug")
    assert dict(one.products) == {"mug": (4000, "MUG")}


def test_two_magento_skus_never_share_one_products_stock() -> None:
    rules = with_products(parse_rules({"skus": {"TEA": {"nominal_code": 4010,
                                                        "product_code": "Tea Tin"}}}), CATALOGUE)
    found = stock_map(["mug", "MUG", "teatin", "TEA"], rules)
    assert dict(found.products) == {"MUG": (4000, "MUG"), "TEA": (4010, "Tea Tin")}
    assert found.unmatched == ("mug", "teatin")
