"""Promotion of an integration pair's configuration between environments (qa -> prod).

What moves is what describes the books, not the environment: the pair's mapping overrides
(``rules``), its per-store rules, the store ids it serves and its KashFlow rate. Endpoints,
the KashFlow user and every secret stay with each environment's own pair (``kfsync pairs
add`` there first). ``export_document`` writes one YAML document; ``import_document`` shows
its diff against the pair in force and, with ``apply``, stores it (validated by the same
rules as ``add``, audited, the pair's ``version`` bumped so every process re-reads it).
"""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import select

from core.pairs import DEFAULT, PairError
from core.settings import Settings
from mappings.profile import Change, diff_documents
from services.pairs import SECRET_KEYS, validate
from store.db import session_scope
from store.models import AuditEntry
from store.pair_models import IntegrationPair

PROMOTED = ("store_ids", "kashflow_rate", "kashflow_burst", "max_in_flight", "rules",
            "store_rules")
HEADER = ("# kfsync integration pair (docs/pairs.md): rules, per-store rules, stores and rate.\n"
          "# Import with `kfsync pairs import NAME FILE` (shows the diff; --apply stores it).\n")


def _row(session: Any, name: str) -> IntegrationPair:
    if name == DEFAULT:
        raise PairError("pair 'default' is the KFSYNC_* environment: nothing to promote")
    row = session.scalar(select(IntegrationPair).where(IntegrationPair.name == name))
    if row is None:
        raise PairError(f"no stored pair named {name}")
    return row  # type: ignore[no-any-return]


def export_document(settings: Settings, name: str) -> str:
    """Pair ``name``'s promotable configuration as YAML (no endpoint, no secret).

    Raises:
        PairError: no such stored pair.
    """
    with session_scope(settings.database_url) as s:
        config = dict(_row(s, name).config)
    doc = {key: config[key] for key in PROMOTED if config.get(key) not in (None, [], {})}
    return HEADER + yaml.safe_dump(doc, sort_keys=True, allow_unicode=True)


def import_document(settings: Settings, name: str, text: str, actor: str,
                    apply: bool = False) -> list[Change]:
    """The changes ``text`` (an export) makes to pair ``name``; stored when ``apply``.

    Raises:
        PairError: invalid YAML, a key that is not promotable, a value ``add`` would refuse,
            or no such stored pair (one line).
    """
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise PairError(f"pair {name}: invalid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(doc, dict):
        raise PairError(f"pair {name}: the document must be a mapping of keys")
    unknown = sorted(set(doc) - set(PROMOTED))
    if unknown:
        raise PairError(f"pair {name}: not promotable: {', '.join(map(str, unknown))} "
                        f"(only {', '.join(PROMOTED)})")
    with session_scope(settings.database_url) as s:
        row = _row(s, name)
        before = dict(row.config)
        after = {**{k: v for k, v in before.items() if k not in PROMOTED}, **doc}
        validate(name, after, {key: "set" for key in SECRET_KEYS})
        changes = diff_documents({k: before.get(k) for k in PROMOTED if k in before},
                                 {k: after.get(k) for k in PROMOTED if k in after})
        if apply and changes:
            row.config, row.version = after, row.version + 1
            s.add(AuditEntry(actor=actor, action="pair_import", target=f"pairs/{name}",
                             note="; ".join(str(c) for c in changes)[:2000]))
    return changes
