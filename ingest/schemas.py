"""marshmallow schema of the webhook envelope (DESIGN §6.3)."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

ORDER_TOPICS = ("order.created", "order.updated", "invoice.created", "creditmemo.created")
TOPICS = (*ORDER_TOPICS, "customer.created", "customer.updated", "stock.updated")
RESOURCE_TYPES = ("order", "invoice", "creditmemo", "customer", "product")
# The resource each known topic is about (an invoice event may name its order instead).
TOPIC_TYPES = {
    "order.created": ("order",), "order.updated": ("order",),
    "invoice.created": ("invoice", "order"), "creditmemo.created": ("creditmemo",),
    "customer.created": ("customer",), "customer.updated": ("customer",),
    "stock.updated": ("product",),
}
MAX_ENTITY_ID = 2**31 - 1  # Magento's entity ids are unsigned INT columns; ours are INT too


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def printable(value: str) -> None:
    """No control characters: PostgreSQL cannot store NUL, and no Magento id holds the rest."""
    if _CONTROL.search(value):
        raise ValidationError("Control characters are not allowed.")


def _text(min_len: int, max_len: int, **kw: Any) -> fields.String:
    return fields.String(validate=[validate.Length(min=min_len, max=max_len), printable], **kw)


class ResourceSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    type = fields.String(required=True, validate=validate.OneOf(RESOURCE_TYPES))
    entity_id = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ENTITY_ID))
    increment_id = _text(0, 64)
    updated_at = _text(0, 64)
    sku = _text(1, 128)

    @validates_schema
    def _key_present(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("type") == "product":
            if not data.get("sku"):
                raise ValidationError("Missing data for required field.", "sku")
        elif data.get("type") and "entity_id" not in data:
            raise ValidationError("Missing data for required field.", "entity_id")


class EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = _text(1, 128, required=True)
    topic = _text(1, 64, required=True)
    occurred_at = fields.AwareDateTime(required=True, default_timezone=None)
    store_id = fields.Integer(strict=True)
    resource = fields.Nested(ResourceSchema, required=True)
    data = fields.Dict(load_default=dict)

    @validates_schema
    def _topic_fits_resource(self, data: dict[str, Any], **_: Any) -> None:
        allowed = TOPIC_TYPES.get(data.get("topic", ""))
        kind = (data.get("resource") or {}).get("type")
        if allowed and kind and kind not in allowed:
            raise ValidationError(f"A {data['topic']} event is about a resource of type "
                                  f"{' or '.join(allowed)}, not {kind}.", "resource")
