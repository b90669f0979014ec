"""Flask app factory: ``create_app(settings=None)``."""

from __future__ import annotations

from flask import Flask, Response, jsonify

from kfsync.settings import Settings

MAX_BODY_BYTES = 1024 * 1024  # webhooks over 1 MiB are refused with 413 before being read


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app. ``settings`` defaults to ``Settings.load()`` (environment + .env)."""
    from ingest import health, webhooks
    from workers.app import configure

    settings = settings or Settings.load()
    app = Flask("kfsync")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["kfsync.settings"] = settings
    configure(settings)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(health.bp)

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
