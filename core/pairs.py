"""Integration pairs: which Magento shop and KashFlow company the running work belongs to.

A *pair* is one Magento store or website scope booking into one KashFlow company, with its
own credentials, webhook secret, mapping overrides, per-store rules, rate-limit bucket and
circuit. Pair ``default`` is today's single shop: its settings are the ``KFSYNC_*``
variables, so a one-shop deployment configures nothing new. More pairs are rows of the
``integration_pairs`` table (``services.pairs``), their secrets encrypted at rest.

Work for a pair runs inside ``scope(name)``: the worker sets it from the event or job row it
loads, and everything below reads ``current()`` — the clients (``workers.context``), the
job and link keys (``store.jobs``: a job is unique per pair, kind and Magento key, since two
shops have overlapping entity ids), and the Redis keys of the shared state that belongs to
one KashFlow company (``scoped_key``: rate-limit bucket, circuit, cached lookups). Outside
any scope the pair is ``default``, so code that never heard of pairs keeps doing what it did.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

DEFAULT = "default"
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")  # URL path segment, Redis key and label safe

_current: ContextVar[str] = ContextVar("kfsync_pair", default=DEFAULT)
# The pair the running (or just ended) task entered: its metrics' label at postrun, whichever
# task_postrun receiver runs first (``leave`` does not reset it, the next ``enter`` does).
_task: ContextVar[str] = ContextVar("kfsync_task_pair", default=DEFAULT)


class PairError(Exception):
    """A pair that does not exist, is disabled, or is configured wrongly (one line)."""


def check_name(name: str) -> str:
    """``name`` if it is a valid pair name, else PairError saying what a name may hold."""
    if not NAME.match(name):
        raise PairError(f"pair name {name!r} must be 1-32 characters: a lower-case letter, "
                        "then letters, digits, '-' or '_'")
    return name


def current() -> str:
    """The pair the running work belongs to (``default`` outside any ``scope``)."""
    return _current.get()


def is_default() -> bool:
    return _current.get() == DEFAULT


@contextmanager
def scope(name: str | None) -> Iterator[str]:
    """Run the block as work of pair ``name`` (None or empty: ``default``)."""
    token = _current.set(name or DEFAULT)
    try:
        yield name or DEFAULT
    finally:
        _current.reset(token)


def scoped_key(key: str, pair: str | None = None) -> str:
    """A Redis key of state that belongs to one KashFlow company: unchanged for ``default``
    (a single-shop deployment keeps its keys), ``<key>@<pair>`` for any other pair."""
    name = pair or _current.get()
    return key if name == DEFAULT else f"{key}@{name}"


def ingest_queue(name: str | None) -> str:
    """The queue a pair's events go to: ``ingest`` for ``default``, ``ingest.<pair>`` for any
    other, so one pair's backlog never stands in front of another's new events (workers
    consume their queues round-robin)."""
    return "ingest" if not name or name == DEFAULT else f"ingest.{name}"


def enter(name: str | None) -> None:
    """Make ``name`` the current pair until the running task ends (a task's signals reset it
    to ``default`` before and after each task: ``workers.context``). Another pair than
    ``default`` is named on the task's log lines (``pair=shopb``)."""
    _current.set(name or DEFAULT)
    _task.set(name or DEFAULT)
    if name and name != DEFAULT:
        from core import logs

        logs.bind(pair=name)


def leave() -> None:
    """Back to ``default`` when a task ends; ``task_pair`` still names the pair it entered."""
    _current.set(DEFAULT)


def task_pair() -> str:
    """The pair the current or last task entered (``enter``): its metrics' ``pair`` label."""
    return _task.get()
