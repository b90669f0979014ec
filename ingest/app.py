"""Flask app factory: ``create_app(settings=None)``.

One app serves the webhook receiver, health, ``/metrics``, the ops JSON API (``/api/v1/``,
bearer token) and the dashboard (``/``, login with the ops token, CSRF on every form).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, jsonify
from flask_wtf.csrf import CSRFError, CSRFProtect

from kfsync.settings import Settings

MAX_BODY_BYTES = 1024 * 1024  # webhooks over 1 MiB are refused with 413 before being read
SESSION_HOURS = 12  # a dashboard login lasts one working day


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app. ``settings`` defaults to ``Settings.load()`` (environment + .env)."""
    from ingest import api, auth, dashboard, health, metrics, webhooks
    from kfsync.sentry import init_sentry
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
    app.extensions["kfsync.settings"] = settings
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

    @app.errorhandler(413)
    def too_large(_: Exception) -> tuple[Response, int]:
        return jsonify(status="error", errors={"_body": [
            f"Body larger than {MAX_BODY_BYTES} bytes."]}), 413

    @app.errorhandler(404)
    def not_found(_: Exception) -> tuple[Response, int]:
        return jsonify(status="error", errors={"_path": ["Not found."]}), 404

    @app.errorhandler(405)
    def bad_method(_: Exception) -> tuple[Response, int]:
        return jsonify(status="error", errors={"_method": ["Method not allowed."]}), 405

    return app


def current_settings() -> Settings:
    from flask import current_app

    settings = current_app.extensions["kfsync.settings"]
    assert isinstance(settings, Settings)
    return settings
