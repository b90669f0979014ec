"""The KashFlow product catalogue as the SKU mapping sees it: an index by product code.

Pure data (no I/O): ``workers.products`` builds it from the cached catalogue and attaches it
to the rules in force (``Rules.products``), so every mapping that asks where a SKU posts —
invoices, credit notes, the studio preview, the stock ledger — sees the same products.
KashFlow keys a product by nominal code + product code; a code may exist under two nominals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class ProductRef:
    """One KashFlow product: where an invoice line naming it posts."""

    nominal_code: int
    code: str
    manage_stock: bool = False

    @property
    def key(self) -> str:
        return f"{self.nominal_code}/{self.code}"


def fold(code: str) -> str:
    """A code with case and whitespace removed: ``" Mug 01 "`` and ``"MUG01"`` fold alike."""
    return "".join(code.split()).casefold()


def _group(refs: Iterable[tuple[str, ProductRef]]) -> Mapping[str, tuple[ProductRef, ...]]:
    found: dict[str, list[ProductRef]] = {}
    for key, ref in refs:
        found.setdefault(key, []).append(ref)
    return MappingProxyType({k: tuple(v) for k, v in found.items()})


@dataclass(frozen=True)
class ProductIndex:
    """KashFlow products by exact code and by folded code (``fold``)."""

    by_code: Mapping[str, tuple[ProductRef, ...]] = field(
        default_factory=lambda: MappingProxyType({}))
    by_folded: Mapping[str, tuple[ProductRef, ...]] = field(
        default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, refs: Iterable[ProductRef]) -> ProductIndex:
        listed = sorted(set(refs), key=lambda r: (r.code, r.nominal_code))
        return cls(_group((r.code, r) for r in listed),
                   _group((fold(r.code), r) for r in listed))

    @classmethod
    def from_kashflow(cls, products: Iterable[Mapping[str, Any]]) -> ProductIndex:
        """From ``GET /products`` rows (``NominalCode``, ``Code``, ``ManageStockLevel``)."""
        return cls.of(ProductRef(int(p["NominalCode"]), str(p["Code"]),
                                 bool(p.get("ManageStockLevel"))) for p in products
                      if p.get("Code") not in (None, "") and p.get("NominalCode") is not None)

    def __len__(self) -> int:
        return sum(len(refs) for refs in self.by_code.values())

    def exact(self, code: str) -> tuple[ProductRef, ...]:
        return self.by_code.get(code, ())

    def folded(self, code: str) -> tuple[ProductRef, ...]:
        return self.by_folded.get(fold(code), ())

    def get(self, nominal_code: int, code: str) -> ProductRef | None:
        return next((r for r in self.exact(code) if r.nominal_code == nominal_code), None)

    def refs(self) -> list[ProductRef]:
        return [r for refs in self.by_code.values() for r in refs]

    def with_product(self, ref: ProductRef) -> ProductIndex:
        """This index plus ``ref`` (a product kfsync just created)."""
        return ProductIndex.of([*self.refs(), ref])
