"""Per-process state of a worker: settings, rules and API clients, each built once.

Clients keep a logged-in KashFlow session and pooled connections, so they live as long as
the process (``reset_clients`` after fork).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import cache

from connectors.kashflow import KashFlowClient
from connectors.magento import MagentoClient
from connectors.ratelimit import TokenBucket
from kfsync.metrics import recorder
from kfsync.settings import Settings
from mappings.errors import MappingError
from mappings.rules import Rules, load_rules

log = logging.getLogger(__name__)

_clients: dict[str, object] = {}
_rules: dict[str, tuple[tuple[int, int] | None, Rules]] = {}
RATE_LIMIT_KEY = "kfsync:ratelimit:kashflow"  # one bucket per KashFlow account and deployment


@cache
def settings() -> Settings:
    return Settings.load()


def rules() -> Rules:
    """The mapping rules, re-read when the mapping file changes (mtime or size).

    Checked on every call (one ``stat``), so an edited file applies to the next task with no
    restart. A file that turns bad while the worker runs is logged once and the last good
    rules stay in force until it is fixed (``kfsync worker`` refuses to start on a bad file).
    """
    path = settings().mapping_file
    if path is None:
        return _cached_rules("", None, lambda: Rules())
    try:
        stat = os.stat(path)
        stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None
    return _cached_rules(path, stamp, lambda: load_rules(path))


def _cached_rules(key: str, stamp: tuple[int, int] | None, load: Callable[[], Rules]) -> Rules:
    cached = _rules.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        fresh = load()
    except MappingError:
        if cached is None:
            raise
        log.error("mapping file %s is invalid; keeping the rules loaded before", key,
                  exc_info=True)
        _rules[key] = (stamp, cached[1])  # log once per change of the file
        return cached[1]
    _rules[key] = (stamp, fresh)
    return fresh


def magento() -> MagentoClient:
    client = _clients.get("magento")
    if client is None:
        client = _clients["magento"] = MagentoClient.from_settings(settings())
        client.on_call = recorder(settings().redis_url).api_call  # kfsync_api_calls metrics
    assert isinstance(client, MagentoClient)
    return client


def kashflow() -> KashFlowClient:
    client = _clients.get("kashflow")
    if client is None:
        s = settings()
        metrics = recorder(s.redis_url)
        # One token of headroom: with kfsync's bucket exactly KashFlow's, arrival jitter draws
        # an occasional 429, and each 429 pauses every worker (bench/ratelimit.py).
        bucket = TokenBucket(s.redis_url, RATE_LIMIT_KEY, rate=s.kashflow_rate,
                             burst=max(1, s.kashflow_burst - 1), on_wait=metrics.rate_limit_wait)
        client = _clients["kashflow"] = KashFlowClient.from_settings(
            s, limiter=bucket, on_call=metrics.api_call)
    assert isinstance(client, KashFlowClient)
    return client


def reset_clients() -> None:
    from workers import circuit

    _clients.clear()
    circuit.reset()


def db_url() -> str:
    return settings().database_url
