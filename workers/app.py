"""The Celery application, configured from ``celeryconfig`` and the process settings.

Worker processes read settings once (``context.settings()``); the web process passes its own
settings to ``configure`` so both publish to the same broker.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from core.settings import Settings

TASK_MODULES = (
    "workers.events",
    "workers.customers",
    "workers.orders",
    "workers.payments",
    "workers.refunds",
    "workers.maintenance",
    "workers.reconcile_queue",
    "workers.catchup",
    "workers.stock",
    "workers.summary_post",
)

celery_app = Celery("kfsync")
celery_app.config_from_object("celeryconfig")
celery_app.conf.include = list(TASK_MODULES)


def configure(settings: Settings) -> Celery:
    """Point the app at ``settings.redis_url`` (idempotent).

    Celery caches its broker connection and producer pools on first use; when the URL changes
    (a test, or ``kfsync run`` switching to the embedded Redis) they are dropped so the next
    publish connects to the new broker.
    """
    use_broker(settings.redis_url)
    return celery_app


def use_broker(url: str) -> None:
    """Publish to ``url`` from now on, dropping the connection and producer pools cached for
    another broker (both: a producer pool kept from a dead broker fails every later send)."""
    if celery_app.conf.broker_url != url:
        celery_app.conf.broker_url = url
        celery_app._pool = None
        celery_app.amqp._producer_pool = None


@worker_process_init.connect
def _after_fork(**_: Any) -> None:
    # A forked pool child must not reuse the parent's database or HTTP connections.
    from store.db import dispose_all
    from workers import context

    dispose_all()
    context.reset_clients()


# Logging, Sentry and task metrics hooks (Celery signals) for every process using this app.
import workers.telemetry  # noqa: E402,F401
