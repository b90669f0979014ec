"""``POST /webhooks/magento``: verify, validate, store, enqueue — never call an API here.

The envelope of DESIGN §6.3, sent by kfsync's Magento module (``magento/module-kfsync``).
``POST /webhooks/magento/<pair>`` is the same for integration pair ``<pair>``
(``services.pairs``): its own secrets verify the signature (another pair's answer 401), an
unknown or disabled pair is 404, and a ``store_id`` the pair does not serve is 422, logged.
Storing is shared with the other sources (``ingest/sources/intake.py``): the event is
committed before the 202, so nothing accepted is lost.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from marshmallow import ValidationError

from core.pairs import DEFAULT, PairError
from core.settings import Settings
from ingest.app import current_settings
from ingest.safejson import BadJson, loads
from ingest.schemas import TOPICS, EnvelopeSchema, plain_envelope
from ingest.signing import SignatureError, verify
from ingest.sources.intake import Hint, accept
from services import pairs
from services.pairs import Pair

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)
_envelope = EnvelopeSchema()
SOURCE = "magento"


def _error(status: int, errors: dict[str, Any]) -> tuple[Response, int]:
    return jsonify(status="error", errors=errors), status


@bp.post("/webhooks/magento")
@bp.post("/webhooks/magento/<pair>")
def receive(pair: str = DEFAULT) -> tuple[Response, int]:
    settings = current_settings()
    found = _pair(settings, pair)
    if not isinstance(found, Pair):
        return found
    g.kfsync_webhook_pair = found.name  # the metrics' label: a pair that exists
    body = request.get_data(cache=False)
    try:
        verify(found.settings.webhook_secrets, request.headers.get("X-Kfsync-Timestamp"),
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
    if not found.serves(envelope.get("store_id")):
        log.warning("webhook %s refused: store %s is not served by pair %s (serves %s)",
                    envelope["id"], envelope.get("store_id"), found.name, found.store_ids)
        return _error(422, {"store_id": [
            f"Store {envelope.get('store_id')} is not served by pair {found.name} (it serves "
            f"{', '.join(map(str, found.store_ids))}); send it to its own pair's path."]})
    if envelope["topic"] not in TOPICS:
        return jsonify(status="ignored", event_id=envelope["id"]), 200
    return _store_and_enqueue(settings.database_url, envelope, payload, found.name)


def _pair(settings: Settings, name: str) -> Pair | tuple[Response, int]:
    """The pair of the path (``default`` is the environment), or the 404 for a name that
    is no enabled pair (or a 503 when its secrets cannot be read: the sender retries)."""
    if name == DEFAULT:
        return pairs.default_pair(settings)
    try:
        found = pairs.load(settings, name)
    except PairError as exc:
        if "no pair named" in str(exc):
            return _error(404, {"_pair": [f"No integration pair named {name!r}."]})
        log.error("webhook for pair %s not accepted: %s", name, exc)
        return _error(503, {"_pair": ["This pair's settings cannot be read; retry later."]})
    if not found.enabled:
        return _error(404, {"_pair": [f"Integration pair {name!r} is disabled."]})
    return found


def _store_and_enqueue(url: str, envelope: dict[str, Any], payload: dict[str, Any],
                       pair: str = DEFAULT) -> tuple[Response, int]:
    resource = envelope["resource"]
    key = resource.get("sku") if resource["type"] == "product" else resource["entity_id"]
    return accept(url, Hint(SOURCE, envelope["id"], envelope["topic"], resource["type"],
                            str(key), resource.get("increment_id"), payload, pair),
                  count=True)
