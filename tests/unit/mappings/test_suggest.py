"""Suggestions for value mapping: SKU -> product, payment method, VAT rate."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mappings.suggest import (
    Product,
    SkuMatcher,
    alias_key,
    learn_aliases,
    suggest_payment_method,
    suggest_vat,
)
from tests.synthetic_skus import KINDS, generate

CATALOGUE = [
    Product("TSHIRT-RED-L", "Organic Cotton T-Shirt - Red - L", 4000),
    Product("TSHIRT-RED-M", "Organic Cotton T-Shirt - Red - M", 4000),
    Product("TSHIRT-BLU-L", "Organic Cotton T-Shirt - Blue - L", 4000),
    Product("GT-500", "Organic Green Tea 500g", 4010),
    Product("GT-1000", "Organic Green Tea 1kg", 4010),
    Product("OIL-0750", "Extra Virgin Olive Oil 750ml", 4010),
    Product("OIL-1000", "Extra Virgin Olive Oil 1l", 4010),
    Product("0004711", "Enamel Mug - Black", 4000),
]
METHODS = [("409811", "Cash"), ("409826", "Cheque"), ("409837", "BACS"),
           ("409844", "Credit/Debit Card"), ("409852", "PayPal"), ("409869", "Stripe")]
RATES = [("3301", Decimal(20), "Standard 20%"), ("3302", Decimal(5), "Reduced 5%"),
         ("3303", Decimal(0), "Zero 0%")]


@pytest.fixture(scope="module")
def matcher() -> SkuMatcher:
    return SkuMatcher(CATALOGUE)


def test_exact_code_is_top_and_auto(matcher: SkuMatcher) -> None:
    top, *others = matcher.suggest("TSHIRT-RED-L", "Red tee, large")
    assert (top.target, top.auto, top.confidence) == ("TSHIRT-RED-L", True, 1.0)
    assert top.reason == "exact code match" and top.nominal_code == 4000
    assert others and not any(s.auto for s in others)


@pytest.mark.parametrize(("sku", "code"), [
    ("tshirt_red_l", "TSHIRT-RED-L"), ("Tshirt Red L", "TSHIRT-RED-L"),
    ("4711", "0004711"), ("oil-750", "OIL-0750"),
])
def test_normalised_code_is_auto_and_says_why(matcher: SkuMatcher, sku: str, code: str
                                              ) -> None:
    top = matcher.suggest(sku)[0]
    assert (top.target, top.auto) == (code, True)
    assert top.reason.startswith("code matches after normalising")


def test_two_codes_normalising_alike_are_not_auto() -> None:
    top = SkuMatcher([Product("AB-1", "Thing"), Product("AB1", "Other thing")]).suggest("ab 1")
    assert {s.target for s in top[:2]} == {"AB-1", "AB1"}
    assert not any(s.auto for s in top) and "2 products share it" in top[0].reason


@pytest.mark.parametrize(("name", "right", "wrong"), [
    ("Green Tea Organic 0.5kg", "GT-500", "GT-1000"),
    ("Organic Green Tea 1000 g", "GT-1000", "GT-500"),
    ("Olive Oil Extra Virgin 75cl", "OIL-0750", "OIL-1000"),
    ("Organic Cotton Tee Red Medium", "TSHIRT-RED-M", "TSHIRT-RED-L"),
    ("Organic Cotton T Shirt Blue Large", "TSHIRT-BLU-L", "TSHIRT-RED-L"),
])
def test_size_and_colour_conflicts_never_win(matcher: SkuMatcher, name: str, right: str,
                                             wrong: str) -> None:
    shown = matcher.suggest("M100234", name)
    assert shown[0].target == right and not shown[0].auto
    assert shown[0].reason.startswith("name similarity")
    loser = next(s for s in matcher.suggest("M100234", name, k=10) if s.target == wrong)
    assert "conflict" in loser.reason and loser.confidence < shown[0].confidence


def test_conflict_note_names_both_values(matcher: SkuMatcher) -> None:
    shown = matcher.suggest("M1", "Organic Green Tea 1kg", k=5)
    other = next(s for s in shown if s.target == "GT-500")
    assert "size conflict: 1000g vs 500g" in other.reason


def test_code_with_a_suffix_is_suggested_not_applied(matcher: SkuMatcher) -> None:
    top = matcher.suggest("GT-500-2024", "Organic Green Tea 500g (2024 edition)")[0]
    assert top.target == "GT-500" and not top.auto
    assert "contained in SKU" in top.reason


def test_learned_aliases_apply_to_the_sku_and_to_the_name() -> None:
    aliases = learn_aliases([("MG-77", "Thé vert bio 500 grammes", "GT-500")])
    assert set(aliases) == set(alias_key("MG-77", "Thé vert bio 500 grammes"))
    matcher = SkuMatcher(CATALOGUE, aliases)
    same_sku = matcher.suggest("mg77")[0]
    assert (same_sku.target, same_sku.auto) == ("GT-500", True)
    assert same_sku.reason.startswith("learned alias: SKU")
    relisted = matcher.suggest("WEB-9", "THÉ VERT BIO, 500 grammes")[0]
    assert (relisted.target, relisted.auto) == ("GT-500", True)


def test_a_key_accepted_for_two_products_is_forgotten() -> None:
    aliases = learn_aliases([("A1", "Mug", "0004711"), ("A2", "Mug", "GT-500")])
    assert "name:mug" not in aliases and aliases["sku:a1"] == "0004711"


def test_learned_words_carry_over_to_other_products() -> None:
    aliases = learn_aliases([("MG1", "Organic Cotton T-Shirt - Rouge - L", "TSHIRT-RED-L")])
    matcher = SkuMatcher(CATALOGUE, aliases)
    assert matcher.learned_synonyms == {("rouge",): ("red",)}
    top = matcher.suggest("MG2", "Organic Cotton T-Shirt - Rouge - M")[0]
    assert top.target == "TSHIRT-RED-M" and not top.auto  # a learned word is never auto


def test_ambiguous_name_alias_is_not_applied_automatically() -> None:
    products = [Product("PB-ORG", "Wren Organic Peanut Butter 500g"),
                Product("PB-RAW", "Wren Raw Peanut Butter 500g")]
    aliases = learn_aliases([("MG1", "Wren Peanut Butter 500g", "PB-ORG")])
    top = SkuMatcher(products, aliases).suggest("MG2", "Wren Peanut Butter 0.5kg")[0]
    assert top.target == "PB-ORG" and not top.auto and top.reason.endswith("confirm")


def test_unknown_aliases_and_empty_input_are_harmless(matcher: SkuMatcher) -> None:
    assert all(s.target != "GONE" for s in SkuMatcher(CATALOGUE, {"sku:zz": "GONE"}).suggest("zz"))
    assert len(matcher.suggest("", None)) <= 3


@pytest.mark.parametrize(("code", "title", "method"), [
    ("checkmo", "Check / Money order", "Cheque"),
    ("banktransfer", "Bank Transfer Payment", "BACS"),
    ("cashondelivery", "Cash On Delivery", "Cash"),
    ("braintree", "Credit Card (Braintree)", "Credit/Debit Card"),
    ("authorizenet_acceptjs", "Credit Card", "Credit/Debit Card"),
    ("braintree_paypal", "PayPal", "PayPal"),
    ("paypal_express", "PayPal Express Checkout", "PayPal"),
    ("stripe_payments", "Pay by Card", "Stripe"),
    ("some_new_gateway", "Debit or credit card", "Credit/Debit Card"),
])
def test_payment_methods(code: str, title: str, method: str) -> None:
    top = suggest_payment_method(code, title, METHODS)[0]
    assert top.label == method
    assert top.target == dict((name, i) for i, name in METHODS)[method]


def test_payment_auto_only_on_an_equal_name() -> None:
    assert suggest_payment_method("paypal_express", "PayPal", METHODS)[0].auto
    assert not suggest_payment_method("checkmo", "Check / Money order", METHODS)[0].auto
    assert "curated code table" in suggest_payment_method("checkmo", None, METHODS)[0].reason
    assert suggest_payment_method("free", "No Payment Information Required", METHODS) == []


def test_vat_exact_percent_is_auto() -> None:
    top, *rest = suggest_vat(Decimal("20.00"), RATES)
    assert (top.target, top.auto, top.confidence) == ("3301", True, 1.0)
    assert not any(s.auto for s in rest)
    near = suggest_vat(Decimal("17.5"), RATES)[0]
    assert (near.target, near.auto) == ("3301", False) and "differs by 2.5" in near.reason


def test_vat_two_rates_of_the_same_percent_are_not_auto() -> None:
    shown = suggest_vat(Decimal(0), [*RATES, ("3304", Decimal(0), "Exempt")])
    assert {s.target for s in shown[:2]} == {"3303", "3304"}
    assert not any(s.auto for s in shown)


def test_generator_is_deterministic() -> None:
    one, two = generate(300, 60, seed=3), generate(300, 60, seed=3)
    assert one.products == two.products and one.test == two.test and one.train == two.train
    assert {q.kind for q in one.test} == set(KINDS)
    assert not {q.gold for q in one.test} & {q.gold for q in one.train}


def test_generated_set_reaches_reasonable_precision() -> None:
    data = generate(1500, 240, seed=5)
    matcher = SkuMatcher(data.products)
    shown = [(q, matcher.suggest(q.sku, q.name)) for q in data.test]
    p_at_1 = sum(s[0].target == q.gold for q, s in shown) / len(shown)
    r_at_3 = sum(q.gold in [x.target for x in s] for q, s in shown) / len(shown)
    assert p_at_1 >= 0.85 and r_at_3 >= 0.95
    assert all(s[0].target == q.gold for q, s in shown if s[0].auto)  # auto is never wrong


def test_a_product_with_no_word_in_common_is_no_suggestion() -> None:
    """CANDLE against a catalogue of T-shirts, mugs, books and Delivery: "candle" and
    "delivery" share letters (41% alike), not a word; nothing is offered, so nothing can be
    accepted by mistake."""
    from mappings.suggest import Product, SkuMatcher

    catalogue = [Product("TSHIRT", "Organic T-shirt"), Product("MUG", "Enamel Mug"),
                 Product("BOOK", "Field Guide to Ferns"), Product("HOODIE", "Heavy Hoodie"),
                 Product("DELIVERY", "Delivery")]
    matcher = SkuMatcher(catalogue)
    assert matcher.suggest("CANDLE", "Candle") == []
    assert matcher.suggest("CANDLE") == []
    [best, *_] = matcher.suggest("MUG-ENAMEL-RED", "Red Enamel Mug")
    assert best.target == "MUG"  # a shared word still finds the product
