"""The process's Redis clients (core/redis_clients.py): one per URL and decoding, built once."""

from __future__ import annotations

from core import redis_clients


def test_one_client_per_url_and_decoding_until_forgotten(redis_url: str) -> None:
    raw, text = redis_clients.client(redis_url), redis_clients.client(redis_url, decode=True)
    assert redis_clients.client(redis_url) is raw and raw is not text
    raw.set("kfsync:test:key", "value")
    assert raw.get("kfsync:test:key") == b"value" and text.get("kfsync:test:key") == "value"
    redis_clients.forget()
    again = redis_clients.client(redis_url)
    assert again is not raw and again.get("kfsync:test:key") == b"value"
