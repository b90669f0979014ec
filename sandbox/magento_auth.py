"""Magento REST auth: a bearer token, or a verified OAuth 1.0a HMAC-SHA256 signature.

OAuth is two-legged with the integration's four credentials (``sandbox.MAGENTO_OAUTH``): the
signature base string is the standard one (method, URL without query, sorted parameters from
the query string, the ``Authorization`` header and a form body), keyed with
``consumer_secret&access_token_secret``. Like Magento 2.4: only ``HMAC-SHA256``,
``oauth_version`` 1.0 when given, timestamps more than 600 s ahead rejected, nonces single-use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from urllib.parse import parse_qsl

from flask import Request
from oauthlib.oauth1.rfc5849 import signature, utils

from sandbox import MAGENTO_OAUTH, MAGENTO_TOKEN

TIME_DEVIATION_S = 600  # Magento's Nonce\Generator::TIME_DEVIATION
NONCE_MEMORY_S = 3600  # how long a used nonce is remembered (replays older than this pass)
REQUIRED = ("oauth_consumer_key", "oauth_token", "oauth_signature_method", "oauth_timestamp",
            "oauth_nonce", "oauth_signature")


class MagentoAuth:
    """Checks the ``Authorization`` header of each REST call; remembers OAuth nonces."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nonces: dict[str, float] = {}

    def reset(self) -> None:
        with self._lock:
            self._nonces.clear()

    def allows(self, request: Request, original_path: str) -> bool:
        """True when the request carries the sandbox bearer token or a valid OAuth signature."""
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer":
            return credentials.strip() == MAGENTO_TOKEN
        if scheme.lower() == "oauth":
            url = request.host_url.rstrip("/") + original_path
            return self._oauth_valid(request, header, url)
        return False

    def _oauth_valid(self, request: Request, header: str, url: str) -> bool:
        try:
            params = {k: utils.unescape(v) for k, v in utils.parse_authorization_header(header)}
        except (ValueError, IndexError):
            return False
        if any(not params.get(name) for name in REQUIRED):
            return False
        if (params["oauth_signature_method"] != "HMAC-SHA256"
                or params.get("oauth_version", "1.0") != "1.0"
                or params["oauth_consumer_key"] != MAGENTO_OAUTH["consumer_key"]
                or params["oauth_token"] != MAGENTO_OAUTH["access_token"]):
            return False
        if not self._signature_matches(request, params, url):
            return False
        return self._fresh(params["oauth_timestamp"], params["oauth_nonce"])

    @staticmethod
    def _signature_matches(request: Request, params: dict[str, str], url: str) -> bool:
        """Collect the parameters as RFC 5849 §3.4.1.3 says (query, header, form body)."""
        collected = parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True)
        if request.mimetype == "application/x-www-form-urlencoded":
            collected += parse_qsl(request.get_data(as_text=True), keep_blank_values=True)
        collected += [(k, v) for k, v in params.items() if k not in ("realm", "oauth_signature")]
        base = signature.signature_base_string(
            request.method, signature.base_string_uri(url),
            signature.normalize_parameters(collected))
        return hmac.compare_digest(_hmac_sha256(base), params["oauth_signature"].encode())

    def _fresh(self, timestamp: str, nonce: str) -> bool:
        try:
            stamp = int(timestamp)
        except ValueError:
            return False
        now = time.time()
        if stamp <= 0 or stamp > now + TIME_DEVIATION_S:
            return False
        with self._lock:
            if len(self._nonces) > 10_000:  # forget old nonces so memory stays bounded
                self._nonces = {n: t for n, t in self._nonces.items()
                                if t > now - NONCE_MEMORY_S}
            if nonce in self._nonces:
                return False
            self._nonces[nonce] = now
        return True


def _hmac_sha256(base_string: str) -> bytes:
    """RFC 5849 §3.4.2 with SHA-256: key = escaped secrets joined by "&", base64 digest."""
    key = (utils.escape(MAGENTO_OAUTH["consumer_secret"]) + "&"
           + utils.escape(MAGENTO_OAUTH["access_token_secret"]))
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest)
