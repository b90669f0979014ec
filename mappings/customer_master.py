"""KashFlow customer master data from a Magento customer record (``GET /V1/customers/{id}``).

Pure functions. The worker matches first (link, then normalised email) and only then picks the
code; this module turns the record into the ``POST``/``PUT /customers`` body:

- ``Name``: the default billing address's company when present, else first + last name;
- one contact (name, normalised email, billing telephone);
- ``Addresses``: the default billing address; ``DeliveryAddresses``: the default shipping one
  (each falls back to the other, then to the first address on file);
- ``VATNumber``: the billing address's ``vat_id``, else the customer's ``taxvat``.

Non-ASCII names are kept as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mappings.customers import kashflow_address, normalise_email
from mappings.errors import MappingError
from mappings.model import Address
from mappings.rules import MAX_CUSTOMER_CODE, Rules


@dataclass(frozen=True)
class MagentoCustomer:
    """The parts of a Magento customer record kfsync maps."""

    id: int
    email: str
    firstname: str
    lastname: str
    taxvat: str | None
    billing: Mapping[str, Any] | None
    shipping: Mapping[str, Any] | None


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def _default(addresses: list[Mapping[str, Any]], flag: str, wanted_id: Any) -> Any:
    for address in addresses:
        if address.get(flag) is True or (wanted_id is not None
                                         and str(address.get("id")) == str(wanted_id)):
            return address
    return None


def parse_customer(doc: Mapping[str, Any]) -> MagentoCustomer:
    """Read a ``CustomerInterface`` document.

    Raises:
        MappingError: no ``id`` or no ``email``.
    """
    if doc.get("id") is None or not _text(doc.get("email")):
        raise MappingError("Magento customer record has no id or no email")
    addresses = [a for a in doc.get("addresses") or [] if isinstance(a, Mapping)]
    billing = _default(addresses, "default_billing", doc.get("default_billing"))
    shipping = _default(addresses, "default_shipping", doc.get("default_shipping"))
    first = addresses[0] if addresses else None
    return MagentoCustomer(
        id=int(doc["id"]), email=normalise_email(str(doc["email"])),
        firstname=_text(doc.get("firstname")), lastname=_text(doc.get("lastname")),
        taxvat=_text(doc.get("taxvat")) or None,
        billing=billing or shipping or first, shipping=shipping or billing or first)


def master_code(customer: MagentoCustomer, rules: Rules) -> str:
    """The deterministic code of a registered customer (the same as for their orders)."""
    code = f"{rules.customer_code_prefix}{customer.id}"
    if len(code) > MAX_CUSTOMER_CODE:
        raise MappingError(f"customer code {code} is longer than {MAX_CUSTOMER_CODE} characters")
    return code


def _address(raw: Mapping[str, Any]) -> Address:
    region = raw.get("region")
    if isinstance(region, Mapping):
        region = region.get("region")
    return Address(firstname=raw.get("firstname"), lastname=raw.get("lastname"),
                   company=raw.get("company"),
                   street=tuple(str(s) for s in raw.get("street") or ()),
                   city=raw.get("city"), region=_text(region) or None,
                   postcode=raw.get("postcode"), country_id=raw.get("country_id"),
                   telephone=raw.get("telephone"), email=None)


def master_body(customer: MagentoCustomer, code: str) -> dict[str, Any]:
    """The ``POST /customers`` body (``PUT`` takes the same; KashFlow ignores ``Code`` there)."""
    person = " ".join(p for p in (customer.firstname, customer.lastname) if p) or customer.email
    billing = customer.billing or {}
    company = _text(billing.get("company"))
    contact: dict[str, str] = {"Name": person, "Email": customer.email}
    if _text(billing.get("telephone")):
        contact["Telephone"] = _text(billing.get("telephone"))
    body: dict[str, Any] = {
        "Code": code, "Name": company or person, "Email": customer.email,
        "Contacts": [contact],
        "Addresses": [kashflow_address(_address(customer.billing))] if customer.billing else [],
        "DeliveryAddresses": ([kashflow_address(_address(customer.shipping))]
                              if customer.shipping else []),
    }
    vat = _text(billing.get("vat_id")) or customer.taxvat
    if vat:
        body["VATNumber"] = vat
    return body
