"""Store credit, gift cards and reward points: tenders against the invoice, not discounts.

Adobe Commerce takes these off ``grand_total`` (magento-rest.md §4.1.1), but the customer
bought the full goods and VAT is due on them: a gift card or store credit is money the shop
already holds (a liability), not a price cut. So kfsync:

1. invoices the full goods: the invoice's gross is ``grand_total`` + the tenders;
2. posts each tender as a payment on that invoice (``tenders`` rule: KashFlow method and bank
   account per kind; point ``account_id`` at the clearing account that holds the liability),
   with a reference ``<kind>:<increment_id>`` in the comment so a retry finds it;
3. posts the gateway payment for the rest (``grand_total``) as usual.

Paid in full, the invoice ends ``Paid`` with one payment line per tender plus the gateway's.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from mappings.magento import MAGENTO_DATETIME, Order
from mappings.money import ZERO
from mappings.rules import PaymentMethodRule, Rules, TenderKind

TENDER_NAMES: dict[TenderKind, str] = {
    "store_credit": "store credit",
    "gift_card": "gift card",
    "reward_points": "reward points",
}
DEFAULT_TENDER_METHOD = "Cash"


@dataclass(frozen=True)
class PaymentDraft:
    """A payment to post on the invoice. ``None`` ids are resolved by ``method_name``.

    ``kind`` is ``gateway`` (the card/PayPal payment) or a tender kind. ``txn_id`` is what a
    retry looks for in the invoice's payment notes.
    """

    amount: Decimal
    date: str
    comment: str
    txn_id: str
    magento_method: str
    method_id: int | None
    account_id: int | None
    method_name: str | None
    kind: str = "gateway"


def tender_amounts(order: Order) -> list[tuple[TenderKind, Decimal, str]]:
    """(kind, amount, detail) for each tender used on the order, in a fixed order."""
    tenders = order.tenders
    found: list[tuple[TenderKind, Decimal, str]] = []
    if tenders.store_credit > ZERO:
        found.append(("store_credit", tenders.store_credit, ""))
    if tenders.gift_cards_amount > ZERO:
        codes = ", ".join(card.code for card in tenders.gift_cards if card.code)
        found.append(("gift_card", tenders.gift_cards_amount, f" {codes}" if codes else ""))
    if tenders.reward_currency_amount > ZERO:
        points = f" ({tenders.reward_points} points)" if tenders.reward_points else ""
        found.append(("reward_points", tenders.reward_currency_amount, points))
    return found


def tender_payments(order: Order, rules: Rules) -> list[PaymentDraft]:
    """One payment per tender kind used on ``order`` (order currency)."""
    drafts = []
    for kind, amount, detail in tender_amounts(order):
        rule = rules.tenders.get(kind) or PaymentMethodRule()
        reference = f"{kind}:{order.increment_id}"
        drafts.append(PaymentDraft(
            amount=amount, date=order.created_at.strftime(MAGENTO_DATETIME),
            comment=f"Magento {TENDER_NAMES[kind]}{detail} on order {order.increment_id} "
                    f"({reference})",
            txn_id=reference, magento_method=kind, method_id=rule.method_id,
            account_id=rule.account_id,
            method_name=rule.method_name or (None if rule.method_id else DEFAULT_TENDER_METHOD),
            kind=kind,
        ))
    return drafts
