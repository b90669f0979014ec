"""Versioned mapping profiles: the active version, the draft, publish, rollback, import, export.

The mapping rules live in the state store as immutable versions (``store.mapping_models``);
the newest version is the one in force. Nothing edits a version: the studio and the API edit
the *draft* (one editable copy), and publishing the draft adds a version. Rollback publishes
an older version's document again, as a new version that says which one it restores. An
import (YAML from another environment) becomes the draft and shows its diff; it is not in
force until someone publishes it. Every action is written to ``audit_log``.

The mapping file (``KFSYNC_MAPPING_FILE``) is the first version's source: with no version
stored, the file (or the built-in defaults) becomes version 1. When the file changes later,
a worker notices (``workers.context``) and publishes it as a new version, so a file edited
on disk still applies to the next task with no restart; a studio publish stays in force
until the file changes again.

Publishing is refused while the draft has errors (``services.catalogue.validate``): a
schema error, a SKU mapped twice, a product or account that KashFlow does not have.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from mappings.errors import MappingError
from mappings.profile import (
    Change,
    diff_documents,
    document_hash,
    dump_rules,
    from_yaml,
    normalise,
    parse_document,
    to_yaml,
)
from mappings.rules import Rules, load_rules
from store.db import session_scope
from store.mapping_models import MappingDraft, MappingVersion
from store.models import AuditEntry

DRAFT = "default"


class ProfileError(Exception):
    """An action on the profile that cannot be done (bad document, nothing to publish...)."""


@dataclass(frozen=True)
class VersionView:
    id: int
    source: str
    author: str
    comment: str | None
    created_at: datetime
    parent_id: int | None
    rollback_of: int | None
    changes: list[dict[str, Any]]
    document: dict[str, Any]
    content_hash: str

    @property
    def rules(self) -> Rules:
        return _parsed((self.id, self.content_hash), self.document)


@dataclass(frozen=True)
class DraftView:
    document: dict[str, Any]
    base_version: int | None
    source: str
    updated_by: str
    updated_at: datetime
    comment: str | None
    changes: list[Change]  # against the active version


_PARSED: dict[tuple[int, str], Rules] = {}


def _parsed(ref: tuple[int, str], document: dict[str, Any]) -> Rules:
    """Rules of a version, parsed once per process (versions never change)."""
    rules = _PARSED.get(ref)
    if rules is None:
        rules = _PARSED[ref] = parse_document(document, f"profile version {ref[0]}")
    return rules


def _view(row: MappingVersion) -> VersionView:
    return VersionView(row.id, row.source, row.author, row.comment, row.created_at,
                       row.parent_id, row.rollback_of, list(row.changes.get("changes", [])),
                       row.document, row.content_hash)


def audit(session: Session, actor: str, action: str, target: str, note: str | None) -> None:
    session.add(AuditEntry(actor=actor, action=action, target=target, note=note))


def _latest(session: Session) -> MappingVersion | None:
    return session.scalars(select(MappingVersion).order_by(MappingVersion.id.desc())
                           .limit(1)).first()


def active_id(url: str) -> int | None:
    """The number of the version in force, ``None`` before seeding."""
    ref = active_ref(url)
    return ref[0] if ref else None


def active_ref(url: str) -> tuple[int, str] | None:
    """(number, content hash) of the version in force: one indexed query."""
    with session_scope(url) as session:
        number, content_hash = session.execute(_ACTIVE_REF).one()
    return None if number is None else (int(number), str(content_hash))


# The version in force as two columns (None before seeding): every order task reads them
# with its event (workers/events.py), ``active_ref`` on their own. Built once.
ACTIVE_REF_COLUMNS = tuple(
    select(column).order_by(MappingVersion.id.desc()).limit(1).scalar_subquery().label(name)
    for column, name in ((MappingVersion.id, "profile_id"),
                         (MappingVersion.content_hash, "profile_hash")))
_ACTIVE_REF = select(*ACTIVE_REF_COLUMNS)


def active(url: str) -> VersionView:
    """The version in force.

    Raises:
        ProfileError: no version exists yet (``seed`` first).
    """
    with session_scope(url) as session:
        row = _latest(session)
        if row is None:
            raise ProfileError("no mapping profile version yet: start a worker or run "
                               "`kfsync mapping versions` to create version 1")
        return _view(row)


def get_version(url: str, version: int) -> VersionView:
    with session_scope(url) as session:
        row = session.get(MappingVersion, version)
        if row is None:
            raise ProfileError(f"no profile version {version}")
        return _view(row)


def versions(url: str, limit: int = 100) -> list[VersionView]:
    with session_scope(url) as session:
        rows = session.scalars(select(MappingVersion).order_by(MappingVersion.id.desc())
                               .limit(limit))
        return [_view(r) for r in rows]


def rules_for(url: str, ref: tuple[int, str]) -> Rules:
    """The rules of version ``ref`` (cached per process: versions are immutable)."""
    rules = _PARSED.get(ref)
    if rules is None:
        rules = get_version(url, ref[0]).rules
    return rules


def _lock(session: Session) -> None:
    """Serialise writers of versions (two workers noticing the same file change at once)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('kfsync:mapping_versions'))"))
    else:  # SQLite: any write statement takes the database's write lock for the transaction
        session.execute(text("UPDATE mapping_versions SET id = id WHERE 1 = 0"))


def _add_version(session: Session, document: dict[str, Any], *, source: str, author: str,
                 comment: str | None, rollback_of: int | None = None) -> MappingVersion:
    _lock(session)
    parent = _latest(session)
    changes = diff_documents(parent.document if parent else None, document)
    row = MappingVersion(document=document, content_hash=document_hash(document),
                         source=source, author=author, comment=comment,
                         parent_id=parent.id if parent else None, rollback_of=rollback_of,
                         changes={"changes": [c.to_dict() for c in changes]})
    session.add(row)
    session.flush()
    return row


def seed(url: str, mapping_file: str | None) -> int:
    """Create version 1 from the mapping file (or the defaults) when no version exists.

    Returns the active version number. Two processes seeding at once: the second waits for
    the first's lock and then finds its version.

    Raises:
        MappingError: the mapping file is invalid.
    """
    current = active_id(url)
    if current is not None:
        return current
    rules = load_rules(mapping_file)
    document = dump_rules(rules)
    source, comment = (("file", f"from {mapping_file}") if mapping_file
                       else ("defaults", "built-in defaults"))
    with session_scope(url) as session:
        _lock(session)
        if _latest(session) is None:
            _add_version(session, document, source=source, author="kfsync", comment=comment)
    return active_id(url) or 1


def publish_file(url: str, path: str) -> int | None:
    """Publish the mapping file as a new version when it changed since it was last published
    (its rules differ from the newest file-sourced version's) and differs from the version in
    force. Returns the new version, or None.

    Raises:
        MappingError: the file is invalid.
    """
    document = dump_rules(load_rules(path))
    digest = document_hash(document)
    with session_scope(url) as session:
        _lock(session)
        latest = _latest(session)
        if latest is None or latest.content_hash == digest:
            return None
        last_file = session.scalar(select(MappingVersion.content_hash).where(
            MappingVersion.source == "file").order_by(MappingVersion.id.desc()).limit(1))
        if last_file == digest:
            return None  # the file has not changed since; later publishes stay in force
        row = _add_version(session, document, source="file", author="kfsync",
                           comment=f"mapping file {path} changed")
        audit(session, "kfsync", "mapping-publish", f"mapping_versions/{row.id}",
              f"mapping file {path} changed")
        return row.id


# --- the draft ----------------------------------------------------------------------------

def draft(url: str) -> DraftView | None:
    with session_scope(url) as session:
        row = session.get(MappingDraft, DRAFT)
        if row is None:
            return None
        latest = _latest(session)
        changes = diff_documents(latest.document if latest else None, row.document)
        return DraftView(row.document, row.base_version, row.source, row.updated_by,
                         row.updated_at, row.comment, changes)


def working_document(url: str) -> dict[str, Any]:
    """The draft's document, or the active version's when there is no draft."""
    current = draft(url)
    return current.document if current else active(url).document


def save_draft(url: str, document: Any, actor: str, *, source: str = "studio",
               comment: str | None = None, action: str = "mapping-edit",
               note: str | None = None) -> DraftView:
    """Validate ``document`` (the whole rules document) and store it as the draft.

    Raises:
        MappingError: a schema error, as one line naming the key.
    """
    canonical = normalise(document, "draft")
    with session_scope(url) as session:
        latest = _latest(session)
        row = session.get(MappingDraft, DRAFT)
        if row is None:
            row = MappingDraft(name=DRAFT, document=canonical,
                               base_version=latest.id if latest else None, source=source,
                               updated_by=actor, comment=comment)
            session.add(row)
        else:
            row.document, row.source, row.updated_by = canonical, source, actor
            row.comment = comment or row.comment
        changes = diff_documents(latest.document if latest else None, canonical)
        audit(session, actor, action, "mapping_draft",
              note or "; ".join(str(c) for c in changes[:20]) or "no change")
    result = draft(url)
    assert result is not None
    return result


def edit_draft(url: str, actor: str, edit: Callable[[dict[str, Any]], str],
               *, action: str = "mapping-edit") -> DraftView:
    """Apply ``edit`` (which changes the document in place and returns an audit note) to the
    working document and save it as the draft."""
    document = copy.deepcopy(working_document(url))
    note = edit(document)
    return save_draft(url, document, actor, action=action, note=note)


def discard_draft(url: str, actor: str) -> bool:
    with session_scope(url) as session:
        row = session.get(MappingDraft, DRAFT)
        if row is None:
            return False
        session.delete(row)
        audit(session, actor, "mapping-discard-draft", "mapping_draft", None)
        return True


def publish(url: str, actor: str, comment: str | None,
            check: Callable[[dict[str, Any]], list[str]] | None = None) -> VersionView:
    """Publish the draft as a new version; the draft is removed.

    ``check`` returns blocking errors for a document (``services.catalogue.blocking_errors``).

    Raises:
        ProfileError: no draft, nothing changed, or the draft has blocking errors.
    """
    current = draft(url)
    if current is None:
        raise ProfileError("there is no draft to publish")
    if not current.changes:
        raise ProfileError("the draft is the same as the version in force: nothing to publish")
    errors = check(current.document) if check else []
    if errors:
        raise ProfileError("cannot publish: " + "; ".join(errors))
    with session_scope(url) as session:
        row = _add_version(session, current.document, source=current.source, author=actor,
                           comment=comment)
        session.execute(delete(MappingDraft).where(MappingDraft.name == DRAFT))
        audit(session, actor, "mapping-publish", f"mapping_versions/{row.id}",
              _summary(comment, row))
        return _view(row)


def rollback(url: str, version: int, actor: str, comment: str | None = None) -> VersionView:
    """Put ``version``'s rules back in force, as a new version.

    Raises:
        ProfileError: no such version, or it is the one in force already.
    """
    old = get_version(url, version)
    with session_scope(url) as session:
        latest = _latest(session)
        if latest is not None and latest.content_hash == document_hash(old.document):
            raise ProfileError(f"version {version}'s rules are already in force "
                               f"(version {latest.id})")
        text = comment or f"rollback to version {version}"
        row = _add_version(session, old.document, source="rollback", author=actor,
                           comment=text, rollback_of=version)
        audit(session, actor, "mapping-rollback", f"mapping_versions/{row.id}",
              _summary(text, row))
        return _view(row)


def _summary(comment: str | None, row: MappingVersion) -> str:
    count = len(row.changes.get("changes", []))
    return f"{comment or 'no comment'} ({count} change{'s' if count != 1 else ''})"


# --- YAML promotion -----------------------------------------------------------------------

def export_yaml(url: str, version: int | None = None) -> str:
    view = active(url) if version is None else get_version(url, version)
    return to_yaml(view.document, version=view.id, comment=view.comment)


def import_yaml(url: str, text: str, actor: str, source_name: str = "import") -> DraftView:
    """Make the YAML (an export from another environment, or a mapping file) the draft.

    Raises:
        MappingError: invalid YAML or rules (nothing is stored).
    """
    document = from_yaml(text, source_name)
    return save_draft(url, document, actor, source="import",
                      comment=f"imported from {source_name}", action="mapping-import",
                      note=f"imported {source_name}")


__all__ = [
    "DraftView",
    "MappingError",
    "ProfileError",
    "VersionView",
    "active",
    "active_id",
    "audit",
    "discard_draft",
    "draft",
    "edit_draft",
    "export_yaml",
    "get_version",
    "import_yaml",
    "publish",
    "publish_file",
    "rollback",
    "rules_for",
    "save_draft",
    "seed",
    "versions",
    "working_document",
]
