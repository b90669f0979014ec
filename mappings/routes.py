"""Conditional routes: *when <field> <op> <value> [and ...] then <action>*, as data.

A route belongs to one node of the order flow (``workers.flowgraph`` draws them) and may only
name an action that node supports, an action the accounting rules already have:

=================  ============================================================================
node               actions
=================  ============================================================================
``decide``         ``hold_for_review`` (a human decides), ``invoice_if_invoiced`` (invoice only
                   once Magento has invoiced: ``mappings.lifecycle``'s when-to-invoice rule)
``ensure_customer`` ``use_customer`` (bill that existing KashFlow customer, by code, as the
                   shared guest customer is billed: no email link is made)
``create_invoice`` ``use_nominal`` (every item line posts on that nominal, without a product
                   code: a KashFlow product belongs to one nominal)
``post_payment``   ``skip_payment`` (the invoice stays unpaid), ``use_bank_account`` (the
                   gateway's payments go to that KashFlow bank account)
=================  ============================================================================

Fields come from a typed catalogue (``FIELDS``), each type with its own operators (``OPS``).
Values are checked and converted when the profile is read, so evaluating a route can never
fail at run time: no free code, no expressions. A route document::

    {"node": "decide", "action": "invoice_if_invoiced",
     "when": [{"field": "payment_method", "op": "is", "value": "purchaseorder"}]}

``parse_routes`` refuses, with a readable reason naming the route, an unknown field, an
operator its field's type has not, a value of the wrong type, an unknown node, an action
the node does not allow, and a missing or needless action value. Whether a nominal or a
bank account exists in KashFlow is checked against the catalogue by ``mappings.studio``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from mappings.errors import MappingError

MAX_ROUTES = 100  # a profile is read on every task: keep the list a merchant can review
MAX_CONDITIONS = 10
MAX_CHOICES = 200  # values of one "is one of"
MAX_CUSTOMER_CODE = 20  # KashFlow customer codes (``mappings.rules.MAX_CUSTOMER_CODE``)


@dataclass(frozen=True)
class FieldDef:
    """One field a condition may test: its type and what the operator reads."""

    name: str
    label: str
    type: str  # text, integer, money, boolean
    help: str
    many: bool = False  # the order has several values (one per line): any of them matches


FIELDS: Mapping[str, FieldDef] = {f.name: f for f in (
    FieldDef("store_id", "store", "integer", "Magento store id (store_id)"),
    FieldDef("customer_group_id", "customer group", "integer",
             "Magento customer group id (0 = not logged in)"),
    FieldDef("customer_is_guest", "guest checkout", "boolean", "true for a guest order"),
    FieldDef("country", "billing country", "text", "billing address country, e.g. GB"),
    FieldDef("shipping_country", "shipping country", "text", "shipping address country"),
    FieldDef("payment_method", "payment method", "text", "Magento payment method code"),
    FieldDef("shipping_method", "shipping method", "text", "Magento shipping method code"),
    FieldDef("grand_total", "grand total", "money", "grand_total, in the order currency"),
    FieldDef("currency", "currency", "text", "order currency code, e.g. EUR"),
    FieldDef("sku", "SKU", "text", "any line's SKU", many=True),
    FieldDef("product_type", "product type", "text",
             "any line's product type (simple, configurable, bundle, virtual...)", many=True),
)}

OPS: Mapping[str, tuple[str, ...]] = {
    "text": ("is", "is_not", "one_of", "not_one_of", "starts_with"),
    "integer": ("is", "is_not", "one_of", "not_one_of"),
    "money": ("is", "is_not", "above", "at_least", "below", "at_most"),
    "boolean": ("is",),
}
OP_LABELS: Mapping[str, str] = {
    "is": "is", "is_not": "is not", "one_of": "is one of", "not_one_of": "is none of",
    "starts_with": "starts with", "above": ">", "at_least": "≥", "below": "<", "at_most": "≤",
}
LIST_OPS = ("one_of", "not_one_of")

NODE_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "decide": ("hold_for_review", "invoice_if_invoiced"),
    "ensure_customer": ("use_customer",),
    "create_invoice": ("use_nominal",),
    "post_payment": ("skip_payment", "use_bank_account"),
}
ACTION_LABELS: Mapping[str, str] = {
    "hold_for_review": "hold for review",
    "invoice_if_invoiced": "invoice when Magento invoices",
    "use_customer": "bill customer",
    "use_nominal": "use nominal",
    "skip_payment": "skip payment",
    "use_bank_account": "use bank account",
}
VALUED_ACTIONS = ("use_nominal", "use_bank_account", "use_customer")  # a KashFlow id/code

Value = str | int | bool | Decimal | tuple[str, ...] | tuple[int, ...]


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Value

    def describe(self) -> str:
        shown = (", ".join(str(v) for v in self.value) if isinstance(self.value, tuple)
                 else str(self.value).lower() if isinstance(self.value, bool)
                 else str(self.value))
        return f"{FIELDS[self.field].label} {OP_LABELS[self.op]} {shown}"

    def to_document(self) -> dict[str, Any]:
        value: Any = self.value
        if isinstance(value, Decimal):
            value = format(value, "f")
        elif isinstance(value, tuple):
            value = list(value)
        return {"field": self.field, "op": self.op, "value": value}


@dataclass(frozen=True)
class Route:
    node: str
    action: str
    when: tuple[Condition, ...]
    value: int | str | None = None  # a valued action's nominal, bank account id or code

    def describe(self) -> str:
        then = ACTION_LABELS[self.action] + (f" {self.value}" if self.value is not None else "")
        return f"when {' and '.join(c.describe() for c in self.when)} then {then}"

    def to_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"node": self.node, "action": self.action,
                               "when": [c.to_document() for c in self.when]}
        if self.value is not None:
            doc["value"] = self.value
        return doc


def parse_routes(data: Any) -> tuple[Route, ...]:
    """The routes of a profile document's ``routes`` list.

    Raises:
        MappingError: every refusal, ``route N: <reason>``, joined by ``; ``.
    """
    if data is None:
        return ()
    if not isinstance(data, Sequence) or isinstance(data, str | bytes):
        raise MappingError("routes must be a list of routes")
    if len(data) > MAX_ROUTES:
        raise MappingError(f"at most {MAX_ROUTES} routes")
    routes, errors = [], []
    for n, raw in enumerate(data, start=1):
        try:
            routes.append(parse_route(raw))
        except MappingError as exc:
            errors.append(f"route {n}: {exc}")
    if errors:
        raise MappingError("; ".join(errors))
    return tuple(routes)


def parse_route(raw: Any) -> Route:
    """One route from its document.

    Raises:
        MappingError: the first thing wrong with it, as a readable reason.
    """
    if not isinstance(raw, Mapping):
        raise MappingError("a route is a mapping with node, when, action")
    unknown = sorted(set(raw) - {"node", "when", "action", "value"})
    if unknown:
        raise MappingError(f"unknown key(s) {', '.join(map(str, unknown))}")
    node, action = raw.get("node"), raw.get("action")
    if node not in NODE_ACTIONS:
        raise MappingError(f"unknown node {node!r}: routes attach to "
                           + ", ".join(NODE_ACTIONS))
    allowed = NODE_ACTIONS[str(node)]
    if action not in allowed:
        known = action in ACTION_LABELS
        raise MappingError(
            f"action {action!r} is not allowed on node {node}"
            + (f" (it belongs to {_node_of(str(action))})" if known else "")
            + f": allowed here: {', '.join(allowed)}")
    when = raw.get("when")
    if not isinstance(when, Sequence) or isinstance(when, str) or not when:
        raise MappingError("'when' needs at least one condition")
    if len(when) > MAX_CONDITIONS:
        raise MappingError(f"at most {MAX_CONDITIONS} conditions in one route")
    conditions = tuple(parse_condition(c) for c in when)
    return Route(str(node), str(action), conditions, _action_value(str(action), raw.get("value")))


def _node_of(action: str) -> str:
    return next(node for node, actions in NODE_ACTIONS.items() if action in actions)


def _action_value(action: str, value: Any) -> int | str | None:
    if action not in VALUED_ACTIONS:
        if value not in (None, ""):
            raise MappingError(f"{ACTION_LABELS[action]} takes no value")
        return None
    if action == "use_customer":
        code = value.strip() if isinstance(value, str) else ""
        if not code or len(code) > MAX_CUSTOMER_CODE or any(c.isspace() for c in code):
            raise MappingError(f"bill customer needs a KashFlow customer code (1 to "
                               f"{MAX_CUSTOMER_CODE} characters, no spaces)")
        return code
    what = "nominal code" if action == "use_nominal" else "bank account id"
    number = _integer(value)
    if number is None or number <= 0:
        raise MappingError(f"{ACTION_LABELS[action]} needs a {what} (a positive whole number)")
    return number


def parse_condition(raw: Any) -> Condition:
    """One condition, its value converted to its field's type.

    Raises:
        MappingError: unknown field, an operator the field's type has not, a bad value.
    """
    if not isinstance(raw, Mapping):
        raise MappingError("a condition is a mapping with field, op, value")
    name, op, value = raw.get("field"), raw.get("op"), raw.get("value")
    if name not in FIELDS:
        raise MappingError(f"unknown field {name!r}: use one of {', '.join(FIELDS)}")
    spec = FIELDS[str(name)]
    if op not in OPS[spec.type]:
        raise MappingError(f"operator {op!r} does not apply to {spec.label} ({spec.type}): "
                           f"use {', '.join(OPS[spec.type])}")
    return Condition(spec.name, str(op), _typed(spec, str(op), value))


def _typed(spec: FieldDef, op: str, value: Any) -> Value:
    if op in LIST_OPS:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, Sequence) or not items or len(items) > MAX_CHOICES:
            raise MappingError(f"{spec.label} {OP_LABELS[op]} needs a list of 1 to "
                               f"{MAX_CHOICES} values")
        typed = [_scalar(spec, v) for v in items]
        if spec.type == "integer":
            return tuple(int(v) for v in typed)
        return tuple(str(v) for v in typed)
    return _scalar(spec, value)


def _scalar(spec: FieldDef, value: Any) -> str | int | bool | Decimal:
    if spec.type == "integer":
        number = _integer(value)
        if number is None:
            raise MappingError(f"{spec.label} takes a whole number, not {value!r}")
        return number
    if spec.type == "money":
        amount = _money(value)
        if amount is None:
            raise MappingError(f"{spec.label} takes an amount like 250.00, not {value!r}")
        return amount
    if spec.type == "boolean":
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in ("true", "false"):
            return str(value).strip().lower() == "true"
        raise MappingError(f"{spec.label} is true or false, not {value!r}")
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) \
        else ""
    if not text:
        raise MappingError(f"{spec.label} needs a value")
    return text


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def _money(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -2:  # not finite, or below a penny
        return None
    return amount


def routes_document(routes: Sequence[Route]) -> list[dict[str, Any]]:
    """The profile document's ``routes`` list."""
    return [r.to_document() for r in routes]
