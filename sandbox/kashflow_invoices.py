"""KashFlow invoices and bulk payments: validation and arithmetic, no I/O, all ``Decimal``.

An invoice line is accepted when its ``NominalCode`` is an integer in the chart, its
``ProductCode`` (when given) names a product under that nominal code, ``Rate`` has at most
2 decimals, ``Quantity`` is not zero, and ``VATAmount`` (when given) has at most 2 decimals and
is within 0.01 of round(Quantity x Rate x VATLevel / 100, 2); an omitted ``VATAmount`` is
computed. ``NetAmount`` = sum of round(Quantity x Rate, 2). Rounding is half up. An invoice
with negative quantities is a credit note (**assumed**, see API-SUBSET): its payments (money
returned) are negative.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sandbox.jsonhttp import decimal_places, is_number
from sandbox.kashflow_docs import ADDRESS_FIELDS, GBP, ZERO, field, money, pick, rejected, today

LINE_FIELDS = ("Description", "Quantity", "Rate", "VATLevel", "VATAmount", "NominalCode",
               "ProductCode", "ProjectNumber")
INVOICE_FIELDS = ("Number", "CustomerCode", "CustomerReference", "IssuedDate", "DueDate",
                  "Currency", "Address", "DeliveryAddress", "LineItems", "ProjectNumber")
VAT_TOLERANCE = Decimal("0.01")
ProductLookup = Callable[[int, str], "dict[str, Any] | None"]


def _line(raw: Any, n: int, nominals: set[int], product: ProductLookup) -> dict[str, Any]:
    doc = pick(raw, LINE_FIELDS)
    nominal, code = doc.get("NominalCode"), doc.get("ProductCode") or None
    if not isinstance(nominal, int) or isinstance(nominal, bool):
        raise rejected("InvalidNominalCode", f"Line {n}: NominalCode is required (an integer).")
    if nominal not in nominals:
        raise rejected("InvalidNominalCode", f"Line {n}: nominal code {nominal} does not exist.")
    found = product(nominal, code) if isinstance(code, str) else None
    if code is not None and found is None:
        raise rejected("InvalidProductCode",
                       f"Line {n}: no product {code!r} under nominal code {nominal}.")
    qty, rate, level = doc.get("Quantity"), doc.get("Rate"), doc.get("VATLevel", 0)
    if not is_number(qty) or qty == 0:
        raise rejected("InvalidQuantity", f"Line {n}: Quantity must be a non-zero number.")
    if not is_number(rate) or decimal_places(rate) > 2:
        raise rejected("InvalidRate", f"Line {n}: Rate must be a number with at most 2 decimals.")
    if not is_number(level) or not 0 <= level <= 100:
        raise rejected("InvalidVATLevel", f"Line {n}: VATLevel must be a percentage.")
    expected = money(Decimal(qty) * Decimal(rate) * Decimal(level) / 100)
    vat = doc.get("VATAmount")
    if vat is None:
        vat = expected
    elif not is_number(vat) or decimal_places(vat) > 2:
        raise rejected("InvalidVATAmount",
                       f"Line {n}: VATAmount must be a number with at most 2 decimals.")
    elif abs(Decimal(vat) - expected) > VAT_TOLERANCE:
        raise rejected("VATAmountMismatch",
                       f"Line {n}: VATAmount {vat} does not match {level}% of "
                       f"{money(Decimal(qty) * Decimal(rate))} ({expected}).")
    return {"Number": n, "Description": doc.get("Description") or "", "Quantity": qty,
            "Rate": rate, "VATLevel": level, "VATAmount": money(vat), "VATExempt": False,
            "NominalCode": nominal, "ProductCode": code,
            "ProductName": found["Name"] if found else None,
            "ProjectNumber": doc.get("ProjectNumber") or 0}


def _currency(raw: Any) -> dict[str, Any]:
    if raw is None:
        return dict(GBP)
    code, rate = field(raw, "Code"), field(raw, "ExchangeRate")
    if not isinstance(code, str) or len(code.strip()) != 3:
        raise rejected("InvalidCurrency", "Currency.Code must be a 3-letter currency code.")
    rate = Decimal(1) if rate is None else rate
    if not is_number(rate) or rate <= 0:
        raise rejected("InvalidCurrency", "Currency.ExchangeRate must be a positive number.")
    code = code.strip().upper()
    return {**GBP, "Code": code, "ExchangeRate": rate} if code == "GBP" else {
        "Code": code, "Name": code, "Symbol": "", "ExchangeRate": rate, "DisplayOnRight": False}


def build_invoice(body: Any, customer: dict[str, Any] | None, nominals: set[int],
                  product: ProductLookup) -> dict[str, Any]:
    """A complete invoice (without ``Number``/``Id``) from a POST body, or ``KashFlowError``.

    ``customer`` is the customer named by ``CustomerCode`` (``None`` when unknown).
    """
    if not isinstance(body, dict):
        raise rejected("InvalidRequest", "The request body must be an invoice object.")
    doc = pick(body, INVOICE_FIELDS)
    if customer is None:
        raise rejected("InvalidCustomerCode",
                       f"Customer {doc.get('CustomerCode')!r} does not exist.")
    lines = doc.get("LineItems")
    if not isinstance(lines, list) or not lines:
        raise rejected("InvalidLineItems", "An invoice needs at least one line in LineItems.")
    items = [_line(raw, n, nominals, product) for n, raw in enumerate(lines, start=1)]
    net = sum((money(Decimal(i["Quantity"]) * Decimal(i["Rate"])) for i in items), ZERO)
    vat = sum((i["VATAmount"] for i in items), ZERO)
    issued = doc.get("IssuedDate") or today()
    return {
        "CustomerId": customer["Id"], "CustomerCode": customer["Code"],
        "CustomerName": customer["Name"], "CustomerReference": doc.get("CustomerReference") or "",
        "IssuedDate": issued, "DueDate": doc.get("DueDate") or issued,
        "Currency": _currency(doc.get("Currency")),
        "Address": pick(doc.get("Address"), ADDRESS_FIELDS),
        "DeliveryAddress": pick(doc.get("DeliveryAddress"), ADDRESS_FIELDS),
        "LineItems": items, "NetAmount": net, "VATAmount": vat, "GrossAmount": net + vat,
        "TotalPaidAmount": ZERO, "DueAmount": net + vat, "Status": "Unpaid",
        "PaymentLines": [], "PaidDate": None, "LastPaymentDate": None,
        "ProjectNumber": doc.get("ProjectNumber") or 0,
    }


def invoice_number(raw: Any, taken: dict[int, Any], top: int) -> int:
    """The number a new invoice gets: the one asked for when free, else the next after the
    highest taken, ``top`` (kept by the store: ``max(taken)`` on every create grew with the
    invoices, a measurable share of a long benchmark's sandbox CPU)."""
    if raw is None:
        return top + 1
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
        raise rejected("InvalidInvoiceNumber", "Number must be a positive integer.")
    if raw in taken:
        raise rejected("DuplicateInvoiceNumber", f"Invoice number {raw} already exists.")
    return raw


def status_of(invoice: dict[str, Any]) -> str:
    if invoice["DueAmount"] == 0 and invoice["GrossAmount"] != 0:
        return "Paid"
    return "PartiallyPaid" if invoice["TotalPaidAmount"] != 0 else "Unpaid"


def payment_items(body: dict[str, Any], invoices: dict[int, dict[str, Any]]
                  ) -> list[tuple[dict[str, Any], Decimal]]:
    """(invoice, amount) for each ``PaymentItems`` entry, all checked before any is applied."""
    raw_items = field(body, "PaymentItems")
    if not isinstance(raw_items, list) or not raw_items:
        raise rejected("InvalidPaymentItems", "PaymentItems must list at least one payment.")
    pending: dict[int, Decimal] = {}
    result = []
    for n, raw in enumerate(raw_items, start=1):
        number, amount = field(raw, "ObjectNumber"), field(raw, "Amount")
        invoice = invoices.get(number) if isinstance(number, int) else None
        if invoice is None:
            raise rejected("InvalidInvoiceNumber", f"Payment {n}: invoice {number} not found.")
        if not is_number(amount) or amount == 0 or decimal_places(amount) > 2:
            raise rejected("InvalidAmount",
                           f"Payment {n}: Amount must be non-zero with at most 2 decimals.")
        gross, amount = invoice["GrossAmount"], money(amount)
        if (gross < 0) != (amount < 0):
            raise rejected("InvalidAmount", f"Payment {n}: a payment on invoice {number} must "
                           f"be {'negative' if gross < 0 else 'positive'}.")
        pending[number] = pending.get(number, ZERO) + amount
        if abs(invoice["TotalPaidAmount"] + pending[number]) > abs(gross):
            raise rejected("Overpayment", f"Payment {n}: {amount} is more than the "
                           f"{invoice['DueAmount']} due on invoice {number}.")
        result.append((invoice, amount))
    return result


def add_payment(invoice: dict[str, Any], line: dict[str, Any]) -> None:
    """Append a payment line and bring the invoice's totals and status up to date."""
    invoice["PaymentLines"].append(line)
    invoice["TotalPaidAmount"] = money(invoice["TotalPaidAmount"] + line["Amount"])
    invoice["DueAmount"] = money(invoice["GrossAmount"] - invoice["TotalPaidAmount"])
    invoice["Status"] = status_of(invoice)
    invoice["LastPaymentDate"] = line["Date"]
    if invoice["Status"] == "Paid":
        invoice["PaidDate"] = line["Date"]
