"""Changing a stored integration pair (``kfsync pairs update``): its endpoints, KashFlow
user, store ids, rate, in-flight cap, and any of its secrets re-entered (never shown back).

The pair's new settings are validated exactly like ``add``; its secrets are decrypted with
``KFSYNC_PAIRS_KEY``, the re-entered ones replaced and the whole set encrypted again. The
row's ``version`` is bumped, so every process re-reads the pair within ``RECHECK_S`` (web:
its webhook secrets and store ids; workers: new clients with the new endpoints and
credentials, ``workers.context``). The audit log names the changed keys, never a value.
Its books (``rules``, ``store_rules``) change by ``kfsync pairs import`` (with a diff).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import InvalidToken

from core.pairs import DEFAULT, PairError, check_name
from core.settings import Settings
from services import pairs
from store.db import session_scope
from store.models import AuditEntry
from store.pair_models import IntegrationPair

UPDATABLE = ("magento_base_url", "kashflow_base_url", "kashflow_username", "store_ids",
             "kashflow_rate", "kashflow_burst", "max_in_flight")
OPTIONAL = ("store_ids", "kashflow_rate", "kashflow_burst", "max_in_flight")  # None: unset


def _check_keys(name: str, config: Mapping[str, Any], secrets: Mapping[str, Any]) -> None:
    check_name(name)
    if name == DEFAULT:
        raise PairError("pair 'default' is the KFSYNC_* environment: change .env and restart "
                        "the services")
    unknown = sorted(set(config) - set(UPDATABLE)) + sorted(set(secrets) - set(pairs.SECRET_KEYS))
    if unknown:
        raise PairError(f"pair {name}: cannot update {', '.join(unknown)} (settings: "
                        f"{', '.join(UPDATABLE)}; secrets: {', '.join(pairs.SECRET_KEYS)})")
    cleared = sorted(k for k, v in config.items() if v is None and k not in OPTIONAL)
    if cleared:
        raise PairError(f"pair {name}: {', '.join(cleared)} cannot be removed, only changed")
    if not config and not secrets:
        raise PairError(f"pair {name}: nothing to change")


def check(settings: Settings, name: str, config: Mapping[str, Any]) -> None:
    """What can be said before any secret is typed: ``name`` is a stored pair and ``config``
    makes a valid pair with its stored settings.

    Raises:
        PairError: as ``update`` would (one line).
    """
    _check_keys(name, config, {"magento_token": "?"})
    with session_scope(settings.database_url) as s:
        row = s.get(IntegrationPair, name)
        if row is None:
            raise PairError(f"no stored pair named {name}")
        before = dict(row.config)
    pairs.validate(name, _merged(before, config), {k: "set" for k in pairs.SECRET_KEYS})


def _merged(before: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    after = {k: v for k, v in before.items() if config.get(k, v) is not None}
    after.update({k: v for k, v in config.items() if v is not None})
    return after


def update(settings: Settings, name: str, config: Mapping[str, Any],
           secrets: Mapping[str, Any], actor: str) -> list[str]:
    """Apply ``config`` (a None value unsets an optional key) and ``secrets`` (new values)
    to stored pair ``name``; returns the keys that changed (empty: nothing differed, nothing
    stored).

    Raises:
        PairError: default, no such stored pair, an unknown key, a value ``add`` would
            refuse, or secrets that do not decrypt with ``KFSYNC_PAIRS_KEY`` (one line).
    """
    _check_keys(name, config, secrets)
    fernet = pairs.fernet(settings)
    with session_scope(settings.database_url) as s:
        row = s.get(IntegrationPair, name, with_for_update=True)
        if row is None:
            raise PairError(f"no stored pair named {name}")
        try:
            before_secrets = json.loads(fernet.decrypt(row.secrets.encode()))
        except InvalidToken:
            raise PairError(f"pair {name}: its secrets do not decrypt with KFSYNC_PAIRS_KEY "
                            "(was the key changed?)") from None
        before = dict(row.config)
        after = _merged(before, config)
        after_secrets = {**before_secrets, **secrets}
        pairs.validate(name, after, after_secrets)
        changed = [k for k in UPDATABLE if before.get(k) != after.get(k)] + [
            k for k in pairs.SECRET_KEYS if before_secrets.get(k) != after_secrets.get(k)]
        if changed:
            row.config = after
            row.secrets = fernet.encrypt(json.dumps(after_secrets).encode()).decode()
            row.version = row.version + 1
            s.add(AuditEntry(actor=actor, action="pair_update", target=f"pairs/{name}",
                             note=f"changed: {', '.join(changed)}"))
    pairs.forget(settings, name)
    return changed
