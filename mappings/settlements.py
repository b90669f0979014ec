"""Gateway settlement (payout) CSV files: Stripe, PayPal and Braintree exports, and any other
CSV through a column mapping, parsed into rows (pure).

The three named exports are recognised by their header row (extra columns are ignored; names
are matched exactly), or named by the caller:

- **Stripe** balance / payout reconciliation export: ``id``, ``Type``, ``Source``, ``Amount``,
  ``Fee``, ``Net``, ``Currency`` (``Created (UTC)`` dates the row). The gateway transaction id
  is ``Source`` (the charge ``ch_...`` or refund ``re_...``), else ``id``. ``Type``:
  ``charge``/``payment`` -> charge, ``refund``/``payment_refund`` -> refund,
  ``stripe_fee``/``application_fee`` -> fee, ``payout`` -> payout, anything else -> other.
- **PayPal** activity download: ``Date``, ``Type``, ``Currency``, ``Gross``, ``Fee``, ``Net``,
  ``Transaction ID``. A negative ``Gross`` is a refund; a ``Type`` naming a withdrawal or
  transfer to bank is a payout; a ``Type`` containing "fee" is a fee.
- **Braintree** transaction-level fee / settlement report: ``Transaction ID``,
  ``Transaction Type``, ``Disbursement Date``, the amount in ``Settlement Amount`` (else
  ``Amount Submitted For Settlement``), the currency in ``Settlement Currency ISO Code`` (else
  ``Currency ISO Code``), fees in ``Braintree Total Amount`` (else ``Service Fee``; none when
  neither). ``sale`` -> charge, ``credit`` -> refund (its amount made negative); the
  disbursement itself has no row (its amount is the rows' net).
- **csv**: any export, with ``columns`` naming which header holds each field (``parse_columns``):
  ``txn_id`` and ``gross`` are required; ``kind`` (values read like Stripe's types, else
  PayPal's rules), ``fee``, ``net`` (default gross - fee), ``currency``, ``date`` optional.

Amounts keep their sign as exported: charges positive, refunds negative; fees are reported as a
positive cost whatever sign the export gives them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from mappings.errors import MappingError
from mappings.money import ZERO, to_decimal

FORMATS = ("stripe", "paypal", "braintree", "csv")
STRIPE_COLUMNS = ("id", "Type", "Source", "Amount", "Fee", "Net", "Currency")
PAYPAL_COLUMNS = ("Date", "Type", "Currency", "Gross", "Fee", "Net", "Transaction ID")
BRAINTREE_COLUMNS = ("Transaction ID", "Transaction Type", "Disbursement Date")
STRIPE_KINDS = {"charge": "charge", "payment": "charge", "refund": "refund",
                "payment_refund": "refund", "stripe_fee": "fee", "application_fee": "fee",
                "payout": "payout"}
BRAINTREE_KINDS = {"sale": "charge", "credit": "refund"}
COLUMN_FIELDS = ("txn_id", "gross", "kind", "fee", "net", "currency", "date")
REQUIRED_FIELDS = ("txn_id", "gross")
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")  # ISO, then UK day-first (KashFlow is a UK ledger)


@dataclass(frozen=True)
class SettlementRow:
    line: int  # 1-based line in the file (the header is line 1)
    txn_id: str
    kind: str  # charge, refund, fee, payout, other
    gross: Decimal
    fee: Decimal  # the gateway's cost, positive
    net: Decimal
    currency: str
    day: date | None = None


def _amount(raw: str | None) -> Decimal:
    text = (raw or "").replace(",", "").strip()
    return to_decimal(text) if text else ZERO


def _day(raw: str | None) -> date | None:
    """The date at the start of ``raw`` (``2026-11-24 10:00``, ``24/11/2026``), or None."""
    text = (raw or "").strip()[:10]
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _first(row: Mapping[str, str | None], *names: str) -> str:
    for name in names:
        if row.get(name) not in (None, ""):
            return str(row[name])
    return ""


def _kind_of(text: str, gross: Decimal) -> str:
    """A row's kind from a type text: Stripe's names first, then PayPal's wording."""
    text = text.strip().lower()
    if text in STRIPE_KINDS:
        return STRIPE_KINDS[text]
    if text in BRAINTREE_KINDS:
        return BRAINTREE_KINDS[text]
    if "withdraw" in text or "transfer to bank" in text or "payout" in text:
        return "payout"
    if "fee" in text:
        return "fee"
    return "refund" if gross < ZERO else "charge"


def _stripe(row: dict[str, str], line: int) -> SettlementRow:
    kind = STRIPE_KINDS.get(row["Type"].strip().lower(), "other")
    return SettlementRow(line, (row.get("Source") or "").strip() or row["id"].strip(), kind,
                         _amount(row["Amount"]), abs(_amount(row["Fee"])), _amount(row["Net"]),
                         row["Currency"].strip().upper(), _day(row.get("Created (UTC)")))


def _paypal(row: dict[str, str], line: int) -> SettlementRow:
    gross = _amount(row["Gross"])
    return SettlementRow(line, row["Transaction ID"].strip(), _kind_of(row["Type"], gross), gross,
                         abs(_amount(row["Fee"])), _amount(row["Net"]),
                         row["Currency"].strip().upper(), _day(row.get("Date")))


def _braintree(row: dict[str, str], line: int) -> SettlementRow:
    kind = BRAINTREE_KINDS.get(row["Transaction Type"].strip().lower(), "other")
    gross = _amount(_first(row, "Settlement Amount", "Amount Submitted For Settlement"))
    if kind == "refund":
        gross = -abs(gross)
    fee = abs(_amount(_first(row, "Braintree Total Amount", "Service Fee")))
    currency = _first(row, "Settlement Currency ISO Code", "Currency ISO Code")
    return SettlementRow(line, row["Transaction ID"].strip(), kind, gross, fee, gross - fee,
                         currency.strip().upper(), _day(row.get("Disbursement Date")))


def parse_columns(spec: str) -> dict[str, str]:
    """``"txn_id=Reference,gross=Amount,fee=Fee"`` -> ``{"txn_id": "Reference", ...}``.

    Raises:
        MappingError: an unknown field, a pair without ``=``, or a required field missing.
    """
    columns: dict[str, str] = {}
    for pair in (p for p in spec.split(",") if p.strip()):
        name, sep, header = pair.partition("=")
        name = name.strip()
        if not sep or not header.strip():
            raise MappingError(f"--columns: {pair.strip()!r} is not FIELD=HEADER")
        if name not in COLUMN_FIELDS:
            raise MappingError(f"--columns: unknown field {name!r}; the fields are "
                               f"{', '.join(COLUMN_FIELDS)}")
        columns[name] = header.strip()
    missing = [f for f in REQUIRED_FIELDS if f not in columns]
    if missing:
        raise MappingError(f"--columns needs {' and '.join(missing)} (e.g. "
                           "txn_id=Reference,gross=Amount)")
    return columns


def _generic(columns: Mapping[str, str], currency: str) -> Callable[[dict[str, str], int],
                                                                    SettlementRow]:
    def read(row: dict[str, str], line: int) -> SettlementRow:
        def cell(name: str) -> str:
            return str(row.get(columns[name]) or "") if name in columns else ""
        gross = _amount(cell("gross"))
        fee = abs(_amount(cell("fee")))
        net = _amount(cell("net")) if cell("net").strip() else gross - fee
        return SettlementRow(line, cell("txn_id").strip(), _kind_of(cell("kind"), gross), gross,
                             fee, net, (cell("currency").strip() or currency).upper(),
                             _day(cell("date")))
    return read


def detect_format(header: set[str]) -> str | None:
    """The named export whose columns ``header`` has, or None."""
    for fmt, needed in (("stripe", STRIPE_COLUMNS), ("paypal", PAYPAL_COLUMNS),
                        ("braintree", BRAINTREE_COLUMNS)):
        if set(needed) <= header:
            return fmt
    return None


def parse_settlement(text: str, fmt: str | None = None, columns: Mapping[str, str] | None = None,
                     currency: str = "GBP") -> tuple[str, list[SettlementRow]]:
    """(format, rows) of a settlement CSV export.

    ``fmt`` None recognises a named export by its header (or is ``csv`` when ``columns`` is
    given); ``columns`` (``parse_columns``) is required for ``csv``; ``currency`` is the
    currency of a ``csv`` without a currency column.

    Raises:
        MappingError: a header that is not the named (or any known) export, a mapped column
            missing from the header, or a bad amount (with its line number).
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = set(reader.fieldnames or ())
    if fmt is None:
        fmt = "csv" if columns else detect_format(header)
    read: Callable[[dict[str, str], int], SettlementRow]
    if fmt == "csv":
        if not columns:
            raise MappingError("a generic CSV needs --columns (e.g. txn_id=Reference,"
                               "gross=Amount,fee=Fee)")
        absent = [h for h in columns.values() if h not in header]
        if absent:
            raise MappingError(f"the file has no column {', '.join(map(repr, absent))} "
                               "named in --columns")
        read = _generic(columns, currency)
    else:
        needed = {"stripe": STRIPE_COLUMNS, "paypal": PAYPAL_COLUMNS,
                  "braintree": BRAINTREE_COLUMNS}.get(fmt or "")
        if not needed or not set(needed) <= header:
            wanted = needed and f"a {fmt} export; its header needs {', '.join(needed)}"
            raise MappingError(f"not {wanted or 'a Stripe, PayPal or Braintree settlement export'}"
                               " (or give --columns for another CSV)")
        read = {"stripe": _stripe, "paypal": _paypal, "braintree": _braintree}[str(fmt)]
    rows = []
    for number, row in enumerate(reader, start=2):
        try:
            rows.append(read(row, number))
        except (MappingError, AttributeError, KeyError) as exc:
            raise MappingError(f"line {number}: {exc}") from exc
    return str(fmt), rows
