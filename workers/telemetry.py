"""Observability of worker and beat processes, wired through Celery signals.

- ``setup_logging``: kfsync's structured logs (``core/logs.py``) instead of Celery's own.
- ``celeryd_init`` / ``worker_process_init`` / ``beat_init``: Sentry (``core/sentry.py``).
- ``task_prerun``: a fresh log context per task holding its task id (and the job or event id,
  the first argument of every chain task), and metrics held for the task; ``task_postrun``:
  the task's duration into ``kfsync_task_duration_seconds``, then the held metrics written in
  one Redis round trip (``core/metrics.py``). Celery sends ``task_postrun`` from a
  ``finally`` after every run that sent ``task_prerun``, whatever the state (success,
  failure, retry, ignored, rejected: ``celery/app/trace.py``), so every hold is flushed.

Imported by ``workers/app.py`` so any process running the Celery app gets it.
"""

from __future__ import annotations

import time
from typing import Any

from celery.signals import (
    beat_init,
    celeryd_init,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_process_init,
)

from celeryconfig import routine_task_names
from core import logs, pairs
from core.metrics import recorder

JOB_TASK_PREFIXES = ("kfsync.orders.", "kfsync.customers.", "kfsync.payments.",
                     "kfsync.refunds.")
_started: dict[str, float] = {}


def _settings() -> Any:
    from workers import context

    return context.settings()


@setup_logging.connect
def _logging(loglevel: Any = None, **_: Any) -> None:
    settings = _settings()
    logs.configure(settings.env, secrets=settings.secret_values(), level=loglevel or "INFO",
                   routine_tasks=routine_task_names())


@celeryd_init.connect
def _sentry_worker(**_: Any) -> None:
    from core.sentry import init_sentry

    init_sentry(_settings(), component="worker")


@worker_process_init.connect
def _sentry_child(**_: Any) -> None:
    import sentry_sdk

    if not sentry_sdk.get_client().is_active():  # a pool started without celeryd_init
        from core.sentry import init_sentry

        init_sentry(_settings(), component="worker")


@beat_init.connect
def _sentry_beat(**_: Any) -> None:
    from core.sentry import init_sentry

    init_sentry(_settings(), component="beat")


@task_prerun.connect
def _task_started(task_id: str | None = None, task: Any = None, args: Any = None,
                  **_: Any) -> None:
    name = getattr(task, "name", "") or ""
    refs: dict[str, Any] = {"task_id": task_id}
    if args and isinstance(args[0], int):
        if name.startswith(JOB_TASK_PREFIXES):
            refs["job_id"] = args[0]
        elif name == "kfsync.events.process_event":
            refs["event_id"] = args[0]
    logs.clear(**refs)
    recorder(_settings().redis_url).hold()  # the task's metrics: one round trip, at postrun
    if task_id:
        _started[task_id] = time.monotonic()


@task_postrun.connect
def _task_finished(task_id: str | None = None, task: Any = None, state: str | None = None,
                   **_: Any) -> None:
    """Record the task's duration if its start was seen, then always flush what it held."""
    started = _started.pop(task_id or "", None)
    metrics = recorder(_settings().redis_url)
    try:
        if started is not None:
            metrics.task_finished(getattr(task, "name", "unknown"), state or "UNKNOWN",
                                  time.monotonic() - started, pairs.task_pair())
    finally:
        metrics.flush()  # never raises; also after a failure, retry or a start not seen
        logs.clear()
