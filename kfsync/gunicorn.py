"""Serve the web app with gunicorn, the production way, from inside the ``kfsync`` command."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from core.settings import Settings


class _App(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from ingest import create_app

        return create_app(self._settings)


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Run gunicorn in the foreground until SIGINT/SIGTERM."""
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 2,  # 3 processes x 2 threads: the best p99 on 2 cores (bench/ingest.py)
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
    }
    _App(settings, options).run()
