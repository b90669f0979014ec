"""The reference for the ingest benchmark: a bare Flask endpoint that answers 202, served by
exactly the gunicorn configuration of ``kfsync web`` (``kfsync.gunicorn.serve``; only the
application it loads is swapped).

    python -m bench.bare --port 8010
"""

from __future__ import annotations

import argparse

from flask import Flask, Response, jsonify, request

from core.settings import Settings
from kfsync import gunicorn as kfsync_gunicorn


def create_bare_app() -> Flask:
    app = Flask("bare")

    @app.post("/webhooks/magento")
    def receive() -> tuple[Response, int]:
        request.get_data(cache=False)  # read the body, as the real endpoint does
        return jsonify(status="accepted", event_id=request.headers.get("X-Kfsync-Event-Id")), 202

    @app.get("/readyz")
    def ready() -> tuple[Response, int]:
        return jsonify(status="ok"), 200

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=3)  # the default of `kfsync web`
    args = parser.parse_args()
    kfsync_gunicorn._App.load = lambda self: create_bare_app()  # type: ignore[method-assign]
    kfsync_gunicorn.serve(Settings.load(env_file=None), host="127.0.0.1", port=args.port,
                          workers=args.workers)


if __name__ == "__main__":
    main()
