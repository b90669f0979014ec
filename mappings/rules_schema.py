"""The marshmallow schema of the mapping file (``mappings.rules`` turns it into ``Rules``).

Strict: unknown keys are errors, integers must be integers, policies must be one of their
named values. Errors come back as ``<source>: <key path>: <problem>`` joined on one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from mappings.errors import MappingError, flatten_messages
from mappings.routes import parse_routes
from mappings.rules import (
    DEFAULT_CHECKS,
    GUEST_HASH_CHARS,
    LINE_PLACEHOLDERS,
    MAX_CUSTOMER_CODE,
    SEVERITIES,
    STATE_ACTIONS,
    CheckRule,
    PaymentMethodRule,
    SkuRule,
    StepToggles,
    StoreNumbering,
    SummaryRule,
)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _int(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, **kwargs)


def _one_of(*choices: str) -> fields.String:
    return fields.String(validate=validate.OneOf(choices))


def _text() -> fields.String:
    return fields.String(validate=validate.Length(min=1))


class SkuRuleSchema(_Strict):
    nominal_code = _int(required=True)
    product_code = fields.String(load_default=None, allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> SkuRule:
        return SkuRule(**data)


class PaymentMethodRuleSchema(_Strict):
    method_id = _int(load_default=None, allow_none=True)
    account_id = _int(load_default=None, allow_none=True)
    method_name = fields.String(load_default=None, allow_none=True)
    due_days = _int(load_default=None, allow_none=True, validate=validate.Range(min=0))
    invoice = fields.String(load_default=None, allow_none=True,
                            validate=validate.OneOf(("invoice", "invoice_if_invoiced")))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> PaymentMethodRule:
        return PaymentMethodRule(**data)


class StoreNumberingSchema(_Strict):
    prefix = fields.String(load_default="")
    offset = _int(load_default=0, validate=validate.Range(min=0))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> StoreNumbering:
        return StoreNumbering(**data)


class CheckRuleSchema(_Strict):
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    threshold = fields.Decimal(load_default=None, allow_none=True,
                               validate=validate.Range(min=0))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> CheckRule:
        return CheckRule(**data)


class StepTogglesSchema(_Strict):
    create_customers = fields.Boolean(load_default=True)
    post_payments = fields.Boolean(load_default=True)
    credit_notes = fields.Boolean(load_default=True)
    stock_sync = fields.Boolean(load_default=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> StepToggles:
        return StepToggles(**data)


class SummaryRuleSchema(_Strict):
    stores = fields.List(fields.String(validate=validate.Regexp(r"^(\d+|\*)$")))
    payment_methods = fields.List(_text())
    per_order_customer_groups = fields.List(_int(validate=validate.Range(min=0)))
    per_order_payment_methods = fields.List(_text())
    customer_code_prefix = fields.String(validate=validate.Length(min=1, max=8))
    customer_name = _text()
    invoice_number_offset = _int(validate=validate.Range(min=1))
    credit_note_number_offset = _int(validate=validate.Range(min=1))
    rounding_nominal_code = _int(allow_none=True)
    close_after_minutes = _int(validate=validate.Range(min=0))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> SummaryRule:
        loaded: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                  for k, v in data.items()}
        return SummaryRule(**loaded)


def check_template(text: str) -> None:
    """A description template may use only ``LINE_PLACEHOLDERS``, in ``{name}`` form."""
    import string

    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValidationError(f"not a valid template: {exc}") from exc
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in LINE_PLACEHOLDERS or spec or conversion:
            raise ValidationError(
                f"unknown placeholder {{{name}}}: use only "
                + ", ".join("{" + p + "}" for p in LINE_PLACEHOLDERS))


class RoutesField(fields.Field[Any]):
    """The ``routes`` list (``mappings.routes``): each refusal names its route."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            return parse_routes(value)
        except MappingError as exc:
            raise ValidationError(str(exc).split("; ")) from exc


_PREFIX = validate.Length(max=MAX_CUSTOMER_CODE - GUEST_HASH_CHARS)
_ACTIONS = fields.String(validate=validate.OneOf(STATE_ACTIONS))
_PERCENT = fields.Decimal(validate=validate.Range(min=0, max=100))


def _table(values: fields.Field[Any]) -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=values)


class RulesSchema(_Strict):
    default_nominal_code = _int()
    shipping_nominal_code = _int()
    shipping_description = _text()
    discounts = _one_of("reduce_lines", "discount_line")
    discount_nominal_code = _int()
    discount_description = _text()
    unit_price_rounding = _one_of("rounding_line", "split")
    rounding_nominal_code = _int(allow_none=True)
    rounding_description = _text()
    unmapped_sku = _one_of("default_nominal", "review")
    create_missing_products = fields.Boolean()
    unmapped_payment_method = _one_of("card", "no_payment", "review")
    invalid_lines = _one_of("hold_order", "skip_line")
    skus = _table(fields.Nested(SkuRuleSchema))
    vat_levels = _table(_PERCENT)
    offline_payment_methods = fields.List(fields.String())
    payment_methods = _table(fields.Nested(PaymentMethodRuleSchema))
    tenders = fields.Dict(keys=fields.String(validate=validate.OneOf(
        ("store_credit", "gift_card", "reward_points"))),
        values=fields.Nested(PaymentMethodRuleSchema))
    state_actions = _table(_ACTIONS)
    status_actions = _table(_ACTIONS)
    unknown_state = _ACTIONS
    due_days = _int(validate=validate.Range(min=0))
    due_from = _one_of("issued", "month_end")
    guest_policy = _one_of("per_email", "shared")
    shared_guest_code = fields.String(validate=validate.Length(min=1, max=MAX_CUSTOMER_CODE))
    shared_guest_name = _text()
    guest_code_prefix = fields.String(validate=_PREFIX)
    customer_code_prefix = fields.String(validate=_PREFIX)
    invoice_number_offset = _int(validate=validate.Range(min=0))
    credit_note_number_offset = _int(validate=validate.Range(min=0))
    on_cancel_after_invoice = _one_of("credit", "review")
    cancel_note_number_offset = _int(validate=validate.Range(min=0))
    edit_number_offset = _int(validate=validate.Range(min=1))
    stores = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^\d+$")),
                         values=fields.Nested(StoreNumberingSchema))
    line_description = fields.String(validate=[validate.Length(min=1), check_template])
    steps = fields.Nested(StepTogglesSchema)
    checks = fields.Dict(keys=fields.String(validate=validate.OneOf(tuple(DEFAULT_CHECKS))),
                         values=fields.Nested(CheckRuleSchema))
    routes = RoutesField()
    summary = fields.Nested(SummaryRuleSchema)


_SCHEMA = RulesSchema()


def load_fields(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Validate the mapping file's data; the loaded values by key.

    Raises:
        MappingError: every bad key as ``<source>: <key path>: <problem>``, joined by ``; ``.
    """
    try:
        loaded: dict[str, Any] = _SCHEMA.load(data)
    except ValidationError as exc:
        lines = flatten_messages(_drop_dict_value_level(exc.messages))
        raise MappingError("; ".join(f"{source}: {line}" for line in lines)) from exc
    return loaded


def _drop_dict_value_level(messages: Any) -> Any:
    """marshmallow reports dict entries as ``{key: {"value": {...}}}``: keep ``{key: {...}}``."""
    if not isinstance(messages, Mapping):
        return messages
    out: dict[Any, Any] = {}
    for name, value in messages.items():
        if isinstance(value, Mapping) and value and set(value) <= {"key", "value"}:
            value = value.get("key") or value.get("value")  # a bad key hides its value's errors
        out[name] = _drop_dict_value_level(value)
    return out
