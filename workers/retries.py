"""How a task waits before it runs again, and which infrastructure failures are transient.

Backoff: full jitter, exponential, never shorter than a server's ``Retry-After`` and never
longer than ``MAX_COUNTDOWN_S`` (which stays below the broker's visibility timeout).

A lost database or Redis connection is a transient failure, like a 503 from an API.

PostgreSQL restarting, a failover, or Redis going away for a few seconds fails whatever
statement or command a task had in flight. Such a task is retried with backoff (the job keeps
its step; a ``started`` attempt makes the step look before it writes), never left ``running``
with nobody working on it. If even the retry cannot be scheduled (the broker is the thing that
is down), the task ends and the job's short lease runs out: beat's redrive sweep restarts it
(``workers.lease``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from celery import Task
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from celeryconfig import MAX_COUNTDOWN_S

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 2.0


def backoff(retries: int, retry_after: float | None = None) -> float:
    """Full-jitter exponential backoff, never shorter than the server's Retry-After and never
    longer than MAX_COUNTDOWN_S (which stays below the broker's visibility timeout)."""
    ceiling = min(MAX_COUNTDOWN_S, BACKOFF_BASE_S * (2 ** retries))
    delay = random.uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, MAX_COUNTDOWN_S)


def connection_lost(exc: BaseException) -> bool:
    """True for a failure of the connection to the database or to Redis, not of the work."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True  # server gone, connection refused or reset, SQLite file busy
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, redis.ConnectionError | redis.TimeoutError)


@contextmanager
def retried_through_outages(task: Task) -> Iterator[None]:
    """Turn a lost database or Redis connection inside the block into a retry of ``task``.

    Raises:
        celery.exceptions.Retry: the connection was lost; the task runs again later.
    """
    try:
        yield
    except Exception as exc:
        if not connection_lost(exc):
            raise
        retries = int(task.request.retries or 0)
        log.warning("%s lost its connection (%s); retry %s", task.name, type(exc).__name__,
                    retries + 1)
        raise task.retry(countdown=backoff(retries), max_retries=None) from exc
