"""Named operators: add, list and disable users; issue and revoke API tokens; open, check
and end the dashboard's server-side sessions.

Passwords are hashed with argon2id (argon2-cffi's defaults); API tokens and session ids are
32 random bytes, stored only as SHA-256 digests, so a copy of the database lets nobody in.
Disabling a user revokes their tokens and ends their sessions in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.account_models import ROLES, ApiToken, User, WebSession
from store.db import session_scope
from store.models import utcnow

# Not a secret: tells a kfsync token apart in a config file or to a leak scanner.
TOKEN_PREFIX = "kfs_"  # noqa: S105
MIN_PASSWORD = 12
_hasher = PasswordHasher()
# Verified when the name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AccountError(Exception):
    """A refused account operation; the message is one line naming what is wrong."""


@dataclass(frozen=True)
class Principal:
    """Who is acting: a named user, or the bootstrap ops token (``user_id`` None)."""

    name: str
    role: str
    user_id: int | None = None

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def add_user(url: str, name: str, role: str, password: str) -> int:
    """Create a user; raises ``AccountError`` on a bad role, short password or taken name."""
    name = name.strip()
    if not name or len(name) > 64 or not name.isprintable() or " " in name:
        raise AccountError("a user name is 1-64 printable characters without spaces")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters")
    try:
        with session_scope(url) as s:
            user = User(name=name, role=role, password_hash=_hasher.hash(password))
            s.add(user)
            s.flush()
            return user.id
    except IntegrityError:
        raise AccountError(f"a user named {name!r} exists already") from None


def list_users(url: str) -> list[tuple[User, list[int]]]:
    """Every user with the ids of their live API tokens."""
    with session_scope(url) as s:
        users = list(s.scalars(select(User).order_by(User.name)))
        live = s.execute(select(ApiToken.user_id, ApiToken.id).where(
            ApiToken.revoked_at.is_(None)).order_by(ApiToken.id)).all()
        return [(u, [t.id for t in live if t.user_id == u.id]) for u in users]


def _user(s: Session, name: str) -> User:
    user = s.scalars(select(User).where(User.name == name)).one_or_none()
    if user is None:
        raise AccountError(f"no user named {name!r}")
    return user


def disable_user(url: str, name: str) -> None:
    """Disable a user: their tokens are revoked and their sessions end, now."""
    now = utcnow()
    with session_scope(url) as s:
        user = _user(s, name)
        user.disabled_at = user.disabled_at or now
        s.execute(update(ApiToken).where(ApiToken.user_id == user.id,
                                         ApiToken.revoked_at.is_(None)).values(revoked_at=now))
        s.execute(update(WebSession).where(WebSession.user_id == user.id,
                                           WebSession.ended_at.is_(None)).values(ended_at=now))


def issue_token(url: str, name: str, label: str) -> tuple[int, str]:
    """A new API token for an active user: ``(token id, token)``; only its digest is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with session_scope(url) as s:
        user = _user(s, name)
        if user.disabled_at is not None:
            raise AccountError(f"user {name!r} is disabled")
        row = ApiToken(user_id=user.id, label=label[:64] or "token", digest=digest(token))
        s.add(row)
        s.flush()
        return row.id, token


def revoke_token(url: str, token_id: int) -> None:
    with session_scope(url) as s:
        row = s.get(ApiToken, token_id)
        if row is None:
            raise AccountError(f"no token with id {token_id}")
        row.revoked_at = row.revoked_at or utcnow()


def check_password(url: str, name: str, password: str) -> Principal | None:
    """The active user ``name`` if ``password`` is theirs, else None (in constant-ish time)."""
    with session_scope(url) as s:
        user = s.scalars(select(User).where(User.name == name)).one_or_none()
        stored = user.password_hash if user is not None else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or user.disabled_at is not None:
            return None
        return Principal(user.name, user.role, user.id)


def user_exists(url: str, name: str) -> bool:
    with session_scope(url) as s:
        return s.scalar(select(User.id).where(User.name == name)) is not None


def token_principal(url: str, token: str) -> Principal | None:
    """The active user holding the live API token ``token``, else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with session_scope(url) as s:
        row = s.execute(select(User.id, User.name, User.role).join(
            ApiToken, ApiToken.user_id == User.id).where(
            ApiToken.digest == digest(token), ApiToken.revoked_at.is_(None),
            User.disabled_at.is_(None))).one_or_none()
        return Principal(row.name, row.role, row.id) if row else None


def open_session(url: str, principal: Principal, lifetime: timedelta,
                 token_fingerprint: str | None = None) -> str:
    """Start a dashboard session; returns the random session id for the cookie."""
    sid = secrets.token_urlsafe(32)
    now = utcnow()
    with session_scope(url) as s:
        # Sessions over a week past their end are no use even to an audit: keep the table small.
        s.execute(delete(WebSession).where(WebSession.expires_at < now - timedelta(days=7)))
        s.add(WebSession(digest=digest(sid), user_id=principal.user_id,
                         token_fingerprint=token_fingerprint,
                         expires_at=now + lifetime))
    return sid


def session_principal(url: str, sid: str, token_fingerprint: str | None) -> Principal | None:
    """Who holds the live session ``sid``; None when it ended, expired or was revoked."""
    with session_scope(url) as s:
        row = s.get(WebSession, digest(sid))
        if row is None or row.ended_at is not None or _expired(row.expires_at):
            return None
        if row.user_id is None:
            ok = token_fingerprint is not None and row.token_fingerprint == token_fingerprint
            return Principal("ops-token", "admin") if ok else None
        user = s.get(User, row.user_id)
        if user is None or user.disabled_at is not None:
            return None
        return Principal(user.name, user.role, user.id)


def _expired(when: datetime) -> bool:
    now = utcnow()
    return when <= (now if when.tzinfo else now.replace(tzinfo=None))  # SQLite: naive UTC


def end_session(url: str, sid: str) -> None:
    with session_scope(url) as s:
        row = s.get(WebSession, digest(sid))
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()
