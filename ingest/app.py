"""Flask app factory: ``create_app(settings=None)``.

One app serves the webhook receiver, health, ``/metrics``, the ops JSON API (``/api/v1/``,
bearer token) and the dashboard (``/``, login by user or ops token, CSRF on every form).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect

from core.settings import Settings
from ingest.errors import MAX_BODY_BYTES
from ingest.throttle import Throttle

SESSION_HOURS = 12  # a dashboard login lasts one working day
WARM_UP_WAIT_S = 5.0  # how long a web worker's start waits for the database (warm_up)
log = logging.getLogger(__name__)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the signer for a request that carries
    no session cookie (every webhook and API call): it was 4% of a webhook's CPU."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if "HTTP_COOKIE" not in request.environ:  # cheaper than parsing request.cookies
            return self.session_class()
        return super().open_session(app, request)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app. ``settings`` defaults to ``Settings.load()`` (environment + .env)."""
    from core.sentry import init_sentry
    from ingest import api, auth, dashboard, errors, health, metrics, webhooks
    from workers.app import configure

    settings = settings or Settings.load()
    init_sentry(settings, component="web")
    app = Flask("kfsync", template_folder="templates")
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SECRET_KEY=auth.secret_key(settings),
        SESSION_COOKIE_NAME="kfsync_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.env == "prod",  # prod is served over HTTPS
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600,
        # The dashboard checks CSRF itself, after the login check (a stranger's POST is sent
        # to the login page, not told about tokens); webhooks and the API use no cookies.
        WTF_CSRF_CHECK_DEFAULT=False,
    )
    app.session_interface = CookieSessions()
    app.extensions["core.settings"] = settings
    app.extensions["kfsync.throttle"] = Throttle(settings.redis_url)
    errors.init_app(app)
    configure(settings)
    CSRFProtect(app)
    from ingest.sources import blueprints as source_blueprints

    for blueprint in (webhooks.bp, *source_blueprints(), health.bp, metrics.bp, api.bp,
                      dashboard.bp):
        app.register_blueprint(blueprint)
    app.after_request(metrics.record_webhook)

    @app.errorhandler(CSRFError)
    def csrf_failed(exc: CSRFError) -> tuple[str, int]:
        from flask import render_template

        return render_template("csrf.html", reason=exc.description), 400

    return app


def current_settings() -> Settings:
    from flask import current_app

    settings = current_app.extensions["core.settings"]
    assert isinstance(settings, Settings)
    return settings


def current_throttle() -> Throttle:
    from flask import current_app

    throttle = current_app.extensions["kfsync.throttle"]
    assert isinstance(throttle, Throttle)
    return throttle


def warm_up(app: Flask) -> None:
    """Open what a webhook needs before the first one arrives: the database engine (importing
    its driver) with one pooled connection, and the broker's connection with its push script
    loaded. ``kfsync web`` calls it in each gunicorn worker before the worker accepts
    requests: a worker's first webhook took 123-139 ms, the ones after it 3-5 ms.

    A database or Redis that does not answer is logged and left: the requests then answer as
    they would have (503, or the relay sends the event). The database gets
    ``WARM_UP_WAIT_S``: a connection that hangs (a host that drops packets) must not hold the
    worker's start until gunicorn kills it for silence, again and again; it goes on in the
    background and the worker starts."""
    from workers import eventmessage

    settings = app.extensions["core.settings"]
    assert isinstance(settings, Settings)
    failed: list[str] = []
    database = threading.Thread(target=_warm_database, args=(settings.database_url, failed),
                                name="kfsync-warm-up", daemon=True)
    database.start()
    database.join(WARM_UP_WAIT_S)
    if database.is_alive():
        log.warning("warm-up: the database did not answer within %g s; the first webhooks "
                    "connect", WARM_UP_WAIT_S)
    elif failed:
        log.warning("warm-up: the database did not answer (%s); the first webhooks connect",
                    failed[0])
    try:
        eventmessage.warm_up()
    except Exception as exc:
        log.warning("warm-up: Redis did not answer (%s); the first webhooks connect",
                    type(exc).__name__)


def _warm_database(url: str, failed: list[str]) -> None:
    from sqlalchemy import text

    from store.db import one_statement

    try:
        with one_statement(url) as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        failed.append(type(exc).__name__)
