"""The KashFlow sandbox's in-memory state: customers, invoices, products and the chart.

Every public method takes the store's lock, validates fully before changing anything, and
returns deep copies. ``reset`` restores ``sandbox.seed.kashflow_seed()``.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from decimal import Decimal
from typing import Any

from sandbox import kashflow_invoices as inv
from sandbox.jsonhttp import copy_json, decimal_places, is_number
from sandbox.kashflow_docs import (
    KashFlowError,
    customer_emails,
    customer_fields,
    email_key,
    field,
    matches_email,
    new_customer,
    now_text,
    pick,
    rejected,
    today,
)
from sandbox.seed import kashflow_product, kashflow_seed

PRODUCT_FIELDS = ("Name", "Description", "Price", "WholeSalePrice", "VATRate",
                  "ManageStockLevel", "QuantityInStock", "StockWarningQuantity")
NUMERIC_PRODUCT_FIELDS = ("Price", "WholeSalePrice", "VATRate", "QuantityInStock",
                          "StockWarningQuantity")


MAX_PRODUCT_CODE = 50  # assumed: KashFlow's product code field length


def not_found(what: str) -> KashFlowError:
    return KashFlowError(404, "NotFound", f"{what} was not found.")


class KashFlowStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._data: dict[str, Any] = kashflow_seed()
            # Customer codes by ``email_key`` of their Email and contacts' emails, as
            # KashFlow indexes them: a search by email must not scan every customer.
            self._by_email: dict[str, set[str]] = {}
            for key, customer in self._data["customers"].items():
                self._index(key, customer)
            self._ids = itertools.count(230001)  # customer, invoice and bulk payment ids
            self._payment_ids = itertools.count(5100001)
            self._top_invoice = max(self._data["invoices"], default=0)  # invoice_number

    def reference(self, name: str) -> list[dict[str, Any]]:
        """A bare-array list: ``vat_rates``, ``bank_accounts``, ``payment_methods``."""
        with self._lock:
            return copy_json(list(self._data[name]))

    # -- customers -------------------------------------------------------------------------------
    def customer(self, code: str) -> dict[str, Any]:
        with self._lock:
            found = self._data["customers"].get(code.strip().upper())
            if found is None:
                raise not_found(f"Customer {code!r}")
            return copy_json(found)

    def customers(self, email: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            customers = self._data["customers"]
            if email is None:
                found = list(customers.values())
            else:
                wanted = email_key(email)
                found = [customers[key] for key in self._by_email.get(wanted, ())
                         if matches_email(customers[key], wanted)]
            return copy_json(sorted(found, key=lambda c: c["Code"].upper()))

    def customers_by_code(self, code: str) -> list[dict[str, Any]]:
        """The customer whose code is ``code`` (trimmed, ignoring case), as a list."""
        with self._lock:
            found = self._data["customers"].get(code.strip().upper())
            return [] if found is None else [copy_json(found)]

    def _index(self, key: str, customer: dict[str, Any]) -> None:
        for email in customer_emails(customer):
            self._by_email.setdefault(email, set()).add(key)

    def _unindex(self, key: str, customer: dict[str, Any]) -> None:
        for email in customer_emails(customer):
            self._by_email.get(email, set()).discard(key)

    def create_customer(self, body: Any, *, replace: bool = False) -> dict[str, Any]:
        """POST /customers (``replace``: the control endpoint's upsert)."""
        doc = customer_fields(body, creating=True)
        key = doc["Code"].upper()
        with self._lock:
            old = self._data["customers"].get(key)
            if old is not None and not replace:
                raise rejected("DuplicateCustomerCode",
                               f"A customer with code {old['Code']!r} already exists.")
            customer = new_customer(doc, old["Id"] if old else next(self._ids),
                                    old["Key"] if old else str(uuid.uuid4()))
            if old is not None:
                self._unindex(key, old)
            self._data["customers"][key] = customer
            self._index(key, customer)
            return copy_json(customer)

    def update_customer(self, code: str, body: Any) -> dict[str, Any]:
        doc = customer_fields(body, creating=False)
        doc.pop("Code", None)  # the code in the path names the customer; it is not renamed
        with self._lock:
            key = code.strip().upper()
            customer = self._data["customers"].get(key)
            if customer is None:
                raise not_found(f"Customer {code!r}")
            self._unindex(key, customer)
            customer.update(doc, LastUpdatedDate=now_text())
            self._index(key, customer)
            return copy_json(customer)

    # -- products --------------------------------------------------------------------------------
    def _product(self, nominal: int, code: str) -> dict[str, Any] | None:
        found = self._data["products"].get((nominal, code))
        return found if isinstance(found, dict) else None

    def product(self, nominal: int, code: str) -> dict[str, Any]:
        with self._lock:
            found = self._product(nominal, code)
            if found is None:
                raise not_found(f"Product {code!r} under nominal code {nominal}")
            return copy_json(found)

    def products(self) -> list[dict[str, Any]]:
        with self._lock:
            products = self._data["products"]
            return [copy_json(products[k]) for k in sorted(products)]

    def update_product(self, nominal: int, code: str, body: Any) -> dict[str, Any]:
        doc = pick(body, PRODUCT_FIELDS)
        for name in NUMERIC_PRODUCT_FIELDS:
            if name in doc and (not is_number(doc[name]) or decimal_places(doc[name]) > 4):
                raise rejected("InvalidProduct", f"{name} must be a number.")
        if "ManageStockLevel" in doc and not isinstance(doc["ManageStockLevel"], bool):
            raise rejected("InvalidProduct", "ManageStockLevel must be true or false.")
        with self._lock:
            found = self._product(nominal, code)
            if found is None:
                raise not_found(f"Product {code!r} under nominal code {nominal}")
            found.update(doc)
            return copy_json(found)

    def create_product(self, body: Any) -> dict[str, Any]:
        """POST /products: a new product under an existing nominal; a taken code is refused."""
        nominal, code = field(body, "NominalCode"), field(body, "Code")
        if not isinstance(code, str) or not code.strip() or len(code) > MAX_PRODUCT_CODE:
            raise rejected("InvalidProduct", f"Code must be 1 to {MAX_PRODUCT_CODE} characters.")
        if not isinstance(nominal, int) or isinstance(nominal, bool):
            raise rejected("InvalidProduct", "NominalCode must be an integer.")
        with self._lock:
            if nominal not in self.nominal_codes():
                raise rejected("InvalidNominalCode", f"Nominal code {nominal} does not exist.")
            if self._product(nominal, code) is not None:
                raise rejected("DuplicateProductCode",
                               f"A product with code {code!r} already exists under nominal "
                               f"code {nominal}.")
            name = field(body, "Name")
            self._data["products"][(nominal, code)] = kashflow_product(
                nominal, code, name if isinstance(name, str) and name else code, Decimal(0),
                Decimal(20), False, Decimal(0), product_id=next(self._ids))
            try:
                return self.update_product(nominal, code, body)
            except KashFlowError:
                del self._data["products"][(nominal, code)]  # all or nothing
                raise

    def put_product(self, body: Any) -> dict[str, Any]:
        """Control upsert of a product; a new nominal code is added to the chart."""
        nominal, code = field(body, "NominalCode"), field(body, "Code")
        if not isinstance(nominal, int) or not isinstance(code, str) or not code:
            raise ValueError("a product needs an integer NominalCode and a Code")
        with self._lock:
            if nominal not in self.nominal_codes():
                self._data["nominals"].append({"Id": next(self._ids), "Code": nominal,
                                               "Name": f"Sales {nominal}"})
            if self._product(nominal, code) is None:
                self._data["products"][(nominal, code)] = kashflow_product(
                    nominal, code, code, Decimal(0), Decimal(20), False, Decimal(0),
                    product_id=next(self._ids))
            return self.update_product(nominal, code, body)

    def delete_product(self, nominal: int, code: str) -> dict[str, Any]:
        """Control delete of a product (as someone deleting it in KashFlow's UI)."""
        with self._lock:
            if self._data["products"].pop((nominal, code), None) is None:
                raise ValueError(f"no product {code} under nominal {nominal}")
            return {"deleted": f"{nominal}/{code}"}

    def nominal_codes(self) -> set[int]:
        with self._lock:
            return {int(n["Code"]) for n in self._data["nominals"]}

    # -- invoices --------------------------------------------------------------------------------
    def invoice(self, number: int) -> dict[str, Any]:
        with self._lock:
            found = self._data["invoices"].get(number)
            if found is None:
                raise not_found(f"Invoice {number}")
            return copy_json(found)

    def invoices(self, customer_code: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            wanted = customer_code.strip().upper() if customer_code else None
            invoices = self._data["invoices"]
            return [copy_json(invoices[n]) for n in sorted(invoices)
                    if wanted is None or invoices[n]["CustomerCode"].upper() == wanted]

    def create_invoice(self, body: Any) -> dict[str, Any]:
        """POST /invoices: validate, number, store, and take stock of managed products."""
        with self._lock:
            code = field(body, "CustomerCode")
            customer = self._data["customers"].get(code.strip().upper()) \
                if isinstance(code, str) else None
            invoice = inv.build_invoice(body, customer, self.nominal_codes(), self._product)
            number = inv.invoice_number(field(body, "Number"), self._data["invoices"],
                                        self._top_invoice)
            invoice = {"Id": next(self._ids), "Number": number, **invoice,
                       "CreatedDate": now_text()}
            for line in invoice["LineItems"]:
                product = self._product(line["NominalCode"], line["ProductCode"] or "")
                if product is not None and product["ManageStockLevel"]:
                    product["QuantityInStock"] -= Decimal(line["Quantity"])
            self._data["invoices"][number] = invoice
            self._top_invoice = max(self._top_invoice, number)
            return copy_json(invoice)

    def pay_invoices(self, body: Any) -> dict[str, Any]:
        """POST /invoices/bulk/payments: one payment line per item, all or nothing."""
        if not isinstance(body, dict):
            raise rejected("InvalidRequest", "The request body must be a bulk payment object.")
        account, method = field(body, "AccountId"), field(body, "Method")
        date, comment = field(body, "Date") or today(), field(body, "Comment") or ""
        with self._lock:
            if account not in {a["Id"] for a in self._data["bank_accounts"]}:
                raise rejected("InvalidBankAccount", f"AccountId {account} is not a bank account.")
            if method not in {m["Id"] for m in self._data["payment_methods"]}:
                raise rejected("InvalidPaymentMethod", f"Method {method} is not a payment method.")
            items = inv.payment_items(body, self._data["invoices"])
            bulk = next(self._ids)
            paid = []
            for invoice, amount in items:
                line = {"Id": next(self._payment_ids), "Date": date, "Amount": amount,
                        "Method": method, "AccountId": account, "Note": comment,
                        "Reference": "", "BulkId": bulk, "BulkPaymentNumber": bulk,
                        "IsPaymentCreditNote": invoice["GrossAmount"] < 0}
                inv.add_payment(invoice, line)
                paid.append({"Id": line["Id"], "ObjectNumber": invoice["Number"],
                             "Amount": amount})
            return {"Number": bulk, "Date": date, "AccountId": account, "Method": method,
                    "Comment": comment, "PaymentItems": paid}

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {"customers": self.customers(), "invoices": self.invoices(),
                    "products": self.products(),
                    "nominals": copy_json(self._data["nominals"])}
