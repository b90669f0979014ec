"""Store one verified event and enqueue it: the shared tail of every source.

The event is committed before the 2xx, so nothing accepted is lost: if Redis does not take the
message, the row's ``enqueued_at`` is cleared and the beat relay enqueues it later; if the
process dies between the commit and the publish, the relay's lost-message rule finds it. The
unique ``(source, event_id)`` makes a repeat a ``200 duplicate``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, cast

from flask import Response, g, jsonify
from sqlalchemy import Table, bindparam, insert
from sqlalchemy.exc import IntegrityError, OperationalError

from core.metrics import WEBHOOKS, increment, webhook_labels
from core.pairs import scoped_key
from store.db import one_statement
from store.models import InboundEvent, utcnow
from workers.dispatch import publish_stored

log = logging.getLogger(__name__)
EVENTS = cast(Table, InboundEvent.__table__)
# Built once: the ORM unit of work cost a quarter of the web process's CPU per webhook.
_INSERT_EVENT = insert(EVENTS).values(
    source=bindparam("b_source"), event_id=bindparam("b_event"), topic=bindparam("b_topic"),
    resource_type=bindparam("b_type"), resource_key=bindparam("b_key"),
    increment_id=bindparam("b_increment"), payload=bindparam("b_payload"),
    received_at=bindparam("b_received"), enqueued_at=bindparam("b_enqueued"),
    pair=bindparam("b_pair"),
).returning(EVENTS.c.id)


@dataclass(frozen=True)
class Hint:
    """A source's event as kfsync's internal event: what changed, never trusted data.

    ``resource_key`` is the Magento entity id, or the SKU for ``product``.
    """

    source: str
    event_id: str
    topic: str
    resource_type: str
    resource_key: str
    increment_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    pair: str = "default"  # the integration pair it came for (core.pairs)


def _event_key(hint: Hint) -> str:
    """The stored event id: the sender's (cut to the column), ``<id>@<pair>`` for a pair
    other than ``default``, whose sender may reuse another shop's ids."""
    room = 128 if hint.pair == "default" else 127 - len(hint.pair)
    return scoped_key(hint.event_id[:room], hint.pair)


def error(status: int, errors: dict[str, Any]) -> tuple[Response, int]:
    return jsonify(status="error", errors=errors), status


def accept(url: str, hint: Hint, *, count: bool = False) -> tuple[Response, int]:
    """Commit ``hint``, then publish it: 202 accepted, 200 duplicate, 503 when unstorable.

    ``count``: the publish also counts the webhook ``accepted`` (``kfsync_webhooks``) in its
    round trip, and the after-request hook then does not (``ingest.metrics.record_webhook``).
    """
    try:
        # One Core statement on the pooled engine, committed as it returns: the ORM session
        # cost a fifth of the request's CPU, and BEGIN and COMMIT a round trip each.
        with one_statement(url) as conn:
            now = utcnow()
            row_id = int(conn.execute(_INSERT_EVENT, {
                "b_source": hint.source, "b_topic": hint.topic, "b_pair": hint.pair,
                # Two shops may use the same event ids: another pair's are kept apart.
                "b_event": _event_key(hint),
                "b_type": hint.resource_type, "b_key": hint.resource_key[:128],
                "b_increment": hint.increment_id, "b_payload": hint.payload,
                "b_received": now,
                "b_enqueued": now,  # one transaction per webhook: see publish_stored
            }).scalar_one())
    except IntegrityError:
        return jsonify(status="duplicate", event_id=hint.event_id), 200
    except OperationalError:
        log.exception("database unavailable; asking the sender to retry")
        return error(503, {"_service": ["Database unavailable; retry later."]})
    counted = [increment(WEBHOOKS, *webhook_labels("accepted", hint.pair))] if count else []
    if publish_stored(url, row_id, hint.pair, counted):
        g.kfsync_webhook_counted = bool(counted)
    return jsonify(status="accepted", event_id=hint.event_id), 202
