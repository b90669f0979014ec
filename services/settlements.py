"""Import a gateway settlement CSV: match its rows to KashFlow documents by transaction id.

A charge row matches the invoice kfsync paid with that gateway transaction id (the
``payment`` link ``txn:<id>`` written by ``post_payment``); a refund row matches the credit
note its refund was posted on (the ``refund`` link). Fees are summed (the gateway's cost, to
post as a bank charge); payout rows (the transfer to the bank) are counted. Rows that match
nothing are listed, with their line number, for a human. Nothing is written to KashFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from mappings.money import ZERO
from mappings.settlements import SettlementRow, parse_settlement
from store.db import session_scope
from store.jobs import find_link_in
from store.models import AuditEntry

LINK_BY_KIND = {"charge": "payment", "refund": "refund"}


@dataclass
class SettlementSummary:
    format: str
    rows: int = 0
    matched: int = 0
    matched_gross: Decimal = ZERO
    refunds_matched: int = 0
    fees: Decimal = ZERO
    payouts: int = 0
    payout_total: Decimal = ZERO
    net: Decimal = ZERO
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)


def import_settlement(url: str, text: str, *, actor: str, source: str = "") -> SettlementSummary:
    """Match the rows of settlement CSV ``text`` against database ``url``'s links.

    Raises:
        MappingError: the file is not a Stripe or PayPal export, or has a bad amount.
    """
    fmt, rows = parse_settlement(text)
    summary = SettlementSummary(fmt)
    with session_scope(url) as s:  # one read-mostly transaction, its audit entry with it
        for row in rows:
            _add(s, summary, row)
        s.add(AuditEntry(actor=actor, action="settlement_import", target=f"settlement/{fmt}",
                         note=f"{source}: {summary.rows} rows, {summary.matched} matched, "
                              f"{len(summary.unmatched)} unmatched, fees {summary.fees}"))
    return summary


def _add(session: Session, summary: SettlementSummary, row: SettlementRow) -> None:
    summary.rows += 1
    summary.fees += row.fee
    if row.kind != "payout":
        summary.net += row.net
    if row.kind == "payout":
        summary.payouts += 1
        summary.payout_total += row.gross
        return
    if row.kind == "fee":
        summary.fees += abs(row.gross) if not row.fee else ZERO
        return
    link = LINK_BY_KIND.get(row.kind)
    number = find_link_in(session, link, f"txn:{row.txn_id}") if link and row.txn_id else None
    if number is None:
        summary.unmatched.append({"line": row.line, "txn_id": row.txn_id, "kind": row.kind,
                                  "gross": row.gross, "currency": row.currency})
        return
    summary.matched += 1
    summary.matched_gross += row.gross
    summary.refunds_matched += row.kind == "refund"
    summary.matches.append({"line": row.line, "txn_id": row.txn_id, "kind": row.kind,
                            "gross": row.gross, "fee": row.fee,
                            "kashflow_number": int(number)})
