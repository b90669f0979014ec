"""KashFlow customers from Magento orders: deterministic codes, names, contacts, addresses.

Codes are deterministic so a retry finds the customer it created instead of making another:
registered ``<customer_code_prefix><customer_id>`` ("M45"), guest
``<guest_code_prefix><first 10 hex of sha256(normalised email)>`` ("G3f1c0a9b2e").
Matching an existing KashFlow customer by email happens first, in the worker (DESIGN §5).

Guest policy (``guest_policy``): ``per_email`` gives each guest email its own customer (above);
``shared`` bills every guest who matches no existing customer to one "web sales" customer
(``shared_guest_code``, ``shared_guest_name``); the invoice still carries the buyer's address.
"""

from __future__ import annotations

import hashlib
from typing import Any

from mappings.errors import MappingError
from mappings.magento import Address, Order
from mappings.rules import GUEST_HASH_CHARS, MAX_CUSTOMER_CODE, Rules

ADDRESS_LINES = 4  # KashFlow Line1..Line4


def normalise_email(email: str) -> str:
    """Trim and lower-case an email, the form used to match and to hash."""
    return email.strip().lower()


def order_email(order: Order) -> str | None:
    """The order's email, normalised: ``customer_email``, else the billing address's."""
    billing = order.billing_address
    raw = order.customer_email or (billing.email if billing else None)
    return normalise_email(raw) if raw and raw.strip() else None


def is_registered(order: Order) -> bool:
    """A registered customer has a ``customer_id`` and is not flagged as a guest."""
    return order.customer_id is not None and not order.customer_is_guest


def customer_code(order: Order, rules: Rules) -> str:
    """The deterministic KashFlow customer code for the order's customer (at most 20 chars).

    Raises:
        MappingError: a guest order without an email, or a code longer than KashFlow allows.
    """
    if is_registered(order):
        code = f"{rules.customer_code_prefix}{order.customer_id}"
    elif rules.guest_policy == "shared":
        code = rules.shared_guest_code
    else:
        email = order_email(order)
        if email is None:
            raise MappingError(f"guest order {order.increment_id} has no customer_email")
        digest = hashlib.sha256(email.encode("utf-8")).hexdigest()
        code = f"{rules.guest_code_prefix}{digest[:GUEST_HASH_CHARS]}"
    if len(code) > MAX_CUSTOMER_CODE:
        raise MappingError(f"customer code {code} is longer than {MAX_CUSTOMER_CODE} characters")
    return code


def _person(first: str | None, last: str | None) -> str:
    return " ".join(part.strip() for part in (first, last) if part and part.strip())


def contact_name(order: Order) -> str:
    """Billing first + last name, else the order's customer name, else the email."""
    billing = order.billing_address
    name = _person(billing.firstname, billing.lastname) if billing else ""
    name = name or _person(order.customer_firstname, order.customer_lastname)
    return name or order_email(order) or f"Magento order {order.increment_id}"


def customer_name(order: Order) -> str:
    """KashFlow ``Name``: the billing company when present, else the contact's name."""
    billing = order.billing_address
    if billing and billing.company and billing.company.strip():
        return billing.company.strip()
    return contact_name(order)


def kashflow_address(address: Address) -> dict[str, str]:
    """``{Line1..Line4, PostCode, CountryCode}``: street lines, city, region (unless = city).

    More than four parts: the extra ones join the last line, so nothing is dropped.
    """
    parts = [line.strip() for line in address.street if line and line.strip()]
    city = (address.city or "").strip()
    region = (address.region or "").strip()
    parts += [part for part in (city, region if region.lower() != city.lower() else "") if part]
    if len(parts) > ADDRESS_LINES:
        parts = [*parts[: ADDRESS_LINES - 1], ", ".join(parts[ADDRESS_LINES - 1 :])]
    body = {f"Line{number}": text for number, text in enumerate(parts, start=1)}
    if address.postcode:
        body["PostCode"] = address.postcode.strip()
    if address.country_id:
        body["CountryCode"] = address.country_id.strip().upper()
    return body


def is_shared_guest(order: Order, rules: Rules) -> bool:
    """True when the order's guest is billed to the shared "web sales" customer."""
    return not is_registered(order) and rules.guest_policy == "shared"


def build_customer(order: Order, code: str, rules: Rules | None = None) -> dict[str, Any]:
    """The ``POST /customers`` body for the order's customer under ``code``.

    Non-ASCII names are kept as they are (KashFlow stores Unicode). With ``rules`` and a guest
    under the ``shared`` policy: the shared customer (no one buyer's name, email or address).
    """
    if rules is not None and is_shared_guest(order, rules) and code == rules.shared_guest_code:
        return {"Code": code, "Name": rules.shared_guest_name, "Email": "", "Contacts": [],
                "Addresses": [], "Currency": {"Code": order.base_currency_code}}
    email = order_email(order) or ""
    billing = order.billing_address
    contact: dict[str, str] = {"Name": contact_name(order), "Email": email}
    if billing and billing.telephone:
        contact["Telephone"] = billing.telephone.strip()
    body: dict[str, Any] = {
        "Code": code,
        "Name": customer_name(order),
        "Email": email,
        "Contacts": [contact],
        "Addresses": [kashflow_address(billing)] if billing else [],
        "Currency": {"Code": order.order_currency_code},
    }
    if order.shipping_address is not None:
        body["DeliveryAddresses"] = [kashflow_address(order.shipping_address)]
    return body
