"""The process's Redis clients: one pooled client per URL (and per whether its replies are
decoded), shared by what the app keeps in Redis: the KashFlow circuit and the in-flight slots (read
on every step), the product stamp, the app's locks, the runs' stamps, KashFlow's shared session
and lookups, the catalogue refresh's marks, the alerts' windows, the dashboard's queue lengths.
A command line's one-off reads and the health probe (which wants a fresh connection) build
their own.

A client is cheap to keep and costs a connection to build, so none is built per call. After a
fork, redis-py's pool sees the new process and opens its own connections; ``forget`` drops
them all (``workers.context.reset_clients``: a forked child, or settings that changed).
"""

from __future__ import annotations

import redis

TIMEOUT_S = 2  # a Redis that does not answer fails the call fast: a transient error, retried

_clients: dict[tuple[str, bool], redis.Redis] = {}


def client(url: str, *, decode: bool = False) -> redis.Redis:
    """This process's client of the Redis at ``url`` (replies as ``str`` with ``decode``)."""
    key = (url, decode)
    found = _clients.get(key)
    if found is None:
        found = _clients[key] = redis.Redis.from_url(url, socket_timeout=TIMEOUT_S,
                                                     decode_responses=decode)
    return found


def forget() -> None:
    """Drop every client: the next call builds a new one (a dropped pool's connections
    close when it is collected)."""
    _clients.clear()
