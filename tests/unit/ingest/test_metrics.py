"""``/metrics`` on real Redis and both databases: recorded series and scrape-time gauges."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis
import simplejson
from flask.testing import FlaskClient

from connectors.ratelimit import TokenBucket
from core import metrics
from core.metrics import RECORDED, WEBHOOKS, Recorder, recorder
from ingest.signing import signed_headers
from store.models import JobState
from tests.unit.ingest.ops_helpers import add_job, dead_job, make_app

SECRET = "whsec-new-4b7a9f"  # one of ops_helpers.SECRETS


def scrape(client: FlaskClient) -> str:
    reply = client.get("/metrics")
    assert reply.status_code == 200 and reply.mimetype == "text/plain"
    return reply.get_data(as_text=True)


def webhook(client: FlaskClient, event_id: str, secret: str = SECRET) -> int:
    body = simplejson.dumps({"id": event_id, "topic": "order.created",
                             "occurred_at": "2026-11-24T10:00:03Z",
                             "resource": {"type": "order", "entity_id": 5}}).encode()
    return client.post("/webhooks/magento", data=body,
                       headers=signed_headers(secret, event_id, body)).status_code


def test_webhook_outcomes_are_counted(db_url: str, redis_url: str) -> None:
    client = make_app(db_url, redis_url).test_client()
    assert webhook(client, "e1") == 202
    assert webhook(client, "e1") == 200
    assert webhook(client, "e2", secret="wrong") == 401
    text = scrape(client)
    for outcome in ("accepted", "duplicate", "unauthorized"):
        assert f'kfsync_webhooks_total{{outcome="{outcome}",pair="default"}} 1.0' in text


def test_jobs_letters_queues_and_circuit_are_read_at_scrape(db_url: str, redis_url: str) -> None:
    client = make_app(db_url, redis_url).test_client()
    add_job(db_url, 1)
    add_job(db_url, 2, state=JobState.NEEDS_REVIEW)
    dead_job(db_url, 3, error_class="auth")
    text = scrape(client)
    assert 'kfsync_jobs{pair="default",state="done"} 1.0' in text
    assert 'kfsync_jobs{pair="default",state="needs_review"} 1.0' in text
    assert 'kfsync_jobs{pair="default",state="dead"} 1.0' in text
    assert 'kfsync_dead_letters_open{error_class="auth",pair="default"} 1.0' in text
    assert 'kfsync_queue_length{queue="dead_letter"} 0.0' in text
    assert 'kfsync_circuit_open{pair="default",system="kashflow"} 0.0' in text


def test_api_calls_durations_and_rate_limit_waits(db_url: str, redis_url: str) -> None:
    client = make_app(db_url, redis_url).test_client()
    rec = recorder(redis_url)
    rec.api_call("kashflow", "POST", "/invoices", 201, 0.12)
    rec.api_call("kashflow", "POST", "/invoices", None, 30.0)
    rec.task_finished("kfsync.orders.create_invoice", "SUCCESS", 0.3)
    bucket = TokenBucket(redis_url, "kfsync:test:bucket", rate=50, burst=1,
                         on_wait=rec.rate_limit_wait)
    bucket.acquire()
    waited = bucket.acquire()  # the bucket is empty: this one waits ~20 ms
    assert waited > 0
    text = scrape(client)
    assert ('kfsync_api_calls_total{method="POST",pair="default",status="201",'
            'system="kashflow"} 1.0') in text
    assert ('kfsync_api_calls_total{method="POST",pair="default",status="none",'
            'system="kashflow"} 1.0') in text
    assert ('kfsync_api_call_duration_seconds_bucket{le="0.25",pair="default",'
            'system="kashflow"} 1.0') in text
    assert 'kfsync_api_call_duration_seconds_count{pair="default",system="kashflow"} 2.0' in text
    assert ('kfsync_task_duration_seconds_count{pair="default",state="SUCCESS",'
            'task="kfsync.orders.create_invoice"} 1.0') in text
    assert 'kfsync_rate_limit_waits_total{pair="default",system="kashflow"} 1.0' in text


# -- held events (Celery workers: one round trip per task) -------------------------------------
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connection refused


def an_order(rec: Recorder) -> None:
    """An order's metrics. Durations are binary fractions: summed in Python or by Redis, the
    totals are the same to the last bit, so the two ways can be compared exactly."""
    rec.api_call("magento", "GET", "/orders/5", 200, 0.125)
    for seconds in (0.25, 0.5, 0.25):
        rec.api_call("kashflow", "POST", "/invoices", 201, seconds)
    rec.rate_limit_wait(0.0625)
    rec.task_finished("kfsync.orders.create_invoice", "SUCCESS", 1.5)


def stored(redis_url: str) -> dict[str, dict[str, float]]:
    """Every recorded metric's fields in Redis, as the ``/metrics`` collector reads them."""
    reader = Recorder(redis_url)
    return {m.name: fields for m in RECORDED if (fields := reader.read(m))}


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts pipelines executed against Redis (each one round trip); the commands still run."""
    calls: list[int] = []
    execute = redis.client.Pipeline.execute

    def counted(pipe: redis.client.Pipeline, *args: object, **kwargs: object) -> object:
        calls.append(len(pipe))
        return execute(pipe, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(redis.client.Pipeline, "execute", counted)
    return calls


@pytest.fixture
def held(redis_url: str) -> Iterator[Recorder]:
    """A recorder of its own holding this thread's events (the shared one stays unheld)."""
    rec = Recorder(redis_url)
    rec.hold()
    yield rec
    rec.flush()


def test_held_events_reach_redis_at_flush_and_scrape_as_if_written_at_once(
        db_url: str, redis_url: str) -> None:
    client = make_app(db_url, redis_url).test_client()
    rec = Recorder(redis_url)
    an_order(rec)
    at_once, at_once_text = stored(redis_url), scrape(client)
    redis.Redis.from_url(redis_url).flushdb()

    rec.hold()
    an_order(rec)
    assert stored(redis_url) == {}
    rec.flush()
    assert stored(redis_url) == at_once
    text = scrape(client)
    assert text == at_once_text
    assert ('kfsync_api_calls_total{method="POST",pair="default",status="201",'
            'system="kashflow"} 3.0') in text
    assert ('kfsync_api_call_duration_seconds_bucket{le="0.25",pair="default",'
            'system="kashflow"} 2.0') in text
    assert 'kfsync_api_call_duration_seconds_sum{pair="default",system="kashflow"} 1.0' in text
    assert 'kfsync_rate_limit_wait_seconds_total{pair="default",system="kashflow"} 0.0625' in text
    rec.api_call("magento", "GET", "/orders/5", 200, 0.125)  # the flush ended the hold
    assert stored(redis_url)["kfsync_api_calls"]["magento\x1fGET\x1f200\x1fdefault"] == 2.0


def test_an_order_held_is_one_round_trip_instead_of_one_or_two_per_event(
        redis_url: str, round_trips: list[int]) -> None:
    rec = Recorder(redis_url)
    an_order(rec)
    assert len(round_trips) == 2 * 4 + 2 + 1  # inc + observe per call, 2 incs, 1 observe
    round_trips.clear()
    rec.hold()
    an_order(rec)
    rec.flush()
    fields = sum(len(f) for f in stored(redis_url).values())
    assert round_trips == [fields] == [14]  # one HINCRBYFLOAT per field, amounts summed


def test_unheld_events_are_written_at_once_and_an_empty_flush_costs_nothing(
        redis_url: str, round_trips: list[int]) -> None:
    rec = Recorder(redis_url)
    rec.webhook("accepted")
    assert stored(redis_url) == {"kfsync_webhooks": {"accepted": 1.0}}
    round_trips.clear()
    rec.flush()
    rec.hold()
    rec.flush()
    assert round_trips == []


def test_a_hold_keeps_back_only_its_own_thread_s_events(held: Recorder, redis_url: str) -> None:
    held.webhook("mine")

    def other_thread() -> None:
        held.webhook("theirs")  # not held here: written at once
        held.flush()  # flushes this thread's (empty) buffer, not the holding thread's

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert stored(redis_url) == {"kfsync_webhooks": {"theirs": 1.0}}
    held.webhook("mine")  # still held after the other thread's flush
    held.flush()
    assert stored(redis_url) == {"kfsync_webhooks": {"theirs": 1.0, "mine": 2.0}}


def test_a_full_buffer_is_written_out_and_the_hold_goes_on(held: Recorder,
                                                           redis_url: str) -> None:
    def webhooks() -> dict[str, float]:
        return stored(redis_url).get("kfsync_webhooks", {})

    for i in range(metrics.MAX_HELD_FIELDS - 1):
        held.webhook(f"outcome-{i}")
    held.webhook("outcome-0")  # an existing field: the buffer does not grow
    assert webhooks() == {}
    held.webhook("one-too-many")
    assert len(webhooks()) == metrics.MAX_HELD_FIELDS and webhooks()["outcome-0"] == 2.0
    held.webhook("after")
    assert "after" not in webhooks()
    held.flush()
    assert webhooks()["after"] == 1.0


def test_an_old_buffer_is_written_out_at_the_next_event(
        held: Recorder, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "MAX_HOLD_S", 0.05)
    held.webhook("first")
    time.sleep(0.06)
    assert stored(redis_url) == {}  # nothing is written between events
    held.webhook("second")
    assert stored(redis_url) == {"kfsync_webhooks": {"first": 1.0, "second": 1.0}}
    held.webhook("third")  # a fresh buffer, a fresh age
    assert "third" not in stored(redis_url)["kfsync_webhooks"]


@pytest.mark.parametrize("record", [an_order, lambda rec: rec.inc(WEBHOOKS, "x")])
def test_flush_while_redis_is_down_drops_the_events_without_raising(
        record: Callable[[Recorder], None], caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder(DEAD_REDIS_URL)
    rec.hold()
    record(rec)
    with caplog.at_level(logging.WARNING, logger="core.metrics"):
        rec.flush()
        rec.flush()  # the buffer went with the failed write: nothing is retried
        record(rec)  # no longer held, and within the back-off: dropped without a call
    assert caplog.text.count("metrics not recorded (Redis: ConnectionError)") == 1


def test_metrics_carry_the_pair_the_work_was_for(db_url: str, redis_url: str) -> None:
    """Calls and tasks of pair shopb are counted apart from default's; series written before
    the pair label existed read as pair "default" and add up with the new ones."""
    from core import pairs

    client = make_app(db_url, redis_url).test_client()
    rec = recorder(redis_url)
    rec.api_call("kashflow", "POST", "/invoices", 201, 0.12)
    with pairs.scope("shopb"):
        rec.api_call("kashflow", "POST", "/invoices", 201, 0.12)
        rec.api_call("kashflow", "POST", "/invoices", 201, 0.12)
        rec.rate_limit_wait(0.5)
    rec.task_finished("kfsync.events.process_event", "SUCCESS", 0.3, "shopb")
    old = redis.Redis.from_url(redis_url)  # as an older kfsync wrote them: no pair label
    old.hincrbyfloat("kfsync:metrics:kfsync_api_calls", "kashflow\x1fPOST\x1f201", 4)
    old.hincrbyfloat("kfsync:metrics:kfsync_api_call_duration_seconds",
                     "kashflow\x1e0.25", 1)
    old.hincrbyfloat("kfsync:metrics:kfsync_api_call_duration_seconds", "kashflow\x1ecount", 1)
    text = scrape(client)
    assert ('kfsync_api_calls_total{method="POST",pair="shopb",status="201",'
            'system="kashflow"} 2.0') in text
    assert ('kfsync_api_calls_total{method="POST",pair="default",status="201",'
            'system="kashflow"} 5.0') in text  # 1 new + 4 old
    assert 'kfsync_api_call_duration_seconds_count{pair="default",system="kashflow"} 2.0' in text
    assert 'kfsync_api_call_duration_seconds_count{pair="shopb",system="kashflow"} 2.0' in text
    assert 'kfsync_rate_limit_waits_total{pair="shopb",system="kashflow"} 1.0' in text
    assert ('kfsync_task_duration_seconds_count{pair="shopb",state="SUCCESS",'
            'task="kfsync.events.process_event"} 1.0') in text


def test_the_gauges_count_per_pair(db_url: str, redis_url: str) -> None:
    """Jobs, open dead letters (a job's, or an event's that never became a job), each pair's
    ingest queue and each pair's KashFlow circuit, labelled with the pair."""
    from core import pairs as scope
    from services import circuit, pairs
    from tests.unit.ingest.ops_helpers import add_event_letter, add_pair, make_settings

    key = pairs.new_key()
    add_pair(make_settings(db_url, redis_url, KFSYNC_PAIRS_KEY=key), "shopb")
    add_job(db_url, 1)
    add_job(db_url, 1, pair="shopb")
    dead_job(db_url, 2, pair="shopb", error_class="auth")
    add_event_letter(db_url, "shopb")
    redis.Redis.from_url(redis_url).rpush("ingest.shopb", "m1", "m2")
    with scope.scope("shopb"):
        circuit.trip(redis_url, "KashFlow refused the login")
    text = scrape(make_app(db_url, redis_url, KFSYNC_PAIRS_KEY=key).test_client())
    assert 'kfsync_jobs{pair="default",state="done"} 1.0' in text
    assert 'kfsync_jobs{pair="shopb",state="done"} 1.0' in text
    assert 'kfsync_jobs{pair="shopb",state="dead"} 1.0' in text
    assert 'kfsync_jobs{pair="default",state="dead"} 0.0' in text
    assert 'kfsync_dead_letters_open{error_class="auth",pair="shopb"} 1.0' in text
    assert 'kfsync_dead_letters_open{error_class="error",pair="shopb"} 1.0' in text
    assert 'kfsync_queue_length{queue="ingest.shopb"} 2.0' in text
    assert 'kfsync_circuit_open{pair="shopb",system="kashflow"} 1.0' in text
    assert 'kfsync_circuit_open{pair="default",system="kashflow"} 0.0' in text


def test_webhooks_are_counted_per_pair_and_never_by_a_name_from_the_url(
        db_url: str, redis_url: str) -> None:
    from ingest.signing import signed_headers
    from services import pairs
    from tests.unit.ingest.ops_helpers import PAIR_SECRETS, add_pair, make_settings

    key = pairs.new_key()
    add_pair(make_settings(db_url, redis_url, KFSYNC_PAIRS_KEY=key), "shopb")
    client = make_app(db_url, redis_url, KFSYNC_PAIRS_KEY=key).test_client()

    def send(path: str, event_id: str, secret: str) -> int:
        body = simplejson.dumps({"id": event_id, "topic": "order.created", "store_id": 2,
                                 "occurred_at": "2026-11-24T10:00:03Z",
                                 "resource": {"type": "order", "entity_id": 5}}).encode()
        return client.post(path, data=body,
                           headers=signed_headers(secret, event_id, body)).status_code

    hook_b = PAIR_SECRETS["webhook_secrets"][0]
    assert send("/webhooks/magento/shopb", "b1", hook_b) == 202
    assert send("/webhooks/magento/shopb", "b1", hook_b) == 200
    assert send("/webhooks/magento/shopb", "b2", SECRET) == 401  # default's secret
    assert send("/webhooks/magento/no-such-shop-4f2", "b3", hook_b) == 404
    assert send("/webhooks/magento", "a1", SECRET) == 202
    text = scrape(client)
    for outcome in ("accepted", "duplicate", "unauthorized"):
        assert f'kfsync_webhooks_total{{outcome="{outcome}",pair="shopb"}} 1.0' in text
    assert 'kfsync_webhooks_total{outcome="accepted",pair="default"} 1.0' in text
    assert 'kfsync_webhooks_total{outcome="404",pair="none"} 1.0' in text
    assert "no-such-shop" not in text
