"""Which Magento item rows become invoice lines, and under which SKU.

Magento writes composite products as a parent row plus child rows (magento-rest.md §4.1.2).
Where the money sits depends on the product type, so the treatment is a table, not a ladder:

- ``simple``, ``virtual``, ``downloadable``: the row is billed as it is.
- ``configurable``: the parent carries price, tax and discount; its (single) child carries the
  real SKU. Bill the parent's money under the child's SKU and skip the child.
- anything else (``bundle``, ``grouped``, ``giftcard``...): not handled by this version, so
  the order goes to review instead of being posted wrong. Bundles slot in here later
  (fixed price: like configurable; dynamic price: bill the children, skip the parent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from mappings.errors import MappingError
from mappings.magento import Order, OrderItem


class Treatment(Enum):
    BILL_ROW = "bill the row itself"
    BILL_PARENT_WITH_CHILD_SKU = "money on the parent, SKU from the child"


PRODUCT_TYPES: Mapping[str, Treatment] = {
    "simple": Treatment.BILL_ROW,
    "virtual": Treatment.BILL_ROW,
    "downloadable": Treatment.BILL_ROW,
    "configurable": Treatment.BILL_PARENT_WITH_CHILD_SKU,
}

# Parent types whose children carry no money of their own: the child row is skipped.
MONEY_ON_PARENT = frozenset({"configurable"})


@dataclass(frozen=True)
class BillableItem:
    """An item row that carries money, with the SKU to map it by and the name to print."""

    row: OrderItem
    sku: str
    name: str


def billable_items(order: Order) -> list[BillableItem]:
    """The rows to invoice, in order, each with its mapping SKU.

    Raises:
        MappingError: a product type this version does not handle, or a child row whose
            parent is missing from the order.
    """
    by_id = {item.item_id: item for item in order.items}
    children: dict[int, list[OrderItem]] = {}
    for item in order.items:
        if item.parent_item_id is not None:
            children.setdefault(item.parent_item_id, []).append(item)

    billable: list[BillableItem] = []
    for item in order.items:
        if item.parent_item_id is not None:
            parent = by_id.get(item.parent_item_id)
            if parent is None:
                raise MappingError(
                    f"item {item.sku} (id {item.item_id}) names parent {item.parent_item_id}, "
                    "which is not in the order"
                )
            if parent.product_type in MONEY_ON_PARENT:
                continue
        billable.append(_billable(item, children.get(item.item_id, [])))
    return billable


def _billable(item: OrderItem, children: list[OrderItem]) -> BillableItem:
    treatment = PRODUCT_TYPES.get(item.product_type)
    if treatment is None:
        raise MappingError(
            f"item {item.sku} has product type '{item.product_type}', which kfsync does not "
            "map yet: review the order"
        )
    name = item.name or item.sku
    if treatment is Treatment.BILL_PARENT_WITH_CHILD_SKU and len(children) == 1:
        return BillableItem(row=item, sku=children[0].sku, name=name)
    return BillableItem(row=item, sku=item.sku, name=name)
