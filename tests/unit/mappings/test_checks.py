"""Data-quality checks: each check firing and not firing, then every named fixture.

Orders come from ``kfsync.samples.make_order`` (totals that add up, GB buyer, braintree, paid)
or from the named fixtures, edited field by field. Default rules unless a test says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from mapping_helpers import FIXTURES, fixture_doc, fixture_order

from kfsync.samples import Buyer, Line, make_order, money
from mappings.checks import CHECKS, Finding, OrderSummary, run_checks, summarize, worst
from mappings.magento import Order, OrderItem, parse_order
from mappings.rules import DEFAULT_CHECKS, Rules, parse_rules
from tests.fixtures.magento_builder import Item, Spec, build_order

BUYER = Buyer(" Ann.Buyer@Example.COM ", "Ann", "Buyer")
RULES = Rules()


def sample_doc(entity_id: int = 7001, lines: list[Line] | None = None,
               **kwargs: Any) -> dict[str, Any]:
    lines = lines or [Line("TSHIRT", "T-shirt", Decimal("12.50"), 2),
                      Line("MUG", "Mug", Decimal("7.99"), 1)]
    return make_order(entity_id, BUYER, lines, **kwargs)


def findings(doc: dict[str, Any], rules: Rules = RULES,
             recent: tuple[OrderSummary, ...] = ()) -> dict[str, Finding]:
    found = run_checks(parse_order(doc), rules, recent)
    by_check = {f.check: f for f in found}
    assert len(by_check) == len(found)  # at most one finding per check
    return by_check


def message(doc: dict[str, Any], check: str, rules: Rules = RULES,
            recent: tuple[OrderSummary, ...] = ()) -> str:
    return findings(doc, rules, recent)[check].message


def ship_to(doc: dict[str, Any], country: str) -> None:
    doc["billing_address"]["country_id"] = country
    for assignment in doc["extension_attributes"]["shipping_assignments"]:
        assignment["shipping"]["address"]["country_id"] = country


# -- the frame ---------------------------------------------------------------------------------


def test_a_normal_order_has_no_findings() -> None:
    assert findings(sample_doc()) == {}
    assert worst([]) is None


def test_every_default_check_is_implemented_in_order() -> None:
    assert list(CHECKS) == list(DEFAULT_CHECKS)


def test_findings_follow_the_default_order_and_worst_ranks_them() -> None:
    doc = fixture_doc("invalid_zero_qty")
    found = run_checks(parse_order(doc), RULES)
    assert [f.check for f in found] == ["totals.lines_vs_grand", "qty.invalid"]
    assert worst(found) == "review"
    warn, review, block = (Finding("x", s, "m") for s in ("warn", "review", "block"))
    assert worst([warn]) == "warn"
    assert worst([warn, block, review]) == "block"


def test_an_off_check_produces_nothing() -> None:
    rules = parse_rules({"checks": {"qty.invalid": {"severity": "off"},
                                    "totals.lines_vs_grand": {"severity": "block"}}})
    found = run_checks(fixture_order("invalid_zero_qty"), rules)
    assert [(f.check, f.severity) for f in found] == [("totals.lines_vs_grand", "block")]


# -- totals.lines_vs_grand ---------------------------------------------------------------------


def test_lines_vs_grand_reports_the_mapping_error() -> None:
    doc = sample_doc()
    doc["grand_total"] += Decimal("1.00")
    doc["base_grand_total"] = doc["grand_total"]
    text = message(doc, "totals.lines_vs_grand")
    assert "grand_total is 46.59" in text  # 45.59 + 1.00: the order's own totals disagree


def test_lines_vs_grand_follows_the_invalid_line_policy() -> None:
    order = fixture_order("invalid_unknown_vat_rate")
    held = {f.check: f for f in run_checks(order, RULES)}
    assert "item CANDLE: VAT rate 7.5% is not in vat_levels" in (
        held["totals.lines_vs_grand"].message)
    skipped = run_checks(order, Rules(invalid_lines="skip_line"))
    assert "totals.lines_vs_grand" not in {f.check for f in skipped}  # a skipped row is legit


# -- currency.rate -----------------------------------------------------------------------------


def eur_doc(rate: str, base_grand: str | None = None) -> dict[str, Any]:
    doc = sample_doc(currency="EUR")
    doc["base_to_order_rate"] = Decimal(rate)
    doc["base_grand_total"] = (Decimal(base_grand) if base_grand
                               else money(doc["grand_total"] / Decimal("1.17")))
    return doc


def test_currency_rate_agrees() -> None:
    assert "currency.rate" not in findings(eur_doc("1.17"))
    tiny = eur_doc("1.17", "0.43")
    tiny["grand_total"] = Decimal("0.50")  # 0.5/0.43 = 1.1628: 0.6 % off, but it is rounding
    assert "currency.rate" not in findings(tiny)


def test_currency_rate_off_by_more_than_the_threshold() -> None:
    doc = eur_doc("1.25")  # grand 45.59 EUR / base 38.97 GBP = 1.1699
    assert message(doc, "currency.rate") == (
        "grand_total 45.59 EUR / base_grand_total 38.97 GBP = rate 1.1699, but "
        "base_to_order_rate is 1.25 (6.4% off, threshold 0.5%)")


def test_currency_rate_missing() -> None:
    doc = eur_doc("1.17")
    del doc["base_to_order_rate"]
    assert message(doc, "currency.rate") == (
        "order in EUR (base GBP) has no usable base_to_order_rate (None)")


def test_currency_rate_same_currency_is_not_checked() -> None:
    doc = sample_doc()
    doc["base_to_order_rate"] = Decimal("1.3")
    assert "currency.rate" not in findings(doc)


def test_a_severity_only_override_keeps_the_default_threshold() -> None:
    rules = parse_rules({"checks": {"currency.rate": {"severity": "block"}}})
    assert rules.checks["currency.rate"].threshold is None
    assert "currency.rate" not in findings(eur_doc("1.1750"), rules)  # 0.43 % off
    assert findings(eur_doc("1.1780"), rules)["currency.rate"].severity == "block"  # 0.68 %
    loose = parse_rules({"checks": {"currency.rate": {"severity": "review", "threshold": 10}}})
    assert "currency.rate" not in findings(eur_doc("1.25"), loose)


# -- vat.vs_destination ------------------------------------------------------------------------


@pytest.mark.parametrize("country", ["GB", "IM"])
def test_vat_not_a_uk_rate_in_the_uk(country: str) -> None:
    doc = sample_doc(lines=[Line("TSHIRT", "T-shirt", Decimal("12.50"), 2),
                            Line("OLDSTOCK", "Old stock", Decimal("10.00"), 1,
                                 vat=Decimal("17.5"))])
    ship_to(doc, country)
    assert message(doc, "vat.vs_destination") == (
        f"shipping country {country}: VAT 17.5% on OLDSTOCK, not a UK rate (20, 5 or 0%)")


def test_vat_uk_rates_in_the_uk_pass() -> None:
    doc = sample_doc(lines=[Line("A", "A", Decimal(10), 1), Line("B", "B", Decimal(10), 1,
                                                                  vat=Decimal(5)),
                            Line("C", "C", Decimal(10), 1, vat=Decimal(0))])
    assert "vat.vs_destination" not in findings(doc)


def test_vat_uk_standard_rate_abroad_says_country_and_rate() -> None:
    doc = sample_doc()
    ship_to(doc, "fr")
    assert message(doc, "vat.vs_destination") == (
        "shipping country FR is outside the UK but TSHIRT, MUG, shipping carry the UK "
        "standard 20% VAT: an OSS or export policy should decide")
    export = sample_doc(lines=[Line("TSHIRT", "T-shirt", Decimal("12.50"), 2, vat=Decimal(0))],
                        shipping=Decimal(0))
    ship_to(export, "US")
    assert "vat.vs_destination" not in findings(export)


def test_vat_destination_falls_back_to_the_billing_country() -> None:
    doc = sample_doc()
    doc["extension_attributes"]["shipping_assignments"] = []  # virtual order: no shipping
    doc["billing_address"]["country_id"] = "DE"
    assert message(doc, "vat.vs_destination").startswith("billing country DE is outside")


# -- discount.ratio ----------------------------------------------------------------------------


def discounted(discount: str) -> dict[str, Any]:
    return sample_doc(lines=[Line("COAT", "Coat", Decimal(100), 1,
                                  discount=Decimal(discount))])


def test_discount_over_the_ratio() -> None:
    assert message(discounted("60.00"), "discount.ratio") == (
        "discount 60.00 is 60% of subtotal 100.00 (threshold 50%)")
    assert "discount.ratio" not in findings(discounted("40.00"))
    assert "discount.ratio" not in findings(discounted("50.00"))  # at the threshold: fine


def test_a_full_discount_on_a_paid_order_fires_whatever_the_threshold() -> None:
    rules = parse_rules({"checks": {"discount.ratio": {"severity": "warn", "threshold": 2}}})
    assert "discount.ratio" not in findings(discounted("60.00"), rules)
    assert message(discounted("100.00"), "discount.ratio", rules) == (
        "discount 100.00 takes the whole subtotal 100.00 (100%), yet 6.00 was paid")


def test_discount_counts_the_items_net_of_vat_not_the_shipping() -> None:
    sensitive = parse_rules({"checks": {"discount.ratio": {"severity": "warn",
                                                           "threshold": "0.05"}}})
    # all 3.48 of its discount is on the shipping
    assert "discount.ratio" not in findings(fixture_doc("acc_shipping_discount"), sensitive)
    # 6.30 off, of which 0.50 off shipping and 0.97 VAT: 4.83 off a net subtotal of 48.29
    assert message(fixture_doc("acc_tax_inclusive_discount"), "discount.ratio", sensitive) == (
        "item discount (net of VAT) 4.83 is 10% of subtotal 48.29 (threshold 5%)")


# -- qty.invalid and price.negative -------------------------------------------------------------


def test_qty_not_positive() -> None:
    assert message(fixture_doc("invalid_zero_qty"), "qty.invalid") == (
        "item MUG: qty_ordered 0 is not positive")
    doc = sample_doc()
    doc["items"][0]["qty_ordered"] = Decimal(-2)
    assert message(doc, "qty.invalid") == "item TSHIRT: qty_ordered -2 is not positive"


def test_fractional_qty_on_a_decimal_product_passes() -> None:
    assert "qty.invalid" not in findings(fixture_doc("acc_fractional_qty"))


@dataclass(frozen=True)
class _DeclaredItem(OrderItem):
    """An item row carrying Magento's ``is_qty_decimal`` (not in the order model yet)."""

    is_qty_decimal: bool | None = None


def test_fractional_qty_on_a_whole_unit_product_fires() -> None:
    order = fixture_order("acc_fractional_qty")
    rows = tuple(_DeclaredItem(**vars(item), is_qty_decimal=False) for item in order.items)
    found = {f.check: f for f in run_checks(replace(order, items=rows), RULES)}
    assert found["qty.invalid"].message == (
        "item FABRIC: qty_ordered 1.5 is fractional but the product takes whole units "
        "(is_qty_decimal 0); item RIBBON: qty_ordered 2.333 is fractional but the product "
        "takes whole units (is_qty_decimal 0)")


def test_negative_price_or_row_total() -> None:
    doc = sample_doc()
    doc["items"][1]["price"] = Decimal("-7.99")
    doc["items"][1]["row_total"] = Decimal("-7.99")
    assert message(doc, "price.negative") == "item MUG: price -7.99 and row_total -7.99 negative"
    assert "price.negative" not in findings(fixture_doc("acc_free_gift_item"))  # zero is fine


# -- dup.near ----------------------------------------------------------------------------------


def placed(entity_id: int, at: str, **kwargs: Any) -> dict[str, Any]:
    return sample_doc(entity_id, created_at=at, **kwargs)


def test_summary_normalises_email_and_counts_skus() -> None:
    summary = summarize(parse_order(sample_doc(lines=[
        Line("MUG", "Mug", Decimal("7.99"), 1), Line("TSHIRT", "T-shirt", Decimal("12.50"), 2),
        Line("MUG", "Mug", Decimal("7.99"), 2)])))
    assert summary.email == "ann.buyer@example.com"
    assert summary.skus == (("MUG", Decimal(3)), ("TSHIRT", Decimal(2)))
    assert summary.created_at == datetime(2026, 11, 24, 10, 0)
    configurable = summarize(fixture_order("acc_configurable"))  # parent + child: one item
    assert configurable.skus == (("HOODIE", Decimal(2)), ("MUG", Decimal(1)))


def test_near_duplicate_within_the_window() -> None:
    earlier = summarize(parse_order(placed(7001, "2026-11-24 10:00:00")))
    doc = placed(7002, "2026-11-24 10:12:00")
    assert message(doc, "dup.near", recent=(earlier,)) == (
        "same email, grand_total 45.59 and items (MUG x1, TSHIRT x2) as order 000007001 "
        "placed 12 min earlier (window 30 min): a repeat order or a duplicate?")
    later = summarize(parse_order(placed(7003, "2026-11-24 10:20:00")))
    assert "placed 8 min later" in message(doc, "dup.near", recent=(later,))


def test_near_duplicate_needs_everything_to_match() -> None:
    doc = placed(7002, "2026-11-24 10:12:00")
    base = summarize(parse_order(placed(7001, "2026-11-24 10:00:00")))
    for other in (
        replace(base, created_at=datetime(2026, 11, 24, 9, 30)),  # 42 min
        replace(base, email="someone.else@example.com"),
        replace(base, grand_total=Decimal("45.50")),
        replace(base, skus=(("MUG", Decimal(1)), ("TSHIRT", Decimal(3)))),
        replace(base, increment_id="000007002"),  # itself, seen before
    ):
        assert "dup.near" not in findings(doc, recent=(other,)), other
    wide = parse_rules({"checks": {"dup.near": {"severity": "review", "threshold": 60}}})
    far = replace(base, created_at=datetime(2026, 11, 24, 9, 30, tzinfo=UTC))  # aware: UTC
    assert findings(doc, wide, recent=(far,))["dup.near"].severity == "review"


def test_an_edit_is_not_a_duplicate_of_the_order_it_replaces() -> None:
    parent = summarize(parse_order(placed(7001, "2026-11-24 10:00:00")))
    doc = placed(7002, "2026-11-24 10:05:00")
    doc.update(relation_parent_id=7001, relation_parent_real_id="000007001")
    assert "dup.near" not in findings(doc, recent=(parent,))


# -- payment.amount ----------------------------------------------------------------------------


def test_payment_amount_differs_from_grand_total() -> None:
    doc = sample_doc()
    doc["payment"]["amount_paid"] = Decimal("44.49")
    assert message(doc, "payment.amount") == (
        "payment.amount_paid 44.49 (braintree) differs from grand_total 45.59 by 1.10 "
        "(threshold 0.01)")
    doc["payment"]["amount_paid"] = Decimal("45.60")
    assert "payment.amount" not in findings(doc)  # within the penny


def test_payment_amount_with_tenders_compares_the_gateway_share() -> None:
    doc = fixture_doc("acc_store_credit")  # 10.00 store credit, gateway paid grand_total
    assert "payment.amount" not in findings(doc)
    doc["payment"]["amount_paid"] = Decimal("45.53")
    assert message(doc, "payment.amount").endswith(
        "; it includes the tenders (10.00), which the gateway should not charge")


def test_payment_amount_is_not_checked_before_money_is_taken() -> None:
    assert "payment.amount" not in findings(sample_doc(state="pending_payment"))
    authorised = sample_doc()
    authorised.update(total_paid=0, total_invoiced=0)
    authorised["payment"]["amount_paid"] = Decimal(1)
    assert "payment.amount" not in findings(authorised)
    offline = sample_doc(method="banktransfer")  # invoiced offline: amount_paid = grand_total
    assert findings(offline) == {}


def test_a_partial_capture_is_no_finding_but_a_gap_beside_one_is_named() -> None:
    doc = sample_doc()
    doc.update(total_paid=Decimal("20.00"), total_invoiced=Decimal("20.00"))
    doc["payment"]["amount_paid"] = Decimal("20.00")
    assert "payment.amount" not in findings(doc)  # each capture is posted as it happens
    doc["payment"]["amount_paid"] = Decimal("25.00")  # the gateway says more than Magento
    assert message(doc, "payment.amount").endswith(
        "; only 20.00 invoiced so far (a partial capture?)")


# -- odd data never raises ---------------------------------------------------------------------

odd_numbers = st.one_of(st.none(), st.sampled_from(
    [Decimal(0), Decimal(-1), Decimal("0.001"), Decimal("1.5"), Decimal("1E+6")]))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(fields=st.dictionaries(st.sampled_from(
    ["grand_total", "base_grand_total", "base_to_order_rate", "subtotal", "discount_amount",
     "total_paid", "total_invoiced"]), odd_numbers),
    item=st.dictionaries(st.sampled_from(["qty_ordered", "price", "row_total", "tax_percent"]),
                         odd_numbers.filter(lambda v: v is not None)),
    currency=st.sampled_from(["GBP", "EUR"]))
def test_odd_numbers_give_findings_not_exceptions(
        fields: dict[str, Decimal | None], item: dict[str, Decimal], currency: str) -> None:
    doc = sample_doc(currency=currency)
    doc["items"][0].update(item)
    for name, value in fields.items():
        if value is None and name != "base_to_order_rate" and name != "base_grand_total":
            continue
        doc[name] = value
    order = parse_order(doc)
    found = run_checks(order, RULES, (summarize(order),))
    assert all(f.check in DEFAULT_CHECKS and f.severity != "off" and f.message for f in found)


# -- legitimate orders, computed the way Magento computes them -----------------------------------

RATES = [Decimal(0), Decimal(5), Decimal(20)]


@st.composite
def magento_items(draw: st.DrawFn, max_discount: int) -> Item:
    kind = draw(st.sampled_from(["simple", "configurable", "bundle_fixed", "bundle_dynamic"]))
    price = Decimal(draw(st.integers(1, 500_000))) / draw(st.sampled_from([100, 10_000]))
    qty = draw(st.one_of(st.integers(1, 25).map(Decimal),
                         st.sampled_from([Decimal("0.5"), Decimal("2.25"), Decimal("0.333")])))
    rate = draw(st.sampled_from(RATES))
    discount = Decimal(draw(st.integers(0, max_discount)))
    sku = f"SKU{draw(st.integers(1, 99))}"
    if kind == "configurable":
        return Item(sku, "Thing", price, qty, rate, discount, "configurable",
                    [Item("CHILD", "Child", Decimal(0))])
    if kind == "bundle_fixed":
        return Item(sku, "Bundle", price, qty, rate, discount, "bundle",
                    [Item("PART", "Part", Decimal(0))], "fixed")
    if kind == "bundle_dynamic":
        return Item(sku, "Bundle", Decimal(0), Decimal(1), type="bundle", bundle="dynamic",
                    children=[Item(f"{sku}-A", "Part", price, qty, rate, discount)])
    return Item(sku, "Thing", price, qty, rate, discount)


@st.composite
def magento_orders(draw: st.DrawFn, max_discount: int = 100) -> Order:
    currency, rate = draw(st.sampled_from([
        ("GBP", Decimal(1)), ("EUR", Decimal("1.1700")), ("USD", Decimal("1.2734")),
        ("JPY", Decimal("190.1234")), ("CHF", Decimal("0.8523"))]))
    spec = Spec(1, draw(st.lists(magento_items(max_discount), min_size=1, max_size=4)),
                shipping=Decimal(draw(st.integers(0, 3_000))) / 100,
                shipping_rate=draw(st.sampled_from(RATES)),
                shipping_discount_pct=Decimal(draw(st.sampled_from([0, 50, 100]))),
                incl_tax=draw(st.booleans()), carry=draw(st.booleans()),
                currency=currency, rate=rate,
                method=draw(st.sampled_from(["braintree", "checkmo", "paypal_express"])),
                store_credit=Decimal(draw(st.sampled_from([0, 0, 5]))))
    doc = build_order(spec)
    assume(doc["grand_total"] >= 0)  # Magento never lets store credit exceed the order
    return parse_order(doc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=magento_orders())
def test_legitimate_orders_are_never_held(order: Order) -> None:
    """Discounts up to 100 % may warn; nothing else fires on a well-formed Magento order."""
    found = run_checks(order, RULES, (summarize(order),))
    assert {f.check for f in found} <= {"discount.ratio"}, found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=magento_orders(max_discount=50))
def test_discounts_up_to_the_threshold_do_not_warn(order: Order) -> None:
    """Not even when per-row rounding of tax-inclusive discounts lands a cent over 50 %."""
    assert run_checks(order, RULES) == []


# -- the named fixtures ------------------------------------------------------------------------

# Fixtures that are meant to be flagged, and by what (check -> severity under the defaults).
EXPECTED: dict[str, dict[str, str]] = {
    "invalid_unknown_vat_rate": {"totals.lines_vs_grand": "review",  # 7.5 % not mapped
                                 "vat.vs_destination": "warn"},  # 7.5 % is no UK rate
    "invalid_zero_qty": {"totals.lines_vs_grand": "review", "qty.invalid": "review"},
    "order_eur": {"vat.vs_destination": "warn"},  # ships to IE at UK 20 %
}
NAMES = sorted(path.stem for path in Path(FIXTURES).glob("*.json"))


@pytest.mark.parametrize("name", NAMES)
def test_fixture_findings_under_the_defaults(name: str) -> None:
    found = run_checks(fixture_order(name), RULES)
    assert {f.check: f.severity for f in found} == EXPECTED.get(name, {})


def test_fixtures_seen_together_flag_only_the_twin_algorithm_orders() -> None:
    orders: list[Order] = [fixture_order(name) for name in NAMES]
    recent = tuple(summarize(order) for order in orders)
    flagged = {order.increment_id for order in orders
               if any(f.check == "dup.near" for f in run_checks(order, RULES, recent))}
    # acc_row_algorithm and acc_total_algorithm_carry: same buyer, basket and minute by design
    assert flagged == {"000005026", "000005027"}
    assert len(NAMES) >= 40


def test_a_check_that_cannot_evaluate_reports_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_: object) -> str | None:
        raise ArithmeticError("division by zero")

    monkeypatch.setitem(CHECKS, "price.negative", broken)
    assert findings(sample_doc()) == {"price.negative": Finding(
        "price.negative", "review", "check could not evaluate this order: division by zero")}
