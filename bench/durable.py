"""The second reference of the ingest benchmark: a "durable bare" endpoint that does the
least an endpoint can do and still not lose an accepted webhook — one committed ``INSERT`` of
the row kfsync stores (``inbound_events``, the same columns, the raw body as the payload) into
the same database (on PostgreSQL in autocommit, committed as it returns, as kfsync's ingest
does: ``store.db.one_statement``), then one Redis push, then 202. No signature check, no
validation, no Celery, no metrics. Served by exactly the gunicorn configuration of ``kfsync web``
(``kfsync.gunicorn.serve``; only the application it loads is swapped).

kfsync's saturation as a share of this one is how close its ingest is to the cost of
durability itself (issue 24).

    python -m bench.durable --port 8011
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime

import redis
from flask import Flask, Response, jsonify, request
from sqlalchemy import text

from core.settings import Settings
from kfsync import gunicorn as kfsync_gunicorn
from store.db import get_engine, one_statement

SOURCE = "durable-bare"  # its rows are told apart from kfsync's by source
QUEUE = "bench-durable-bare"  # a list nobody reads; the bench deletes the Redis with it

_INSERT = ("INSERT INTO inbound_events (source, event_id, topic, resource_type, resource_key, "
           "increment_id, payload, received_at, enqueued_at) VALUES (:source, :event_id, "
           ":topic, :type, :key, :increment, $payload, :now, :now) RETURNING id")


def create_durable_app(database_url: str, redis_url: str) -> Flask:
    app = Flask("durable-bare")
    engine = get_engine(database_url)
    payload = "CAST(:payload AS JSON)" if engine.dialect.name == "postgresql" else ":payload"
    insert = text(_INSERT.replace("$payload", payload))
    broker = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)

    @app.post("/webhooks/magento")
    def receive() -> tuple[Response, int]:
        body = request.get_data(cache=False)
        event_id = request.headers.get("X-Kfsync-Event-Id", "")
        with one_statement(database_url) as conn:  # committed as it returns, as kfsync's
            row_id = conn.execute(insert, {
                "source": SOURCE, "event_id": event_id, "topic": "order.created",
                "type": "order", "key": "1", "increment": None,
                "payload": body.decode(), "now": datetime.now(UTC)}).scalar_one()
        broker.lpush(QUEUE, row_id)
        return jsonify(status="accepted", event_id=event_id), 202

    @app.get("/readyz")
    def ready() -> tuple[Response, int]:
        return jsonify(status="ok"), 200

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=3)  # the default of `kfsync web`
    args = parser.parse_args()
    settings = Settings.load(env_file=None)
    database_url = os.environ["KFSYNC_DATABASE_URL"]
    redis_url = os.environ["KFSYNC_REDIS_URL"]
    kfsync_gunicorn._App.load = (  # type: ignore[method-assign]
        lambda self: create_durable_app(database_url, redis_url))
    kfsync_gunicorn.serve(settings, host="127.0.0.1", port=args.port, workers=args.workers)


if __name__ == "__main__":
    main()
