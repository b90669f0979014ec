"""The KashFlow circuit: opened by an authentication failure, closed by a successful probe.
One circuit per integration pair (``core.pairs.scoped_key``): each books into its own company.

While it is open no step calls KashFlow: jobs are parked in the database (``due_at``) instead
of failing, and one alert goes out. Beat's ``probe_kashflow`` tries one cheap call at most
every ``PROBE_INTERVAL_S`` (a failed KashFlow login must not be repeated often, or the account
locks); when it succeeds the circuit closes and parked jobs are released.
"""

from __future__ import annotations

import redis

from core import redis_clients
from core.pairs import scoped_key

KEY = "kfsync:circuit:kashflow"
PROBE_KEY = "kfsync:circuit:kashflow:probe"
PROBE_INTERVAL_S = 600  # matches the KashFlow client's own login cooldown
PARK_S = 60  # how long a parked job waits before beat looks at it again


def _client(redis_url: str) -> redis.Redis:
    """The process's client: the circuit is read before every step."""
    return redis_clients.client(redis_url, decode=True)


def open_reason(redis_url: str) -> str | None:
    """Why the circuit is open, or None when KashFlow work may go ahead."""
    try:
        value = _client(redis_url).get(scoped_key(KEY))
    except redis.RedisError:
        return None  # no Redis, no broker either: the task will fail on its own terms
    return str(value) if value else None


def trip(redis_url: str, reason: str) -> bool:
    """Open the circuit; True only for the call that opened it (alert once)."""
    client = _client(redis_url)
    opened = bool(client.set(scoped_key(KEY), reason[:500], nx=True))
    if opened:  # the first probe waits a full interval: the login just failed
        client.set(scoped_key(PROBE_KEY), 1, ex=PROBE_INTERVAL_S)
    return opened


def probe_due(redis_url: str) -> bool:
    """True at most once per ``PROBE_INTERVAL_S`` while the circuit is open."""
    return bool(_client(redis_url).set(scoped_key(PROBE_KEY), 1, nx=True,
                                       ex=PROBE_INTERVAL_S))


def close(redis_url: str) -> None:
    _client(redis_url).delete(scoped_key(KEY), scoped_key(PROBE_KEY))
