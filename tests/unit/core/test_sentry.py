"""Sentry gets error events from failing tasks and requests, with no secret, token or email
address in them: events are captured by a stub transport and searched byte by byte."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from core.sentry import init_sentry, scrub
from core.settings import Settings
from tests.unit.ingest.ops_helpers import SECRETS

EMAIL = "ann.lee@example.com"
OAUTH = {"KFSYNC_MAGENTO_OAUTH_CONSUMER_KEY": "ck-1a2b3c4d", "KFSYNC_MAGENTO_OAUTH_CONSUMER_SECRET":
         "cs-5e6f7a8b", "KFSYNC_MAGENTO_OAUTH_ACCESS_TOKEN": "at-9c0d1e2f",
         "KFSYNC_MAGENTO_OAUTH_ACCESS_TOKEN_SECRET": "ats-3a4b5c6d"}
KF_SESSION = "KFSESSION-77d1f0e3b2"
COOKIE = "session-cookie-value-123"  # kept away from the failing lines: Sentry sends source


class Capture(Transport):
    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def text(self) -> str:
        return "\n".join(e.serialize().decode("utf-8", "replace") for e in self.envelopes)


@pytest.fixture
def settings() -> Settings:
    return Settings.load({**SECRETS, **OAUTH, "KFSYNC_ENV": "qa",
                          "KFSYNC_SENTRY_DSN": "http://pub123@127.0.0.1:9/42"}, env_file=None)


@pytest.fixture
def transport(settings: Settings) -> Iterator[Capture]:
    capture = Capture()
    assert init_sentry(settings, component="test", transport=capture)
    yield capture
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # back to a disabled client


def every_secret(settings: Settings) -> list[str]:
    return [*settings.secret_values(), KF_SESSION, EMAIL]


def leaky_message(settings: Settings) -> str:
    return (f"login as {settings.kashflow_username} with {settings.kashflow_password} / "
            f"{settings.kashflow_memorable_word}; headers Authorization: Bearer "
            f"{settings.ops_token}, KfToken {KF_SESSION}, X-Kfsync-Signature: v1="
            f"{'ab' * 32}; webhook secret {settings.webhook_secrets[0]}; magento "
            f"{settings.magento_token} {OAUTH['KFSYNC_MAGENTO_OAUTH_CONSUMER_SECRET']}; "
            f"customer {EMAIL}")


def test_a_failing_task_reports_an_error_without_secrets(settings: Settings,
                                                         transport: Capture) -> None:
    from workers.app import celery_app

    @celery_app.task(name="kfsync.test.failing_step")
    def failing_step(job_id: int) -> None:
        logging.getLogger("workers.runner").error("step of job %s: %s", job_id,
                                                 leaky_message(settings))
        raise RuntimeError(leaky_message(settings))

    failing_step.apply(args=[7], headers={"Authorization": f"Bearer {settings.ops_token}"})
    sentry_sdk.flush()
    text = transport.text()
    assert '"level":"error"' in text.replace(" ", "") and "RuntimeError" in text
    assert "kfsync.test.failing_step" in text  # the Celery integration tagged the task
    for secret in every_secret(settings):
        assert secret not in text, secret
    assert "[Filtered]" in text and "[email]" in text


def test_a_failing_request_reports_an_error_without_secrets(settings: Settings,
                                                            transport: Capture) -> None:
    from ingest import create_app

    app = create_app(replace(settings, sentry_dsn=None))  # keep the stub transport's client

    @app.get("/boom")
    def boom() -> str:
        raise ValueError(leaky_message(settings))

    client = app.test_client()
    client.set_cookie("kfsync_session", COOKIE)
    reply = client.get(f"/boom?email={EMAIL}", headers={
        "Authorization": f"Bearer {settings.ops_token}", "KfToken": KF_SESSION,
        "X-Kfsync-Signature": "v1=" + "cd" * 32})
    assert reply.status_code == 500
    sentry_sdk.flush()
    text = transport.text()
    assert "ValueError" in text
    for secret in [*every_secret(settings), COOKIE, "cd" * 32]:
        assert secret not in text, secret


def test_scrub_masks_secret_keys_values_headers_and_emails() -> None:
    event: dict[str, Any] = {
        "request": {"headers": [["Authorization", "Bearer abc"], ["Accept", "json"]]},
        "extra": {"kashflow_password": "hunter22", "note": "sent to bob@shop.example"},
        "message": "token s3cr3t-value here",
    }
    out = scrub(event, ["s3cr3t-value"])
    assert out["request"]["headers"] == [["Authorization", "[Filtered]"], ["Accept", "json"]]
    assert out["extra"] == {"kashflow_password": "[Filtered]", "note": "sent to [email]"}
    assert out["message"] == "token [Filtered] here"
