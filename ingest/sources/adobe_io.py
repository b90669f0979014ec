"""``/webhooks/adobe-io``: Adobe I/O Events for Adobe Commerce (``com.adobe.commerce.*``).

``GET ?challenge=`` answers Adobe's registration check. ``POST`` checks the RSA signatures
(``adobe_keys``), then ``recipient_client_id`` against ``KFSYNC_ADOBE_CLIENT_ID``, maps the
event type to a kfsync topic and stores it, deduplicated on Adobe's event id. Adobe retries
only 429 and 5xx, so an event we cannot store gets 503, and 2xx is sent only after commit.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ingest.app import current_settings
from ingest.safejson import BadJson, loads
from ingest.sources import adobe_keys
from ingest.sources.intake import Hint, accept, error

SOURCE = "adobe-io"
bp = Blueprint("adobe_io", __name__)
KEYS = adobe_keys.KeyCache()
CHALLENGE = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # Adobe sends a UUID; echo nothing else
ENTITY_ID = re.compile(r"[1-9][0-9]{0,11}")
TYPE_PREFIXES = ("com.adobe.commerce.observer.", "com.adobe.commerce.plugin.")
# Magento event (after the prefix) -> (kfsync topic, resource type, where the entity id is).
EVENTS: dict[str, tuple[str, str, str]] = {
    "sales_order_place_after": ("order.created", "order", "entity_id"),
    "sales_order_save_after": ("order.updated", "order", "entity_id"),
    "sales_order_save_commit_after": ("order.updated", "order", "entity_id"),
    "sales_order_invoice_save_after": ("invoice.created", "order", "order_id"),
    "sales_order_invoice_save_commit_after": ("invoice.created", "order", "order_id"),
    "sales_order_invoice_pay": ("invoice.created", "order", "order_id"),
    "sales_order_creditmemo_save_after": ("creditmemo.created", "creditmemo", "entity_id"),
    "sales_order_creditmemo_save_commit_after": ("creditmemo.created", "creditmemo",
                                                 "entity_id"),
    "customer_save_after": ("customer.updated", "customer", "entity_id"),
    "customer_save_commit_after": ("customer.updated", "customer", "entity_id"),
    "customer_register_success": ("customer.created", "customer", "entity_id"),
    "cataloginventory_stock_item_save_after": ("stock.updated", "product", "sku"),
    "cataloginventory_stock_item_save_commit_after": ("stock.updated", "product", "sku"),
}


@bp.get("/webhooks/adobe-io")
def challenge() -> tuple[Response, int]:
    value = request.args.get("challenge", "")
    if not CHALLENGE.fullmatch(value):
        return error(400, {"challenge": ["Expected Adobe's challenge value."]})
    return jsonify(challenge=value), 200


@bp.post("/webhooks/adobe-io")
def receive() -> tuple[Response, int]:
    settings = current_settings()
    if not settings.adobe_client_id:  # 503: Adobe keeps the event while this is fixed
        return error(503, {"_source": ["Adobe I/O Events is not configured "
                                       "(KFSYNC_ADOBE_CLIENT_ID)."]})
    body = request.get_data(cache=False)
    h = request.headers
    try:
        adobe_keys.verify(KEYS, settings.adobe_key_host, body, [
            (h.get("x-adobe-digital-signature-1"), h.get("x-adobe-public-key1-path")),
            (h.get("x-adobe-digital-signature-2"), h.get("x-adobe-public-key2-path"))])
    except adobe_keys.SignatureError as exc:
        return error(401, {"_signature": [str(exc)]})
    except adobe_keys.KeyUnavailable as exc:
        return error(503, {"_signature": [f"{exc}; retry later."]})
    try:
        event = loads(body)  # too deep, a lone surrogate or NUL: a 400, not a 500
    except BadJson as exc:
        return error(400, {"_body": [str(exc)]})
    if not isinstance(event, dict):
        return error(400, {"_body": ["Expected a JSON object."]})
    recipient = event.get("recipient_client_id", event.get("recipientclientid"))
    if recipient != settings.adobe_client_id:
        return error(401, {"recipient_client_id": ["Not this kfsync's client id."]})
    hint = to_hint(event, h.get("x-adobe-event-id"))
    if isinstance(hint, str):
        return jsonify(status="ignored", reason=hint), 200
    if isinstance(hint, dict):
        return error(400, hint)
    return accept(settings.database_url, hint)


def to_hint(event: dict[str, Any], header_id: str | None) -> Hint | str | dict[str, list[str]]:
    """Adobe's event as kfsync's: a ``Hint``, or why it is ignored (str), or field errors."""
    kind = str(event.get("type") or "")
    name = next((kind[len(p):] for p in TYPE_PREFIXES if kind.startswith(p)), None)
    if name is None or name not in EVENTS:
        return f"event type {kind!r} is not one kfsync syncs"
    event_id = event.get("event_id") or event.get("eventid") or event.get("id") or header_id
    if not event_id:
        return {"event_id": ["Missing data for required field."]}
    topic, resource_type, field = EVENTS[name]
    data = event.get("data")
    value = data.get("value") if isinstance(data, dict) else None
    if not isinstance(value, dict):
        return {"data.value": ["Missing; the event carries no fields."]}
    key = value.get(field)
    if key is None or str(key).strip() == "":
        return {f"data.value.{field}": [f"Missing; add {field} to the event's fields."]}
    if resource_type != "product" and not ENTITY_ID.fullmatch(str(key)):
        return {f"data.value.{field}": ["Not an entity id."]}
    increment = value.get("increment_id") if resource_type == "order" and field == "entity_id" \
        else None  # an invoice's increment id is not its order's
    return Hint(SOURCE, str(event_id), topic, resource_type, str(key).strip(),
                str(increment) if increment else None, event)
