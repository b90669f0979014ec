"""``workers.eventmessage``: the webhook's ``process_event`` message, pushed without Celery's
producer, is the message Celery itself pushes (so a Celery or kombu upgrade that changes the
format fails here), and a worker's view of it — task, args, queue — is the same."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.unit.ingest.ops_helpers import make_settings
from workers import eventmessage
from workers.app import celery_app, configure, use_broker
from workers.dispatch import publish_event

# Fresh per message (ids), or per process in Celery's own way (reply_to: a result queue
# kfsync never reads, its task results being ignored).
SENTRY_HEADERS = ("sentry-trace", "baggage", "sentry-task-enqueued-time", "headers")
PER_MESSAGE = {("headers", "id"), ("headers", "root_id"), ("properties", "correlation_id"),
               ("properties", "delivery_tag"), ("properties", "reply_to")}


@pytest.fixture
def broker(redis_url: str) -> Iterator[redis.Redis]:
    before = celery_app.conf.broker_url
    configure(make_settings("sqlite://", redis_url))
    client = redis.Redis.from_url(redis_url)
    yield client
    use_broker(before)


def popped(client: redis.Redis, queue: str) -> dict[str, Any]:
    raw = client.rpop(queue)
    assert isinstance(raw, bytes)
    message = json.loads(raw)
    assert isinstance(message, dict)
    return message


def test_the_pushed_message_is_the_one_celery_sends(broker: redis.Redis,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    celery_app.send_task(eventmessage.TASK, args=[7])
    theirs = popped(broker, "ingest")
    # Sentry's trace headers, when an earlier test of this process started sentry-sdk
    for key in SENTRY_HEADERS:
        theirs["headers"].pop(key, None)
    monkeypatch.setattr(eventmessage, "traced", lambda: False)
    assert publish_event(7) is True
    ours = popped(broker, "ingest")
    assert broker.llen("ingest") == 0
    assert ours.keys() == theirs.keys()
    assert base64.b64decode(ours["body"]) == base64.b64decode(theirs["body"])
    for part in ("headers", "properties"):
        assert ours[part].keys() == theirs[part].keys()
        for key, value in theirs[part].items():
            if (part, key) not in PER_MESSAGE:
                assert ours[part][key] == value, (part, key)
    rest = {k: v for k, v in theirs.items() if k not in ("body", "headers", "properties")}
    assert {k: ours[k] for k in rest} == rest
    headers = ours["headers"]
    assert headers["root_id"] == headers["id"] == ours["properties"]["correlation_id"]


@pytest.mark.parametrize("sentry_on", [False, True])
def test_increments_are_written_with_the_message(broker: redis.Redis, sentry_on: bool,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """One round trip; with Sentry on, through ``send_task`` (its trace headers) and then."""
    monkeypatch.setattr(eventmessage, "traced", lambda: sentry_on)
    eventmessage.push(8, [("kfsync:metrics:test", "accepted", 1.0)] * 2)
    body = json.loads(base64.b64decode(popped(broker, "ingest")["body"]))
    assert body[0] == [8]
    assert broker.hget("kfsync:metrics:test", "accepted") == b"2"
    broker.delete("kfsync:metrics:test")


def test_a_dead_broker_is_false(broker: redis.Redis) -> None:
    configure(make_settings("sqlite://", "redis://127.0.0.1:1/0"))
    assert publish_event(9) is False
