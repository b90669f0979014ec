"""Shared fixtures: databases (SQLite and PostgreSQL), Redis, settings."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from services import pairs
from store.db import get_engine, migrate

PG_ADMIN_URL = os.environ.get("KFSYNC_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Under pytest-xdist each worker process empties its own Redis database (gw0: 11, gw1: 12, ...).
_XDIST_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
TEST_REDIS_URL = os.environ.get("KFSYNC_TEST_REDIS_URL",
                                f"redis://127.0.0.1:6379/{11 + _XDIST_INDEX}")


# The parametrized fixtures that stand up a whole stack once per backend (session- or
# module-scoped) and the tests that run on them in order, sharing its state.
_STACK_FIXTURES = {"stack_env": "stack", "pair_stack": "pairs"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With ``-n 2 --dist loadgroup`` the SQLite and PostgreSQL halves of each stack run side by
    side, each whole and in order in one worker process, so each process starts each stack once."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None:
            continue
        for fixture, group in _STACK_FIXTURES.items():
            if fixture in callspec.params:
                item.add_marker(pytest.mark.xdist_group(f"{group}-{callspec.params[fixture]}"))
                break


def _pg_available() -> str | None:
    try:
        with create_engine(PG_ADMIN_URL).connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; dropped at the end."""
    problem = _pg_available()
    if problem:
        if os.environ.get("KFSYNC_TEST_REQUIRE_POSTGRES"):
            pytest.fail(problem)
        pytest.skip(problem)
    with _pg_database(f"kfsync_test_{uuid.uuid4().hex[:10]}") as url:
        yield url


@contextmanager
def _pg_database(name: str) -> Iterator[str]:
    """Create the empty database ``name``, yield its URL, drop it."""
    _pg_admin(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        get_engine(url).dispose()
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_admin(*statements: str) -> None:
    """Run ``statements`` outside a transaction (CREATE and DROP DATABASE) as the admin."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file that ``db_url`` copies for each test (migrating every
    test's database from scratch cost a third of a second each)."""
    path = tmp_path_factory.mktemp("template") / "kfsync.db"
    url = f"sqlite:///{path}"
    migrate(url)
    get_engine(url).dispose()  # the last connection closed: the WAL is checkpointed, removed
    assert not path.with_name(path.name + "-wal").exists(), "the template's WAL was left"
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> Iterator[str]:
    """The name of a migrated, empty PostgreSQL database that ``db_url`` copies for each
    test (``CREATE DATABASE ... TEMPLATE``)."""
    name = postgres_server.rsplit("/", 1)[1] + "_template"
    with _pg_database(name) as url:
        migrate(url)
        get_engine(url).dispose()  # a template must have no sessions when it is copied
        yield name


def _copy_pg(url: str, template: str) -> None:
    """Replace the database at ``url`` by a copy of ``template``."""
    get_engine(url).dispose()
    name = url.rsplit("/", 1)[1]
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
              f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated, empty database: once on SQLite, once on PostgreSQL (each a copy of its
    backend's migrated template)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "kfsync.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_server")
        _copy_pg(url, request.getfixturevalue("postgres_template"))
    pairs.forget_all()  # the same URL as an earlier test's: its pairs are gone
    return url


@pytest.fixture
def redis_url() -> str:
    """The machine's Redis on a test-only database, emptied first."""
    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.ConnectionError:
        pytest.fail(f"Redis does not answer at {TEST_REDIS_URL} (run: redis-server ...)")
    return TEST_REDIS_URL
