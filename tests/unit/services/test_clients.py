"""services.clients: the API clients built from settings (connectors take plain arguments)."""

from __future__ import annotations

import pytest
from requests_oauthlib import OAuth1

from core.settings import ConfigError, MagentoOAuth, Settings
from services.clients import kashflow_client, magento_client

OAUTH = MagentoOAuth(consumer_key="ck-123", consumer_secret="cs-secret-456",
                     access_token="at-789", access_token_secret="ats-secret-000")


def test_kashflow_client_requires_credentials() -> None:
    with pytest.raises(ConfigError):
        kashflow_client(Settings())
    client = kashflow_client(Settings(
        kashflow_username="shop-sync", kashflow_password="Pa55-w0rd-Sekret",
        kashflow_memorable_word="PineApple", http_timeout_s=12.0))
    assert client.timeout == (10.0, 12.0)


def test_magento_client_prefers_oauth_over_a_token() -> None:
    with pytest.raises(ConfigError):
        magento_client(Settings())
    both = magento_client(Settings(magento_token="bearer-token-abcdef123456",
                                   magento_oauth=OAUTH))
    assert isinstance(both.session.auth, OAuth1)  # OAuth wins: bearer may be disabled
