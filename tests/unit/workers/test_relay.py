"""The relay's lost-message rule (``workers.maintenance.relay_pending``), on SQLite and
PostgreSQL: an event whose message was due ``LOST_AFTER_S`` ago and is still unprocessed is
sent again; one still waiting for its retry is not (``workers.dispatch.mark_retry_due``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis

from store.db import session_scope
from store.models import InboundEvent, Step, utcnow
from tests.unit.ingest.ops_helpers import make_settings
from tests.unit.workers.test_dispatch import DEAD_BROKER, queued_tasks
from workers import context
from workers.app import celery_app, configure, use_broker
from workers.catchup import record_order
from workers.dispatch import mark_retry_due, publish_chain
from workers.maintenance import LOST_AFTER_S, RELAY_GRACE_S, relay_events, relay_pending


@pytest.fixture
def broker(db_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    before = celery_app.conf.broker_url
    settings = make_settings(db_url, redis_url)
    configure(settings)
    monkeypatch.setattr(context, "base_settings", lambda: settings)  # the beat task's
    yield redis_url
    use_broker(before)


def _event(url: str, key: str, enqueued_ago: float | None, processed: bool = False) -> int:
    now = utcnow()
    with session_scope(url) as s:
        row = InboundEvent(source="magento", event_id=f"evt-{key}", topic="order.created",
                           resource_type="order", resource_key=key, payload={},
                           received_at=now - timedelta(seconds=600),
                           enqueued_at=None if enqueued_ago is None
                           else now - timedelta(seconds=enqueued_ago),
                           processed_at=now if processed else None)
        s.add(row)
        s.flush()
        return row.id


def _sent(redis_url: str) -> list[int]:
    """The event ids of the ``process_event`` messages on the ingest queue."""
    return [int(str(args[0])) for _, args in queued_tasks(redis_url, "ingest")]


def test_an_event_due_long_ago_and_unprocessed_is_sent_again_and_the_others_are_not(
        db_url: str, broker: str) -> None:
    lost = _event(db_url, "1", enqueued_ago=LOST_AFTER_S + 5)
    recent = _event(db_url, "2", enqueued_ago=LOST_AFTER_S - 10)
    _event(db_url, "3", enqueued_ago=LOST_AFTER_S + 5, processed=True)
    never_sent = _event(db_url, "4", enqueued_ago=None)
    assert relay_pending(db_url, RELAY_GRACE_S, LOST_AFTER_S) == 2
    assert sorted(_sent(broker)) == sorted([lost, never_sent])
    # marked sent now: not lost again before another LOST_AFTER_S
    assert relay_pending(db_url, RELAY_GRACE_S, LOST_AFTER_S) == 0
    assert recent not in _sent(broker)


def test_an_event_waiting_for_its_retry_is_not_lost_until_its_retry_was_due(
        db_url: str, broker: str) -> None:
    waiting = _event(db_url, "5", enqueued_ago=LOST_AFTER_S + 300)  # first sent long ago
    mark_retry_due(db_url, waiting, 120)  # its task retries in two minutes
    assert relay_pending(db_url, RELAY_GRACE_S, LOST_AFTER_S) == 0
    with session_scope(db_url) as s:  # the retry's message was due long ago: it is lost
        s.get(InboundEvent, waiting).enqueued_at = utcnow() - timedelta(  # type: ignore[union-attr]
            seconds=LOST_AFTER_S + 1)
    assert relay_pending(db_url, RELAY_GRACE_S, LOST_AFTER_S) == 1
    assert _sent(broker) == [waiting]


def test_without_the_lost_message_rule_only_events_never_sent_go(db_url: str,
                                                                  broker: str) -> None:
    _event(db_url, "6", enqueued_ago=LOST_AFTER_S + 500)
    never_sent = _event(db_url, "7", enqueued_ago=None)
    assert relay_pending(db_url, RELAY_GRACE_S, None) == 1
    assert _sent(broker) == [never_sent]


def test_nothing_is_taken_for_lost_while_a_credit_memo_chain_waits_on_its_queue(
        db_url: str, broker: str) -> None:
    """The beat task decides whether the step queues are empty: a chain waiting on
    ``refunds`` (a credit memo's) means the system is busy, not that messages were lost."""
    event = _event(db_url, "8", enqueued_ago=LOST_AFTER_S + 5)
    assert publish_chain(77, Step.CREATE_CREDIT_NOTE, False) is True
    assert relay_events.apply().result == 0
    redis.Redis.from_url(broker).delete("refunds")
    assert relay_events.apply().result == 1
    assert _sent(broker) == [event]


def test_an_order_a_poll_or_backfill_records_is_sent_or_left_for_the_relay(
        db_url: str, broker: str) -> None:
    """``record_order`` stores the event as enqueued and publishes it; when the broker does
    not answer the mark is cleared, so the relay sends it (and a second record adds none)."""
    order = {"entity_id": 501, "increment_id": "000000501", "updated_at": "2026-10-01 12:00:00"}
    assert record_order(db_url, order, "backfill", tag="backfill:test") is True
    configure(make_settings(db_url, DEAD_BROKER))
    assert record_order(db_url, {**order, "entity_id": 502}, "backfill", tag="backfill:test")
    assert record_order(db_url, order, "backfill", tag="backfill:test") is False
    configure(make_settings(db_url, broker))
    with session_scope(db_url) as s:
        marks = {e.resource_key: e.enqueued_at is not None
                 for e in s.query(InboundEvent).order_by(InboundEvent.id)}
        left = s.query(InboundEvent).filter_by(resource_key="502").one().id
    assert marks == {"501": True, "502": False}
    assert len(_sent(broker)) == 1  # 501's; 502 waits for the relay
    assert relay_pending(db_url, 0, None) == 1
    assert left in _sent(broker) and len(_sent(broker)) == 2
