"""The ops token: bearer auth for ``/api/v1/``, a login for the dashboard.

The token is compared in constant time. The dashboard's session cookie is signed with a key
derived from the token, so rotating ``KFSYNC_OPS_TOKEN`` logs every browser out. Without a
token configured, nobody gets in (every ops route answers 401 / the login page refuses).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from kfsync.settings import Settings

SESSION_KEY = "ops"  # the session holds a fingerprint of the token it was opened with


def token_matches(settings: Settings, presented: str | None) -> bool:
    if not settings.ops_token or not presented:
        return False
    return hmac.compare_digest(presented.encode(), settings.ops_token.encode())


def bearer_matches(settings: Settings, header: str | None) -> bool:
    """``Authorization: Bearer <ops token>``."""
    scheme, _, value = (header or "").partition(" ")
    return scheme.lower() == "bearer" and token_matches(settings, value.strip())


def secret_key(settings: Settings) -> bytes:
    """The Flask ``SECRET_KEY``: derived from the ops token (random when there is none)."""
    if not settings.ops_token:
        return secrets.token_bytes(32)
    return hmac.new(settings.ops_token.encode(), b"kfsync dashboard session",
                    hashlib.sha256).digest()


def fingerprint(settings: Settings) -> str:
    """What the session stores to say "logged in with the current token" (never the token)."""
    token = (settings.ops_token or "").encode()
    return hmac.new(token, b"kfsync session fingerprint", hashlib.sha256).hexdigest()[:32]
