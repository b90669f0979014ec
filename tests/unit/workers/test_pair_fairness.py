"""Fairness between integration pairs: each pair's events go to its own ingest queue, the
message Celery would send there; a worker consuming ``ingest`` also consumes every stored
pair's; in-flight slots cap how many of one pair's orders hold worker processes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import kfsync.cli  # noqa: F401 - registers the commands first (kfsync.cli imports them)
from core.settings import Settings
from kfsync.commands.services import with_pair_queues
from services import inflight, pairs
from tests.unit.ingest.ops_helpers import make_settings
from workers import eventmessage
from workers.app import celery_app, configure, use_broker
from workers.dispatch import publish_event


@pytest.fixture
def broker(redis_url: str) -> Iterator[redis.Redis]:
    before = celery_app.conf.broker_url
    configure(make_settings("sqlite://", redis_url))
    yield redis.Redis.from_url(redis_url)
    use_broker(before)


def popped(client: redis.Redis, queue: str) -> dict[str, Any]:
    raw = client.rpop(queue)
    assert isinstance(raw, bytes), f"nothing on {queue}"
    message: dict[str, Any] = json.loads(raw)
    return message


def test_a_pairs_event_goes_to_its_own_queue_as_celery_would_send_it(
        broker: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    celery_app.send_task(eventmessage.TASK, args=[7], queue="ingest.shopb")
    theirs = popped(broker, "ingest.shopb")
    monkeypatch.setattr(eventmessage, "traced", lambda: False)
    assert publish_event(7, pair="shopb") is True
    ours = popped(broker, "ingest.shopb")
    assert broker.llen("ingest") == 0
    assert base64.b64decode(ours["body"]) == base64.b64decode(theirs["body"])
    assert ours["properties"]["delivery_info"] == theirs["properties"]["delivery_info"]
    assert ours["headers"]["task"] == theirs["headers"]["task"] == eventmessage.TASK
    assert publish_event(8) is True  # pair default: the ingest queue, as before
    assert json.loads(base64.b64decode(popped(broker, "ingest")["body"]))[0] == [8]


def test_a_worker_on_ingest_also_takes_every_stored_pairs_queue(db_url: str) -> None:
    settings = Settings.load({"KFSYNC_DATABASE_URL": db_url,
                              "KFSYNC_PAIRS_KEY": pairs.new_key()}, env_file=None)
    assert with_pair_queues(settings, "ingest,orders") == "ingest,orders"
    pairs.add(settings, "shopb", {
        "magento_base_url": "https://b.example/rest", "kashflow_base_url": "https://k.example/v2",
        "kashflow_username": "b"}, {
        "magento_token": "t", "kashflow_password": "p", "kashflow_memorable_word": "w",
        "webhook_secrets": ["s"]}, "test")
    pairs.set_enabled(settings, "shopb", False, "test")  # accepted work still finishes
    assert with_pair_queues(settings, "ingest,orders") == "ingest,orders,ingest.shopb"
    assert with_pair_queues(settings, "orders,payments") == "orders,payments"


def test_in_flight_slots_cap_one_pair_and_free_when_given_back(redis_url: str) -> None:
    assert inflight.take(redis_url, "shopa", "t1", 2)
    assert inflight.take(redis_url, "shopa", "t2", 2)
    assert not inflight.take(redis_url, "shopa", "t3", 2)  # shopa is at its cap
    assert inflight.take(redis_url, "shopa", "t2", 2)  # a task holding one keeps it
    assert inflight.take(redis_url, "shopb", "t3", 2)  # another pair is not held back
    inflight.give_back(redis_url, "shopa", "t1")
    assert inflight.take(redis_url, "shopa", "t3", 2)
    assert inflight.in_flight(redis_url, "shopa") == 2
