"""Serve the web app with gunicorn, the production way, from inside the ``kfsync`` command."""

from __future__ import annotations

import gc
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
        """The app, warmed up (``ingest.app.warm_up``): gunicorn loads it in each worker."""
        from ingest import create_app
        from ingest.app import warm_up

        app = create_app(self._settings)
        warm_up(app)
        return app


def _freeze_loaded(worker: Any) -> None:
    """gunicorn's ``post_worker_init``: what a worker has loaded (the app and its libraries,
    about 150,000 objects, and what the warm-up opened) lives as long as the worker, so it
    leaves the collector's sight. A full collection walked all of it: 90-330 ms under load
    (logged with ``gc.callbacks`` at 1,000 webhooks a second), in which the worker answered
    nothing; 3-45 ms after."""
    gc.collect()
    gc.freeze()


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
        "post_worker_init": _freeze_loaded,
    }
    _App(settings, options).run()
