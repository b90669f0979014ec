"""Headless Chromium for the dashboard's browser tests: Debian's ``chromium``, driven by
playwright (its own browser download cannot work here)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
# No background networking: this machine refuses connections to Google's hosts.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless browser, closed afterwards. Without ``CHROMIUM`` the test skips, or
    fails when ``KFSYNC_TEST_REQUIRE_BROWSER`` is set (CI)."""
    if not os.path.exists(CHROMIUM):
        reason = f"{CHROMIUM} is absent (apt-get install -y chromium)"
        if os.environ.get("KFSYNC_TEST_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
