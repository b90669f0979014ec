"""Seed data: what each sandbox holds after start and after ``POST /_sandbox/reset``.

Magento starts with a catalog (with legacy stock items and MSI source items on the
``default`` source) and three registered customers, but **no orders**: tests and the demo
seed their own through ``POST /_sandbox/orders``, so a catch-up poll never finds strangers.
KashFlow starts with its chart (nominal codes), products, VAT rates, bank accounts and payment
methods, but **no customers and no invoices**, so tests can count what kfsync wrote.

Ids are deliberately not tiny sequential numbers, so nobody hard-codes them: resolve bank
accounts and payment methods by name from the API, as kfsync does.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

D = Decimal
SEED_TIME = "2026-11-01 08:00:00"

# -- Magento ------------------------------------------------------------------------------------
_CATALOG = [  # sku, name, price (tax-exclusive), qty on the default source
    ("TSHIRT", "Organic T-shirt", D("12.50"), D(100)),
    ("MUG", "Enamel Mug", D("7.99"), D(40)),
    ("BOOK", "Field Guide to Ferns", D("9.99"), D(12)),
    ("HOODIE", "Heavy Hoodie", D("34.00"), D(25)),
    ("CANDLE", "Beeswax Candle", D("6.40"), D(60)),
]
_CUSTOMERS = [  # id, email, first, last, company
    (501, "ann.lee@example.com", "Ann", "Lee", None),
    (502, "accounts@acme.example", "Raj", "Patel", "Acme Ltd"),
    (503, "eve@example.com", "Eve", "Moss", None),
]
MAGENTO_SOURCES = ["default"]


def _magento_product(product_id: int, sku: str, name: str, price: Decimal) -> dict[str, Any]:
    return {"id": product_id, "sku": sku, "name": name, "attribute_set_id": 4, "price": price,
            "status": 1, "visibility": 4, "type_id": "simple", "created_at": SEED_TIME,
            "updated_at": SEED_TIME, "weight": D("0.5")}


def magento_stock_item(product_id: int, qty: Decimal) -> dict[str, Any]:
    return {"item_id": product_id, "product_id": product_id, "stock_id": 1, "qty": qty,
            "is_in_stock": qty > 0, "is_qty_decimal": False, "manage_stock": True,
            "use_config_manage_stock": True, "min_qty": 0, "low_stock_date": None}


def _magento_customer(cid: int, email: str, first: str, last: str, company: str | None
                      ) -> dict[str, Any]:
    address = {"id": cid * 10, "customer_id": cid, "firstname": first, "lastname": last,
               "company": company, "street": [f"{cid - 480} High Street"], "city": "Leeds",
               "region": {"region_code": None, "region": "West Yorkshire", "region_id": 0},
               "region_id": 0, "postcode": "LS1 1AA", "country_id": "GB",
               "telephone": "0113 496 0000", "default_billing": True, "default_shipping": True}
    return {"id": cid, "group_id": 1, "default_billing": str(cid * 10),
            "default_shipping": str(cid * 10), "created_at": SEED_TIME, "updated_at": SEED_TIME,
            "created_in": "Default Store View", "email": email, "firstname": first,
            "lastname": last, "store_id": 1, "website_id": 1, "addresses": [address],
            "disable_auto_group_change": 0}


def magento_seed() -> dict[str, Any]:
    """A fresh copy of the Magento seed (orders, credit memos, invoices, transactions empty)."""
    products, stock, sources = {}, {}, {}
    for n, (sku, name, price, qty) in enumerate(_CATALOG, start=1):
        products[sku] = _magento_product(n, sku, name, price)
        stock[sku] = magento_stock_item(n, qty)
        sources[(sku, "default")] = {"sku": sku, "source_code": "default", "quantity": qty,
                                     "status": 1}
    return {
        "orders": {}, "creditmemos": {}, "invoices": {}, "transactions": {},
        "customers": {c[0]: _magento_customer(*c) for c in _CUSTOMERS},
        "products": products, "stock_items": stock, "source_items": sources,
        "sources": list(MAGENTO_SOURCES),
    }


# -- KashFlow -----------------------------------------------------------------------------------
NOMINALS = [
    {"Id": 74001, "Code": 4000, "Name": "Sales Type A"},
    {"Id": 74002, "Code": 4010, "Name": "Sales Type B (zero-rated)"},
    {"Id": 74003, "Code": 4900, "Name": "Other Sales (delivery)"},
]
VAT_RATES = [
    {"VATId": 3301, "VATRate": D(20), "VATText": "Standard 20%"},
    {"VATId": 3302, "VATRate": D(5), "VATText": "Reduced 5%"},
    {"VATId": 3303, "VATRate": D(0), "VATText": "Zero 0%"},
]
BANK_ACCOUNTS = [
    {"Id": 1201, "Code": 1200, "AccountName": "Current Account", "IsDefaultAccount": True},
    {"Id": 1202, "Code": 1210, "AccountName": "PayPal", "IsDefaultAccount": False},
    {"Id": 1203, "Code": 1220, "AccountName": "Stripe Clearing", "IsDefaultAccount": False},
]
PAYMENT_METHODS = [
    {"Id": 409811, "Name": "Cash"},
    {"Id": 409826, "Name": "Cheque"},
    {"Id": 409837, "Name": "BACS"},
    {"Id": 409844, "Name": "Credit/Debit Card"},
    {"Id": 409852, "Name": "PayPal"},
    {"Id": 409869, "Name": "Stripe"},
]
_PRODUCTS = [  # nominal, code, name, price, VAT rate, stock-managed, quantity in stock
    (4000, "TSHIRT", "Organic T-shirt", D("12.50"), D(20), False, D(0)),
    (4000, "MUG", "Enamel Mug", D("7.99"), D(20), True, D(40)),
    (4000, "BOOK", "Field Guide to Ferns", D("9.99"), D(0), False, D(0)),
    (4000, "HOODIE", "Heavy Hoodie", D("34.00"), D(20), True, D(25)),
    (4900, "DELIVERY", "Delivery", D(0), D(20), False, D(0)),
]


def kashflow_product(nominal: int, code: str, name: str, price: Decimal, vat: Decimal,
                     managed: bool, qty: Decimal, product_id: int) -> dict[str, Any]:
    nominal_id = next((n["Id"] for n in NOMINALS if n["Code"] == nominal), None)
    return {"Id": product_id, "Code": code, "NominalCode": nominal, "NominalId": nominal_id,
            "Name": name, "Description": name, "Price": price, "WholeSalePrice": price,
            "VATRate": vat, "ManageStockLevel": managed, "QuantityInStock": qty,
            "StockWarningQuantity": D(0), "AutoFillLineItem": True, "IsDefault": False,
            "InUse": True}


def kashflow_seed() -> dict[str, Any]:
    """A fresh copy of the KashFlow seed (customers and invoices empty)."""
    products = {(p[0], p[1]): kashflow_product(*p, product_id=88100 + n)
                for n, p in enumerate(_PRODUCTS, start=1)}
    return {
        "customers": {}, "invoices": {}, "products": products,
        "nominals": copy.deepcopy(NOMINALS), "vat_rates": copy.deepcopy(VAT_RATES),
        "bank_accounts": copy.deepcopy(BANK_ACCOUNTS),
        "payment_methods": copy.deepcopy(PAYMENT_METHODS),
    }
