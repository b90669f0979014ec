"""marshmallow schema of the webhook envelope (DESIGN §6.3)."""

from __future__ import annotations

import re
from datetime import datetime
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


# -- the plain envelope without marshmallow ----------------------------------------------------
# marshmallow's load was a seventh of a webhook's CPU. ``plain_envelope`` accepts only the
# plain shape every sender uses — each field of the right JSON type, no null, no extra key —
# and checks exactly what the schemas check; anything else returns None and goes through
# ``EnvelopeSchema``, which alone writes the field errors. tests/unit/ingest/test_schemas.py
# holds it to that: whatever it accepts, the schema accepts with the same values.
_ENVELOPE_KEYS = frozenset({"id", "topic", "occurred_at", "store_id", "resource", "data"})
_RESOURCE_KEYS = frozenset({"type", "entity_id", "increment_id", "updated_at", "sku"})
_ISO_AWARE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})")
_TEXT_LIMITS = {"increment_id": (0, 64), "updated_at": (0, 64), "sku": (1, 128)}


def _text_ok(value: Any, low: int, high: int) -> bool:
    return (type(value) is str and low <= len(value) <= high
            and _CONTROL.search(value) is None)


def _aware(value: Any) -> datetime | None:
    if type(value) is not str or _ISO_AWARE.fullmatch(value) is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.utcoffset() is not None else None


def _plain_resource(resource: Any) -> dict[str, Any] | None:
    if type(resource) is not dict or not resource.keys() <= _RESOURCE_KEYS:
        return None
    kind = resource.get("type")
    if kind not in RESOURCE_TYPES:
        return None
    if "entity_id" in resource:
        entity_id = resource["entity_id"]
        if type(entity_id) is not int or not 1 <= entity_id <= MAX_ENTITY_ID:
            return None
    elif kind != "product":
        return None
    for name, (low, high) in _TEXT_LIMITS.items():
        if name in resource and not _text_ok(resource[name], low, high):
            return None
    if kind == "product" and not resource.get("sku"):
        return None
    return dict(resource)


def plain_envelope(payload: dict[str, Any]) -> dict[str, Any] | None:
    """``EnvelopeSchema().load(payload)`` for the plain shape, without marshmallow; None when
    the payload is anything else (then the schema decides, and explains)."""
    if not payload.keys() <= _ENVELOPE_KEYS:
        return None
    event_id, topic = payload.get("id"), payload.get("topic")
    if not (_text_ok(event_id, 1, 128) and _text_ok(topic, 1, 64)):
        return None
    occurred = _aware(payload.get("occurred_at"))
    resource = _plain_resource(payload.get("resource"))
    if occurred is None or resource is None:
        return None
    allowed = TOPIC_TYPES.get(topic)  # type: ignore[arg-type]
    if allowed and resource["type"] not in allowed:
        return None
    out = {"id": event_id, "topic": topic, "occurred_at": occurred, "resource": resource}
    if "store_id" in payload:
        if type(payload["store_id"]) is not int:
            return None
        out["store_id"] = payload["store_id"]
    data = payload.get("data", {})
    if type(data) is not dict:
        return None
    out["data"] = dict(data)
    return out
