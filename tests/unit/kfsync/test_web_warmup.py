"""``kfsync web`` warms each gunicorn worker up before it takes a request: the database
engine with one pooled connection, and the broker's connection with its push script
(``ingest.app.warm_up``), so a worker's first webhook does not pay for them."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import QueuePool, create_engine, text

import ingest.app
from core.settings import Settings
from ingest import create_app
from ingest.app import warm_up
from store.db import get_engine
from tests.conftest import PG_ADMIN_URL
from tests.net import free_port
from workers import eventmessage

WORKERS = 2


def _connections(database: str) -> int:
    """Client sessions open on ``database`` (not autovacuum's), counted from the admin
    database."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE "
                                         "datname = :name AND backend_type = 'client backend'"),
                                    {"name": database}).scalar_one())
    finally:
        admin.dispose()


def _kfsync_env(db_url: str, redis_url: str) -> dict[str, str]:
    return {"KFSYNC_DATABASE_URL": db_url, "KFSYNC_REDIS_URL": redis_url,
            "KFSYNC_WEBHOOK_SECRETS": "warm-secret"}


def _settings(db_url: str, redis_url: str) -> Settings:
    return Settings.load(_kfsync_env(db_url, redis_url), env_file=None)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_each_web_worker_connects_before_its_first_request(db_url: str, redis_url: str,
                                                           tmp_path: Path) -> None:
    get_engine(db_url).dispose()  # this test's own connections are not counted
    database = db_url.rsplit("/", 1)[1]
    assert _connections(database) == 0
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KFSYNC_")},
           "KFSYNC_ENV": "dev", **_kfsync_env(db_url, redis_url)}
    log = tmp_path / "web.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kfsync", "web", "--host", "127.0.0.1",
                                 "--port", str(free_port()), "--workers", str(WORKERS)],
                                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while _connections(database) < WORKERS and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-2000:]
            time.sleep(0.2)
        # No request was sent: each worker opened its connection by itself.
        assert _connections(database) == WORKERS, log.read_text()[-2000:]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert "Traceback" not in log.read_text()


def test_warm_up_opens_the_database_and_loads_the_push_script(db_url: str,
                                                               redis_url: str) -> None:
    app = create_app(_settings(db_url, redis_url))
    get_engine(db_url).dispose()
    client = redis.Redis.from_url(redis_url)
    sha = client.script_load(eventmessage._PUSH_LUA)
    client.script_flush()  # as after a Redis restart
    try:
        warm_up(app)
        pool = get_engine(db_url).pool
        assert isinstance(pool, QueuePool)
        assert pool.checkedin() == 1
        assert client.script_exists(sha) == [True]
    finally:
        client.script_load(eventmessage._PUSH_LUA)  # for other tests on this Redis


def test_warm_up_with_nothing_answering_logs_and_returns(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(_settings(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none",
                               dead))
    with caplog.at_level(logging.WARNING, logger="ingest.app"):
        warm_up(app)
    assert [r.getMessage() for r in caplog.records] == [
        "warm-up: the database did not answer (OperationalError); the first webhooks connect",
        "warm-up: Redis did not answer (ConnectionError); the first webhooks connect",
    ]


def test_warm_up_does_not_wait_long_for_a_database_that_hangs(
        redis_url: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # A listening socket nobody accepts from: the connection opens and PostgreSQL's greeting
    # never comes, as behind a host that drops packets.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    monkeypatch.setattr(ingest.app, "WARM_UP_WAIT_S", 0.5)
    url = f"postgresql+psycopg://nobody@127.0.0.1:{silent.getsockname()[1]}/none"
    app = create_app(_settings(url, redis_url))
    try:
        with caplog.at_level(logging.WARNING, logger="ingest.app"):
            warm_up(app)  # returns although the connection still waits
        assert [r.getMessage() for r in caplog.records] == [
            "warm-up: the database did not answer within 0.5 s; the first webhooks connect"]
    finally:
        silent.close()  # the waiting connection fails now, in its own thread
