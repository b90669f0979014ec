"""KashFlow's session token and reference lookups, shared by every kfsync process in Redis.

A worker process that starts (or restarts after a crash) adopts the stored session token
instead of logging in, and the bank accounts and payment methods the payment step resolves
are read once per ``LOOKUP_TTL_S`` by the whole deployment, not once per process: a restarted
worker costs no extra KashFlow calls. A re-login runs under a Redis lock, so one process logs
in while the others wait and adopt its token. The lock is a lease (``core.leases``): a process
killed while it logs in holds the others up for ``LEASE_S`` at most.

The token is a secret: it lives only under ``SESSION_KEY`` (never logged; the key's name
carries a hash of the user name, not the token), and the client scrubs it from errors as
before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from connectors.errors import Transient
from core import leases, redis_clients
from core.pairs import scoped_key

# KashFlow ends an idle session on its own; a stored token older than this is not offered
# again (a token that expired sooner costs one refused call and one login, as without a store).
SESSION_TTL_S = 6 * 3600
# How long a process waits for another's login before its call is retried later: longer
# than a two-step login with the client's retries.
LOGIN_WAIT_S = 60
LOOKUP_TTL_S = 3600  # bank accounts and payment methods change rarely; an hour's lag is fine
# Delete the key only if it still holds the refused token (another process may have stored
# a new one meanwhile).
_FORGET = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


def _account_key(base_url: str, username: str) -> str:
    return hashlib.sha256(f"{base_url}\0{username}".encode()).hexdigest()[:16]


class RedisSessionStore:
    """``connectors.kashflow.SessionStore`` in Redis, one token per KashFlow login."""

    def __init__(self, redis_url: str, base_url: str, username: str) -> None:
        self._redis = redis_clients.client(redis_url)
        account = _account_key(base_url, username)
        self.key = f"kfsync:kashflow:session:{account}"
        self._lock_key = f"kfsync:kashflow:login:{account}"
        self._forget = self._redis.register_script(_FORGET)

    def load(self) -> str | None:
        token = self._redis.get(self.key)
        return None if token is None else cast(bytes, token).decode()

    def save(self, token: str) -> None:
        self._redis.set(self.key, token, ex=SESSION_TTL_S)

    def forget(self, token: str) -> None:
        self._forget(keys=[self.key], args=[token])

    @contextmanager
    def login_lock(self) -> Iterator[None]:
        """Held by the one process that logs in; the others wait for it up to
        ``LOGIN_WAIT_S``.

        Raises:
            connectors.errors.Transient: another process held the lock all that time.
        """
        with leases.locked(self._redis, self._lock_key, wait_s=LOGIN_WAIT_S) as mine:
            if not mine:
                raise Transient(f"another kfsync process has been logging in to KashFlow for "
                                f"{LOGIN_WAIT_S} s", system="kashflow", reason="login_busy")
            yield


def shared_lookup(redis_url: str, name: str, fetch: Callable[[], list[dict[str, Any]]],
                  ttl_s: int = LOOKUP_TTL_S) -> list[dict[str, Any]]:
    """KashFlow's list ``name`` (e.g. ``bank_accounts``) from Redis, fetched by ``fetch`` and
    stored for ``ttl_s`` when absent. A lookup that fails is not stored."""
    client = redis_clients.client(redis_url)
    key = scoped_key(f"kfsync:kashflow:lookup:{name}")  # each pair's company has its own
    stored = client.get(key)
    if stored is not None:
        return cast(list[dict[str, Any]], json.loads(stored))
    rows = fetch()
    client.set(key, json.dumps(rows, default=str), ex=ttl_s)
    return rows


def forget_lookups(redis_url: str) -> None:
    """Drop the shared lookups (a catalogue refresh read newer ones, or a test reset KashFlow)."""
    client = redis_clients.client(redis_url)
    names = cast(list[bytes], client.keys("kfsync:kashflow:lookup:*"))
    if names:
        client.delete(*names)
