"""``POST /webhooks/magento``: verify, validate, store, enqueue — never call an API here.

The envelope of DESIGN §6.3, sent by kfsync's Magento module (``magento/module-kfsync``).
Storing is shared with the other sources (``ingest/sources/intake.py``): the event is
committed before the 202, so nothing accepted is lost.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import ValidationError

from ingest.app import current_settings
from ingest.safejson import BadJson, loads
from ingest.schemas import TOPICS, EnvelopeSchema, plain_envelope
from ingest.signing import SignatureError, verify
from ingest.sources.intake import Hint, accept

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)
_envelope = EnvelopeSchema()
SOURCE = "magento"


def _error(status: int, errors: dict[str, Any]) -> tuple[Response, int]:
    return jsonify(status="error", errors=errors), status


@bp.post("/webhooks/magento")
def receive() -> tuple[Response, int]:
    settings = current_settings()
    body = request.get_data(cache=False)
    try:
        verify(settings.webhook_secrets, request.headers.get("X-Kfsync-Timestamp"),
               request.headers.get("X-Kfsync-Signature"), body)
    except SignatureError as exc:
        return _error(401, {"_signature": [str(exc)]})
    try:
        payload = loads(body)
    except BadJson as exc:
        return _error(400, {"_body": [str(exc)]})
    if not isinstance(payload, dict):
        return _error(400, {"_body": ["Expected a JSON object."]})
    envelope = plain_envelope(payload)  # the usual shape, checked without marshmallow
    if envelope is None:
        try:
            envelope = _envelope.load(payload)
        except ValidationError as exc:
            return _error(400, exc.normalized_messages())  # type: ignore[no-untyped-call]
    if request.headers.get("X-Kfsync-Event-Id") != envelope["id"]:
        return _error(400, {"id": ["Does not match the X-Kfsync-Event-Id header."]})
    if envelope["topic"] not in TOPICS:
        return jsonify(status="ignored", event_id=envelope["id"]), 200
    return _store_and_enqueue(settings.database_url, envelope, payload)


def _store_and_enqueue(url: str, envelope: dict[str, Any], payload: dict[str, Any]
                       ) -> tuple[Response, int]:
    resource = envelope["resource"]
    key = resource.get("sku") if resource["type"] == "product" else resource["entity_id"]
    return accept(url, Hint(SOURCE, envelope["id"], envelope["topic"], resource["type"],
                            str(key), resource.get("increment_id"), payload), count=True)
