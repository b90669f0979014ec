"""``/healthz`` (the process is alive) and ``/readyz`` (database and Redis answer, and the
database holds kfsync's tables at the schema this code expects)."""

from __future__ import annotations

from functools import cache

import redis
from flask import Blueprint, Response, jsonify
from sqlalchemy import inspect, text

from ingest.app import current_settings
from store.db import get_engine

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    settings = current_settings()
    checks = {"database": _check_db(settings.database_url),
              "redis": _check_redis(settings.redis_url)}
    ok = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if ok else "unavailable", checks=checks), 200 if ok else 503


@cache
def known_revisions() -> tuple[str | None, frozenset[str]]:
    """The newest migration shipped with this code, and every one it knows (read once)."""
    from alembic.script import ScriptDirectory

    from store.db import MIGRATIONS_DIR

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return script.get_current_head(), frozenset(r.revision for r in script.walk_revisions())


def _check_db(url: str) -> str:
    """``ok``, or why not: unreachable, or not migrated to this code's schema (a database
    without kfsync's tables answered ``SELECT 1`` while every webhook got 503)."""
    try:
        with get_engine(url).connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return "error: no kfsync tables (run: kfsync migrate)"
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    expected, known = known_revisions()
    # A revision this code does not know is a newer one (a rolling deploy migrated first):
    # this process still serves; only an older schema, or none, is not ready.
    if expected not in found and all(rev in known for rev in found):
        return (f"error: schema at {', '.join(found) or 'nothing'}, this code needs {expected}"
                " (run: kfsync migrate)")
    return "ok"


def _check_redis(url: str) -> str:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"
