"""The two stock sides as the sync sees them: read quantities in bulk, write only changes.

KashFlow: ``GET /products`` (all pages) for a full pass, ``GET /products/{nominal}/{code}``
for one SKU; writes are ``PUT /products/{nominal}/{code}`` with the product as read and the new
``QuantityInStock`` (every call goes through the client's global rate limit).
Magento: MSI ``source-items`` of the configured source (searched by SKU, writes in batches of
at most 20), or legacy ``stockItems`` one SKU at a time. ``is_in_stock``/``status`` follow the
quantity.

Before writing, each side is read again for the SKUs about to be written; a SKU whose quantity
moved since the plan was made (a sale, an invoice, a person) is not written this pass — its
change is merged on the next one instead of being overwritten (the lost update).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.errors import ConnectorError, NotFound
from connectors.kashflow import KashFlowClient
from connectors.magento import MAX_SOURCE_ITEMS, Filter, MagentoClient
from mappings.stock_rules import StockConfig

ProductKey = tuple[int, str]  # (NominalCode, Code)
SKU_CHUNK = 100  # SKUs per source-items search (an "in" filter in the query string)
MSI_PAGE = 300  # Magento's maximum page size
PRODUCT_PAGE = 100
NO_STOCK_TYPES = ("configurable", "bundle", "grouped")


@dataclass
class CallCount:
    kashflow: int = 0
    magento: int = 0


@dataclass
class MagentoStock:
    qty: Decimal
    item_id: int | None = None  # legacy stock item id (for the PUT path)


@dataclass
class WriteResult:
    written: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)      # changed since read: next pass
    failed: dict[str, str] = field(default_factory=dict)  # sku -> error


class StockSides:
    """Reads and writes of one pass; counts the calls made to each system."""

    def __init__(self, kashflow: KashFlowClient, magento: MagentoClient,
                 config: StockConfig) -> None:
        self.kf, self.mg, self.config = kashflow, magento, config
        self.calls = CallCount()

    @contextmanager
    def counting(self) -> Iterator[CallCount]:
        """Count every HTTP call both clients make inside the block (logins included)."""
        old_kf, old_mg = self.kf.on_call, self.mg.on_call

        def on_kf(*args: Any) -> None:
            self.calls.kashflow += 1
            old_kf(*args)

        def on_mg(*args: Any) -> None:
            self.calls.magento += 1
            old_mg(*args)

        self.kf.on_call, self.mg.on_call = on_kf, on_mg
        try:
            yield self.calls
        finally:
            self.kf.on_call, self.mg.on_call = old_kf, old_mg

    # -- KashFlow ------------------------------------------------------------------------
    def kashflow_products(self, keys: Sequence[ProductKey] | None = None
                          ) -> dict[ProductKey, dict[str, Any]]:
        """Products by key: every product (``keys=None``), or just ``keys`` one by one."""
        if keys is None:
            return {_key(p): p for p in self.kf.list_products()}
        found = {}
        for nominal, code in keys:
            try:
                found[(nominal, code)] = self.kf.get_product(nominal, code)
            except NotFound:
                continue
        return found

    def write_kashflow(self, writes: dict[ProductKey, tuple[str, dict[str, Any], Decimal]]
                       ) -> WriteResult:
        """``{key: (sku, product as read, new qty)}``: re-read each, PUT the unmoved ones."""
        result = WriteResult()
        for key, (sku, product, qty) in writes.items():
            try:
                now = self.kf.get_product(*key)
                if Decimal(str(now.get("QuantityInStock", 0))) != \
                        Decimal(str(product.get("QuantityInStock", 0))):
                    result.moved.append(sku)
                    continue
                self.kf.update_product(*key, {**now, "QuantityInStock": qty})
                result.written.append(sku)
            except ConnectorError as exc:
                result.failed[sku] = f"KashFlow: {exc}"
        return result

    # -- Magento -------------------------------------------------------------------------
    def magento_skus(self) -> list[str]:
        """Every Magento SKU that can hold stock (``GET /V1/products``, 100 a page; the
        parents of configurable, bundle and grouped products hold none)."""
        skus: list[str] = []
        page = 1
        while True:
            found = self.mg.search_products(page_size=PRODUCT_PAGE, current_page=page)
            rows = found.get("items") or []
            skus += [str(p["sku"]) for p in rows
                     if p.get("sku") and p.get("type_id") not in NO_STOCK_TYPES]
            if not rows or page * PRODUCT_PAGE >= int(found.get("total_count", 0)):
                return skus
            page += 1

    def magento_stock(self, skus: Sequence[str]) -> dict[str, MagentoStock]:
        """Quantities of ``skus`` in Magento (absent SKUs are left out)."""
        if self.config.source_code is not None:
            return self._source_quantities(skus, self.config.source_code)
        found = {}
        for sku in skus:
            try:
                item = self.mg.get_stock_item(sku)
            except NotFound:
                continue
            found[sku] = MagentoStock(Decimal(str(item.get("qty") or 0)), int(item["item_id"]))
        return found

    def _source_quantities(self, skus: Sequence[str], source: str) -> dict[str, MagentoStock]:
        found: dict[str, MagentoStock] = {}
        for start in range(0, len(skus), SKU_CHUNK):
            chunk = list(skus[start:start + SKU_CHUNK])
            filters = [[Filter("source_code", source)], [Filter("sku", chunk, "in")]]
            page = 1
            while True:
                answer = self.mg.search_source_items(filters, page_size=MSI_PAGE,
                                                     current_page=page)
                items = answer.get("items") or []
                for item in items:
                    found[str(item["sku"])] = MagentoStock(Decimal(str(item["quantity"])))
                if not items or page * MSI_PAGE >= int(answer.get("total_count", 0)):
                    break
                page += 1
        return found

    def write_magento(self, writes: dict[str, tuple[MagentoStock, Decimal]]) -> WriteResult:
        """``{sku: (stock as read, new qty)}``: re-read, then write the unmoved ones."""
        result = WriteResult()
        skus = list(writes)
        for start in range(0, len(skus), MAX_SOURCE_ITEMS):
            batch = skus[start:start + MAX_SOURCE_ITEMS]
            try:
                now = self.magento_stock(batch)
            except ConnectorError as exc:
                result.failed.update({sku: f"Magento: {exc}" for sku in batch})
                continue
            ready = []
            for sku in batch:
                if sku not in now or now[sku].qty != writes[sku][0].qty:
                    result.moved.append(sku)
                else:
                    ready.append(sku)
            self._write_batch({sku: (now[sku], writes[sku][1]) for sku in ready}, result)
        return result

    def _write_batch(self, batch: dict[str, tuple[MagentoStock, Decimal]],
                     result: WriteResult) -> None:
        source = self.config.source_code
        if source is not None and batch:
            items = [{"sku": sku, "source_code": source, "quantity": qty,
                      "status": 1 if qty > 0 else 0} for sku, (_, qty) in batch.items()]
            try:
                self.mg.save_source_items(items)
                result.written.extend(batch)
            except ConnectorError as exc:
                result.failed.update({sku: f"Magento: {exc}" for sku in batch})
            return
        for sku, (stock, qty) in batch.items():
            try:
                self.mg.update_stock_item(sku, stock.item_id or 1, qty, qty > 0)
                result.written.append(sku)
            except ConnectorError as exc:
                result.failed[sku] = f"Magento: {exc}"


def _key(product: dict[str, Any]) -> ProductKey:
    return int(product["NominalCode"]), str(product["Code"])
