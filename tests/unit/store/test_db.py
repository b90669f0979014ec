"""The PostgreSQL pool: a connection that sat idle is pinged, so one whose server session
ended is replaced before a transaction uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from store import db
from store.db import get_engine, session_scope
from tests.conftest import PG_ADMIN_URL


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    # Start from an empty pool: connections pooled by earlier tests would be handed out in
    # turn (the pool is FIFO), so "the same connection again" would depend on test order.
    get_engine(postgres_server).dispose()
    yield postgres_server
    get_engine(postgres_server).dispose()


def _backend(url: str) -> int:
    with session_scope(url) as s:
        return int(s.scalar(text("SELECT pg_backend_pid()")) or 0)


def _terminate(pid: int) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_an_idle_connection_whose_session_ended_is_replaced(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _backend(pg_url)
    _terminate(first)
    monkeypatch.setattr(db, "PING_IDLE_S", 0.0)  # every pooled connection counts as idle
    second = _backend(pg_url)
    assert second != first
    assert _backend(pg_url) == second  # the fresh connection is pooled and reused


def test_a_connection_used_moments_ago_is_not_pinged(pg_url: str) -> None:
    # The trade written down in store/db.py: within PING_IDLE_S no ping, so a server session
    # that ended in that window fails one statement; the pool then drops it.
    first = _backend(pg_url)
    _terminate(first)
    with pytest.raises(OperationalError):
        _backend(pg_url)
    assert _backend(pg_url) != first
