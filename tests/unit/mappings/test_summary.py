"""Summary mode's pure aggregation: a summary's lines add up to its documents to the penny,
and every line is one KashFlow accepts (VAT within 0.01 of its net at its level)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kfsync.samples import Buyer, Line, make_creditmemo, make_order
from mappings.errors import MappingError
from mappings.magento import parse_order
from mappings.money import ZERO, round_money
from mappings.rules import PaymentMethodRule, Rules, SummaryRule, parse_rules
from mappings.summary import (
    CREDIT,
    INVOICE,
    LinePart,
    Part,
    in_summary_mode,
    memo_part,
    order_part,
    summary_customer_code,
    summary_lines,
    summary_number,
)

LEVELS = (Decimal(0), Decimal(5), Decimal(20))
BUYER = Buyer("sue.summary@example.com", "Sue", "Summary")


def _accepted(line_body: dict[str, object]) -> bool:
    """The sandbox's (and KashFlow's) rule for a line's VAT."""
    qty, rate = Decimal(str(line_body["Quantity"])), Decimal(str(line_body["Rate"]))
    level, vat = Decimal(str(line_body["VATLevel"])), Decimal(str(line_body["VATAmount"]))
    return (rate == round_money(rate) and vat == round_money(vat)
            and abs(vat - round_money(qty * rate * level / 100)) <= Decimal("0.01"))


@st.composite
def parts(draw: st.DrawFn) -> list[Part]:
    out = []
    for _ in range(draw(st.integers(1, 40))):
        lines = []
        for _ in range(draw(st.integers(1, 4))):
            level = draw(st.sampled_from(LEVELS))
            net = Decimal(draw(st.integers(-5_000, 200_000))) / 100
            kind = draw(st.sampled_from(("sales", "shipping", "discount")))
            lines.append(LinePart(kind, draw(st.sampled_from((4000, 4010))), level, net,
                                  round_money(net * level / 100)))
        out.append(Part(tuple(lines)))
    return out


@settings(max_examples=300, deadline=None)
@given(parts(), st.sampled_from((INVOICE, CREDIT)))
def test_lines_and_vat_equal_the_documents_to_the_penny(docs: list[Part], kind: str) -> None:
    draft = summary_lines(docs, kind, 4000)
    sign = 1 if kind == INVOICE else -1
    bodies = [line.to_kashflow() for line in draft.lines]
    net = sum((round_money(Decimal(str(b["Quantity"])) * Decimal(str(b["Rate"])))
               for b in bodies), ZERO)
    vat = sum((Decimal(str(b["VATAmount"])) for b in bodies), ZERO)
    assert net == sign * sum((p.net for p in docs), ZERO)
    assert vat == sign * sum((p.vat for p in docs), ZERO)
    assert draft.gross == sum((p.gross for p in docs), ZERO)
    assert all(_accepted(b) for b in bodies)
    assert all(Decimal(str(b["Quantity"])) == sign for b in bodies)  # credit notes: all < 0


def test_vat_rounding_lines_carry_the_difference_and_an_offset_keeps_the_net() -> None:
    # Three orders of 0.33 net at 5%: 0.02 VAT each (0.0165 rounded) = 0.06; 0.99 at 5% = 0.05.
    docs = [Part((LinePart("sales", 4000, Decimal(5), Decimal("0.33"), Decimal("0.02")),))] * 3
    draft = summary_lines(docs, INVOICE, 4999)
    kinds = [line.kind for line in draft.lines]
    assert kinds == ["sales", "vat_rounding", "offset"]
    sales, rounding, offset = draft.lines
    assert (sales.net, sales.vat) == (Decimal("0.99"), Decimal("0.05"))
    assert (rounding.vat, rounding.net, rounding.nominal) == (Decimal("0.01"), Decimal("0.20"),
                                                              4999)
    assert (offset.net, offset.vat, offset.level) == (Decimal("-0.20"), ZERO, ZERO)
    assert (draft.net, draft.vat) == (Decimal("0.99"), Decimal("0.06"))


def test_vat_on_a_zero_rate_group_is_refused() -> None:
    with pytest.raises(MappingError, match="0% lines"):
        summary_lines([Part((LinePart("sales", 4000, ZERO, Decimal(1), Decimal("0.01")),))],
                      INVOICE, 4000)


def _rules(**summary: object) -> Rules:
    return parse_rules({"summary": summary})


def test_opt_in_by_store_or_method_and_per_order_kept_for_trade() -> None:
    order = parse_order({**make_order(1, BUYER, [Line("A", "A", Decimal(10), 1)]),
                         "store_id": 2})
    assert not in_summary_mode(order, Rules(), None)  # off by default
    assert in_summary_mode(order, _rules(stores=["2"]), None)
    assert in_summary_mode(order, _rules(stores=["*"]), None)
    assert not in_summary_mode(order, _rules(stores=["1"]), None)
    assert in_summary_mode(order, _rules(payment_methods=["braintree"]), None)
    trade = _rules(stores=["*"], per_order_customer_groups=[3])
    assert not in_summary_mode(order, trade, 3) and in_summary_mode(order, trade, 1)
    assert not in_summary_mode(order, _rules(stores=["*"],
                                             per_order_payment_methods=["braintree"]), None)


def test_a_bad_summary_rule_is_named() -> None:
    with pytest.raises(MappingError, match=r"summary\.stores"):
        _rules(stores=["main"])


def test_numbers_and_codes_are_deterministic_per_period() -> None:
    rule = SummaryRule()
    assert summary_number(rule, INVOICE, 7) == 700_000_007
    assert summary_number(rule, CREDIT, 7) == 750_000_007
    assert summary_customer_code(rule, "1", "eur") == "SUM1EUR"


def test_order_and_memo_parts_add_up_to_magento_totals() -> None:
    lines = [Line("A", "A", Decimal("9.99"), 3), Line("B", "B", Decimal("4.17"), 1, Decimal(5)),
             Line("C", "C", Decimal("2.50"), 2, Decimal(0), Decimal("0.50"))]
    docs = [make_order(n, BUYER, lines, method=m) for n, m in
            ((1, "braintree"), (2, "paypal_express"), (3, "braintree"))]
    rules = Rules(payment_methods={**Rules().payment_methods,
                                   "braintree": PaymentMethodRule(account_id=11)})
    order_parts = [order_part(parse_order(d), rules) for d in docs]
    draft = summary_lines(order_parts, INVOICE, 4000)
    assert draft.gross == sum((Decimal(str(d["grand_total"])) for d in docs), ZERO)
    assert draft.vat == sum((Decimal(str(d["tax_amount"])) for d in docs), ZERO)
    by_method = {p.magento_method: (p.amount, p.account_id) for p in draft.payments}
    assert by_method["braintree"] == (Decimal(str(docs[0]["grand_total"])) * 2, 11)
    memo = make_creditmemo(9, docs[0], {"A": 1}, transaction_id="re_9")
    part = memo_part(memo, parse_order(docs[0]), rules)
    assert part.gross == Decimal(str(memo["grand_total"]))
    assert [p.amount for p in part.payments] == [-Decimal(str(memo["grand_total"]))]
    assert Part.from_json(part.to_json()) == part
