"""Gateway settlement (payout) CSV files: Stripe and PayPal exports, parsed into rows (pure).

Recognised by their header row (extra columns are ignored; names are matched exactly):

- **Stripe** balance / payout reconciliation export: ``id``, ``Type``, ``Source``, ``Amount``,
  ``Fee``, ``Net``, ``Currency``, ``Created (UTC)``. The gateway transaction id is ``Source``
  (the charge ``ch_...`` or refund ``re_...``), else ``id``. ``Type``: ``charge``/``payment``
  -> charge, ``refund``/``payment_refund`` -> refund, ``stripe_fee``/``application_fee`` ->
  fee, ``payout`` -> payout, anything else -> other.
- **PayPal** activity download: ``Date``, ``Type``, ``Currency``, ``Gross``, ``Fee``, ``Net``,
  ``Transaction ID``. A negative ``Gross`` is a refund; a ``Type``
  naming a withdrawal or transfer to bank is a payout; a ``Type`` containing "fee" is a fee.

Amounts keep their sign as exported: charges positive, refunds negative, fees negative in
PayPal's ``Fee`` column and positive in Stripe's (both are reported as a positive cost).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal

from mappings.errors import MappingError
from mappings.money import ZERO, to_decimal

STRIPE_COLUMNS = ("id", "Type", "Source", "Amount", "Fee", "Net", "Currency")
PAYPAL_COLUMNS = ("Date", "Type", "Currency", "Gross", "Fee", "Net", "Transaction ID")
STRIPE_KINDS = {"charge": "charge", "payment": "charge", "refund": "refund",
                "payment_refund": "refund", "stripe_fee": "fee", "application_fee": "fee",
                "payout": "payout"}


@dataclass(frozen=True)
class SettlementRow:
    line: int  # 1-based line in the file (the header is line 1)
    txn_id: str
    kind: str  # charge, refund, fee, payout, other
    gross: Decimal
    fee: Decimal  # the gateway's cost, positive
    net: Decimal
    currency: str


def _amount(raw: str | None) -> Decimal:
    text = (raw or "").replace(",", "").strip()
    return to_decimal(text) if text else ZERO


def _stripe(row: dict[str, str], line: int) -> SettlementRow:
    kind = STRIPE_KINDS.get(row["Type"].strip().lower(), "other")
    return SettlementRow(line, (row.get("Source") or "").strip() or row["id"].strip(), kind,
                         _amount(row["Amount"]), abs(_amount(row["Fee"])), _amount(row["Net"]),
                         row["Currency"].strip().upper())


def _paypal(row: dict[str, str], line: int) -> SettlementRow:
    kind_text, gross = row["Type"].strip().lower(), _amount(row["Gross"])
    if "withdraw" in kind_text or "transfer to bank" in kind_text:
        kind = "payout"
    elif "fee" in kind_text:
        kind = "fee"
    else:
        kind = "refund" if gross < ZERO else "charge"
    return SettlementRow(line, row["Transaction ID"].strip(), kind, gross,
                         abs(_amount(row["Fee"])), _amount(row["Net"]),
                         row["Currency"].strip().upper())


def parse_settlement(text: str) -> tuple[str, list[SettlementRow]]:
    """(format, rows) of a settlement CSV export.

    Raises:
        MappingError: a header that is neither Stripe's nor PayPal's, or a bad amount (with
            its line number).
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = set(reader.fieldnames or ())
    if set(STRIPE_COLUMNS) <= header:
        fmt, read = "stripe", _stripe
    elif set(PAYPAL_COLUMNS) <= header:
        fmt, read = "paypal", _paypal
    else:
        raise MappingError("not a Stripe or PayPal settlement export: the header needs "
                           f"{', '.join(STRIPE_COLUMNS)} or {', '.join(PAYPAL_COLUMNS)}")
    rows = []
    for number, row in enumerate(reader, start=2):
        try:
            rows.append(read(row, number))
        except (MappingError, AttributeError, KeyError) as exc:
            raise MappingError(f"line {number}: {exc}") from exc
    return fmt, rows
