"""Integration pairs: stored with their secrets encrypted, loaded as settings and rules.

Pair ``default`` is the ``KFSYNC_*`` environment and is never stored. Every other pair is a
row of ``integration_pairs``: ``config`` (what may be shown) and ``secrets`` (the Magento
token, the KashFlow password and memorable word, the webhook secrets) as one Fernet token
keyed by ``KFSYNC_PAIRS_KEY``. Nothing here returns a secret to a caller that shows things:
``views`` lists which secrets are set, never their values.

A loaded ``Pair`` carries the deployment's ``Settings`` with the pair's endpoints,
credentials, webhook secrets and rate limit put in (``dataclasses.replace``), so the one
place clients are built (``services.clients``) builds the pair's clients unchanged. Its
mapping is the deployment's profile in force with the pair's ``rules`` on top, and per
Magento store the pair's ``store_rules`` on top of that (``pair_rules``): nominal codes, a
bank or clearing account per payment method, a number prefix and offset — any mapping key.

Processes cache a loaded pair and re-read it when its ``version`` changes, at most every
``RECHECK_S`` (a disable or an edit applies within that time, without a restart).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core import logs
from core.pairs import DEFAULT, PairError, check_name
from core.settings import Settings
from mappings.errors import MappingError
from mappings.profile import parse_document
from mappings.rules import Rules
from store.db import session_scope
from store.models import AuditEntry, utcnow
from store.pair_models import IntegrationPair

RECHECK_S = 5.0  # how stale a process's copy of a pair may be (disable, edit)
SECRET_KEYS = ("magento_token", "kashflow_password", "kashflow_memorable_word",
               "webhook_secrets")
REQUIRED = ("magento_base_url", "kashflow_base_url", "kashflow_username")
# What a pair's config may hold; the rest of Settings stays the deployment's.
CONFIG_KEYS = (*REQUIRED, "store_ids", "kashflow_rate", "kashflow_burst", "max_in_flight",
               "rules", "store_rules")
STORE_NUMBERING = ("prefix", "offset")  # per-store keys that go to the mapping's ``stores``


@dataclass(frozen=True)
class Pair:
    """One integration pair as the workers and ingest use it (holds secrets: never shown)."""

    name: str
    settings: Settings
    store_ids: tuple[int, ...] = ()  # the Magento store ids it serves; () = every store
    rules: Mapping[str, Any] | None = None  # mapping keys over the profile
    store_rules: Mapping[str, Mapping[str, Any]] | None = None  # per store id
    version: int = 0
    enabled: bool = True

    def serves(self, store_id: int | None) -> bool:
        """Whether an event of Magento store ``store_id`` belongs to this pair (an event
        without a store id is accepted: the worker reads the order's own store)."""
        return not self.store_ids or store_id is None or store_id in self.store_ids


@dataclass(frozen=True)
class PairView:
    """What may be shown of a pair: no secret value, only which secrets are set."""

    name: str
    enabled: bool
    config: dict[str, Any]
    secrets_set: tuple[str, ...]
    version: int


def new_key() -> str:
    """A fresh value for ``KFSYNC_PAIRS_KEY``."""
    return Fernet.generate_key().decode()


def fernet(settings: Settings) -> Fernet:
    if not settings.pairs_key:
        raise PairError("KFSYNC_PAIRS_KEY must be set to store or read integration pairs "
                        "(kfsync pairs key prints a new one)")
    try:
        return Fernet(settings.pairs_key.encode())
    except ValueError:
        raise PairError("KFSYNC_PAIRS_KEY is not a Fernet key (32 url-safe base64-encoded "
                        "bytes; kfsync pairs key prints one)") from None


def validate(name: str, config: Mapping[str, Any], secrets: Mapping[str, Any]) -> None:
    """Raise PairError (one line) unless ``config`` and ``secrets`` make a usable pair."""
    check_name(name)
    if name == DEFAULT:
        raise PairError("pair 'default' is the KFSYNC_* environment; it is not stored")
    unknown = sorted(set(config) - set(CONFIG_KEYS)) + sorted(set(secrets) - set(SECRET_KEYS))
    if unknown:
        raise PairError(f"pair {name}: unknown key(s) {', '.join(unknown)}")
    missing = [k for k in REQUIRED if not config.get(k)] + [
        k for k in SECRET_KEYS if not secrets.get(k)]
    if missing:
        raise PairError(f"pair {name}: missing {', '.join(missing)}")
    for key in ("magento_base_url", "kashflow_base_url"):
        parts = urlsplit(str(config[key]))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise PairError(f"pair {name}: {key} must be an http(s) URL")
    stores = config.get("store_ids") or []
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in stores):
        raise PairError(f"pair {name}: store_ids must be whole numbers")
    for key in ("kashflow_rate", "kashflow_burst", "max_in_flight"):
        value = config.get(key)
        if value is not None and (not isinstance(value, int | float) or value <= 0):
            raise PairError(f"pair {name}: {key} must be a positive number")
    try:
        pair_rules({}, _as_pair(name, Settings(), config, {}))
    except MappingError as exc:
        raise PairError(str(exc)) from None


def _as_pair(name: str, base: Settings, config: Mapping[str, Any],
             secrets: Mapping[str, Any], version: int = 0, enabled: bool = True) -> Pair:
    webhook = secrets.get("webhook_secrets") or ()
    changes: dict[str, Any] = {
        "magento_base_url": str(config.get("magento_base_url", "")).rstrip("/"),
        "kashflow_base_url": str(config.get("kashflow_base_url", "")).rstrip("/"),
        "kashflow_username": config.get("kashflow_username"),
        "magento_token": secrets.get("magento_token"), "magento_oauth": None,
        "kashflow_password": secrets.get("kashflow_password"),
        "kashflow_memorable_word": secrets.get("kashflow_memorable_word"),
        "webhook_secrets": tuple(webhook), "mageos_tokens": (),
        # KFSYNC_MAX_IN_FLIGHT is pair default's: another pair is capped only by its own.
        "max_in_flight": int(config["max_in_flight"]) if config.get("max_in_flight") else None,
    }
    for key, kind in (("kashflow_rate", float), ("kashflow_burst", int)):
        if config.get(key) is not None:
            changes[key] = kind(config[key])
    return Pair(name, replace(base, **changes), tuple(config.get("store_ids") or ()),
                dict(config.get("rules") or {}),
                {str(k): dict(v) for k, v in (config.get("store_rules") or {}).items()},
                version, enabled)


def default_pair(settings: Settings) -> Pair:
    """Pair ``default``: the environment as it is (no store filter, no overrides)."""
    return Pair(DEFAULT, settings)


def add(settings: Settings, name: str, config: Mapping[str, Any],
        secrets: Mapping[str, Any], actor: str) -> None:
    """Store a new pair, its secrets encrypted; audited.

    Raises:
        PairError: invalid, no ``KFSYNC_PAIRS_KEY``, or a pair of that name exists.
    """
    validate(name, config, secrets)
    token = fernet(settings).encrypt(json.dumps(dict(secrets)).encode()).decode()
    try:
        with session_scope(settings.database_url) as s:
            s.add(IntegrationPair(name=name, config=dict(config), secrets=token, version=1))
            s.flush()
            s.add(AuditEntry(actor=actor, action="pair_add", target=f"pairs/{name}",
                             note=None))
    except IntegrityError:
        raise PairError(f"pair {name} exists already") from None


def set_enabled(settings: Settings, name: str, enabled: bool, actor: str) -> None:
    """Disable (webhooks for it answer 404, its work stops) or enable a stored pair.

    Raises:
        PairError: no such stored pair.
    """
    with session_scope(settings.database_url) as s:
        done = s.execute(update(IntegrationPair).where(IntegrationPair.name == name).values(
            disabled_at=None if enabled else utcnow(),
            version=IntegrationPair.version + 1)).rowcount  # type: ignore[attr-defined]
        if not done:
            raise PairError(f"no stored pair named {name}")
        s.add(AuditEntry(actor=actor, action="pair_enable" if enabled else "pair_disable",
                         target=f"pairs/{name}", note=None))
    forget(settings, name)


def forget(settings: Settings, name: str) -> None:
    """Drop this process's copy of pair ``name`` (it changed here): the next ``load`` reads it."""
    _cache.pop((settings.database_url, name), None)


def forget_all() -> None:
    """Drop this process's copies of every pair and of whether any is stored (its database
    was replaced: a test's fresh database under the same URL)."""
    _cache.clear()
    _stored.clear()


def views(settings: Settings) -> list[PairView]:
    """Every pair, ``default`` first, as may be shown (no secret values)."""
    shown = {"magento_base_url": settings.magento_base_url,
             "kashflow_base_url": settings.kashflow_base_url,
             "kashflow_username": settings.kashflow_username,
             "kashflow_rate": settings.kashflow_rate, "kashflow_burst": settings.kashflow_burst}
    env_set = tuple(k for k in SECRET_KEYS if getattr(settings, k, None))
    out = [PairView(DEFAULT, True, shown, env_set, 0)]
    with session_scope(settings.database_url) as s:
        for row in s.scalars(select(IntegrationPair).order_by(IntegrationPair.name)):
            out.append(PairView(row.name, row.disabled_at is None, dict(row.config),
                                SECRET_KEYS, row.version))
    return out


def names(settings: Settings) -> list[str]:
    """The enabled pairs' names, ``default`` first."""
    with session_scope(settings.database_url) as s:
        stored = s.scalars(select(IntegrationPair.name).where(
            IntegrationPair.disabled_at.is_(None)).order_by(IntegrationPair.name)).all()
    return [DEFAULT, *stored]


def known(settings: Settings) -> list[str]:
    """Every pair's name, enabled or not, ``default`` first: what a ``pair`` filter may name
    (a disabled pair still has jobs and dead letters)."""
    with session_scope(settings.database_url) as s:
        stored = s.scalars(select(IntegrationPair.name).order_by(IntegrationPair.name)).all()
    return [DEFAULT, *stored]


def check_known(settings: Settings, name: str) -> str:
    """``name`` if it names a pair (``known``), else PairError (one line, naming them)."""
    names = known(settings)
    if name not in names:
        raise PairError(f"no pair named {name} (pairs: {', '.join(names)})")
    return name


_cache: dict[tuple[str, str], tuple[float, Pair]] = {}


def load(settings: Settings, name: str) -> Pair:
    """Pair ``name`` with its secrets (cached per process; re-checked every ``RECHECK_S``).

    A disabled pair is returned with ``enabled`` False: the caller decides (ingest answers
    404, a worker leaves the work).

    Raises:
        PairError: no such pair, or its secrets cannot be read with ``KFSYNC_PAIRS_KEY``.
    """
    if name == DEFAULT:
        return default_pair(settings)
    key = (settings.database_url, name)
    now = time.monotonic()
    cached = _cache.get(key)
    if cached is not None and now - cached[0] < RECHECK_S:
        return cached[1]
    with session_scope(settings.database_url) as s:
        if cached is not None:
            version = s.scalar(select(IntegrationPair.version)
                               .where(IntegrationPair.name == name))
            if version == cached[1].version:
                _cache[key] = (now, cached[1])
                return cached[1]
        row = s.get(IntegrationPair, name)
        if row is None:
            _cache.pop(key, None)
            raise PairError(f"no pair named {name}")
        config, token, version = dict(row.config), row.secrets, row.version
        enabled = row.disabled_at is None
    try:
        secrets = json.loads(fernet(settings).decrypt(token.encode()))
    except InvalidToken:
        raise PairError(f"pair {name}: its secrets do not decrypt with KFSYNC_PAIRS_KEY "
                        "(was the key changed?)") from None
    pair = _as_pair(name, settings, config, secrets, version, enabled)
    logs.add_secrets(pair_secret_values(pair))
    _cache[key] = (now, pair)
    return pair


def pair_secret_values(pair: Pair) -> list[str]:
    """The pair's secret values (for scrubbing logs)."""
    s = pair.settings
    return [v for v in (s.magento_token, s.kashflow_password, s.kashflow_memorable_word,
                        *s.webhook_secrets) if v]


def pair_rules(document: Mapping[str, Any], pair: Pair) -> tuple[Rules | None, dict[str, Rules]]:
    """The pair's rules over the profile ``document``, and per store its store rules over
    those. ``(None, {})`` when the pair has neither (the profile's rules apply as they are).

    A store's ``prefix`` and ``offset`` become its ``stores`` numbering entry; every other
    key is a mapping key (``default_nominal_code``, ``payment_methods``...).

    Raises:
        MappingError: a key the mapping schema refuses, named with the pair and store.
    """
    if not pair.rules and not pair.store_rules:
        return None, {}
    base_doc = {**document, **(pair.rules or {})}
    base = parse_document(base_doc, f"pair {pair.name}: rules")
    by_store = {}
    for store_id, extra in (pair.store_rules or {}).items():
        doc = {**base_doc, **{k: v for k, v in extra.items() if k not in STORE_NUMBERING}}
        numbering = {k: extra[k] for k in STORE_NUMBERING if k in extra}
        if numbering:
            doc["stores"] = {**(base_doc.get("stores") or {}), str(store_id): numbering}
        by_store[str(store_id)] = parse_document(doc, f"pair {pair.name}: store {store_id}")
    return base, by_store


def parse_store_rule(text: str) -> tuple[str, str, Any]:
    """``STORE:KEY=VALUE`` (the CLI's ``--store-rule``) as (store id, key, value); the value
    is JSON when it parses as JSON (numbers, objects), else the text.

    Raises:
        PairError: not of that shape.
    """
    head, sep, value = text.partition("=")
    store, colon, key = head.partition(":")
    if not (sep and colon and store.strip().isdigit() and key.strip()):
        raise PairError(f"--store-rule {text!r} must look like STORE_ID:KEY=VALUE "
                        "(e.g. 2:default_nominal_code=4100)")
    try:
        parsed: Any = json.loads(value)
    except ValueError:
        parsed = value
    return store.strip(), key.strip(), parsed


def store_rules_of(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``--store-rule`` values gathered per store id."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        store, key, value = parse_store_rule(item)
        out.setdefault(store, {})[key] = value
    return out


_stored: dict[str, tuple[float, bool]] = {}


def any_stored(settings: Settings) -> bool:
    """Whether the deployment has any stored pair (enabled or not); cached ``RECHECK_S``, so
    a single-shop deployment pays one small read per few seconds, not one per task."""
    now = time.monotonic()
    cached = _stored.get(settings.database_url)
    if cached is not None and now - cached[0] < RECHECK_S:
        return cached[1]
    with session_scope(settings.database_url) as s:
        found = s.scalar(select(IntegrationPair.name).limit(1)) is not None
    _stored[settings.database_url] = (now, found)
    return found
