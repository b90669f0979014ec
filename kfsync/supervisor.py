"""Run kfsync's services as child processes in the foreground (``kfsync run``, the demo).

Finds a Redis (the configured one, else an embedded one), applies migrations, starts web,
worker, beat and flower, and stops them all together: on Ctrl-C, or when any one dies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from core.settings import Settings
from kfsync.redis_embedded import EmbeddedRedis, answers
from store.db import migrate

STOP_TIMEOUT_S = 15  # > worker_soft_shutdown_timeout, so late-ack tasks are requeued
PREFIX_WIDTH = 6  # "flower" is the longest service name


class ServiceDied(Exception):
    """One of the supervised services exited on its own."""


class Supervisor:
    def __init__(self, env: dict[str, str] | None = None, log_dir: str | None = None, *,
                 own_redis_dir: str | None = None) -> None:
        """``env`` overrides the environment of every service; ``log_dir``: one file per
        service instead of prefixed lines on stdout; ``own_redis_dir``: always start an
        embedded Redis with its data there (the demo and the sandbox run never touch the
        machine's Redis), instead of using ``KFSYNC_REDIS_URL`` when it answers."""
        self.env = {**os.environ, **(env or {})}
        self.settings = Settings.load(self.env)
        self.log_dir = Path(log_dir) if log_dir else None
        self.own_redis = own_redis_dir is not None
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []
        self._embedded: EmbeddedRedis | None = None
        self.redis_url = self.settings.redis_url
        self._relays: list[threading.Thread] = []
        self._out_lock = threading.Lock()
        self.redis_dir = str(Path(own_redis_dir or "var").resolve())

    def __enter__(self) -> Supervisor:
        if self.own_redis or not answers(self.redis_url):
            self._embedded = EmbeddedRedis(self.redis_dir)
            self.redis_url = self._embedded.url
        self.env["KFSYNC_REDIS_URL"] = self.redis_url
        migrate(self.settings.database_url)
        return self

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.stop()

    def spawn(self, name: str, *args: str) -> None:
        """Start ``kfsync ARGS`` as service ``name``: its output goes to ``log_dir/NAME.log``,
        or (no log_dir) to this process's stdout, each line prefixed with ``name |``."""
        out: IO[bytes] | int = subprocess.PIPE
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
            self._logs.append(out)
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and args
            [sys.executable, "-m", "kfsync", *args], env=self.env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.children[name] = proc
        if proc.stdout is not None:
            relay = threading.Thread(target=self._relay, args=(name, proc.stdout),
                                     name=f"relay-{name}", daemon=True)
            relay.start()
            self._relays.append(relay)

    def _relay(self, name: str, stream: IO[bytes]) -> None:
        """Copy one service's lines to stdout with its name in front, whole lines at a time
        (a lock keeps two services' lines from interleaving mid-line)."""
        prefix = f"{name:<{PREFIX_WIDTH}} | ".encode()
        for line in iter(stream.readline, b""):
            with self._out_lock:
                sys.stdout.buffer.write(prefix + line)
                sys.stdout.buffer.flush()
        stream.close()

    def say(self, text: str) -> None:
        """Print ``text`` between whole service lines."""
        with self._out_lock:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            sys.stdout.flush()

    def start_all(self, *, port: int, flower_port: int, concurrency: int | None = None,
                  flower: bool = True, beat: bool = True) -> None:
        self.spawn("web", "web", "--port", str(port))
        self.spawn("worker", "worker", *(["-c", str(concurrency)] if concurrency else []))
        if beat:
            self.spawn("beat", "beat")
        if flower:
            self.start_flower(flower_port)

    def start_flower(self, flower_port: int) -> None:
        # Its startup lines (every registered task) would bury the others; the address is
        # in kfsync's own block, and warnings still show.
        self.spawn("flower", "flower", "--port", str(flower_port), "--loglevel", "WARNING")

    def wait_worker(self, timeout: float = 60) -> None:
        """Block until a worker answers a ping on the broker (Flower started before that
        warns that its first inspections failed, which reads like trouble)."""
        from celery import Celery

        app = Celery(broker=self.redis_url)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.check()
                if app.control.ping(timeout=1):
                    return
        finally:
            app.close()

    def check(self) -> None:
        for name, proc in self.children.items():
            if proc.poll() is not None:
                raise ServiceDied(f"{name} exited with code {proc.returncode}")

    def wait_ready(self, web: str, timeout: float = 60) -> None:
        """Block until ``web``/readyz answers 200 (raise ServiceDied if a service exits,
        RuntimeError after ``timeout`` seconds)."""
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            try:
                if requests.get(f"{web}/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or still booting
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the web service did not become ready within {timeout:.0f} s")

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
        for relay in self._relays:
            relay.join(timeout=2)
        self._relays.clear()
        for log in self._logs:
            log.close()
        if self._embedded:
            self._embedded.stop()
            self._embedded = None
