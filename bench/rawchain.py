"""The reference for the pipeline benchmark: a chain of three no-op Celery tasks, on kfsync's
own Celery configuration (``celeryconfig``: late acks, reject on worker lost, prefetch 1,
the same queues and routing style), the same broker and the same worker concurrency.

Worker: ``python -m celery -A bench.rawchain worker -Q <kfsync queues> -c N``.
The last task of each chain increments a Redis counter, which the benchmark polls.
"""

from __future__ import annotations

import os
from typing import Any

import redis
from celery import Celery, chain

COUNTER_KEY = "bench:rawchain:done"

app = Celery("rawchain")
app.config_from_object("celeryconfig")
app.conf.broker_url = os.environ.get("KFSYNC_REDIS_URL", app.conf.broker_url)
app.conf.task_routes = {"bench.raw.customer": {"queue": "customers"},
                        "bench.raw.invoice": {"queue": "orders"},
                        "bench.raw.payment": {"queue": "payments"}}
app.conf.beat_schedule = {}
_client: list[redis.Redis] = []


@app.task(name="bench.raw.customer")  # type: ignore[untyped-decorator]
def customer(n: int) -> None:
    return None


@app.task(name="bench.raw.invoice")  # type: ignore[untyped-decorator]
def invoice(n: int) -> None:
    return None


@app.task(name="bench.raw.payment")  # type: ignore[untyped-decorator]
def payment(n: int) -> None:
    if not _client:
        _client.append(redis.Redis.from_url(app.conf.broker_url))
    _client[0].incr(COUNTER_KEY)


def order_chain(n: int) -> Any:
    return chain(customer.si(n), invoice.si(n), payment.si(n))
