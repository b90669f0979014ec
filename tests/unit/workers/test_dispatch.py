"""Publishing after commit (``workers.dispatch``): a message lands on its entity's queue of
the broker; a broker that does not answer costs a logged warning and a False, never an error
for the caller, whose committed row is what the relay or the redrive sends later."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator

import pytest
import redis

from store.models import Step
from tests.unit.ingest.ops_helpers import make_settings
from workers.app import celery_app, configure, use_broker
from workers.dispatch import publish_chain, publish_task

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def broker(redis_url: str) -> Iterator[str]:
    before = celery_app.conf.broker_url
    configure(make_settings("sqlite://", redis_url))
    yield redis_url
    use_broker(before)


def queued_tasks(redis_url: str, queue: str) -> list[tuple[str, list[object]]]:
    """The (task name, args) of the messages waiting on ``queue``."""
    client = redis.Redis.from_url(redis_url)
    found = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        body = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], body[0]))
    return found


def test_a_chain_starts_on_the_queue_of_the_jobs_step(broker: str) -> None:
    assert publish_chain(41, Step.ENSURE_CUSTOMER, True) is True
    assert queued_tasks(broker, "customers") == [("kfsync.customers.ensure_customer", [41])]
    assert publish_chain(42, Step.CREATE_CREDIT_NOTE, False) is True
    assert queued_tasks(broker, "refunds") == [("kfsync.refunds.create_credit_note", [42])]


def test_a_task_is_routed_by_its_name(broker: str) -> None:
    assert publish_task("kfsync.maintenance.refresh_catalogue", ["dashboard:ann"]) is True
    assert queued_tasks(broker, "maintenance") == [
        ("kfsync.maintenance.refresh_catalogue", ["dashboard:ann"])]


def test_a_broker_that_does_not_answer_is_a_warning_and_false(
        broker: str, caplog: pytest.LogCaptureFixture) -> None:
    configure(make_settings("sqlite://", DEAD_BROKER))
    with caplog.at_level(logging.WARNING, logger="workers.dispatch"):
        assert publish_chain(43, Step.CREATE_INVOICE, True) is False
        assert publish_task("kfsync.maintenance.refresh_catalogue", ["beat"],
                            then="the studio asks again") is False
    warnings = [r.getMessage() for r in caplog.records]
    assert "broker unavailable: job 43 at create_invoice waits for the redrive" in warnings
    assert any("refresh_catalogue" in w and "the studio asks again" in w for w in warnings)
