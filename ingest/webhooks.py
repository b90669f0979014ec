"""``POST /webhooks/magento``: verify, validate, store, enqueue — never call an API here.

The event is committed before the 202, so nothing accepted is lost: if Redis does not take
the message, the row's ``enqueued_at`` is cleared and the beat relay enqueues it later; if the
process dies between the commit and the publish, the relay's lost-message rule finds it.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from flask import Blueprint, Response, jsonify, request
from marshmallow import ValidationError
from sqlalchemy import Table, bindparam, insert
from sqlalchemy.exc import IntegrityError, OperationalError

from ingest.app import current_settings
from ingest.safejson import BadJson, loads
from ingest.schemas import TOPICS, EnvelopeSchema
from ingest.signing import SignatureError, verify
from store.db import session_scope
from store.models import InboundEvent, utcnow
from workers.dispatch import publish_event, unmark_enqueued

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)
_envelope = EnvelopeSchema()
SOURCE = "magento"
EVENTS = cast(Table, InboundEvent.__table__)
# Built once: the ORM unit of work cost a quarter of the web process's CPU per webhook.
_INSERT_EVENT = insert(EVENTS).values(
    source=bindparam("b_source"), event_id=bindparam("b_event"), topic=bindparam("b_topic"),
    resource_type=bindparam("b_type"), resource_key=bindparam("b_key"),
    increment_id=bindparam("b_increment"), payload=bindparam("b_payload"),
    received_at=bindparam("b_received"), enqueued_at=bindparam("b_enqueued"),
).returning(EVENTS.c.id)


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
    try:
        with session_scope(url) as s:
            now = utcnow()
            row_id = int(s.execute(_INSERT_EVENT, {
                "b_source": SOURCE, "b_event": envelope["id"], "b_topic": envelope["topic"],
                "b_type": resource["type"], "b_key": str(key),
                "b_increment": resource.get("increment_id"), "b_payload": payload,
                "b_received": now,
                "b_enqueued": now,  # one transaction per webhook: see unmark_enqueued
            }).scalar_one())
    except IntegrityError:
        return jsonify(status="duplicate", event_id=envelope["id"]), 200
    except OperationalError:
        log.exception("database unavailable; asking the sender to retry")
        return _error(503, {"_service": ["Database unavailable; retry later."]})
    if not publish_event(row_id):
        unmark_enqueued(url, row_id)
    return jsonify(status="accepted", event_id=envelope["id"]), 202
