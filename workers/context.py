"""Per-process state of a worker: settings, the mapping profile and API clients.

Clients keep a logged-in KashFlow session and pooled connections, so they live as long as
the process (``reset_clients`` after fork). Everything here is the current integration
pair's (``core.pairs.current()``, set by the task from its event or job row): pair
``default`` is the environment exactly as before; another pair has its own settings,
clients (one of each per pair and process), rate-limit bucket and rules (``services.pairs``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from functools import cache
from typing import Any

from celery.signals import task_postrun, task_prerun

from connectors.kashflow import KashFlowClient
from connectors.magento import MagentoClient
from connectors.ratelimit import TokenBucket
from core import pairs as pair_scope
from core import redis_clients
from core.metrics import recorder
from core.settings import Settings
from mappings.errors import MappingError
from mappings.rules import Rules
from services import pairs, profiles
from services.clients import kashflow_client, magento_client

log = logging.getLogger(__name__)

_clients: dict[str, object] = {}
_file_stamps: dict[str, tuple[int, int] | None] = {}
_task_memo: dict[str, Any] = {}  # per task: the profile version (cleared by task signals)
RATE_LIMIT_KEY = "kfsync:ratelimit:kashflow"  # one bucket per KashFlow account and deployment


@cache
def base_settings() -> Settings:
    """The environment's settings (pair ``default``; the database and Redis of every pair)."""
    return Settings.load()


def settings() -> Settings:
    """The current pair's settings (``default``: the environment's)."""
    if pair_scope.is_default():
        return base_settings()
    return pair().settings


def pair() -> pairs.Pair:
    """The current pair, with its settings (``services.pairs.load``: cached per process).

    Raises:
        core.pairs.PairError: the pair is not stored, or its secrets do not decrypt.
    """
    return pairs.load(base_settings(), pair_scope.current())


def rules() -> Rules:
    """The mapping rules in force: the active profile version's (``profile``)."""
    return profile()[1]


def profile(ref: tuple[int, str] | None = None) -> tuple[int, Rules]:
    """The active mapping profile version and its rules (``services.profiles``).

    Looked up once per task (one indexed query; every step a task runs uses the same
    version), so a publish or rollback in the studio applies to the next task; outside a
    task, on every call. The mapping file is checked at the same moments (one ``stat``):
    when it changes, it is published as a new version. A file that turns bad while the
    worker runs is logged once and the version in force stays (``kfsync worker`` refuses to
    start on a bad file). ``ref``: the version in force (number, content hash), read already
    with other rows (``services.profiles.ACTIVE_REF_COLUMNS``), which saves the query.
    """
    key = f"profile@{pair_scope.current()}"  # a task may work for several pairs in turn
    memo: tuple[int, Rules] | None = _task_memo.get(key)
    if memo is not None:
        return memo
    found = _profile(ref)
    if _task_memo.get("in_task"):
        _task_memo[key] = found
    return found


@task_prerun.connect
def _task_starts(**_: Any) -> None:
    _task_memo.clear()
    _task_memo["in_task"] = True
    pair_scope.enter(pair_scope.DEFAULT)  # the task's event or job row names its pair


@task_postrun.connect
def _task_ends(**_: Any) -> None:
    slot = _task_memo.get("slot")
    _task_memo.clear()
    pair_scope.leave()  # task_pair() still names it, for the task's metrics (telemetry)
    if slot is not None:
        from services import inflight

        try:
            inflight.give_back(*slot)
        except Exception:  # the slot expires on its own (services.inflight.LEASE_S)
            log.warning("could not give back the in-flight slot of task %s", slot[2])


DEFER_S = 0.1  # a task of a pair at its cap waits this long before giving its event back


def take_slot(task_id: str, event_id: int) -> bool:
    """One of the current pair's in-flight slots for this task (``services.inflight``), given
    back when the task ends; True also when the pair has no cap. False: the pair is at its
    cap, and event ``event_id`` went back to the end of the pair's queue (after ``DEFER_S``,
    so a lone pair does not spin), for a process to take when a slot is free."""
    s = settings()
    if s.max_in_flight is None:
        return True
    from services import inflight
    from workers.dispatch import publish_event

    name = pair_scope.current()
    if inflight.take(s.redis_url, name, task_id, s.max_in_flight):
        _task_memo["slot"] = (s.redis_url, name, task_id)
        return True
    time.sleep(DEFER_S)
    if not publish_event(event_id, pair=name):  # the relay's lost-message rule sends it
        log.warning("event %s of pair %s not given back; the relay sends it", event_id, name)
    return False


def enter_pair_of_job(job_id: int) -> None:
    """Make job ``job_id``'s pair the current one for the running task. A deployment with
    no stored pair skips the read (every job is ``default``'s)."""
    from sqlalchemy import select

    from store.db import read_scope
    from store.models import SyncJob

    if not pairs.any_stored(base_settings()):
        return
    with read_scope(db_url()) as s:
        name = s.scalar(select(SyncJob.pair).where(SyncJob.id == job_id))
    pair_scope.enter(name)


def for_each_pair(run: Callable[[], int]) -> int:
    """``run()`` once per enabled pair, inside its scope; the sum of what they return.

    A pair that cannot be loaded (its key changed) is logged and skipped. A pair whose run
    fails (its shop or company down, a bug) is logged with its name, and the other pairs
    still run; then the first failure is raised, so the task still shows as failed.
    """
    total, failed = 0, None
    for name in pairs.names(base_settings()):
        with pair_scope.scope(name):
            try:
                total += run()
            except pair_scope.PairError as exc:
                log.error("pair %s skipped: %s", name, exc)
            except Exception as exc:
                log.error("pair %s: %s failed: %s: %s", name, getattr(run, "__name__", "run"),
                          type(exc).__name__, exc, exc_info=True)
                failed = failed or exc
    if failed is not None:
        raise failed
    return total


def _profile(ref: tuple[int, str] | None = None) -> tuple[int, Rules]:
    from workers import products  # it reads this module's settings and clients

    url, path = db_url(), settings().mapping_file
    if _sync_file(url, path):  # published a new version: ``ref`` is out of date
        ref = None
    ref = ref or profiles.active_ref(url)
    if ref is None:
        profiles.seed(url, path)
        ref = profiles.active_ref(url)
        assert ref is not None
    rules = profiles.rules_for(url, ref)
    if not pair_scope.is_default():
        rules = _pair_rules(url, ref, rules)
    # The SKU rule matches in the cached KashFlow catalogue (mappings/skus.py).
    return ref[0], products.attach(rules, url)


_PAIR_RULES: dict[tuple[str, int, int], Rules] = {}  # (pair, profile version, pair version)
MAX_PAIR_RULES = 64  # > the pairs one deployment serves; each is a few parsed rule tables


def _pair_rules(url: str, ref: tuple[int, str], rules: Rules) -> Rules:
    """The profile's ``rules`` with the current pair's rules and per-store rules on top
    (parsed once per profile version and pair version)."""
    from dataclasses import replace

    current = pair()
    key = (current.name, ref[0], current.version)
    found = _PAIR_RULES.get(key)
    if found is None:
        base, by_store = pairs.pair_rules(profiles.get_version(url, ref[0]).document, current)
        found = replace(base or rules, by_store=by_store)
        if len(_PAIR_RULES) >= MAX_PAIR_RULES:  # old versions: dropped, oldest first
            del _PAIR_RULES[next(iter(_PAIR_RULES))]
        _PAIR_RULES[key] = found
    return found


def _sync_file(url: str, path: str | None) -> bool:
    """Seed version 1, or publish the mapping file, when the file changed since last seen;
    True when it did (a new version may be in force)."""
    key = f"{url}|{path or ''}"
    stamp: tuple[int, int] | None = None
    if path is not None:
        try:
            stat = os.stat(path)
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
    if key in _file_stamps and _file_stamps[key] == stamp:
        return False
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
    return True


def _client_key(kind: str) -> str:
    """"kashflow", or "kashflow@<pair>#<version>": a pair changed by ``kfsync pairs update``
    (a new ``version``, seen within ``RECHECK_S``) gets new clients, with its new endpoints
    and credentials; the old ones are dropped."""
    key = pair_scope.scoped_key(kind)
    if pair_scope.is_default():
        return key
    current = f"{key}#{pair().version}"
    for stale in [k for k in _clients if k.startswith(f"{key}#") and k != current]:
        del _clients[stale]
    return current


def magento() -> MagentoClient:
    key = _client_key("magento")
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = magento_client(settings())
        client.on_call = recorder(settings().redis_url).api_call  # kfsync_api_calls metrics
    assert isinstance(client, MagentoClient)
    return client


def kashflow() -> KashFlowClient:
    key = _client_key("kashflow")
    client = _clients.get(key)
    if client is None:
        s = settings()
        metrics = recorder(s.redis_url)
        # One token of headroom: with kfsync's bucket exactly KashFlow's, arrival jitter draws
        # an occasional 429, and each 429 pauses every worker (bench/ratelimit.py).
        # Each pair books into its own KashFlow company: its own bucket (core.pairs).
        bucket = TokenBucket(s.redis_url, pair_scope.scoped_key(RATE_LIMIT_KEY),
                             rate=s.kashflow_rate,
                             burst=max(1, s.kashflow_burst - 1), on_wait=metrics.rate_limit_wait)
        client = _clients[key] = kashflow_client(
            s, limiter=bucket, on_call=metrics.api_call, shared_session=True)
    assert isinstance(client, KashFlowClient)
    return client


def reset_clients() -> None:
    _clients.clear()
    redis_clients.forget()


def db_url() -> str:
    return settings().database_url  # every pair's: pairs share the deployment's store
