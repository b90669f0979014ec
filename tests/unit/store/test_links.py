"""Magento <-> KashFlow links (store/links.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql

from store import links
from store.db import get_engine, session_scope


def test_links_come_first_recorded_first_and_an_unknown_key_has_none(db_url: str) -> None:
    with session_scope(db_url) as s:
        links.add_links(s, [("customer", "email:b@example.com", "CUST2"),
                            ("customer", "customer:7", "CUST1"),
                            ("invoice", "customer:7", "1001")])
    with session_scope(db_url) as s:
        assert links.links_in(s, "customer", "customer:7", "email:b@example.com",
                              "email:none@example.com") == [("email:b@example.com", "CUST2"),
                                                            ("customer:7", "CUST1")]
        assert links.links_in(s, "customer", "customer:7") == [("customer:7", "CUST1")]
        assert links.find_link_in(s, "invoice", "customer:8", "customer:7") == "1001"
        assert links.find_link_in(s, "invoice", "customer:8") is None
        assert links.links_in(s, "customer") == []


def _plan(db_url: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """The generic plan PostgreSQL runs for ``links_in`` once the driver has prepared it,
    executed (EXPLAIN ANALYZE), on a table whose statistics were never gathered."""
    compiled = links._links_of(len(keys)).compile(dialect=postgresql.psycopg.dialect())
    params = {"b_kind": "customer", "b_pair": "default"}
    params |= {f"b_key{n}": key for n, key in enumerate(keys)}
    raw = get_engine(db_url).raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SET plan_cache_mode = force_generic_plan")
        cur.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {compiled.string}", params,
                    prepare=True)
        found = cur.fetchone()[0]
        raw.rollback()
    finally:
        raw.close()
    doc = found if isinstance(found, list) else json.loads(found)
    return dict(doc[0]["Plan"])


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # the plan is PostgreSQL's
def test_a_customer_lookup_reads_its_own_links_however_many_customers_there_are(
        db_url: str) -> None:
    """The lookup before every order's customer step: an index lookup per key, not a scan
    of every customer link (what ``magento_key IN (...)`` planned to while the table's
    statistics were older than its rows: its cost grew with the customers, bench/NOTES.md)."""
    with session_scope(db_url) as s:
        for start in range(0, 3000, 500):
            links.add_links(s, [("customer", f"customer:{n}", f"C{n}")
                                for n in range(start, start + 500)])
    plan = _plan(db_url, ("customer:2999", "email:nobody@example.com"))
    text = json.dumps(plan, default=str)
    assert "Rows Removed by Filter" not in text, text
    assert plan["Actual Rows"] == 1
    assert plan["Shared Hit Blocks"] + plan.get("Shared Read Blocks", 0) < 20, text
