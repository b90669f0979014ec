"""A real ``kfsync web`` (gunicorn) on loopback, on its own migrated SQLite database and its
own database number of the session's private Redis, for tests that talk HTTP to the product
as a sender, a script or a browser would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from store.db import migrate
from tests.net import free_port

WEBHOOK_SECRET = "fuzz-webhook-secret-6c0f4e2a9b"
OPS_TOKEN = "fuzz-ops-token-1d7e5c3b8a"
REDIS_DB = 7  # not the integration stack's 0: its worker must not take these messages


@dataclass(frozen=True)
class WebServer:
    base: str
    db_url: str
    env: dict[str, str]

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kfsync", *args], env=self.env,
                              input=stdin, capture_output=True, text=True, timeout=60,
                              check=False)


@pytest.fixture(scope="module")
def web_server_env() -> dict[str, str]:
    """More settings for the module's server (a test module overrides this fixture)."""
    return {}


@pytest.fixture(scope="module")
def web_server(integration_redis: str, tmp_path_factory: pytest.TempPathFactory,
               web_server_env: dict[str, str]) -> Iterator[WebServer]:
    folder = tmp_path_factory.mktemp("web")
    db_url = f"sqlite:///{folder / 'kfsync.db'}"
    migrate(db_url)
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KFSYNC_")},
           "KFSYNC_ENV": "dev", "KFSYNC_DATABASE_URL": db_url,
           "KFSYNC_REDIS_URL": integration_redis.rsplit("/", 1)[0] + f"/{REDIS_DB}",
           "KFSYNC_WEBHOOK_SECRETS": WEBHOOK_SECRET, "KFSYNC_OPS_TOKEN": OPS_TOKEN,
           **web_server_env}
    log = folder / "web.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kfsync", "web", "--host", "127.0.0.1",
                                 "--port", str(port), "--workers", "2"],
                                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    _wait_ready(proc, base, log)
    yield WebServer(base, db_url, env)
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    text = log.read_text()
    assert "Traceback" not in text, f"kfsync web logged a traceback:\n{text[-3000:]}"


def _wait_ready(proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kfsync web exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"kfsync web not ready in 30 s: {log.read_text()[-2000:]}")
