"""Faithful, strict fake Magento 2 and KashFlow REST servers (DESIGN §6.5).

Used by the demo, the integration tests and the benchmarks. ``sandbox.server.SandboxServers``
runs both on loopback; ``sandbox.magento.create_app`` and ``sandbox.kashflow.create_app`` give
the bare Flask apps (for Flask's test client). Control endpoints live under ``/_sandbox/`` on
each server: seed data, inspect what was written, count calls, inject faults.

The credentials below are the only ones the sandboxes accept. They are fixed, public test
values, never real secrets.
"""

from __future__ import annotations

MAGENTO_TOKEN = "sandbox-magento-token"  # noqa: S105 - a public sandbox value
MAGENTO_OAUTH: dict[str, str] = {
    "consumer_key": "sandbox-consumer-key",
    "consumer_secret": "sandbox-consumer-secret",
    "access_token": "sandbox-access-token",
    "access_token_secret": "sandbox-access-token-secret",
}
KASHFLOW_USERNAME = "sandbox"
KASHFLOW_PASSWORD = "sandbox-password"  # noqa: S105 - a public sandbox value
KASHFLOW_MEMORABLE_WORD = "pineapple"

__all__ = [
    "KASHFLOW_MEMORABLE_WORD",
    "KASHFLOW_PASSWORD",
    "KASHFLOW_USERNAME",
    "MAGENTO_OAUTH",
    "MAGENTO_TOKEN",
]
