"""Named operators on a real ``kfsync web`` with headless Chromium: a viewer sees no requeue
button and the API refuses them (403); an operator requeues and the audit log names them; a
logged-out session's copied cookie and a revoked token get 401 at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select

from store.db import session_scope
from store.models import AuditEntry
from tests.integration.browser import chromium
from tests.integration.web_server import WebServer, web_server, web_server_env
from tests.unit.ingest.ops_helpers import dead_job

pytestmark = pytest.mark.integration
__all__ = ["web_server", "web_server_env"]  # the fixtures, imported for this module
PASSWORD = "a-long-browser-password"


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def add_user(server: WebServer, name: str, role: str) -> tuple[str, str]:
    """``kfsync users add`` and ``kfsync users token``, as the first admin would run them."""
    added = server.cli("users", "add", name, "--role", role, "--password-stdin",
                       stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    issued = server.cli("users", "token", name, "--label", "browser test")
    assert issued.returncode == 0, issued.stderr
    return issued.stderr.split()[1], issued.stdout.strip()  # "token 7 for ann ..." and it


def log_in(browser: Any, server: WebServer, name: str) -> Any:
    page = browser.new_context().new_page()
    page.set_default_timeout(15000)
    page.goto(f"{server.base}/dead-letters")
    page.fill("input[name=user]", name)
    page.fill("input[name=token]", PASSWORD)
    page.click("button:has-text('Log in')")
    assert page.url.endswith("/dead-letters"), page.content()[:500]
    return page


def test_roles_in_the_browser_and_the_api(web_server: WebServer, browser: Any) -> None:
    server = web_server
    _, letter = dead_job(server.db_url, 9101)
    _, viewer_token = add_user(server, "vera", "viewer")
    token_id, operator_token = add_user(server, "otto", "operator")
    api = f"{server.base}/api/v1/dead-letters/requeue"

    viewer = log_in(browser, server, "vera")
    assert f"#{letter}" in viewer.content() and "vera (viewer)" in viewer.inner_text("#who")
    assert viewer.locator("button:has-text('Requeue')").count() == 0
    viewer.goto(f"{server.base}/dead-letters/{letter}")
    assert viewer.locator("button:has-text('Requeue')").count() == 0
    refused = requests.post(api, json={"ids": [letter]}, timeout=10,
                            headers={"Authorization": f"Bearer {viewer_token}"})
    assert refused.status_code == 403

    operator = log_in(browser, server, "otto")
    operator.check(f"input[aria-label='select dead letter {letter}']")
    operator.click("button:has-text('Requeue selected')")
    assert f"Requeued 1 dead letter(s): {letter}" in operator.content()
    with session_scope(server.db_url) as s:
        actors = [(a.actor, a.action) for a in s.scalars(select(AuditEntry))]
    assert actors == [("dashboard:otto", "requeue")]

    # Logging out ends the session on the server: a copy of the cookie is refused at once.
    cookies = operator.context.cookies()
    operator.click("button:has-text('Log out')")
    assert "/login" in operator.url
    thief = browser.new_context()
    thief.add_cookies(cookies)
    stolen = thief.new_page()
    reply = stolen.goto(f"{server.base}/jobs")
    assert reply is not None and reply.status == 401
    assert "Your session has ended" in stolen.content()

    # A revoked token is refused on its next call.
    jobs = f"{server.base}/api/v1/jobs"
    auth = {"Authorization": f"Bearer {operator_token}"}
    assert requests.get(jobs, headers=auth, timeout=10).status_code == 200
    revoked = server.cli("users", "token", "--revoke", token_id)
    assert revoked.returncode == 0, revoked.stderr
    assert requests.get(jobs, headers=auth, timeout=10).status_code == 401
