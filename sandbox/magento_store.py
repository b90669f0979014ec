"""The Magento sandbox's in-memory state: documents stored as Magento returns them.

Every method takes the store's lock and returns deep copies (or JSON text), so threads never
share a mutable document. ``reset`` restores ``sandbox.seed.magento_seed()``.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

from sandbox import search_criteria
from sandbox.jsonhttp import copy_json, dumps, omit_nulls
from sandbox.search_criteria import Criteria
from sandbox.seed import magento_seed, magento_stock_item

# collection -> the member holding its integer key
KEYS = {"orders": "entity_id", "creditmemos": "entity_id", "invoices": "entity_id",
        "transactions": "transaction_id",
        "customers": "id"}


def now_text() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


class MagentoStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._data: dict[str, Any] = magento_seed()
            self._answers: dict[tuple[str, int], str] = {}  # see ``answer``

    # -- documents keyed by integer id -------------------------------------------------------
    def answer(self, collection: str, key: int) -> str | None:
        """The document as a GET answers it (JSON, nulls omitted), or ``None`` when unknown.

        The text is kept until ``upsert`` or ``reset`` replaces the document: fetching an
        order is the sandbox's busiest call, and copying and serialising the same order again
        on every fetch was most of its cost.
        """
        with self._lock:
            text = self._answers.get((collection, key))
            if text is None:
                doc = self._data[collection].get(key)
                if doc is None:
                    return None
                text = self._answers[(collection, key)] = dumps(omit_nulls(doc))
            return text

    def items(self, collection: str) -> list[dict[str, Any]]:
        with self._lock:
            docs = self._data[collection]
            return [copy_json(docs[k]) for k in sorted(docs)]

    def search(self, collection: str, criteria: Criteria) -> tuple[list[dict[str, Any]], int]:
        """One page of a collection and the total matching (only the page is copied)."""
        with self._lock:
            docs = self._data[collection]
            page, total = search_criteria.search(criteria, [docs[k] for k in sorted(docs)])
            return copy_json(page), total

    def upsert(self, collection: str, doc: Any) -> dict[str, Any]:
        """Store ``doc`` as-is (replacing the same key); assign the key when absent.

        Raises:
            ValueError: not an object, or a key that is not a positive integer.
        """
        if not isinstance(doc, dict):
            raise ValueError(f"a {collection[:-1]} is a JSON object")
        key_name = KEYS[collection]
        with self._lock:
            docs = self._data[collection]
            key = doc.get(key_name)
            if key is None:
                key = max(docs, default=0) + 1
            if not isinstance(key, int) or isinstance(key, bool) or key < 1:
                raise ValueError(f"{key_name} must be a positive integer")
            stored = {**copy_json(doc), key_name: key}
            if collection == "orders":
                stored.setdefault("increment_id", f"{key:09d}")
            if collection != "transactions":
                stored.setdefault("created_at", now_text())
                stored.setdefault("updated_at", stored["created_at"])
            docs[key] = stored
            self._answers.pop((collection, key), None)
            return copy_json(stored)

    # -- catalog and stock ---------------------------------------------------------------------
    def upsert_product(self, doc: Any) -> dict[str, Any]:
        """Store a catalog product; ``qty`` / ``is_in_stock`` in the body set its stock.

        Raises:
            ValueError: not an object, or no ``sku``.
        """
        if not isinstance(doc, dict) or not isinstance(doc.get("sku"), str) or not doc["sku"]:
            raise ValueError("a product is a JSON object with a sku")
        product = copy_json(doc)
        qty, in_stock = product.pop("qty", None), product.pop("is_in_stock", None)
        sku = product["sku"]
        with self._lock:
            products = self._data["products"]
            old = products.get(sku)
            product.setdefault("id", old["id"] if old else max(
                (p["id"] for p in products.values()), default=0) + 1)
            product.setdefault("type_id", "simple")
            product.setdefault("status", 1)
            products[sku] = product
            if sku not in self._data["stock_items"]:
                self._data["stock_items"][sku] = magento_stock_item(product["id"], Decimal(0))
            if qty is not None or in_stock is not None:
                self._set_stock(sku, qty, in_stock)
            return self._product_view(sku)

    def _product_view(self, sku: str) -> dict[str, Any]:
        product: dict[str, Any] = copy_json(self._data["products"][sku])
        stock = copy_json(self._data["stock_items"].get(sku))
        product["extension_attributes"] = {
            **product.get("extension_attributes", {}), "website_ids": [1], "stock_item": stock}
        return product

    def products(self) -> list[dict[str, Any]]:
        with self._lock:
            products = self._data["products"]
            return [self._product_view(sku)
                    for sku in sorted(products, key=lambda sku: products[sku]["id"])]

    def stock_item(self, sku: str) -> dict[str, Any] | None:
        with self._lock:
            if sku not in self._data["products"]:
                return None
            item: dict[str, Any] = copy_json(self._data["stock_items"][sku])
            return item

    def update_stock_item(self, sku: str, qty: Any, in_stock: Any) -> int | None:
        """Legacy stock write; the default MSI source follows, as in Magento 2.4."""
        with self._lock:
            if sku not in self._data["products"]:
                return None
            return self._set_stock(sku, qty, in_stock)

    def _set_stock(self, sku: str, qty: Any, in_stock: Any) -> int:
        item = self._data["stock_items"][sku]
        if qty is not None:
            item["qty"] = qty
        if in_stock is not None:
            item["is_in_stock"] = bool(in_stock)
        source = self._data["source_items"].setdefault(
            (sku, "default"), {"sku": sku, "source_code": "default", "quantity": Decimal(0)})
        source["quantity"], source["status"] = item["qty"], int(item["is_in_stock"])
        return int(item["item_id"])

    def source_items(self) -> list[dict[str, Any]]:
        with self._lock:
            items = self._data["source_items"]
            return [copy_json(items[k]) for k in sorted(items)]

    def known_sources(self) -> list[str]:
        with self._lock:
            return list(self._data["sources"])

    def save_source_items(self, items: list[dict[str, Any]]) -> None:
        """MSI save (already validated); the default source writes through to legacy stock."""
        with self._lock:
            for raw in items:
                item = {"sku": raw["sku"], "source_code": raw["source_code"],
                        "quantity": raw["quantity"], "status": int(raw["status"])}
                self._data["source_items"][(item["sku"], item["source_code"])] = item
                legacy = self._data["stock_items"].get(item["sku"])
                if item["source_code"] == "default" and legacy is not None:
                    legacy["qty"], legacy["is_in_stock"] = item["quantity"], bool(item["status"])

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {name: self.items(name) for name in KEYS} | {
                "products": self.products(), "source_items": self.source_items(),
                "sources": self.known_sources()}
