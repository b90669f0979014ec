"""marshmallow schema of the webhook envelope (DESIGN §6.3)."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

ORDER_TOPICS = ("order.created", "order.updated", "invoice.created", "creditmemo.created")
TOPICS = (*ORDER_TOPICS, "customer.created", "customer.updated", "stock.updated")
RESOURCE_TYPES = ("order", "invoice", "creditmemo", "customer", "product")


class ResourceSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    type = fields.String(required=True, validate=validate.OneOf(RESOURCE_TYPES))
    entity_id = fields.Integer(strict=True, validate=validate.Range(min=1))
    increment_id = fields.String(validate=validate.Length(max=64))
    updated_at = fields.String()
    sku = fields.String(validate=validate.Length(min=1, max=128))

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

    id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    topic = fields.String(required=True, validate=validate.Length(min=1, max=64))
    occurred_at = fields.AwareDateTime(required=True, default_timezone=None)
    store_id = fields.Integer(strict=True)
    resource = fields.Nested(ResourceSchema, required=True)
    data = fields.Dict(load_default=dict)
