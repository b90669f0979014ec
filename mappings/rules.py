"""Mapping rules: the data that decides nominal codes, products, payments and customer codes.

``Rules()`` holds the built-in defaults (documented in ``mappings/default_mapping.yml``).
``load_rules(path)`` reads a YAML file over them; ``parse_rules(data, source)`` is the pure core
(the API/DB can feed it a dict). A file overrides the defaults key by key; ``payment_methods``
entries are merged over the default hints, every other key replaces its default outright.
Unknown keys are errors (a typo must not silently fall back to a default), reported as
``<file>: <key path>: <problem>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from mappings.errors import MappingError, flatten_messages

UnmappedSkuPolicy = Literal["default_nominal", "review"]
UNMAPPED_SKU_POLICIES = ("default_nominal", "review")
MAX_CUSTOMER_CODE = 20  # KashFlow customer codes; a prefix must leave room for the id/hash
GUEST_HASH_CHARS = 10  # hex chars of sha256(email): 16^10 codes, collisions negligible


@dataclass(frozen=True)
class SkuRule:
    """Where one Magento SKU posts in KashFlow."""

    nominal_code: int
    product_code: str | None = None


@dataclass(frozen=True)
class PaymentMethodRule:
    """KashFlow ids for one Magento payment method; ``None`` ids are resolved by ``method_name``."""

    method_id: int | None = None
    account_id: int | None = None
    method_name: str | None = None


CARD = "Credit/Debit Card"  # name hint: kfsync looks a KashFlow method up by this name
PAYPAL = "PayPal"

DEFAULT_OFFLINE_METHODS = frozenset(
    {"checkmo", "banktransfer", "cashondelivery", "purchaseorder", "free"}
)
DEFAULT_PAYMENT_METHODS: Mapping[str, PaymentMethodRule] = MappingProxyType(
    {
        "braintree": PaymentMethodRule(method_name=CARD),
        "stripe_payments": PaymentMethodRule(method_name=CARD),
        "authorizenet_acceptjs": PaymentMethodRule(method_name=CARD),
        "braintree_paypal": PaymentMethodRule(method_name=PAYPAL),
        "paypal_express": PaymentMethodRule(method_name=PAYPAL),
    }
)
DEFAULT_VAT_RATES = (Decimal("20"), Decimal("5"), Decimal("0"))  # UK standard, reduced, zero


def _frozen_map(values: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class Rules:
    """Every mapping decision that is data, not code. Defaults suit a UK shop on nominal 4000."""

    default_nominal_code: int = 4000
    shipping_nominal_code: int = 4000
    shipping_description: str = "Shipping"
    unmapped_sku: UnmappedSkuPolicy = "default_nominal"
    skus: Mapping[str, SkuRule] = field(default_factory=_frozen_map)
    offline_payment_methods: frozenset[str] = DEFAULT_OFFLINE_METHODS
    payment_methods: Mapping[str, PaymentMethodRule] = field(
        default_factory=lambda: DEFAULT_PAYMENT_METHODS
    )
    due_days: int = 0
    guest_code_prefix: str = "G"
    customer_code_prefix: str = "M"
    invoice_number_offset: int = 0
    # Rates a shipping line may carry when Magento sends no item_applied_taxes for it: the
    # nearest one to shipping_tax_amount / net wins (rates found on the order are added).
    vat_rates: tuple[Decimal, ...] = DEFAULT_VAT_RATES


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _int(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, **kwargs)


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

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> PaymentMethodRule:
        return PaymentMethodRule(**data)


_PREFIX = validate.Length(max=MAX_CUSTOMER_CODE - GUEST_HASH_CHARS)


class RulesSchema(_Strict):
    default_nominal_code = _int()
    shipping_nominal_code = _int()
    shipping_description = fields.String(validate=validate.Length(min=1))
    unmapped_sku = fields.String(validate=validate.OneOf(UNMAPPED_SKU_POLICIES))
    skus = fields.Dict(keys=fields.String(), values=fields.Nested(SkuRuleSchema))
    offline_payment_methods = fields.List(fields.String())
    payment_methods = fields.Dict(
        keys=fields.String(), values=fields.Nested(PaymentMethodRuleSchema)
    )
    due_days = _int(validate=validate.Range(min=0))
    guest_code_prefix = fields.String(validate=_PREFIX)
    customer_code_prefix = fields.String(validate=_PREFIX)
    invoice_number_offset = _int(validate=validate.Range(min=0))
    vat_rates = fields.List(fields.Decimal(validate=validate.Range(min=0, max=100)))


_SCHEMA = RulesSchema()


def parse_rules(data: Mapping[str, Any] | None, source: str = "mapping") -> Rules:
    """Build ``Rules`` from already-decoded config data over the defaults.

    Raises:
        MappingError: ``"<source>: <key path>: <problem>"`` for each bad key.
    """
    if data is None:
        return Rules()
    if not isinstance(data, Mapping):
        raise MappingError(f"{source}: the top level must be a mapping of keys, not a list or text")
    try:
        loaded: dict[str, Any] = _SCHEMA.load(data)
    except ValidationError as exc:
        lines = flatten_messages(_drop_dict_value_level(exc.messages))
        raise MappingError("; ".join(f"{source}: {line}" for line in lines)) from exc
    return _to_rules(loaded)


def _to_rules(loaded: dict[str, Any]) -> Rules:
    if "skus" in loaded:
        loaded["skus"] = _frozen_map(loaded["skus"])
    if "payment_methods" in loaded:
        merged = {**DEFAULT_PAYMENT_METHODS, **loaded["payment_methods"]}
        loaded["payment_methods"] = _frozen_map(merged)
    if "offline_payment_methods" in loaded:
        loaded["offline_payment_methods"] = frozenset(loaded["offline_payment_methods"])
    if "vat_rates" in loaded:
        loaded["vat_rates"] = tuple(loaded["vat_rates"])
    return Rules(**loaded)


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


def load_rules(path: str | None) -> Rules:
    """Read mapping rules from a YAML file (``None``: the built-in defaults).

    Raises:
        MappingError: unreadable file, invalid YAML, or a bad key (named with the file).
    """
    if path is None:
        return Rules()
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise MappingError(f"{path}: cannot read mapping rules: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: invalid YAML: {exc}") from exc
    return parse_rules(data, source=path)
