"""Per-process state of a worker: settings, rules and API clients, each built once.

Clients keep a logged-in KashFlow session and pooled connections, so they live as long as
the process (``reset_clients`` after fork).
"""

from __future__ import annotations

from functools import cache

from connectors.kashflow import KashFlowClient
from connectors.magento import MagentoClient
from connectors.ratelimit import TokenBucket
from kfsync.settings import Settings
from mappings.rules import Rules, load_rules

_clients: dict[str, object] = {}
RATE_LIMIT_KEY = "kfsync:ratelimit:kashflow"  # one bucket per KashFlow account and deployment


@cache
def settings() -> Settings:
    return Settings.load()


@cache
def rules() -> Rules:
    return load_rules(settings().mapping_file)


def magento() -> MagentoClient:
    client = _clients.get("magento")
    if client is None:
        client = _clients["magento"] = MagentoClient.from_settings(settings())
    assert isinstance(client, MagentoClient)
    return client


def kashflow() -> KashFlowClient:
    client = _clients.get("kashflow")
    if client is None:
        s = settings()
        bucket = TokenBucket(s.redis_url, RATE_LIMIT_KEY, rate=s.kashflow_rate,
                             burst=s.kashflow_burst)
        client = _clients["kashflow"] = KashFlowClient.from_settings(s, limiter=bucket)
    assert isinstance(client, KashFlowClient)
    return client


def reset_clients() -> None:
    _clients.clear()


def db_url() -> str:
    return settings().database_url
