"""The journal that clears a gateway payout (pure): the money moves out of the gateway's
clearing account into the bank, less the gateway's fees.

Each payment kfsync posted for a matched charge went into the clearing account (the bank
account the gateway's payment mapping names), each refund came out of it, so the clearing
account holds the payout's matched gross. The journal empties it:

    Dr bank                   the payout (what reached the bank)
    Dr gateway fees (7900)    the fees the gateway kept
    Cr clearing               the matched gross
    Cr suspense (9998)        rows kfsync posted nothing for, and any part of the payout its
                              rows do not explain: a human decides where they belong

Dr = Cr by construction: payout + fees = matched gross + unmatched gross + difference.
KashFlow's REST API slice has no journal or bank-transfer endpoint, so this journal is written
as CSV for the accountant (``docs/settlements.md``), never guessed into another document.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from mappings.errors import MappingError
from mappings.money import ZERO

FEES_NOMINAL = 7900     # "Bank charges and interest" in KashFlow's default chart
SUSPENSE_NOMINAL = 9998  # "Suspense" in KashFlow's default chart
CSV_COLUMNS = ("Date", "Nominal", "Account", "Debit", "Credit", "Reference", "Narrative")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class PayoutTotals:
    ref: str                   # the gateway's payout id (or the file's digest)
    gateway: str               # stripe, paypal, braintree, csv
    currency: str
    day: date                  # the journal's date: the payout's
    matched_gross: Decimal     # charges less refunds that kfsync posted (in clearing)
    unmatched_gross: Decimal   # charges less refunds kfsync never posted
    fees: Decimal              # the gateway's cost, positive
    payout: Decimal            # what reached the bank, positive


@dataclass(frozen=True)
class JournalAccounts:
    bank_nominal: int
    bank_name: str
    clearing_nominal: int
    clearing_name: str
    fees_nominal: int = FEES_NOMINAL
    suspense_nominal: int = SUSPENSE_NOMINAL


@dataclass(frozen=True)
class JournalLine:
    day: date
    nominal: int
    account: str
    debit: Decimal
    credit: Decimal
    reference: str
    narrative: str


def payout_journal(totals: PayoutTotals, accounts: JournalAccounts) -> list[JournalLine]:
    """The balanced journal of one payout (zero lines left out).

    Raises:
        MappingError: the clearing and bank accounts are the same nominal (the journal would
            move nothing), or an amount has more than 2 decimals.
    """
    if accounts.bank_nominal == accounts.clearing_nominal:
        raise MappingError(f"the clearing account and the bank account are both nominal "
                           f"{accounts.bank_nominal} ({accounts.bank_name}): point the "
                           "gateway's payment mapping at a clearing bank account")
    for amount in (totals.matched_gross, totals.unmatched_gross, totals.fees, totals.payout):
        if amount != amount.quantize(CENT):
            raise MappingError(f"payout {totals.ref}: {amount} is not an amount to the penny")
    difference = totals.payout + totals.fees - totals.matched_gross - totals.unmatched_gross
    ref = f"{totals.gateway} payout {totals.ref}"
    wanted = [  # (nominal, account, signed amount: + debit, - credit, narrative)
        (accounts.bank_nominal, accounts.bank_name, totals.payout,
         f"{totals.gateway} payout {totals.ref} received"),
        (accounts.fees_nominal, "Gateway fees", totals.fees, f"{totals.gateway} fees"),
        (accounts.clearing_nominal, accounts.clearing_name, -totals.matched_gross,
         "payments kfsync posted, cleared"),
        (accounts.suspense_nominal, "Suspense", -totals.unmatched_gross,
         "payout rows kfsync posted nothing for: allocate by hand"),
        (accounts.suspense_nominal, "Suspense", -difference,
         "part of the payout its rows do not explain: allocate by hand"),
    ]
    lines = [JournalLine(totals.day, nominal, name, max(amount, ZERO), max(-amount, ZERO), ref,
                         narrative)
             for nominal, name, amount, narrative in wanted if amount]
    debit, credit = (sum((getattr(x, side) for x in lines), ZERO) for side in ("debit", "credit"))
    if debit != credit:  # cannot happen (see the module docstring); never write one unbalanced
        raise MappingError(f"payout {totals.ref}: unbalanced journal, {debit} != {credit}")
    return lines


def journal_csv(lines: Sequence[JournalLine]) -> str:
    """The journal as CSV (``CSV_COLUMNS``), amounts with 2 decimals, empty for zero."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for x in lines:
        writer.writerow([x.day.isoformat(), x.nominal, x.account,
                         f"{x.debit:.2f}" if x.debit else "", f"{x.credit:.2f}" if x.credit else "",
                         x.reference, x.narrative])
    return out.getvalue()
