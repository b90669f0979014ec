"""Import a gateway settlement (payout) export, match its rows to what kfsync posted, and build
the journal that clears the payout (``mappings.settlement_journal``).

A charge row matches the invoice kfsync paid with that gateway transaction id (the
``payment`` link ``txn:<id>`` written by ``post_payment``); a refund row matches the credit
note its refund was posted on (the ``refund`` link). Fees are summed (the gateway's cost);
payout rows (the transfer to the bank) give the payout's amount and id. Rows that match nothing
are listed, with their line number, for a human. The payout is stored
(``settlement_payouts``, one row per ``(format, payout id)``: importing the same export again
finds it), audited, and nothing is written to KashFlow: the journal is CSV (see
``docs/settlements.md`` for why).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mappings.errors import MappingError
from mappings.money import ZERO
from mappings.settlement_journal import (
    FEES_NOMINAL,
    SUSPENSE_NOMINAL,
    JournalAccounts,
    JournalLine,
    PayoutTotals,
    payout_journal,
)
from mappings.settlements import SettlementRow, parse_settlement
from store.db import session_scope
from store.links import find_link_in
from store.models import AuditEntry, utcnow
from store.reconcile_models import SettlementPayout

LINK_BY_KIND = {"charge": "payment", "refund": "refund"}
# The Magento payment method whose mapping names each gateway's clearing account.
GATEWAY_METHODS = {"stripe": "stripe_payments", "paypal": "paypal_express",
                   "braintree": "braintree", "csv": ""}


@dataclass
class SettlementSummary:
    format: str
    payout_id: int = 0
    payout_ref: str = ""
    already_imported: bool = False
    currency: str = ""
    rows: int = 0
    matched: int = 0
    matched_gross: Decimal = ZERO
    unmatched_gross: Decimal = ZERO
    refunds_matched: int = 0
    fees: Decimal = ZERO
    payouts: int = 0
    payout_total: Decimal = ZERO
    net: Decimal = ZERO
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)


def import_settlement(url: str, text: str, *, actor: str, source: str = "",
                      fmt: str | None = None, columns: Mapping[str, str] | None = None,
                      currency: str = "GBP", gateway_method: str | None = None
                      ) -> SettlementSummary:
    """Match the rows of settlement CSV ``text`` against database ``url``'s links and store
    the payout (audited); an export imported before returns its first import's payout id.

    ``fmt``/``columns``/``currency`` as ``mappings.settlements.parse_settlement``;
    ``gateway_method``: the Magento payment method whose mapping names the clearing account
    (default by format: ``GATEWAY_METHODS``).

    Raises:
        MappingError: the file is not the export named (or any known one), has a bad
            amount, or mixes currencies.
    """
    fmt, rows = parse_settlement(text, fmt, columns, currency)
    currencies = sorted({r.currency for r in rows if r.currency})
    if len(currencies) > 1:
        raise MappingError(f"the export mixes currencies ({', '.join(currencies)}); a payout "
                           "is in one currency: split the file")
    summary = SettlementSummary(fmt, currency=currencies[0] if currencies else currency.upper())
    payout_ids = [r.txn_id for r in rows if r.kind == "payout" and r.txn_id]
    summary.payout_ref = ",".join(payout_ids)[:128] or (
        "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32])
    with session_scope(url) as s:  # one read-mostly transaction, its audit entry with it
        for row in rows:
            _add(s, summary, row)
    method = GATEWAY_METHODS.get(fmt, "") if gateway_method is None else gateway_method
    summary.payout_id, summary.already_imported = _store(url, summary, rows, source, method,
                                                         actor)
    return summary


def _add(session: Session, summary: SettlementSummary, row: SettlementRow) -> None:
    summary.rows += 1
    summary.fees += row.fee
    if row.kind == "payout":
        summary.payouts += 1
        summary.payout_total += row.gross
        return
    summary.net += row.net
    if row.kind == "fee":
        summary.fees += abs(row.gross) if not row.fee else ZERO
        return
    link = LINK_BY_KIND.get(row.kind)
    number = find_link_in(session, link, f"txn:{row.txn_id}") if link and row.txn_id else None
    if number is None:
        summary.unmatched_gross += row.gross
        summary.unmatched.append({"line": row.line, "txn_id": row.txn_id, "kind": row.kind,
                                  "gross": row.gross, "currency": row.currency})
        return
    summary.matched += 1
    summary.matched_gross += row.gross
    summary.refunds_matched += row.kind == "refund"
    summary.matches.append({"line": row.line, "txn_id": row.txn_id, "kind": row.kind,
                            "gross": row.gross, "fee": row.fee,
                            "kashflow_number": int(number)})


def _store(url: str, summary: SettlementSummary, rows: Sequence[SettlementRow], source: str,
           method: str, actor: str) -> tuple[int, bool]:
    """Insert the payout (unique by format and payout id); (its id, whether it existed)."""
    days = sorted(r.day for r in rows if r.day is not None)
    matched = {m["line"]: m["kashflow_number"] for m in summary.matches}
    stored = [{"line": r.line, "txn_id": r.txn_id, "kind": r.kind, "gross": str(r.gross),
               "fee": str(r.fee), "net": str(r.net), "day": r.day.isoformat() if r.day else None,
               "kashflow_number": matched.get(r.line)} for r in rows]
    payout = abs(summary.payout_total) if summary.payouts else summary.net
    try:
        with session_scope(url) as s:
            row = SettlementPayout(
                format=summary.format, payout_ref=summary.payout_ref, source=source[:255],
                gateway_method=method, currency=summary.currency,
                period_start=days[0] if days else None, period_end=days[-1] if days else None,
                row_count=summary.rows, matched=summary.matched,
                unmatched=len(summary.unmatched), matched_gross=summary.matched_gross,
                unmatched_gross=summary.unmatched_gross, fees=summary.fees,
                payout_amount=payout, rows=stored, imported_by=actor)
            s.add(row)
            s.flush()
            s.add(AuditEntry(actor=actor, action="settlement_import",
                             target=f"settlement_payouts/{row.id}",
                             note=f"{source}: {summary.format} payout {summary.payout_ref}, "
                                  f"{summary.rows} rows, {summary.matched} matched, "
                                  f"{len(summary.unmatched)} unmatched, fees {summary.fees}"))
            return row.id, False
    except IntegrityError:  # imported before: that import stands
        with session_scope(url) as s:
            existing = s.scalar(select(SettlementPayout.id).where(
                SettlementPayout.format == summary.format,
                SettlementPayout.payout_ref == summary.payout_ref))
        if existing is None:
            raise
        return int(existing), True


def describe_payout(payout: SettlementPayout) -> dict[str, Any]:
    """A payout as plain data (CLI, API), without its rows."""
    return {name: getattr(payout, name) for name in (
        "id", "format", "payout_ref", "source", "gateway_method", "currency", "period_start",
        "period_end", "row_count", "matched", "unmatched", "matched_gross", "unmatched_gross",
        "fees", "payout_amount", "imported_at", "imported_by")}


def payout_totals(payout: SettlementPayout) -> PayoutTotals:
    """The journal's inputs from a stored payout (dated its last row, else its import)."""
    day: date = payout.period_end or payout.imported_at.date()
    return PayoutTotals(ref=payout.payout_ref, gateway=payout.format, currency=payout.currency,
                        day=day, matched_gross=payout.matched_gross,
                        unmatched_gross=payout.unmatched_gross, fees=payout.fees,
                        payout=payout.payout_amount)


def journal_accounts(bank_accounts: Sequence[Mapping[str, Any]], *, clearing_id: int | None,
                     bank_id: int | None, fees_nominal: int = FEES_NOMINAL,
                     suspense_nominal: int = SUSPENSE_NOMINAL) -> JournalAccounts:
    """The journal's nominals from KashFlow's ``GET /bankaccounts`` (``Code`` is a bank
    account's nominal); an id left None is the default bank account.

    Raises:
        MappingError: an id that is no KashFlow bank account, or no default account.
    """
    by_id = {int(a["Id"]): a for a in bank_accounts}
    default = next((int(a["Id"]) for a in bank_accounts if a.get("IsDefaultAccount")), None)

    def account(wanted: int | None, role: str) -> Mapping[str, Any]:
        chosen = wanted if wanted is not None else default
        if chosen is None or chosen not in by_id:
            raise MappingError(f"the {role} account {chosen} is not a KashFlow bank account "
                               f"(known: {', '.join(map(str, sorted(by_id)))})")
        return by_id[chosen]

    bank, clearing = account(bank_id, "bank"), account(clearing_id, "clearing")
    return JournalAccounts(int(bank["Code"]), str(bank["AccountName"]), int(clearing["Code"]),
                           str(clearing["AccountName"]), fees_nominal, suspense_nominal)


def payout_journal_of(url: str, payout_id: int, accounts: JournalAccounts, *, actor: str
                      ) -> list[JournalLine]:
    """The journal of stored payout ``payout_id`` (its export is audited).

    Raises:
        LookupError: no payout with that id.
        MappingError: see ``payout_journal``.
    """
    with session_scope(url) as s:
        payout = s.get(SettlementPayout, payout_id)
        if payout is None:
            raise LookupError(f"no settlement payout with id {payout_id}")
        lines = payout_journal(payout_totals(payout), accounts)
        s.add(AuditEntry(actor=actor, action="settlement_journal",
                         target=f"settlement_payouts/{payout_id}",
                         note=f"{len(lines)} journal lines at {utcnow():%Y-%m-%d %H:%M}"))
    return lines


def gateway_method_of(url: str, payout_id: int) -> str | None:
    """The Magento payment method a stored payout clears (None: no such payout)."""
    with session_scope(url) as s:
        payout = s.get(SettlementPayout, payout_id)
        return payout.gateway_method if payout is not None else None
