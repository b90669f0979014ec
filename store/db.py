"""Engines, sessions and migrations for the state store.

One engine per process and URL. SQLite gets WAL and a busy timeout so the web process and
several worker processes can write to one file; PostgreSQL gets a pre-ping pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import simplejson
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

# JSON columns hold Magento documents with Decimal money: keep it exact both ways.
_JSON_CODEC: dict[str, Any] = {
    "json_serializer": lambda obj: simplejson.dumps(obj, use_decimal=True),
    "json_deserializer": lambda text: simplejson.loads(text, use_decimal=True),
}
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 15000  # longer than any single transaction we run


_ENGINES: dict[str, Engine] = {}


def get_engine(url: str) -> Engine:
    """Return the process-wide engine for ``url`` (created on first use)."""
    if url not in _ENGINES:
        _ENGINES[url] = _create_engine(url)
    return _ENGINES[url]


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **_JSON_CODEC
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, **_JSON_CODEC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


_FACTORIES: dict[str, sessionmaker[Session]] = {}


def _factory(url: str) -> sessionmaker[Session]:
    if url not in _FACTORIES:
        _FACTORIES[url] = sessionmaker(get_engine(url), expire_on_commit=False)
    return _FACTORIES[url]


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    session = _factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (idempotent)."""
    get_engine(url)  # creates the SQLite parent directory
    command.upgrade(alembic_config(url), revision)


def dispose_all() -> None:
    """Drop pooled connections: call in a forked child so it never shares a parent's sockets."""
    for engine in _ENGINES.values():
        engine.dispose(close=False)
