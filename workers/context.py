"""Per-process state of a worker: settings, the mapping profile and API clients.

Clients keep a logged-in KashFlow session and pooled connections, so they live as long as
the process (``reset_clients`` after fork).
"""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any

from celery.signals import task_postrun, task_prerun
from sqlalchemy.orm import Session

from connectors.kashflow import KashFlowClient
from connectors.magento import MagentoClient
from connectors.ratelimit import TokenBucket
from core.metrics import recorder
from core.settings import Settings
from mappings.errors import MappingError
from mappings.rules import Rules
from services import profiles
from services.clients import kashflow_client, magento_client

log = logging.getLogger(__name__)

_clients: dict[str, object] = {}
_file_stamps: dict[str, tuple[int, int] | None] = {}
_task_memo: dict[str, Any] = {}  # per task: the profile version (cleared by task signals)
RATE_LIMIT_KEY = "kfsync:ratelimit:kashflow"  # one bucket per KashFlow account and deployment


@cache
def settings() -> Settings:
    return Settings.load()


def rules() -> Rules:
    """The mapping rules in force: the active profile version's (``profile``)."""
    return profile()[1]


def profile(session: Session | None = None) -> tuple[int, Rules]:
    """The active mapping profile version and its rules (``services.profiles``).

    Looked up once per task (one indexed query; every step a task runs uses the same
    version), so a publish or rollback in the studio applies to the next task; outside a
    task, on every call. The mapping file is checked at the same moments (one ``stat``):
    when it changes, it is published as a new version. A file that turns bad while the
    worker runs is logged once and the version in force stays (``kfsync worker`` refuses to
    start on a bad file). With ``session``, the version is read in it (a task reading other
    rows first saves a transaction).
    """
    memo: tuple[int, Rules] | None = _task_memo.get("profile")
    if memo is not None:
        return memo
    found = _profile(session)
    if _task_memo.get("in_task"):
        _task_memo["profile"] = found
    return found


@task_prerun.connect
def _task_starts(**_: Any) -> None:
    _task_memo.clear()
    _task_memo["in_task"] = True


@task_postrun.connect
def _task_ends(**_: Any) -> None:
    _task_memo.clear()


def _profile(session: Session | None = None) -> tuple[int, Rules]:
    from workers import products  # it reads this module's settings and clients

    url, path = db_url(), settings().mapping_file
    _sync_file(url, path)
    ref = profiles.active_ref(url, session)
    if ref is None:
        profiles.seed(url, path)
        ref = profiles.active_ref(url)
        assert ref is not None
    # The SKU rule matches in the cached KashFlow catalogue (mappings/skus.py).
    return ref[0], products.attach(profiles.rules_for(url, ref), url)


def _sync_file(url: str, path: str | None) -> None:
    """Seed version 1, or publish the mapping file, when the file changed since last seen."""
    key = f"{url}|{path or ''}"
    stamp: tuple[int, int] | None = None
    if path is not None:
        try:
            stat = os.stat(path)
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
    if key in _file_stamps and _file_stamps[key] == stamp:
        return
    _file_stamps[key] = stamp  # log a bad file once per change of it
    try:
        profiles.seed(url, path)
        if path is not None:
            profiles.publish_file(url, path)
    except MappingError:
        if profiles.active_id(url) is None:
            raise
        log.error("mapping file %s is invalid; keeping the profile version in force", path,
                  exc_info=True)


def magento() -> MagentoClient:
    client = _clients.get("magento")
    if client is None:
        client = _clients["magento"] = magento_client(settings())
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
        client = _clients["kashflow"] = kashflow_client(
            s, limiter=bucket, on_call=metrics.api_call, shared_session=True)
    assert isinstance(client, KashFlowClient)
    return client


def reset_clients() -> None:
    from services import circuit

    _clients.clear()
    circuit.reset()


def db_url() -> str:
    return settings().database_url
