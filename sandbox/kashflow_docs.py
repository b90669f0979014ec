"""KashFlow request documents: errors, case-insensitive field names, customer bodies.

KashFlow binds JSON keys case-insensitively (``username`` works for ``UserName``), and ignores
members it does not know: ``pick`` does both.
"""

from __future__ import annotations

import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import Response

from sandbox.jsonhttp import json_response

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
CUSTOMER_FIELDS = ("Code", "Name", "Email", "Contacts", "Addresses", "DeliveryAddresses",
                   "Currency", "Note", "TelephoneNumber", "MobileNumber", "FaxNumber",
                   "Website", "VATNumber", "DefaultNominalCode", "PaymentTerms", "DiscountRate",
                   "UniqueEntityNumber")
CONTACT_FIELDS = ("Title", "Firstname", "LastName", "Name", "Email", "Telephone", "Mobile",
                  "Fax", "Website")
ADDRESS_FIELDS = ("Line1", "Line2", "Line3", "Line4", "PostCode", "CountryCode", "CountryName")
GBP = {"Code": "GBP", "Name": "Pound Sterling", "Symbol": "£", "ExchangeRate": Decimal(1),
       "DisplayOnRight": False}


class KashFlowError(Exception):
    """Answered as ``{"Error": error, "Message": message}`` with ``status``."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message

    def response(self) -> Response:
        return json_response({"Error": self.error, "Message": self.message}, self.status)


def rejected(error: str, message: str) -> KashFlowError:
    return KashFlowError(400, error, message)


def money(value: Decimal | int) -> Decimal:
    """Round half up to the penny, as an accounting system shows it."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def today() -> str:
    return time.strftime("%Y-%m-%d 00:00:00", time.gmtime())


def now_text() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def pick(doc: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The members of ``doc`` named in ``names`` (matched ignoring case), canonically named."""
    if not isinstance(doc, dict):
        return {}
    wanted = {name.lower(): name for name in names}
    return {wanted[k.lower()]: v for k, v in doc.items()
            if isinstance(k, str) and k.lower() in wanted}


def field(doc: Any, name: str) -> Any:
    """One member of ``doc`` by name, ignoring case; ``None`` when absent."""
    return pick(doc, (name,)).get(name)


def _objects(value: Any, names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [pick(item, names) for item in value] if isinstance(value, list) else []


def customer_fields(body: Any, *, creating: bool) -> dict[str, Any]:
    """The customer members of a POST/PUT body. Raises ``KashFlowError`` (400).

    ``Code`` and ``Name`` are required on create and may not be blanked on update.
    """
    if not isinstance(body, dict):
        raise rejected("InvalidRequest", "The request body must be a customer object.")
    doc = pick(body, CUSTOMER_FIELDS)
    for name in ("Code", "Name"):
        if creating or name in doc:
            value = doc.get(name)
            if not isinstance(value, str) or not value.strip():
                raise rejected(f"Customer{name}Required", f"Customer {name} is required.")
            doc[name] = value.strip()
    for name, names in (("Contacts", CONTACT_FIELDS), ("Addresses", ADDRESS_FIELDS),
                        ("DeliveryAddresses", ADDRESS_FIELDS)):
        if name in doc:
            doc[name] = _objects(doc[name], names)
    return doc


def new_customer(doc: dict[str, Any], customer_id: int, key: str) -> dict[str, Any]:
    stamp = now_text()
    return {
        "Id": customer_id, "Key": key, "Code": doc["Code"], "Name": doc["Name"], "Email": "",
        "Contacts": [], "Addresses": [], "DeliveryAddresses": [], "Currency": dict(GBP),
        "Note": "", "TelephoneNumber": "", "MobileNumber": "", "VATNumber": "",
        "CreatedDate": stamp, "LastUpdatedDate": stamp, **doc,
    }


def email_key(email: str) -> str:
    """``email`` as ``matches_email`` compares it: trimmed, case folded."""
    return email.strip().casefold()


def customer_emails(customer: dict[str, Any]) -> set[str]:
    """The ``email_key`` of the customer's Email and of each contact's Email (blank ones
    left out)."""
    emails = [customer.get("Email")] + [c.get("Email") for c in customer.get("Contacts") or []
                                        if isinstance(c, dict)]
    return {email_key(e) for e in emails if isinstance(e, str) and e.strip()}


def matches_email(customer: dict[str, Any], wanted: str) -> bool:
    """Email or any contact's Email equals ``wanted`` (an ``email_key``), trimmed and ignoring
    case."""
    return bool(wanted) and wanted in customer_emails(customer)
