"""``/api/v1/stats`` (the overview's numbers), ``/api/v1/reconciliation`` and
``/api/v1/openapi.json``."""

from __future__ import annotations

from flask import Response, jsonify

from ingest.api.base import bp, known_pair, load_query
from ingest.api.schemas import StatsQuery, StatsSchema
from ingest.app import current_settings
from ingest.queries import pair_overview, stats
from services.pairs import known
from store.db import session_scope

_stats, _query = StatsSchema(), StatsQuery()


@bp.get("/stats")
def get_stats() -> Response:
    """Jobs by state, orders synced per hour (24 h), backlog per queue, error rate, last
    success per entity, open circuits, open dead letters by error class: of every pair, or
    of ``?pair=NAME``; and ``pairs``, each pair's own counts (the dashboard's table)."""
    settings = current_settings()
    pair = known_pair(load_query(_query))
    names = tuple(known(settings))
    with session_scope(settings.database_url) as s:
        body = stats(s, settings.redis_url, pair, names if len(names) > 1 else ())
        body["pairs"] = pair_overview(s, settings.redis_url, list(names))
        return jsonify(_stats.dump(body))


@bp.get("/openapi.json")
def openapi() -> Response:
    from ingest.api.openapi import build_spec

    return jsonify(build_spec())
