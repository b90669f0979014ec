"""Sample Magento orders, computed the way Magento computes them (per-row tax rounding).

Used by the demo, the integration tests and the benchmarks to seed the Magento sandbox.
Prices are tax-exclusive; discounts reduce the taxable row; shipping carries its own VAT.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
OFFLINE = ("checkmo", "banktransfer", "cashondelivery", "purchaseorder", "free")


def money(value: Decimal | str | int) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Line:
    sku: str
    name: str
    price: Decimal
    qty: int
    vat: Decimal = Decimal(20)
    discount: Decimal = Decimal(0)  # positive, on the row


@dataclass(frozen=True)
class Buyer:
    email: str
    firstname: str
    lastname: str
    customer_id: int | None = None  # None: a guest
    company: str | None = None


def make_order(entity_id: int, buyer: Buyer, lines: list[Line], *, shipping: Decimal = Decimal(5),
               method: str = "braintree", state: str = "processing",
               created_at: str = "2026-11-24 10:00:00", currency: str = "GBP") -> dict[str, Any]:
    """A complete ``GET /V1/orders/{id}`` document whose totals add up to the penny."""
    items: list[dict[str, Any]] = []
    applied: list[dict[str, Any]] = []
    for n, line in enumerate(lines, start=1):
        row = money(line.price * line.qty)
        tax = money((row - line.discount) * line.vat / 100)
        items.append({
            "item_id": entity_id * 100 + n, "order_id": entity_id, "sku": line.sku,
            "name": line.name, "product_type": "simple", "qty_ordered": line.qty,
            "price": line.price, "base_price": line.price,
            "price_incl_tax": money(line.price * (100 + line.vat) / 100),
            "row_total": row, "base_row_total": row, "row_total_incl_tax": row + tax,
            "tax_amount": tax, "base_tax_amount": tax, "tax_percent": line.vat,
            "discount_amount": line.discount, "base_discount_amount": line.discount,
        })
        applied.append({"type": "product", "item_id": entity_id * 100 + n, "applied_taxes": [
            {"code": f"VAT{line.vat}", "title": f"VAT {line.vat}%", "percent": line.vat,
             "amount": tax, "base_amount": tax}]})
    ship_tax = money(shipping * Decimal("0.20"))
    if shipping:
        applied.append({"type": "shipping", "item_id": None, "applied_taxes": [
            {"code": "VAT20", "title": "VAT 20%", "percent": Decimal(20), "amount": ship_tax,
             "base_amount": ship_tax}]})
    subtotal = sum((i["row_total"] for i in items), Decimal(0))
    discount = sum((i["discount_amount"] for i in items), Decimal(0))
    tax = sum((i["tax_amount"] for i in items), Decimal(0)) + ship_tax
    grand = subtotal - discount + shipping + tax
    paid = grand if state in ("processing", "complete") else Decimal(0)
    address = _address(buyer)
    doc: dict[str, Any] = {
        "entity_id": entity_id, "increment_id": f"{entity_id:09d}", "state": state,
        "status": "pending" if state == "new" else state, "created_at": created_at,
        "updated_at": created_at, "customer_is_guest": int(buyer.customer_id is None),
        "customer_email": buyer.email, "customer_firstname": buyer.firstname,
        "customer_lastname": buyer.lastname, "order_currency_code": currency,
        "base_currency_code": "GBP", "base_to_order_rate": Decimal(1),
        "subtotal": subtotal, "discount_amount": -discount, "shipping_amount": shipping,
        "shipping_tax_amount": ship_tax, "tax_amount": tax, "grand_total": grand,
        "total_paid": paid, "total_invoiced": paid, "items": items,
        "billing_address": address,
        "payment": _payment(entity_id, method, grand, paid),
        "extension_attributes": {
            "shipping_assignments": [{"shipping": {
                "address": {**address, "address_type": "shipping"},
                "method": "flatrate_flatrate",
                "total": {"shipping_amount": shipping, "shipping_tax_amount": ship_tax}},
                "items": []}],
            "item_applied_taxes": applied,
        },
    }
    for key in ("subtotal", "discount_amount", "shipping_amount", "shipping_tax_amount",
                "tax_amount", "grand_total", "total_paid", "total_invoiced"):
        doc[f"base_{key}"] = doc[key]
    if buyer.customer_id is not None:
        doc["customer_id"] = buyer.customer_id
    return doc


def _address(buyer: Buyer) -> dict[str, Any]:
    address: dict[str, Any] = {
        "address_type": "billing", "firstname": buyer.firstname, "lastname": buyer.lastname,
        "street": ["1 High Street"], "city": "Leeds", "postcode": "LS1 1AA",
        "country_id": "GB", "telephone": "0113 496 0000", "email": buyer.email,
    }
    if buyer.company:
        address["company"] = buyer.company
    return address


def _payment(entity_id: int, method: str, grand: Decimal, paid: Decimal) -> dict[str, Any]:
    payment: dict[str, Any] = {"method": method, "amount_ordered": grand, "amount_paid": paid,
                               "base_amount_paid": paid}
    if method not in OFFLINE and paid:
        payment["last_trans_id"] = f"txn-{entity_id}-a1b2"
    return payment


def make_customer(customer_id: int, buyer: Buyer, *, street: str = "1 High Street",
                  city: str = "Leeds", ship_street: str = "2 Mill Lane",
                  ship_city: str = "Bradford", vat_id: str | None = None,
                  updated_at: str = "2026-11-24 09:00:00") -> dict[str, Any]:
    """A ``GET /V1/customers/{id}`` document: a default billing and a default shipping address
    (null fields omitted, as Magento does)."""
    def address(n: int, line: str, town: str, billing: bool) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": customer_id * 10 + n, "customer_id": customer_id,
            "firstname": buyer.firstname, "lastname": buyer.lastname, "street": [line],
            "city": town, "region": {"region_code": "WYK", "region": "West Yorkshire",
                                     "region_id": 0},
            "postcode": "LS1 1AA" if billing else "BD1 1AA", "country_id": "GB",
            "telephone": "0113 496 0000", "default_billing": billing,
            "default_shipping": not billing,
        }
        if buyer.company:
            doc["company"] = buyer.company
        if vat_id and billing:
            doc["vat_id"] = vat_id
        return doc

    return {"id": customer_id, "email": buyer.email, "firstname": buyer.firstname,
            "lastname": buyer.lastname, "group_id": 1, "store_id": 1, "website_id": 1,
            "created_at": "2026-11-24 08:00:00", "updated_at": updated_at,
            "default_billing": str(customer_id * 10 + 1),
            "default_shipping": str(customer_id * 10 + 2),
            "addresses": [address(1, street, city, True), address(2, ship_street, ship_city,
                                                                   False)]}


def make_creditmemo(entity_id: int, order: dict[str, Any], refund: dict[str, int], *,
                    shipping: Decimal = Decimal(0), adjustment_positive: Decimal = Decimal(0),
                    adjustment_negative: Decimal = Decimal(0), transaction_id: str | None = None,
                    created_at: str = "2026-11-25 10:00:00") -> dict[str, Any]:
    """A ``GET /V1/creditmemo/{id}`` document refunding ``refund`` (sku -> qty) of ``order``,
    plus ``shipping`` (net; its VAT at 20 %) and the adjustments, computed as Magento does."""
    items: list[dict[str, Any]] = []
    subtotal, tax = Decimal(0), Decimal(0)
    for row in order["items"]:
        qty = refund.get(row["sku"], 0)
        if not qty:
            continue
        price, level = Decimal(row["price"]), Decimal(row["tax_percent"])
        row_total = money(price * qty)
        row_tax = money(row_total * level / 100)
        items.append({"entity_id": entity_id * 100 + len(items) + 1, "parent_id": entity_id,
                      "order_item_id": row["item_id"], "sku": row["sku"], "name": row["name"],
                      "qty": qty, "price": price, "row_total": row_total,
                      "tax_amount": row_tax, "discount_amount": Decimal(0)})
        subtotal, tax = subtotal + row_total, tax + row_tax
    ship_tax = money(shipping * Decimal("0.20"))
    tax += ship_tax
    grand = subtotal + shipping + tax + adjustment_positive - adjustment_negative
    doc: dict[str, Any] = {
        "entity_id": entity_id, "increment_id": f"{entity_id:09d}",
        "order_id": order["entity_id"], "state": 2, "created_at": created_at,
        "updated_at": created_at, "order_currency_code": order["order_currency_code"],
        "base_currency_code": order["base_currency_code"], "subtotal": subtotal,
        "shipping_amount": shipping, "shipping_tax_amount": ship_tax, "tax_amount": tax,
        "discount_amount": Decimal(0), "adjustment_positive": adjustment_positive,
        "adjustment_negative": adjustment_negative, "grand_total": grand, "items": items,
    }
    for key in ("subtotal", "shipping_amount", "shipping_tax_amount", "tax_amount",
                "grand_total", "adjustment_positive", "adjustment_negative"):
        doc[f"base_{key}"] = doc[key]
    if transaction_id:
        doc["transaction_id"] = transaction_id
    return doc
