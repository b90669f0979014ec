"""Where a Magento SKU posts in KashFlow: the SKU is the key (DESIGN §5).

``map_sku(sku, rules)`` is the one decision, pure; invoices, credit notes, the studio and the
stock sync all ask it:

1. an explicit ``skus:`` entry wins (**mapped**);
2. else the KashFlow product whose code equals the SKU, exactly, when there is one; else the
   one whose code equals it ignoring case and whitespace, when there is exactly one
   (**matched by code**: that product and its nominal code);
3. else the ``unmapped_sku`` policy: the default nominal and no product, or review. When the
   catalogue holds several products that match loosely (a code under two nominals, or ``mug``
   and ``MUG``), the line is **suggested**: it follows the policy too, and names them, so a
   human picks one under ``skus``.

The catalogue is ``rules.products`` (``mappings.products``), attached by the worker from the
cached KashFlow product list. ``products_to_create`` is the body of each product
``create_missing_products: true`` asks kfsync to create before the invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mappings.errors import MappingError
from mappings.items import billable_items
from mappings.magento import Order
from mappings.money import round_money
from mappings.products import ProductRef
from mappings.rules import Rules
from mappings.vat import item_vat_level

How = Literal["mapped", "matched by code", "suggested", "unmapped"]
MAPPED: How = "mapped"
MATCHED: How = "matched by code"
SUGGESTED: How = "suggested"
UNMAPPED: How = "unmapped"
HOWS: tuple[How, ...] = (MAPPED, MATCHED, SUGGESTED, UNMAPPED)
UNMAPPED_RULE = "unmapped_sku: default_nominal"
MAX_CANDIDATES = 5


@dataclass(frozen=True)
class SkuMapping:
    """The decision for one SKU: where it posts, which rule decided, and how."""

    sku: str
    nominal_code: int
    product_code: str | None
    how: How
    rule: str
    candidates: tuple[str, ...] = ()  # "<nominal>/<code>" of loose matches (suggested)

    @property
    def matched(self) -> bool:
        """The SKU names a KashFlow product (by the table or by code)."""
        return self.how in (MAPPED, MATCHED) and bool(self.product_code)


def map_sku(sku: str, rules: Rules) -> SkuMapping:
    """Map one SKU (see the module docstring).

    Raises:
        MappingError: a SKU matching neither rule under ``unmapped_sku: review``.
    """
    entry = rules.skus.get(sku)
    if entry is not None:
        return SkuMapping(sku, entry.nominal_code, entry.product_code, MAPPED, f"skus.{sku}")
    exact = rules.products.exact(sku)
    if len(exact) == 1:
        return _matched(sku, exact[0], f"KashFlow product {exact[0].key} (code = SKU)")
    loose = exact or rules.products.folded(sku)
    if len(loose) == 1:
        return _matched(sku, loose[0], f"KashFlow product {loose[0].key} "
                                       "(code = SKU ignoring case and spaces)")
    candidates = tuple(r.key for r in loose[:MAX_CANDIDATES])
    if rules.unmapped_sku == "review":
        hint = (f"several KashFlow products match it: {', '.join(candidates)}" if candidates
                else "no KashFlow product has it as its code")
        raise MappingError(f"SKU {sku} is not in the mapping and unmapped_sku is 'review' "
                           f"({hint}): add it under skus or set unmapped_sku to default_nominal")
    if candidates:
        return SkuMapping(sku, rules.default_nominal_code, None, SUGGESTED,
                          f"{UNMAPPED_RULE} -> default_nominal_code; several KashFlow products "
                          f"match, pick one under skus: {', '.join(candidates)}", candidates)
    return SkuMapping(sku, rules.default_nominal_code, None, UNMAPPED,
                      f"{UNMAPPED_RULE} -> default_nominal_code")


def how_mapped(sku: str, rules: Rules) -> How:
    """How ``sku`` maps (never raises: a SKU the review policy would hold is unmapped)."""
    try:
        return map_sku(sku, rules).how
    except MappingError:
        return SUGGESTED if rules.products.folded(sku) or rules.products.exact(sku) else UNMAPPED


def _matched(sku: str, ref: ProductRef, rule: str) -> SkuMapping:
    return SkuMapping(sku, ref.nominal_code, ref.code, MATCHED, rule)


def unmatched_skus(order: Order, rules: Rules) -> list[str]:
    """The order's billable SKUs that match no table entry and no product at all (not even
    loosely): the ones a catalogue re-read or ``create_missing_products`` may fix."""
    found: list[str] = []
    try:
        items = billable_items(order)
    except MappingError:
        return found
    for item in items:
        if item.sku in found or item.sku in rules.skus:
            continue
        if not rules.products.exact(item.sku) and not rules.products.folded(item.sku):
            found.append(item.sku)
    return found


def products_to_create(order: Order, rules: Rules) -> list[dict[str, Any]]:
    """``POST /products`` bodies for the unmatched SKUs of ``order`` (``create_missing_products``):
    code = SKU, the Magento name, ``default_nominal_code``, the row's VAT level and net unit
    price, not stock-managed. Rows that cannot be billed (unknown VAT...) create nothing:
    the invoice reports them."""
    if not rules.create_missing_products:
        return []
    wanted = set(unmatched_skus(order, rules))
    bodies: dict[str, dict[str, Any]] = {}
    for item in billable_items(order):
        if item.sku not in wanted or item.sku in bodies or item.problem:
            continue
        try:
            level = item_vat_level(order, item.row, rules, f"item {item.sku}")
        except MappingError:
            continue
        bodies[item.sku] = {
            "Code": item.sku, "NominalCode": rules.default_nominal_code,
            "Name": item.name, "Description": item.name, "Price": round_money(item.row.price),
            "VATRate": level, "ManageStockLevel": False}
    return list(bodies.values())
