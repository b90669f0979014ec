"""Apply the profile's routes (``mappings.routes``) to one order: the effective decisions.

``route(order, rules)`` evaluates every route against the order and returns what the
matching ones decide, each with the reason the job page and the preview show
(``route 2: when payment method is purchaseorder then invoice when Magento invoices``). The
first matching route of each action wins; routes of different actions combine. The callers:

- ``mappings.lifecycle.decide``: ``hold_for_review`` and ``invoice_if_invoiced``;
- ``workers.customers.ensure_customer`` (and the preview): ``use_customer``;
- ``mappings.lines``: ``use_nominal`` on the item lines;
- ``mappings.lifecycle.payment_decision`` / ``gateway_decision``, ``mappings.captures`` and
  ``mappings.orders``: ``skip_payment`` and ``use_bank_account``.

So the worker, the studio's preview and its impact all take the same path for an order.
Evaluation cannot fail: values were typed when the profile was read, and a field the order
lacks (no shipping address, no payment) simply does not match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from mappings.magento import Order
from mappings.routes import Condition, Route, Value
from mappings.rules import Rules


@dataclass(frozen=True)
class Routed:
    """What the matching routes decide for one order: per action, the route's reason."""

    reasons: dict[str, str] = field(default_factory=dict)  # action -> "route N: ..."
    values: dict[str, int | str] = field(default_factory=dict)  # valued action -> its id
    matched: tuple[int, ...] = ()  # 1-based numbers of the matching routes

    def says(self, action: str) -> str | None:
        """The reason of the route deciding ``action``, or None when none does."""
        return self.reasons.get(action)

    def number(self, action: str) -> int | None:
        """The id a valued action names (nominal code, bank account), or None."""
        value = self.values.get(action)
        return value if isinstance(value, int) else None

    def text(self, action: str) -> str | None:
        """The code a valued action names (a customer code), or None."""
        value = self.values.get(action)
        return value if isinstance(value, str) else None


NO_ROUTE = Routed()


def route(order: Order, rules: Rules) -> Routed:
    """The routes of ``rules`` that match ``order`` and what they decide."""
    if not rules.routes:
        return NO_ROUTE
    reasons: dict[str, str] = {}
    values: dict[str, int | str] = {}
    matched = []
    for n, candidate in enumerate(rules.routes, start=1):
        if not matches(candidate, order):
            continue
        matched.append(n)
        if candidate.action in reasons:
            continue  # an earlier route decided it
        reasons[candidate.action] = f"route {n}: {candidate.describe()}"
        if candidate.value is not None:
            values[candidate.action] = candidate.value
    return Routed(reasons, values, tuple(matched))


def matches(candidate: Route, order: Order) -> bool:
    """Every condition of the route holds for the order."""
    return all(holds(c, order) for c in candidate.when)


def holds(condition: Condition, order: Order) -> bool:
    """One condition: for a many-valued field (SKU), any of the order's values."""
    found = field_values(condition.field, order)
    if condition.op in ("is_not", "not_one_of"):
        return all(_compare(condition.op, v, condition.value) for v in found)
    return any(_compare(condition.op, v, condition.value) for v in found)


def field_values(name: str, order: Order) -> tuple[object, ...]:
    """The order's values of field ``name`` (empty when it has none)."""
    one: object
    if name == "sku":
        return tuple(i.sku for i in order.items)
    if name == "product_type":
        return tuple(i.product_type for i in order.items)
    if name == "country":
        one = order.billing_address.country_id if order.billing_address else None
    elif name == "shipping_country":
        one = order.shipping_address.country_id if order.shipping_address else None
    elif name == "payment_method":
        one = order.payment.method if order.payment else None
    elif name == "currency":
        one = order.order_currency_code
    else:  # store_id, customer_group_id, customer_is_guest, shipping_method, grand_total
        one = getattr(order, name)
    return () if one is None else (one,)


def _compare(op: str, actual: object, wanted: Value) -> bool:
    if isinstance(wanted, tuple):
        inside = any(_same(actual, w) for w in wanted)
        return inside if op == "one_of" else not inside
    if op == "is":
        return _same(actual, wanted)
    if op == "is_not":
        return not _same(actual, wanted)
    if op == "starts_with":
        return str(actual).casefold().startswith(str(wanted).casefold())
    if not isinstance(actual, Decimal) or not isinstance(wanted, Decimal):
        return False
    return {"above": actual > wanted, "at_least": actual >= wanted,
            "below": actual < wanted, "at_most": actual <= wanted}[op]


def _same(actual: object, wanted: object) -> bool:
    """Text compares without case or surrounding spaces (``GB`` = ``gb``); others exactly."""
    if isinstance(actual, str) and isinstance(wanted, str):
        return actual.strip().casefold() == wanted.strip().casefold()
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return actual is wanted
    return actual == wanted
