"""The global token bucket, on the machine's real Redis (Lua script, Redis clock)."""

from __future__ import annotations

import time
import uuid

import pytest
import responses

from connectors.errors import Transient
from connectors.kashflow import KashFlowClient
from connectors.ratelimit import TokenBucket

KF = "https://kf.example/v2"


def bucket(redis_url: str, key: str | None = None, rate: float = 10, burst: int = 5,
           sleeps: list[float] | None = None) -> TokenBucket:
    slept = sleeps if sleeps is not None else []

    def sleep(seconds: float) -> None:  # really wait (Redis's clock must move), and record it
        slept.append(seconds)
        time.sleep(seconds)

    return TokenBucket(redis_url, key or f"test:bucket:{uuid.uuid4()}", rate=rate, burst=burst,
                       sleep=sleep)


def test_a_burst_is_free_then_calls_are_spaced_at_the_rate(redis_url: str) -> None:
    sleeps: list[float] = []
    b = bucket(redis_url, rate=10, burst=5, sleeps=sleeps)
    assert [b.acquire() for _ in range(5)] == [0.0] * 5
    assert sleeps == []
    b.acquire()
    assert len(sleeps) >= 1 and 0.05 < sleeps[0] <= 0.1 + 1e-6


def test_every_process_shares_one_bucket(redis_url: str) -> None:
    key = f"test:bucket:{uuid.uuid4()}"
    sleeps: list[float] = []
    workers = [bucket(redis_url, key, rate=1, burst=4, sleeps=sleeps) for _ in range(4)]
    for w in workers:
        w.acquire()  # four workers, one token each: the burst is used up
    with pytest.raises(Transient) as info:
        workers[0].acquire(max_wait=0.5)  # one per second: the next slot is ~1 s away
    assert info.value.retry_after is not None and 0.5 < info.value.retry_after <= 1.0


def test_a_pause_stops_everyone_for_its_length(redis_url: str) -> None:
    key = f"test:bucket:{uuid.uuid4()}"
    first, second = bucket(redis_url, key), bucket(redis_url, key)
    assert first.pause(3) == pytest.approx(3, abs=0.1)
    with pytest.raises(Transient) as info:
        second.acquire(max_wait=1)
    assert info.value.retry_after == pytest.approx(3, abs=0.2)


def test_an_unreachable_redis_is_a_transient_failure() -> None:
    b = TokenBucket("redis://127.0.0.1:1/0", "k", rate=1, burst=1)
    with pytest.raises(Transient, match="rate limiter unavailable"):
        b.acquire()


@responses.activate
def test_a_429_from_kashflow_pauses_the_shared_bucket(redis_url: str) -> None:
    key = f"test:bucket:{uuid.uuid4()}"
    responses.post(f"{KF}/sessiontoken", json={
        "TemporaryToken": "t", "MemorableWordList": [{"Position": 1, "Value": ""},
                                                     {"Position": 2, "Value": ""},
                                                     {"Position": 3, "Value": ""}]})
    responses.put(f"{KF}/sessiontoken", json={"SessionToken": "s"})
    responses.get(f"{KF}/bankaccounts", status=429, headers={"Retry-After": "7"},
                  json={"Error": "TooManyRequests", "Message": "slow down"})
    client = KashFlowClient(KF, username="u", password="p4ssword", memorable_word="pineapple",
                            limiter=bucket(redis_url, key, burst=10))
    with pytest.raises(Transient):
        client.bank_accounts()
    other_worker = bucket(redis_url, key, burst=10)
    with pytest.raises(Transient) as info:
        other_worker.acquire(max_wait=1)
    assert info.value.retry_after == pytest.approx(7, abs=0.3)
