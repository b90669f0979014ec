"""KashFlow's session token and lookups shared in real Redis (``services.kashflow_session``):
a second process adopts the token instead of logging in, a refused token is replaced once for
everyone, concurrent logins collapse to one (and one killed while logging in holds the others
up for one lease), and the lookups are read once per deployment.
KashFlow itself is faked with ``responses`` (a connector-level test)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
import redis
import responses

from connectors.errors import Transient
from connectors.kashflow import KashFlowClient
from core import leases
from services import kashflow_session
from services.kashflow_session import RedisSessionStore, forget_lookups, shared_lookup
from tests.unit.connectors.test_kashflow_client import (
    BASE,
    PASSWORD,
    TOKEN_1,
    TOKEN_2,
    USER,
    WORD,
    add_login,
)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def process(redis_url: str) -> KashFlowClient:
    """The client one worker process builds (its own object, the shared store)."""
    return KashFlowClient(BASE, username=USER, password=PASSWORD, memorable_word=WORD,
                          timeout=5.0, session_store=RedisSessionStore(redis_url, BASE, USER))


def logins(rsps: responses.RequestsMock) -> int:
    return sum(1 for call in rsps.calls
               if call.request.method == "POST" and call.request.url.endswith("/sessiontoken"))


def tokens_used(rsps: responses.RequestsMock) -> list[str]:
    return [str(call.request.headers["Authorization"]) for call in rsps.calls
            if call.request.url.endswith("/bankaccounts")]


def test_a_second_process_adopts_the_token_instead_of_logging_in(
        rsps: responses.RequestsMock, redis_url: str) -> None:
    add_login(rsps, TOKEN_1)
    rsps.add(responses.GET, f"{BASE}/bankaccounts", json=[{"Id": 1, "IsDefaultAccount": True}])
    first, restarted = process(redis_url), process(redis_url)
    first.bank_accounts()
    restarted.bank_accounts()
    assert logins(rsps) == 1 and first.login_count == 1 and restarted.login_count == 0
    assert tokens_used(rsps) == [f"KfToken {TOKEN_1}"] * 2


def test_a_refused_token_is_replaced_once_for_every_process(
        rsps: responses.RequestsMock, redis_url: str) -> None:
    RedisSessionStore(redis_url, BASE, USER).save(TOKEN_1)  # KashFlow has ended it
    add_login(rsps, TOKEN_2)

    def answer(request: object) -> tuple[int, dict[str, str], str]:
        if getattr(request, "headers", {}).get("Authorization") == f"KfToken {TOKEN_1}":
            return 401, {}, '{"Error": "InvalidSessionToken", "Message": "expired"}'
        return 200, {}, "[]"

    rsps.add_callback(responses.GET, f"{BASE}/bankaccounts", callback=answer)
    one, other = process(redis_url), process(redis_url)
    one.bank_accounts()
    other.bank_accounts()
    assert logins(rsps) == 1
    assert tokens_used(rsps) == [f"KfToken {TOKEN_1}", f"KfToken {TOKEN_2}",
                                 f"KfToken {TOKEN_2}"]
    assert RedisSessionStore(redis_url, BASE, USER).load() == TOKEN_2


def test_processes_starting_together_log_in_once(
        rsps: responses.RequestsMock, redis_url: str) -> None:
    add_login(rsps, TOKEN_1)
    rsps.add(responses.GET, f"{BASE}/bankaccounts", json=[])
    clients = [process(redis_url) for _ in range(6)]
    threads = [threading.Thread(target=c.bank_accounts) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert logins(rsps) == 1 and sum(c.login_count for c in clients) == 1
    assert set(tokens_used(rsps)) == {f"KfToken {TOKEN_1}"} and len(tokens_used(rsps)) == 6


def test_the_token_is_stored_under_a_key_that_does_not_name_it(redis_url: str) -> None:
    store = RedisSessionStore(redis_url, BASE, USER)
    store.save(TOKEN_1)
    keys = [k.decode() for k in redis.Redis.from_url(redis_url).keys("kfsync:kashflow:*")]
    assert keys == [store.key] and TOKEN_1 not in store.key and USER not in store.key
    store.forget(TOKEN_2)  # not the stored one: kept
    assert store.load() == TOKEN_1
    store.forget(TOKEN_1)
    assert store.load() is None


def test_a_lookup_is_read_once_until_forgotten(redis_url: str) -> None:
    reads: list[int] = []

    def fetch() -> list[dict[str, object]]:
        reads.append(1)
        return [{"Id": 7, "Name": "Stripe"}]

    for _ in range(3):
        assert shared_lookup(redis_url, "invoice_payment_methods", fetch) == [
            {"Id": 7, "Name": "Stripe"}]
    assert len(reads) == 1
    forget_lookups(redis_url)
    shared_lookup(redis_url, "invoice_payment_methods", fetch)
    assert len(reads) == 2


def _log_in_until_killed(redis_url: str, held: multiprocessing.synchronize.Event) -> None:
    leases.LEASE_S, leases.HEARTBEAT_S = 1, 0.2  # a new process: the test's short lease
    with RedisSessionStore(redis_url, BASE, USER).login_lock():
        held.set()
        time.sleep(60)  # killed long before: a worker SIGKILLed during KashFlow's login


def test_a_process_killed_while_it_logs_in_holds_the_others_up_for_one_lease(
        rsps: responses.RequestsMock, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leases, "LEASE_S", 1)
    monkeypatch.setattr(leases, "HEARTBEAT_S", 0.2)
    add_login(rsps, TOKEN_1)
    rsps.add(responses.GET, f"{BASE}/bankaccounts", json=[])
    context = multiprocessing.get_context("spawn")  # another worker: not a fork of this process
    held = context.Event()
    holder = context.Process(target=_log_in_until_killed, args=(redis_url, held))
    holder.start()
    try:
        assert held.wait(60), "the holder did not take the lock (its traceback is above)"
        time.sleep(2 * leases.LEASE_S)  # alive: its heartbeat keeps the lock past its lease
        monkeypatch.setattr(kashflow_session, "LOGIN_WAIT_S", 0.5)
        store = RedisSessionStore(redis_url, BASE, USER)
        with pytest.raises(Transient, match="logging in to KashFlow"), store.login_lock():
            pass  # waited in vain
        monkeypatch.setattr(kashflow_session, "LOGIN_WAIT_S", 10)
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
    killed = time.monotonic()
    survivor = process(redis_url)
    survivor.bank_accounts()
    waited = time.monotonic() - killed
    assert survivor.login_count == 1 and logins(rsps) == 1
    assert waited <= leases.LEASE_S + 0.5, waited
