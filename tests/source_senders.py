"""Senders for the Adobe I/O Events and Mage-OS sources, as those systems sign.

``KeyServer`` plays Adobe's key host on loopback: it serves PEM public keys by path, and the
test points ``KFSYNC_ADOBE_KEY_HOST`` at it. Keys are generated in the test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import simplejson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CLIENT_ID = "kfsync-test-client"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


class KeyServer:
    """A loopback HTTP server serving ``keys`` (path -> PEM bytes); counts the fetches."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        self.keys = keys
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = outer.keys.get(self.path)
                self.send_response(200 if body else 404)
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def adobe_event(event_type: str, value: dict[str, Any], event_id: str | None = None,
                recipient: str = CLIENT_ID) -> bytes:
    """An Adobe I/O Events delivery body for a Commerce event (CloudEvents envelope)."""
    event_id = event_id or str(uuid.uuid4())
    return simplejson.dumps({
        "specversion": "1.0", "id": event_id, "event_id": event_id,
        "source": "urn:uuid:shop", "type": f"com.adobe.commerce.observer.{event_type}",
        "datacontenttype": "application/json", "time": "2026-11-24T10:00:03.000Z",
        "recipient_client_id": recipient,
        "data": {"key": str(uuid.uuid4()), "value": value,
                 "_metadata": {"commerceEdition": "Adobe Commerce", "storeId": "1",
                               "websiteId": "1", "storeGroupId": "1"}},
    }, use_decimal=True).encode()


def adobe_signature(key: rsa.RSAPrivateKey, body: bytes) -> str:
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def adobe_headers(body: bytes, signers: list[tuple[rsa.RSAPrivateKey, str]]
                  ) -> dict[str, str]:
    """Signature and key-path headers, slot 1 then 2, for each (private key, key path)."""
    headers = {"Content-Type": "application/json", "x-adobe-event-code": "test",
               "x-adobe-provider": "commerce"}
    for slot, (key, path) in enumerate(signers, start=1):
        headers[f"x-adobe-digital-signature-{slot}"] = adobe_signature(key, body)
        headers[f"x-adobe-public-key{slot}-path"] = path
    return headers


def mageos_body(event_name: str, data: dict[str, Any]) -> bytes:
    """A Mage-OS Async Events body (CloudEvents, as Mage-OS 4 sends)."""
    return simplejson.dumps({"specversion": "1.0", "id": str(uuid.uuid4()), "source": "1",
                             "type": event_name, "datacontenttype": "application/json",
                             "data": data}, use_decimal=True).encode()


def mageos_headers(token: str, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json",
            "x-magento-signature": hmac.new(token.encode(), body, hashlib.sha256).hexdigest()}
