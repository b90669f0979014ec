"""Engines, sessions and migrations for the state store.

One engine per process and URL. SQLite gets WAL and a busy timeout so the web process and
several worker processes can write to one file; PostgreSQL gets a pool that pings a
connection before use when it sat idle (``PING_IDLE_S``), not on every checkout: a task opens
several short transactions, and a ping for each cost a round trip apiece.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import simplejson
from sqlalchemy import (
    CompoundSelect,
    Connection,
    Engine,
    Table,
    bindparam,
    create_engine,
    event,
    select,
    union_all,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

# JSON columns hold Magento documents with Decimal money: keep it exact both ways.
_JSON_CODEC: dict[str, Any] = {
    "json_serializer": lambda obj: simplejson.dumps(obj, use_decimal=True),
    "json_deserializer": lambda text: simplejson.loads(text, use_decimal=True),
}
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 15000  # longer than any single transaction we run
# A pooled connection used within this many seconds is trusted without a ping. If PostgreSQL
# restarts inside that window, one statement fails (its task retries or is redriven) and
# SQLAlchemy then invalidates every older connection in the pool.
PING_IDLE_S = 5.0


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
    engine = create_engine(url, pool_size=5, max_overflow=5, **_JSON_CODEC)
    event.listen(engine, "checkout", _ping_if_idle)
    event.listen(engine, "checkin", _mark_used)
    return engine


def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    """Ping a connection idle longer than ``PING_IDLE_S``; a dead one raises
    ``DisconnectionError``, on which the pool discards it and checks out a fresh one."""
    if time.monotonic() - record.info.get("kfsync_used", 0.0) <= PING_IDLE_S:
        return
    try:
        cur = dbapi_conn.cursor()
        cur.execute("SELECT 1")
        cur.close()
        dbapi_conn.rollback()
    except Exception as exc:
        raise DisconnectionError(f"stale pooled connection: {type(exc).__name__}") from exc


def _mark_used(_dbapi_conn: Any, record: Any) -> None:
    record.info["kfsync_used"] = time.monotonic()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


_FACTORIES: dict[tuple[str, bool], sessionmaker[Session]] = {}


def _factory(url: str, read: bool = False) -> sessionmaker[Session]:
    if (url, read) not in _FACTORIES:
        engine = _statementwise(url) if read else get_engine(url)
        _FACTORIES[url, read] = sessionmaker(engine, expire_on_commit=False)
    return _FACTORIES[url, read]


_STATEMENTWISE: dict[str, Engine] = {}


def _statementwise(url: str) -> Engine:
    """The engine of ``url`` with each statement standing alone: autocommit on PostgreSQL
    (no ``BEGIN`` and ``COMMIT``, a round trip each); SQLite's engine as it is."""
    if url not in _STATEMENTWISE:
        engine = get_engine(url)
        if engine.dialect.name == "postgresql":
            engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        _STATEMENTWISE[url] = engine
    return _STATEMENTWISE[url]


def dialect_name(bind: Connection | Session) -> str:
    """``postgresql`` or ``sqlite``: the database behind a connection or session."""
    engine = bind if isinstance(bind, Connection) else bind.get_bind()
    return str(engine.dialect.name)


def bound_rows(table: Table, columns: Sequence[str], count: int, prefix: str
               ) -> CompoundSelect[Any]:
    """``count`` rows of ``table``'s ``columns`` as bound parameters ``{prefix}{i}_{column}``
    (``SELECT ... UNION ALL SELECT ...``; their values: ``row_params``), for an ``INSERT ...
    SELECT``: SQLAlchemy caches that statement's compiled form, never a multi-row
    ``VALUES``'s (it compiled one on every call, bench/NOTES.md)."""
    return union_all(*(select(*(bindparam(f"{prefix}{i}_{column}", type_=table.c[column].type)
                                for column in columns)) for i in range(count)))


def row_params(prefix: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The parameters of ``bound_rows(..., len(rows), prefix)`` for ``rows``."""
    return {f"{prefix}{i}_{column}": value for i, row in enumerate(rows)
            for column, value in row.items()}


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    with _scope(_factory(url)) as session:
        yield session


@contextmanager
def read_scope(url: str) -> Iterator[Session]:
    """A session for reads only. On PostgreSQL each statement runs on its own (autocommit),
    as a single-statement transaction under READ COMMITTED would: no ``BEGIN`` and
    ``COMMIT``, which are a round trip each (psycopg sends ``BEGIN`` by itself). A write in
    it would commit statement by statement: use ``session_scope`` for writes."""
    with _scope(_factory(url, read=True)) as session:
        yield session


@contextmanager
def _scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def one_statement(url: str) -> Iterator[Connection]:
    """A connection for one write statement, committed when the block ends. On PostgreSQL
    in autocommit: the statement commits as it returns, without the ``BEGIN`` and ``COMMIT``
    that are a round trip each (as ``read_scope`` for reads); on SQLite in a transaction. A
    second statement in the block would commit on its own: use ``get_engine(url).begin()``
    when several must commit together."""
    with _statementwise(url).begin() as conn:  # on PostgreSQL it sends nothing: autocommit
        yield conn


@contextmanager
def statement_by_statement(conn: Connection) -> Iterator[Connection]:
    """``conn`` (a checked-out connection, outside a transaction) for statements that each
    stand alone (reads, or one write): as ``read_scope``, autocommit on PostgreSQL for the
    block, each committed as it returns, then back to its default; elsewhere in one
    transaction."""
    if conn.dialect.name != "postgresql":
        with conn.begin():
            yield conn
        return
    conn.execution_options(isolation_level="AUTOCOMMIT")
    try:
        with conn.begin():  # sends nothing: the DBAPI connection is in autocommit
            yield conn
    finally:
        conn.execution_options(isolation_level=conn.default_isolation_level)


def alembic_config(url: str) -> Config:
    # Alembic is imported here, not at the top: only migrations need it, and every process
    # that reads or writes the store (each CLI command, web and worker process) imports this
    # module (alembic cost a CLI command about a fifth of its start).
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (idempotent)."""
    from alembic import command

    get_engine(url)  # creates the SQLite parent directory
    command.upgrade(alembic_config(url), revision)


def dispose_all() -> None:
    """Drop pooled connections: call in a forked child so it never shares a parent's sockets."""
    for engine in _ENGINES.values():
        engine.dispose(close=False)
