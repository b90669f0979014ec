"""Reading a Magento order: marshmallow schemas at the boundary, frozen dataclasses out.

Only the fields the mapping uses are declared (``GET /V1/orders/{id}`` in API-SUBSET.md); any
other field is ignored (``unknown = EXCLUDE``), because Magento grows. Magento omits null
fields, so optional money fields default to ``0`` and optional text to ``None``. Money is
``Decimal`` (``fields.Decimal`` converts ints, strings and floats through ``str``). The
dataclasses live in ``mappings.model`` and are re-exported here.

Adobe Commerce tenders (store credit, gift cards, reward points) are read from the order's
``extension_attributes`` (magento-rest.md §4.1.1); edits from ``relation_parent_id``.

``parse_order(doc)`` is the entry point; it raises ``MappingError`` naming every bad field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load

from mappings.errors import MappingError, flatten_messages
from mappings.model import (
    Address,
    AppliedTax,
    Edit,
    GiftCard,
    ItemAppliedTaxes,
    Order,
    OrderItem,
    Payment,
    Tenders,
)

__all__ = ["MAGENTO_DATETIME", "Address", "AppliedTax", "ItemAppliedTaxes", "Order",
           "OrderItem", "Payment", "parse_magento_time", "parse_order"]

MAGENTO_DATETIME = "%Y-%m-%d %H:%M:%S"  # UTC, no zone (API-SUBSET: "Timestamps")


def _money(required: bool = False) -> fields.Decimal:
    if required:
        return fields.Decimal(required=True)
    return fields.Decimal(load_default=Decimal("0"))


def _text() -> fields.String:
    return fields.String(load_default=None, allow_none=True)


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


class AppliedTaxSchema(_Lenient):
    code = _text()
    title = _text()
    percent = _money()
    amount = _money()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> AppliedTax:
        return AppliedTax(**data)


class ItemAppliedTaxesSchema(_Lenient):
    type = fields.String(required=True)
    item_id = fields.Integer(load_default=None, allow_none=True)
    associated_item_id = fields.Integer(load_default=None, allow_none=True)
    applied_taxes = fields.List(fields.Nested(AppliedTaxSchema), load_default=list)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ItemAppliedTaxes:
        return ItemAppliedTaxes(**{**data, "applied_taxes": tuple(data["applied_taxes"])})


class AddressSchema(_Lenient):
    firstname = _text()
    lastname = _text()
    company = _text()
    street = fields.List(fields.String(), load_default=list)
    city = _text()
    region = _text()
    postcode = _text()
    country_id = _text()
    telephone = _text()
    email = _text()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Address:
        return Address(**{**data, "street": tuple(data["street"])})


class PaymentSchema(_Lenient):
    method = fields.String(required=True)
    amount_ordered = _money()
    amount_paid = _money()
    last_trans_id = _text()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Payment:
        return Payment(**data)


class OrderItemSchema(_Lenient):
    item_id = fields.Integer(required=True)
    sku = fields.String(required=True)
    name = _text()
    product_type = fields.String(load_default="simple")
    parent_item_id = fields.Integer(load_default=None, allow_none=True)
    qty_ordered = fields.Decimal(required=True)
    price = _money()
    row_total = _money()
    tax_amount = _money()
    tax_percent = fields.Decimal(load_default=None, allow_none=True)
    discount_amount = _money()
    discount_tax_compensation_amount = _money()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> OrderItem:
        return OrderItem(**data)


class ShippingSchema(_Lenient):
    address = fields.Nested(AddressSchema, load_default=None, allow_none=True)
    method = _text()


class ShippingAssignmentSchema(_Lenient):
    shipping = fields.Nested(ShippingSchema, load_default=None, allow_none=True)


class GiftCardSchema(_Lenient):
    code = _text()
    amount = _money()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> GiftCard:
        return GiftCard(**data)


class ExtensionAttributesSchema(_Lenient):
    shipping_assignments = fields.List(fields.Nested(ShippingAssignmentSchema), load_default=list)
    applied_taxes = fields.List(fields.Nested(AppliedTaxSchema), load_default=list)
    item_applied_taxes = fields.List(fields.Nested(ItemAppliedTaxesSchema), load_default=list)
    # Adobe Commerce tenders, already deducted from grand_total (positive amounts)
    customer_balance_amount = _money()
    gift_cards = fields.List(fields.Nested(GiftCardSchema), load_default=list)
    gift_cards_amount = _money()
    reward_currency_amount = _money()
    reward_points_balance = fields.Integer(load_default=None, allow_none=True)


class OrderSchema(_Lenient):
    entity_id = fields.Integer(required=True)
    increment_id = fields.String(required=True)
    store_id = fields.Integer(load_default=None, allow_none=True)
    relation_parent_id = fields.Integer(load_default=None, allow_none=True)
    relation_parent_real_id = _text()
    relation_child_id = fields.Integer(load_default=None, allow_none=True)
    relation_child_real_id = _text()
    state = fields.String(required=True)
    status = _text()
    created_at = fields.DateTime(format=MAGENTO_DATETIME, required=True)
    customer_id = fields.Integer(load_default=None, allow_none=True)
    customer_is_guest = fields.Boolean(load_default=False)
    customer_group_id = fields.Integer(load_default=None, allow_none=True)
    customer_email = _text()
    customer_firstname = _text()
    customer_lastname = _text()
    order_currency_code = fields.String(required=True)
    base_currency_code = fields.String(required=True)
    base_to_order_rate = fields.Decimal(load_default=None, allow_none=True)
    subtotal = _money()
    discount_amount = _money()
    shipping_amount = _money()
    shipping_discount_amount = _money()
    shipping_tax_amount = _money()
    discount_tax_compensation_amount = _money()
    shipping_discount_tax_compensation_amount = _money()
    tax_amount = _money()
    grand_total = _money(required=True)
    base_grand_total = fields.Decimal(load_default=None, allow_none=True)
    total_paid = _money()
    total_invoiced = _money()
    total_refunded = _money()
    total_canceled = _money()
    items = fields.List(fields.Nested(OrderItemSchema), required=True)
    billing_address = fields.Nested(AddressSchema, load_default=None, allow_none=True)
    payment = fields.Nested(PaymentSchema, load_default=None, allow_none=True)
    extension_attributes = fields.Nested(ExtensionAttributesSchema, load_default=None)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Order:
        ext = data.pop("extension_attributes") or {}
        items = tuple(data.pop("items"))
        shipping = _first_shipping(ext.get("shipping_assignments", []))
        parent_id, parent_ref = data.pop("relation_parent_id"), data.pop("relation_parent_real_id")
        child_id, child_ref = data.pop("relation_child_id"), data.pop("relation_child_real_id")
        return Order(
            replaced_by=child_ref or (str(child_id) if child_id else None),
            **data,
            items=items,
            tenders=_tenders(ext),
            edit=Edit(parent_id, parent_ref) if parent_id else None,
            shipping_address=shipping.get("address"),
            shipping_method=shipping.get("method"),
            applied_taxes=tuple(ext.get("applied_taxes", [])),
            item_applied_taxes=tuple(ext.get("item_applied_taxes", [])),
        )


def _tenders(ext: Mapping[str, Any]) -> Tenders:
    return Tenders(
        store_credit=ext.get("customer_balance_amount", Decimal(0)),
        gift_cards_amount=ext.get("gift_cards_amount", Decimal(0)),
        gift_cards=tuple(ext.get("gift_cards", ())),
        reward_currency_amount=ext.get("reward_currency_amount", Decimal(0)),
        reward_points=ext.get("reward_points_balance"),
    )


def _first_shipping(assignments: list[dict[str, Any]]) -> dict[str, Any]:
    """The first assignment's ``shipping`` (one address per order; virtual orders have none)."""
    for assignment in assignments:
        shipping = assignment.get("shipping")
        if shipping:
            return dict(shipping)
    return {}


_ORDER_SCHEMA = OrderSchema()


def parse_magento_time(text: str) -> datetime | None:
    """A Magento timestamp (``created_at``) read as ``parse_order`` reads it; None if it is
    not one."""
    try:
        moment: datetime = _ORDER_SCHEMA.fields["created_at"].deserialize(text)
    except ValidationError:
        return None
    return moment


def parse_order(doc: Mapping[str, Any]) -> Order:
    """Validate a ``GET /V1/orders/{id}`` document and return it as an ``Order``.

    Args:
        doc: the decoded JSON (ideally parsed with ``parse_float=Decimal``).

    Raises:
        MappingError: naming each missing or malformed field, e.g.
            ``Magento order 000000123: items.0.sku: Missing data for required field.``
    """
    if not isinstance(doc, Mapping):
        raise MappingError(f"Magento order: expected a JSON object, got {type(doc).__name__}")
    try:
        order: Order = _ORDER_SCHEMA.load(doc)
    except ValidationError as exc:
        label = doc.get("increment_id") or doc.get("entity_id") or "?"
        detail = "; ".join(flatten_messages(exc.messages))
        raise MappingError(f"Magento order {label}: {detail}") from exc
    return order
