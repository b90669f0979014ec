"""``/api/v1/stats`` (the overview's numbers), ``/api/v1/reconciliation`` and
``/api/v1/openapi.json``."""

from __future__ import annotations

from flask import Response, jsonify

from ingest.api.base import bp
from ingest.api.schemas import StatsSchema
from ingest.app import current_settings
from ingest.queries import stats
from store.db import session_scope

_stats = StatsSchema()


@bp.get("/stats")
def get_stats() -> Response:
    """Jobs by state, orders synced per hour (24 h), backlog per queue, error rate, last
    success per entity, open circuits, open dead letters by error class."""
    settings = current_settings()
    with session_scope(settings.database_url) as s:
        return jsonify(_stats.dump(stats(s, settings.redis_url)))


@bp.get("/openapi.json")
def openapi() -> Response:
    from ingest.api.openapi import build_spec

    return jsonify(build_spec())
