"""decide(): state + totals -> invoice / wait / skip / review, and whether to post a payment."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mappings.magento import parse_order
from mappings.orders import decide
from mappings.rules import Rules


def order(state: str, status: str | None = None, *, invoiced: str = "0", paid: str = "0",
          method: str = "braintree", txn: str | None = "txn1", amount_paid: str = "0") -> Any:
    doc: dict[str, Any] = {
        "entity_id": 1, "increment_id": "000000001", "state": state, "status": status or state,
        "created_at": "2024-05-01 09:58:12", "order_currency_code": "GBP",
        "base_currency_code": "GBP", "grand_total": Decimal("12.00"), "items": [],
        "shipping_amount": Decimal("12.00"),  # a consistent order: 12.00 of zero-rated shipping
        "total_invoiced": Decimal(invoiced), "total_paid": Decimal(paid),
        "payment": {"method": method, "amount_paid": Decimal(amount_paid)},
    }
    if txn:
        doc["payment"]["last_trans_id"] = txn
    return parse_order(doc)


@pytest.mark.parametrize(
    ("state", "status", "invoiced", "action", "reason_part"),
    [
        ("processing", None, "12", "invoice", "processing"),
        ("complete", None, "12", "invoice", "complete"),
        ("processing", "awaiting_stock", "12", "invoice", "processing"),  # custom status
        ("new", "pending", "0", "wait", "new"),
        ("pending_payment", None, "0", "wait", "gateway"),
        ("payment_review", "fraud", "0", "wait", "review"),
        ("holded", None, "0", "wait", "hold"),
        ("processing", "received", "0", "wait", "received"),  # Adobe Commerce async order
        ("new", "received", "0", "wait", "received"),
        ("canceled", None, "0", "skip", "canceled before invoice: nothing to post"),
        ("closed", None, "0", "skip", "nothing to post"),
        ("canceled", None, "5", "review", "credit note"),
        ("closed", None, "12", "review", "credit note"),
        ("weird_state", None, "0", "review", "unknown order state"),
    ],
)
def test_decide_action(state: str, status: str | None, invoiced: str, action: str,
                       reason_part: str) -> None:
    decision = decide(order(state, status, invoiced=invoiced, paid=invoiced,
                            amount_paid=invoiced))
    assert decision.action == action
    assert reason_part in decision.reason
    if action != "invoice":
        assert decision.pay is False


@pytest.mark.parametrize(
    ("method", "txn", "paid", "amount_paid", "pay", "reason_part"),
    [
        ("braintree", "abc123", "12", "12", True, "txn abc123"),
        ("paypal_express", "9XK1", "12", "12", True, "paypal_express"),
        ("checkmo", "abc123", "12", "12", False, "offline method checkmo"),
        ("banktransfer", None, "12", "12", False, "offline"),
        ("cashondelivery", None, "12", "12", False, "offline"),
        ("purchaseorder", None, "12", "12", False, "offline"),
        ("free", None, "0", "0", False, "offline"),
        ("braintree", None, "12", "12", False, "no gateway transaction id"),
        ("braintree", "auth1", "0", "0", False, "nothing paid yet"),  # authorize only
    ],
)
def test_decide_payment(method: str, txn: str | None, paid: str, amount_paid: str, pay: bool,
                        reason_part: str) -> None:
    decision = decide(order("processing", invoiced="12", paid=paid, method=method, txn=txn,
                            amount_paid=amount_paid))
    assert decision.action == "invoice"
    assert decision.pay is pay
    assert reason_part in decision.pay_reason


def test_offline_methods_come_from_rules() -> None:
    rules = Rules(offline_payment_methods=frozenset({"braintree"}))
    decision = decide(order("processing", invoiced="12", paid="12", amount_paid="12"), rules)
    assert decision.pay is False
    assert decide(order("processing", invoiced="12", paid="12", method="checkmo",
                        amount_paid="12"), rules).pay is True
