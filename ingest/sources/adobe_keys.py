"""Adobe I/O Events signatures: RSA-SHA256 over the raw body, keys from the Adobe key host.

Each delivery names two public keys by path (``x-adobe-public-key1-path``/``-2-path``) and
carries one signature per key (``x-adobe-digital-signature-1``/``-2``, base64); the event is
valid when either verifies. Keys are fetched only from ``KFSYNC_ADOBE_KEY_HOST`` (a path that
names another host is refused before any request) and cached for at most ``KEY_TTL_S``,
because Adobe sends no cache header and rotates keys.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from urllib.parse import urlsplit

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

KEY_TTL_S = 24 * 3600  # Adobe: cache a public key for at most 24 h
FETCH_TIMEOUT_S = 5.0  # well inside Adobe's 10 s per delivery
MAX_KEY_BYTES = 16 * 1024  # a PEM public key is under 1 KiB; anything larger is not one


class SignatureError(Exception):
    """The delivery is not signed by Adobe (answer 401); the message holds no secret."""


class KeyUnavailable(Exception):
    """The key host did not answer: we cannot tell, so ask Adobe to retry (answer 503)."""


class KeyCache:
    """Public keys by URL, each kept for at most ``ttl_s`` (one per process, thread-safe)."""

    def __init__(self, ttl_s: float = KEY_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._keys: dict[str, tuple[float, rsa.RSAPublicKey]] = {}
        self._lock = threading.Lock()
        self._http = requests.Session()

    def get(self, url: str) -> rsa.RSAPublicKey:
        now = time.monotonic()
        with self._lock:
            cached = self._keys.get(url)
        if cached and now - cached[0] < self.ttl_s:
            return cached[1]
        key = self._fetch(url)
        with self._lock:
            self._keys[url] = (now, key)
        return key

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()

    def _fetch(self, url: str) -> rsa.RSAPublicKey:
        try:
            reply = self._http.get(url, timeout=FETCH_TIMEOUT_S, allow_redirects=False)
        except requests.RequestException as exc:
            raise KeyUnavailable(f"Adobe key host did not answer ({type(exc).__name__})") \
                from None
        if reply.status_code >= 500 or reply.status_code == 429:
            raise KeyUnavailable(f"Adobe key host answered {reply.status_code}")
        if reply.status_code != 200 or len(reply.content) > MAX_KEY_BYTES:
            raise SignatureError(f"no public key at the key path (HTTP {reply.status_code})")
        try:
            key = load_pem_public_key(reply.content)
        except ValueError:
            raise SignatureError("the key path does not hold a PEM public key") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise SignatureError("the key path does not hold an RSA public key")
        return key


def key_url(host: str, path: str | None) -> str:
    """``host`` + ``path``, refusing any path that would leave ``host``.

    Raises:
        SignatureError: no path, or one naming another host, a user or a scheme.
    """
    if not path or not path.startswith("/") or path.startswith("//") \
            or any(c in path for c in "\\@?#") or any(ord(c) < 0x21 for c in path):
        raise SignatureError("public key path missing or not a path on the Adobe key host")
    url = host.rstrip("/") + path
    if urlsplit(url).netloc != urlsplit(host).netloc:
        raise SignatureError("public key path points at another host")
    return url


def verify(cache: KeyCache, host: str, body: bytes,
           pairs: list[tuple[str | None, str | None]]) -> None:
    """Accept ``body`` if any (signature, key path) pair verifies.

    Raises:
        SignatureError: no pair verifies (or none is usable).
        KeyUnavailable: a key could not be fetched and no other pair verified.
    """
    unavailable: KeyUnavailable | None = None
    offered = [(sig, path) for sig, path in pairs if sig]
    if not offered:
        raise SignatureError("missing x-adobe-digital-signature-1/-2 header")
    checked = [(sig, key_url(host, path)) for sig, path in offered]  # all on the key host
    for signature, url in checked:
        try:
            raw = base64.b64decode(str(signature), validate=True)
        except (binascii.Error, ValueError):
            continue
        try:
            cache.get(url).verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
            return
        except InvalidSignature:
            continue
        except KeyUnavailable as exc:
            unavailable = exc
    if unavailable is not None:
        raise unavailable
    raise SignatureError("signature does not match")
