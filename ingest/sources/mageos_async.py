"""``POST /webhooks/mageos-async``: Mage-OS Async Events (``mage-os/mageos-async-events``).

The sender signs the JSON body with the subscription's verification token:
``x-magento-signature`` = hex HMAC-SHA256(token, body); several tokens may be configured
(``KFSYNC_MAGEOS_TOKENS``, comma-separated: one per subscription, or two during a change).
There is no timestamp and no event id (its delivery UUID is made after the POST), so an
event's id here is a hash of its entity, ``updated_at`` and body: a retry of the same
delivery is a duplicate, a later change of the record is a new event.

The event name comes from the body's CloudEvents ``type`` (Mage-OS 4+) or, for senders that
post only ``{"data": ...}``, from the recipient URL: ``/webhooks/mageos-async?event=<name>``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ingest.app import current_settings
from ingest.safejson import BadJson, loads
from ingest.sources.intake import Hint, accept, error

SOURCE = "mageos-async"
bp = Blueprint("mageos_async", __name__)
ENTITY_ID = re.compile(r"[1-9][0-9]{0,11}")
# Mage-OS event name -> (kfsync topic, resource type, where the entity id is).
EVENTS: dict[str, tuple[str, str, str]] = {
    "sales.order.created": ("order.created", "order", "entity_id"),
    "sales.order.updated": ("order.updated", "order", "entity_id"),
    "sales.order.paid": ("order.updated", "order", "entity_id"),
    "sales.order.shipped": ("order.updated", "order", "entity_id"),
    "sales.order.cancelled": ("order.updated", "order", "entity_id"),
    "sales.invoice.created": ("invoice.created", "order", "order_id"),
    "sales.invoice.paid": ("invoice.created", "order", "order_id"),
    "sales.creditmemo.created": ("creditmemo.created", "creditmemo", "entity_id"),
    "customer.created": ("customer.created", "customer", "id"),
    "customer.updated": ("customer.updated", "customer", "id"),
}


def signature_matches(tokens: tuple[str, ...], body: bytes, offered: str | None) -> bool:
    """Constant-time check of ``offered`` against every token (all compared, always)."""
    matched = False
    for token in tokens:
        good = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
        matched |= hmac.compare_digest((offered or "").strip().lower().encode(), good.encode())
    return matched


@bp.post("/webhooks/mageos-async")
def receive() -> tuple[Response, int]:
    settings = current_settings()
    if not settings.mageos_tokens:  # 5xx: Mage-OS retries while this is fixed
        return error(503, {"_source": ["Mage-OS Async Events is not configured "
                                       "(KFSYNC_MAGEOS_TOKENS)."]})
    body = request.get_data(cache=False)
    if not signature_matches(settings.mageos_tokens, body,
                             request.headers.get("x-magento-signature")):
        return error(401, {"_signature": ["x-magento-signature missing or does not match"]})
    try:
        event = loads(body)  # too deep, a lone surrogate or NUL: a 400, not a 500
    except BadJson as exc:
        return error(400, {"_body": [str(exc)]})
    if not isinstance(event, dict):
        return error(400, {"_body": ["Expected a JSON object."]})
    hint = to_hint(event, request.args.get("event"), body)
    if isinstance(hint, str):
        return jsonify(status="ignored", reason=hint), 200
    if isinstance(hint, dict):
        return error(400, hint)
    return accept(settings.database_url, hint)


def to_hint(event: dict[str, Any], url_name: str | None, body: bytes
            ) -> Hint | str | dict[str, list[str]]:
    """Mage-OS's event as kfsync's: a ``Hint``, or why it is ignored (str), or field errors."""
    name = str(event.get("type") or url_name or "")
    if not name:
        return {"type": ["No event name: use ?event=<name> in the subscription's URL."]}
    if name not in EVENTS:
        return f"event {name!r} is not one kfsync syncs"
    topic, resource_type, field = EVENTS[name]
    data = event.get("data")
    key = data.get(field) if isinstance(data, dict) else None
    if key is None or not ENTITY_ID.fullmatch(str(key)):
        return {f"data.{field}": ["Missing or not an entity id."]}
    assert isinstance(data, dict)
    updated_at = str(data.get("updated_at") or "")
    digest = hashlib.sha256(body).hexdigest()
    event_id = f"{resource_type}:{key}:{updated_at}:{digest}"[:128]
    increment = data.get("increment_id") if field == "entity_id" else None
    return Hint(SOURCE, event_id, topic, resource_type, str(key),
                str(increment) if increment else None, event)
