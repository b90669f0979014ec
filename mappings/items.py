"""Which Magento item rows become invoice lines, and under which SKU.

Magento writes composite products as a parent row plus child rows (magento-rest.md §4.1.2).
Where the money sits depends on the product type, so the treatment is a table, not a ladder:

- ``simple``, ``virtual``, ``downloadable``, ``grouped`` (each grouped member is its own row),
  ``giftcard``: the row is billed as it is.
- ``configurable``: the parent carries price, tax and discount; its (single) child carries the
  real SKU. Bill the parent's money under the child's SKU and skip the child.
- ``bundle``, fixed price (``CALCULATE_PARENT``): the parent carries the money, children are
  zero: bill the parent, skip the children. Dynamic price (``CALCULATE_CHILD``): the children
  carry it and the parent is ~0: bill the children, skip the parent. The REST order does not
  expose Magento's ``product_calculations`` flag, so the money decides: a bundle whose
  children carry money is dynamic.

So one ordered item is never billed twice. An unknown product type is reported per row, so
the invalid-line policy can skip that row or hold the order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from mappings.magento import Order, OrderItem


class Treatment(Enum):
    BILL_ROW = "bill the row itself"
    BILL_PARENT_WITH_CHILD_SKU = "money on the parent, SKU from the child"
    BUNDLE = "fixed: bill the parent; dynamic: bill the children"


PRODUCT_TYPES: Mapping[str, Treatment] = {
    "simple": Treatment.BILL_ROW,
    "virtual": Treatment.BILL_ROW,
    "downloadable": Treatment.BILL_ROW,
    "grouped": Treatment.BILL_ROW,
    "giftcard": Treatment.BILL_ROW,
    "configurable": Treatment.BILL_PARENT_WITH_CHILD_SKU,
    "bundle": Treatment.BUNDLE,
}


@dataclass(frozen=True)
class BillableItem:
    """An item row that carries money, the SKU to map it by, and the name to print.

    ``problem`` is set when the row cannot be billed as it stands (the invalid-line policy
    decides what happens to it).
    """

    row: OrderItem
    sku: str
    name: str
    problem: str | None = None


def is_dynamic_bundle(children: list[OrderItem]) -> bool:
    """True when the bundle's children carry the money (dynamic price)."""
    return any(child.carries_money for child in children)


def billable_items(order: Order) -> list[BillableItem]:
    """The rows to invoice, in order, each with its mapping SKU (see the module docstring)."""
    by_id = {item.item_id: item for item in order.items}
    children: dict[int, list[OrderItem]] = {}
    for item in order.items:
        if item.parent_item_id is not None:
            children.setdefault(item.parent_item_id, []).append(item)

    billable: list[BillableItem] = []
    for item in order.items:
        if item.parent_item_id is None:
            billable.extend(_top_level(item, children.get(item.item_id, [])))
            continue
        parent = by_id.get(item.parent_item_id)
        if parent is None:
            billable.append(BillableItem(item, item.sku, _name(item), problem=(
                f"names parent {item.parent_item_id}, which is not in the order")))
        elif parent.product_type == "bundle" and is_dynamic_bundle(children[parent.item_id]):
            billable.append(BillableItem(item, item.sku, f"{_name(parent)}: {_name(item)}"))
        elif PRODUCT_TYPES.get(parent.product_type) is None:
            billable.append(BillableItem(item, item.sku, _name(item)))
    return billable


def _name(item: OrderItem) -> str:
    return (item.name or "").strip() or item.sku


def _top_level(item: OrderItem, children: list[OrderItem]) -> list[BillableItem]:
    treatment = PRODUCT_TYPES.get(item.product_type)
    if treatment is None:
        return [BillableItem(item, item.sku, _name(item), problem=(
            f"product type '{item.product_type}' is not one kfsync maps"))]
    if treatment is Treatment.BUNDLE and is_dynamic_bundle(children):
        return []  # the children are billed; the parent row is only a heading
    if treatment is Treatment.BILL_PARENT_WITH_CHILD_SKU and len(children) == 1:
        return [BillableItem(item, children[0].sku, _name(item))]
    return [BillableItem(item, item.sku, _name(item))]
