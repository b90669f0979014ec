"""Who is asking: named users (``store.accounts``) and the bootstrap ops token.

API callers send ``Authorization: Bearer <token>``: a user's API token (``kfs_...``) or
``KFSYNC_OPS_TOKEN``, which acts as an admin named ``ops-token`` so a fresh install can be
driven before any user exists. Dashboard users log in with name and password (or the ops token
with no name); the cookie then holds only a random session id whose server-side record
(``web_sessions``) logout, disabling the user and rotating the ops token end at once.

Roles: ``viewer`` reads; ``operator`` also requeues, discards and resolves; ``admin`` also
changes the mapping. The audit log names the actor: ``api:ann``, ``dashboard:ann`` (the ops
token keeps the names ``api`` and ``dashboard``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import abort, g

from core.settings import Settings
from store.accounts import Principal, check_password, token_principal

OPS_TOKEN_USER = Principal("ops-token", "admin")


def ops_token_matches(settings: Settings, presented: str | None) -> bool:
    if not settings.ops_token or not presented:
        return False
    return hmac.compare_digest(presented.encode(), settings.ops_token.encode())


def bearer_value(header: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>``, or None for any other header."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def bearer_principal(settings: Settings, token: str) -> Principal | None:
    if ops_token_matches(settings, token):
        return OPS_TOKEN_USER
    return token_principal(settings.database_url, token)


def login_principal(settings: Settings, name: str, secret: str) -> Principal | None:
    """A dashboard login: a user's name and password, or no name and the ops token."""
    if not secret:
        return None
    if not name:
        return OPS_TOKEN_USER if ops_token_matches(settings, secret) else None
    return check_password(settings.database_url, name, secret)


def secret_key(settings: Settings) -> bytes:
    """The Flask ``SECRET_KEY`` (cookie and CSRF signatures), the same in every web process.

    Derived from the ops token, else from the webhook secrets; random without either (one
    process only). Sessions live server-side, so the key guards no login by itself.
    """
    base = settings.ops_token or ",".join(sorted(settings.webhook_secrets))
    if not base:
        return secrets.token_bytes(32)
    return hmac.new(base.encode(), b"kfsync dashboard session", hashlib.sha256).digest()


def fingerprint(settings: Settings) -> str | None:
    """What an ops-token session records to say "opened with the current token"."""
    if not settings.ops_token:
        return None
    token = settings.ops_token.encode()
    return hmac.new(token, b"kfsync session fingerprint", hashlib.sha256).hexdigest()[:32]


def current() -> Principal:
    principal = g.get("kfsync_principal")
    assert isinstance(principal, Principal), "only behind a login check"
    return principal


def actor(via: str) -> str:
    """The audit log's name for the current principal acting through ``via``."""
    principal = current()
    return via if principal.user_id is None else f"{via}:{principal.name}"


def require(role: str) -> None:
    """Abort with 403 unless the current principal holds ``role`` (or a higher one)."""
    if not current().can(role):
        abort(403)
