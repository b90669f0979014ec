"""Webhook signatures (DESIGN §6.3).

``X-Kfsync-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + raw_body)>``; several
comma-separated ``v1=`` values are allowed, and several secrets are accepted, so a secret can
be rotated without dropping events. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

TOLERANCE_S = 300  # a signed timestamp further than this from our clock is a replay or skew
MAX_TIMESTAMP_DIGITS = 12  # unix seconds until the year 33658; longer is no timestamp


class SignatureError(Exception):
    """Why a webhook was refused (the message is safe to return: it holds no secret)."""


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """Return the ``v1=`` signature value for ``body`` signed at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def signed_headers(secret: str, event_id: str, body: bytes, timestamp: int | None = None
                   ) -> dict[str, str]:
    """The three headers a sender puts on a webhook (used by the demo and tests)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {"X-Kfsync-Event-Id": event_id, "X-Kfsync-Timestamp": str(ts),
            "X-Kfsync-Signature": sign(secret, ts, body), "Content-Type": "application/json"}


def verify(secrets: Iterable[str], timestamp: str | None, header: str | None, body: bytes,
           now: float | None = None) -> None:
    """Raise ``SignatureError`` unless one ``v1=`` value matches one secret within the window."""
    if not timestamp or not header:
        raise SignatureError("missing X-Kfsync-Timestamp or X-Kfsync-Signature header")
    # ASCII digits only, and few of them: int() accepts any length (a 309-digit number then
    # overflows the float subtraction below) and non-ASCII digits.
    if not (timestamp.isascii() and timestamp.isdigit()
            and len(timestamp) <= MAX_TIMESTAMP_DIGITS):
        raise SignatureError("X-Kfsync-Timestamp is not unix seconds")
    ts = int(timestamp)
    if abs((time.time() if now is None else now) - ts) > TOLERANCE_S:
        raise SignatureError(f"timestamp outside the {TOLERANCE_S} s window")
    offered = [part.strip()[3:] for part in header.split(",") if part.strip().startswith("v1=")]
    expected = [sign(secret, ts, body)[3:] for secret in secrets]
    # Compare every pair, so timing does not reveal which secret or value matched.
    matched = False
    for value in offered:
        for good in expected:
            matched |= hmac.compare_digest(value.encode(), good.encode())
    if not matched:
        raise SignatureError("signature does not match")
