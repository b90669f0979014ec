"""Magento <-> KashFlow links (store/links.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from store import links
from store.db import session_scope
from tests.plans import generic_plan


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
    keys = ("customer:2999", "email:nobody@example.com")
    params = {"b_kind": "customer", "b_pair": "default"}
    plan = generic_plan(db_url, links._links_of(len(keys)),
                        params | {f"b_key{n}": key for n, key in enumerate(keys)})
    text = json.dumps(plan, default=str)
    assert "Rows Removed by Filter" not in text, text
    assert plan["Actual Rows"] == 1
    assert plan["Shared Hit Blocks"] + plan.get("Shared Read Blocks", 0) < 20, text
