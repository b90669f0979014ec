"""The one place the app builds its API clients from settings: connectors take plain arguments.

Workers keep one client per process (``workers.context``), the CLI and the dashboard build one
per command or request; all of them go through these two functions.
"""

from __future__ import annotations

from connectors.http import CallObserver, Limiter
from connectors.kashflow import KashFlowClient
from connectors.magento import MagentoClient
from core.settings import Settings
from services.kashflow_session import RedisSessionStore


def magento_client(settings: Settings, *, on_call: CallObserver | None = None) -> MagentoClient:
    """Client for ``settings``; OAuth wins when both OAuth and a token are configured.

    Raises:
        core.settings.ConfigError: neither a token nor OAuth credentials are set.
    """
    settings.require("magento_auth", purpose="the Magento client")
    return MagentoClient(
        settings.magento_base_url,
        token=None if settings.magento_oauth else settings.magento_token,
        oauth=settings.magento_oauth,
        timeout=settings.http_timeout_s,
        on_call=on_call,
    )


def kashflow_client(settings: Settings, *, limiter: Limiter | None = None,
                    on_call: CallObserver | None = None,
                    shared_session: bool = False) -> KashFlowClient:
    """Client for ``settings``; ``shared_session``: its session token is the one every
    process shares in Redis (``services.kashflow_session``), as the workers' is.

    Raises:
        core.settings.ConfigError: user name, password or memorable word unset.
    """
    settings.require("kashflow_username", "kashflow_password", "kashflow_memorable_word",
                     purpose="the KashFlow client")
    assert settings.kashflow_username and settings.kashflow_password
    assert settings.kashflow_memorable_word
    return KashFlowClient(settings.kashflow_base_url, username=settings.kashflow_username,
                          password=settings.kashflow_password,
                          memorable_word=settings.kashflow_memorable_word,
                          timeout=settings.http_timeout_s, limiter=limiter, on_call=on_call,
                          session_store=RedisSessionStore(
                              settings.redis_url, settings.kashflow_base_url,
                              settings.kashflow_username) if shared_session else None)
