"""The plan PostgreSQL runs for a kfsync statement, for tests that a read stays an index
lookup however many rows a table holds (``tests/unit/store/test_links.py``,
``tests/unit/kfsync/test_backfill.py``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.dialects import postgresql

from store.db import get_engine


def generic_plan(db_url: str, statement: Executable, params: dict[str, Any]) -> dict[str, Any]:
    """The generic plan of ``statement`` with ``params`` (as the driver prepares it once it
    is run often), executed (``EXPLAIN ANALYZE, BUFFERS``): its top node, as JSON."""
    compiled = statement.compile(dialect=postgresql.psycopg.dialect())
    expanded = compiled.construct_expanded_state(params)  # IN lists as they are run
    raw = get_engine(db_url).raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SET plan_cache_mode = force_generic_plan")
        cur.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {expanded.statement}",
                    {k: str(v) for k, v in expanded.parameters.items()}, prepare=True)
        found = cur.fetchone()[0]
        raw.rollback()
    finally:
        raw.close()
    doc = found if isinstance(found, list) else json.loads(found)
    return dict(doc[0]["Plan"])
