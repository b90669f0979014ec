"""The payout journal (pure): balanced to the penny, fees and transfer on their nominals, what
kfsync never posted (and any unexplained part of the payout) in suspense."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.errors import MappingError
from mappings.settlement_journal import (
    JournalAccounts,
    PayoutTotals,
    journal_csv,
    payout_journal,
)

D = Decimal
ACCOUNTS = JournalAccounts(1200, "Current Account", 1220, "Stripe Clearing")
DAY = date(2026, 11, 26)


def totals(matched: str, fees: str, payout: str, unmatched: str = "0") -> PayoutTotals:
    return PayoutTotals("po_1", "stripe", "GBP", DAY, D(matched), D(unmatched), D(fees),
                        D(payout))


@pytest.mark.parametrize(("given_totals", "expected"), [
    (totals("57.00", "3.60", "53.40"),
     [(1200, D("53.40"), 0), (7900, D("3.60"), 0), (1220, 0, D("57.00"))]),
    (totals("55.00", "4.06", "60.94", unmatched="10.00"),
     [(1200, D("60.94"), 0), (7900, D("4.06"), 0), (1220, 0, D("55.00")),
      (9998, 0, D("10.00"))]),
    # The payout carries 1.00 its rows do not explain: to suspense, never to clearing.
    (totals("57.00", "3.60", "54.40"),
     [(1200, D("54.40"), 0), (7900, D("3.60"), 0), (1220, 0, D("57.00")),
      (9998, 0, D("1.00"))]),
    # Refunds beyond the charges: the clearing account is overdrawn, the bank pays the gateway.
    (totals("-20.00", "0", "-20.00"), [(1200, 0, D("20.00")), (1220, D("20.00"), 0)]),
])
def test_journal_lines(given_totals: PayoutTotals,
                       expected: list[tuple[int, Decimal, Decimal]]) -> None:
    lines = payout_journal(given_totals, ACCOUNTS)
    assert [(x.nominal, x.debit, x.credit) for x in lines] == expected
    assert {x.day for x in lines} == {DAY} and {x.reference for x in lines} == {
        "stripe payout po_1"}


cents = st.integers(min_value=-10**7, max_value=10**7).map(lambda n: Decimal(n) / 100)


@given(matched=cents, unmatched=cents, fees=cents.map(abs), payout=cents)
def test_every_journal_balances_and_empties_clearing(matched: Decimal, unmatched: Decimal,
                                                     fees: Decimal, payout: Decimal) -> None:
    lines = payout_journal(PayoutTotals("p", "csv", "GBP", DAY, matched, unmatched, fees, payout),
                           ACCOUNTS)
    assert sum(x.debit for x in lines) == sum(x.credit for x in lines)
    clearing = sum(x.debit - x.credit for x in lines if x.nominal == ACCOUNTS.clearing_nominal)
    assert matched + clearing == 0


def test_the_same_account_for_bank_and_clearing_is_refused() -> None:
    same = JournalAccounts(1200, "Current Account", 1200, "Current Account")
    with pytest.raises(MappingError, match="point the gateway's payment mapping"):
        payout_journal(totals("57.00", "3.60", "53.40"), same)


def test_amounts_beyond_the_penny_are_refused() -> None:
    with pytest.raises(MappingError, match="not an amount to the penny"):
        payout_journal(totals("57.001", "3.60", "53.40"), ACCOUNTS)


def test_the_csv() -> None:
    text = journal_csv(payout_journal(totals("57.00", "3.60", "53.40"), ACCOUNTS))
    assert text.splitlines() == [
        "Date,Nominal,Account,Debit,Credit,Reference,Narrative",
        "2026-11-26,1200,Current Account,53.40,,stripe payout po_1,stripe payout po_1 received",
        "2026-11-26,7900,Gateway fees,3.60,,stripe payout po_1,stripe fees",
        "2026-11-26,1220,Stripe Clearing,,57.00,stripe payout po_1,"
        "\"payments kfsync posted, cleared\""]
