"""Sentry error reporting, on when ``KFSYNC_SENTRY_DSN`` is set: Flask and Celery integrations,
beat tasks monitored as Sentry Crons, no PII, every secret scrubbed before an event leaves.

``init_sentry`` runs in the web app factory and in the Celery worker and beat startup signals
(``workers/telemetry.py``), not only where tasks are defined (reference §B.9).

Scrubbing (``scrub``) walks the whole event: values under secret-looking keys (password,
memorable word, token, secret, Authorization, KfToken, X-Kfsync-Signature, cookies...) become
``[Filtered]``; every configured secret value (KashFlow password and memorable word, Magento
token and OAuth secrets, ops token, webhook secrets...) is cut out of any string; session
tokens after ``KfToken``/``Bearer``/``OAuth`` and email addresses are masked. Request bodies
and local variables are never sent (a Magento order holds names and addresses).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from core.settings import Settings

FILTERED = "[Filtered]"
SECRET_KEY_PARTS = ("password", "passwd", "secret", "token", "memorable", "authorization",
                    "kftoken", "signature", "cookie", "session", "api_key", "apikey", "dsn",
                    "credential", "csrf", "oauth")
_AUTH_VALUE = re.compile(r"\b(KfToken|Bearer|OAuth|Basic)\s+[^\s\"',]+", re.IGNORECASE)
_SIGNATURE = re.compile(r"v1=[0-9a-f]{16,}", re.IGNORECASE)
_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def _secret_key(key: str) -> bool:
    k = key.lower().replace("-", "_")
    return any(part in k for part in SECRET_KEY_PARTS)


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """A copy of ``value`` (an event, or any part of one) with no secret or email in it."""
    from core.logs import secret_pattern

    return _walk(value, secret_pattern(secrets))


def _walk(value: Any, secrets: re.Pattern[str] | None) -> Any:
    if isinstance(value, dict):
        return {k: FILTERED if isinstance(k, str) and _secret_key(k) and v not in (None, "")
                else _walk(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        # headers arrive as [name, value] pairs in some payloads
        if (len(value) == 2 and isinstance(value[0], str) and _secret_key(value[0])
                and isinstance(value[1], str)):
            return [value[0], FILTERED]
        return [_walk(v, secrets) for v in value]
    if isinstance(value, str):
        if secrets is not None:
            value = secrets.sub(FILTERED, value)
        value = _AUTH_VALUE.sub(rf"\1 {FILTERED}", value)
        value = _SIGNATURE.sub(f"v1={FILTERED}", value)
        return _EMAIL.sub("[email]", value)
    return value


def before_send_for(settings: Settings) -> Callable[[dict[str, Any], dict[str, Any]],
                                                    dict[str, Any]]:
    secrets = settings.secret_values()

    def before_send(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
        scrubbed = scrub(event, secrets)
        assert isinstance(scrubbed, dict)
        return scrubbed

    return before_send


def init_sentry(settings: Settings, *, component: str, transport: Any = None) -> bool:
    """Start sentry-sdk when ``settings.sentry_dsn`` is set; returns whether it did.

    ``transport``: a sentry-sdk transport (tests capture events with one).
    """
    if not settings.sentry_dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

    before_send = before_send_for(settings)
    denylist = [*DEFAULT_DENYLIST, "memorable_word", "kftoken", "x_kfsync_signature",
                "webhook_secrets", "ops_token", "consumer_secret", "access_token_secret"]
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.env,
        integrations=[FlaskIntegration(), CeleryIntegration(monitor_beat_tasks=True)],
        # No PII: sentry-sdk 2's default (setup.cfg pins <3). Passing send_default_pii=False
        # says the same but is deprecated in favour of data_collection.
        include_local_variables=False,
        max_request_body_size="never",
        event_scrubber=EventScrubber(denylist=denylist, recursive=True),
        before_send=before_send,  # type: ignore[arg-type]
        before_send_transaction=before_send,  # type: ignore[arg-type]
        before_breadcrumb=lambda crumb, _hint: scrub(crumb, settings.secret_values()),
        transport=transport,
    )
    sentry_sdk.set_tag("component", component)
    return True
