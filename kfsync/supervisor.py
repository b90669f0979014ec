"""Run kfsync's services as child processes in the foreground (``kfsync run``, the demo).

Finds a Redis (the configured one, else an embedded one), applies migrations, starts web,
worker, beat and flower, and stops them all together: on Ctrl-C, or when any one dies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from kfsync.redis_embedded import EmbeddedRedis, answers
from kfsync.settings import Settings
from store.db import migrate

STOP_TIMEOUT_S = 15  # > worker_soft_shutdown_timeout, so late-ack tasks are requeued


class ServiceDied(Exception):
    """One of the supervised services exited on its own."""


class Supervisor:
    def __init__(self, env: dict[str, str] | None = None, log_dir: str | None = None) -> None:
        self.env = {**os.environ, **(env or {})}
        self.settings = Settings.load(self.env)
        self.log_dir = Path(log_dir) if log_dir else None
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []
        self._embedded: EmbeddedRedis | None = None
        self.redis_url = self.settings.redis_url

    def __enter__(self) -> Supervisor:
        if not answers(self.redis_url):
            self._embedded = EmbeddedRedis(str(Path("var").resolve()))
            self.redis_url = self._embedded.url
        self.env["KFSYNC_REDIS_URL"] = self.redis_url
        migrate(self.settings.database_url)
        return self

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.stop()

    def spawn(self, name: str, *args: str) -> None:
        out: IO[bytes] | None = None
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
            self._logs.append(out)
        self.children[name] = subprocess.Popen(  # noqa: S603 - our own interpreter and args
            [sys.executable, "-m", "kfsync", *args], env=self.env, stdout=out,
            stderr=subprocess.STDOUT if out else None, start_new_session=True,
        )

    def start_all(self, *, port: int, flower_port: int, concurrency: int | None = None,
                  flower: bool = True, beat: bool = True) -> None:
        self.spawn("web", "web", "--port", str(port))
        self.spawn("worker", "worker", *(["-c", str(concurrency)] if concurrency else []))
        if beat:
            self.spawn("beat", "beat")
        if flower:
            self.spawn("flower", "flower", "--port", str(flower_port))

    def check(self) -> None:
        for name, proc in self.children.items():
            if proc.poll() is not None:
                raise ServiceDied(f"{name} exited with code {proc.returncode}")

    def wait(self) -> None:
        """Block until Ctrl-C/SIGTERM, or until a service dies (then raise ServiceDied)."""
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        try:
            while True:
                self.check()
                time.sleep(0.5)
        except KeyboardInterrupt:
            return  # Ctrl-C or SIGTERM: the caller stops every service

    def stop(self) -> None:
        for proc in self.children.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in self.children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.children.clear()
        for log in self._logs:
            log.close()
        if self._embedded:
            self._embedded.stop()
            self._embedded = None
