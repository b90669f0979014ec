"""Magento <-> KashFlow links: which KashFlow record stands for a Magento customer, order,
invoice or credit memo, per integration pair. A link, once recorded, wins: a second write for
the same key is a no-op, so a step repeated after a crash never relinks its record.

The statements are built once (see ``store.jobs``). This module imports nothing above ``store``.
"""

from __future__ import annotations

from functools import cache
from typing import cast

from sqlalchemy import (
    CTE,
    Connection,
    Executable,
    Table,
    bindparam,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core import pairs
from store.db import bound_rows, dialect_name, row_params
from store.models import EntityLink, utcnow

LINKS = cast(Table, EntityLink.__table__)
_ADD_LINK = {  # an existing link for the key wins
    name: insert_(LINKS).values(kind=bindparam("b_kind"), magento_key=bindparam("b_magento"),
                                kashflow_key=bindparam("b_kashflow"),
                                created_at=bindparam("b_at"), pair=bindparam("b_pair"))
    .on_conflict_do_nothing(index_elements=["pair", "kind", "magento_key"])
    for name, insert_ in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}


def add_links(conn: Connection | Session, links: list[tuple[str, str, str]]) -> None:
    """Record Magento <-> KashFlow links (kind, magento key, kashflow key) on ``conn``, in one
    statement; an existing link for a key wins."""
    if links:
        now = utcnow()
        conn.execute(_ADD_LINK[dialect_name(conn)], [
            {"b_kind": kind, "b_magento": magento, "b_kashflow": kashflow, "b_at": now,
             "b_pair": pairs.current()} for kind, magento, kashflow in links])


def links_cte(count: int) -> CTE:
    """``add_links`` of ``count`` links as a PostgreSQL data-modifying CTE, to run inside
    another statement (``store.jobs.finish_step``); its parameters: ``link_params``."""
    rows = bound_rows(LINKS, _LINK_COLUMNS, count, "l")
    return (pg_insert(LINKS).from_select(_LINK_COLUMNS, rows, include_defaults=False)
            .on_conflict_do_nothing(index_elements=["pair", "kind", "magento_key"])
            .cte("kfsync_links"))


_LINK_COLUMNS = ("pair", "kind", "magento_key", "kashflow_key", "created_at")


def link_params(links: list[tuple[str, str, str]]) -> dict[str, object]:
    """The parameters of ``links_cte(len(links))`` for ``links``."""
    at, pair = utcnow(), pairs.current()
    return row_params("l", [{"pair": pair, "kind": kind, "magento_key": magento,
                             "kashflow_key": kashflow, "created_at": at}
                            for kind, magento, kashflow in links])


def links_in(bind: Connection | Session, kind: str, *magento_keys: str
             ) -> list[tuple[str, str]]:
    """The links of ``magento_keys`` as (magento key, kashflow key), first-recorded first,
    read on ``bind``."""
    if not magento_keys:
        return []
    params: dict[str, object] = {"b_kind": kind, "b_pair": pairs.current()}
    params |= {f"b_key{n}": key for n, key in enumerate(magento_keys)}
    rows = bind.execute(_links_of(len(magento_keys)), params)
    return [(str(row[0]), str(row[1])) for row in rows]


@cache
def _links_of(count: int) -> Executable:
    """The links of ``count`` keys: one equality lookup per key on the whole unique index
    (pair, kind, magento_key), ``UNION ALL``, by id.

    Not ``magento_key IN (...)``: PostgreSQL before 17 may read an ``IN`` on the index's
    last column as a filter over every link of the kind, which it did whenever the table's
    statistics were older than its rows (a fresh database, or autovacuum off): the read then
    grew with the number of customers (bench/NOTES.md).
    """
    lookups = [select(LINKS.c.magento_key, LINKS.c.kashflow_key, LINKS.c.id).where(
        LINKS.c.pair == bindparam("b_pair"), LINKS.c.kind == bindparam("b_kind"),
        LINKS.c.magento_key == bindparam(f"b_key{n}")) for n in range(count)]
    if count == 1:
        return lookups[0]
    return union_all(*lookups).order_by(literal_column("id"))


def find_link_in(bind: Connection | Session, kind: str, *magento_keys: str) -> str | None:
    """The KashFlow key linked to the first-recorded of ``magento_keys``, read on ``bind``."""
    found = links_in(bind, kind, *magento_keys)
    return found[0][1] if found else None
