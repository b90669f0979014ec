"""The Magento order as kfsync reads it: frozen dataclasses, amounts as ``Decimal``.

Built by ``mappings.magento.parse_order`` from a ``GET /V1/orders/{id}`` document. Amounts are in
the order currency (the non-``base_`` fields); the ``base_*`` twins kept here are only checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class AppliedTax:
    """One tax rate applied to the order, or to one item or the shipping."""

    code: str | None
    title: str | None
    percent: Decimal
    amount: Decimal


@dataclass(frozen=True)
class ItemAppliedTaxes:
    """``extension_attributes.item_applied_taxes[]``: the rates on one item or on the shipping."""

    type: str  # "product", "shipping", ...
    item_id: int | None
    associated_item_id: int | None
    applied_taxes: tuple[AppliedTax, ...]


@dataclass(frozen=True)
class Address:
    """A billing or shipping address (``OrderAddressInterface``)."""

    firstname: str | None
    lastname: str | None
    company: str | None
    street: tuple[str, ...]
    city: str | None
    region: str | None
    postcode: str | None
    country_id: str | None
    telephone: str | None
    email: str | None


@dataclass(frozen=True)
class Payment:
    """``payment``: method code, amounts in order currency and the gateway's transaction id."""

    method: str
    amount_ordered: Decimal
    amount_paid: Decimal
    last_trans_id: str | None


@dataclass(frozen=True)
class OrderItem:
    """One ``items[]`` row. Item ``discount_amount`` is positive (the order-level one is not).

    ``discount_tax_compensation_amount``: on tax-inclusive prices, the VAT inside the discount
    (Magento adds it back to the order total), so the row's net after discount is
    ``row_total - discount_amount + discount_tax_compensation_amount``.
    """

    item_id: int
    sku: str
    name: str | None
    product_type: str
    parent_item_id: int | None
    qty_ordered: Decimal
    price: Decimal
    row_total: Decimal
    tax_amount: Decimal
    tax_percent: Decimal | None
    discount_amount: Decimal
    discount_tax_compensation_amount: Decimal

    @property
    def net(self) -> Decimal:
        """The row's net after its discount (tax-exclusive)."""
        return self.row_total - self.discount_net

    @property
    def discount_net(self) -> Decimal:
        """The tax-exclusive part of the row's discount."""
        return self.discount_amount - self.discount_tax_compensation_amount

    @property
    def carries_money(self) -> bool:
        return any((self.price, self.row_total, self.tax_amount, self.discount_amount))


@dataclass(frozen=True)
class GiftCard:
    """One gift card redeemed on the order (Adobe Commerce ``gift_cards[]``)."""

    code: str | None
    amount: Decimal


@dataclass(frozen=True)
class Tenders:
    """Adobe Commerce tenders already deducted from ``grand_total`` (all positive)."""

    store_credit: Decimal  # customer_balance_amount
    gift_cards_amount: Decimal
    gift_cards: tuple[GiftCard, ...]
    reward_currency_amount: Decimal
    reward_points: int | None

    @property
    def total(self) -> Decimal:
        return self.store_credit + self.gift_cards_amount + self.reward_currency_amount


@dataclass(frozen=True)
class Edit:
    """Set when the order is an edit of an earlier one (``000000123-1``)."""

    parent_entity_id: int
    parent_increment_id: str | None


@dataclass(frozen=True)
class Order:
    """A Magento order, amounts in order currency (``base_*`` twins only where used as checks)."""

    entity_id: int
    increment_id: str
    store_id: int | None
    state: str
    status: str | None
    created_at: datetime
    customer_id: int | None
    customer_is_guest: bool
    customer_email: str | None
    customer_firstname: str | None
    customer_lastname: str | None
    order_currency_code: str
    base_currency_code: str
    base_to_order_rate: Decimal | None
    subtotal: Decimal
    discount_amount: Decimal
    shipping_amount: Decimal
    shipping_discount_amount: Decimal
    shipping_tax_amount: Decimal
    discount_tax_compensation_amount: Decimal
    shipping_discount_tax_compensation_amount: Decimal
    tax_amount: Decimal
    grand_total: Decimal
    base_grand_total: Decimal | None
    total_paid: Decimal
    total_invoiced: Decimal
    total_refunded: Decimal
    items: tuple[OrderItem, ...]
    billing_address: Address | None
    shipping_address: Address | None
    shipping_method: str | None
    payment: Payment | None
    applied_taxes: tuple[AppliedTax, ...]
    item_applied_taxes: tuple[ItemAppliedTaxes, ...]
    tenders: Tenders
    edit: Edit | None
    total_canceled: Decimal = Decimal(0)  # what Magento canceled of the order (items canceled)
    # The edit that replaced this order (``relation_child_real_id``, else the child's id).
    replaced_by: str | None = None
    customer_group_id: int | None = None  # Magento's group (0: not logged in); routes test it

    @property
    def shipping_net(self) -> Decimal:
        """Shipping after its discount, tax-exclusive."""
        return (self.shipping_amount - self.shipping_discount_amount
                + self.shipping_discount_tax_compensation_amount)
