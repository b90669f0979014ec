"""``kfsync.events.process_event`` messages pushed straight onto the broker's Redis list.

The webhook path publishes one message per event, and Celery's ``send_task`` cost more CPU
than the rest of the request (building the message through kombu's producer and channel,
routing lookups, a second Redis round trip): a third of the web process's time at
saturation. This module writes the same Celery protocol-2 message that ``send_task`` writes
for this one task — same headers, properties and base64 JSON body, the same list key of
kombu's Redis transport (the queue name; priority 0) — in one ``LPUSH``, optionally
pipelined with metric increments. ``tests/unit/workers/test_eventmessage.py`` compares it
field by field with what Celery itself pushes, so a Celery or kombu upgrade that changes
the format fails there, not in production. With Sentry on, the message goes through
``send_task`` as before, so Sentry's Celery integration still links the webhook's trace to the
task's.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import uuid
from collections.abc import Iterable
from functools import cache
from typing import Any

import redis
import sentry_sdk

from workers.app import celery_app

TASK = "kfsync.events.process_event"
# The broker's timeouts (celeryconfig.broker_transport_options): a dead broker costs the
# webhook at most about a second, and the event waits for the relay.
CONNECT_TIMEOUT_S, SOCKET_TIMEOUT_S = 1, 5
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


@cache
def _client(url: str) -> redis.Redis:
    # redis-py's pool is thread-safe and reconnects after a fork (it checks the pid).
    return redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S,
                                socket_timeout=SOCKET_TIMEOUT_S)


@cache
def _queue() -> str:
    """The Redis list of the task's queue (``celeryconfig.task_routes``)."""
    route = celery_app.amqp.router.route({}, TASK)
    prefix = celery_app.conf.broker_transport_options.get("global_keyprefix", "")
    return f"{prefix}{route['queue'].name}"


def _list_key(queue: str | None) -> str:
    if queue is None:
        return _queue()
    prefix = celery_app.conf.broker_transport_options.get("global_keyprefix", "")
    return f"{prefix}{queue}"


@cache
def _reply_to(pid: int) -> str:
    """One id per process, like Celery's ``app.thread_oid`` (results are ignored)."""
    return str(uuid.uuid4())


def message(row_id: int, task_id: str | None = None, queue: str | None = None
            ) -> dict[str, Any]:
    """The Celery protocol-2 message ``send_task(TASK, [row_id])`` puts on the broker
    (``queue``: another queue than the task's route, an integration pair's)."""
    task_id = task_id or str(uuid.uuid4())
    body = json.dumps([[row_id], {}, _EMBED]).encode()
    return {
        "body": base64.b64encode(body).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py", "task": TASK, "id": task_id, "shadow": None, "eta": None,
            "expires": None, "group": None, "group_index": None, "retries": 0,
            "timelimit": [None, None], "root_id": task_id, "parent_id": None,
            "argsrepr": f"[{row_id!r}]", "kwargsrepr": "{}",
            "origin": f"gen{os.getpid()}@{socket.gethostname()}", "ignore_result": None,
            "replaced_task_nesting": 0, "stamped_headers": None, "stamps": {},
        },
        "properties": {
            "correlation_id": task_id, "reply_to": _reply_to(os.getpid()),
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": _list_key(queue)},
            "priority": 0, "body_encoding": "base64", "delivery_tag": str(uuid.uuid4()),
        },
    }


# LPUSH the message and add each increment, in one command (a pipeline of two cost the web
# process more Python than the round trip it saves). KEYS: queue, then one hash per
# increment; ARGV: message, then field and amount per increment.
_PUSH_LUA = """
redis.call('LPUSH', KEYS[1], ARGV[1])
for i = 2, #KEYS do
  redis.call('HINCRBYFLOAT', KEYS[i], ARGV[2 * i - 2], ARGV[2 * i - 1])
end
return 1
"""


@cache
def _script(url: str) -> Any:
    return _client(url).register_script(_PUSH_LUA)


def warm_up() -> None:
    """Connect to the broker and load the push script, as the first ``push`` would (the web
    worker's warm-up: ``ingest.app.warm_up``)."""
    url = celery_app.conf.broker_url
    _client(url).script_load(_PUSH_LUA)
    _queue()


def traced() -> bool:
    """Sentry is on in this process: its Celery integration adds trace headers to what
    ``send_task`` sends (linking the webhook's trace to the task's), so publish through it."""
    return bool(sentry_sdk.get_client().is_active())


def push(row_id: int, increments: Iterable[tuple[str, str, float]] = (),
         queue: str | None = None) -> None:
    """``LPUSH`` the message for event ``row_id``, plus ``HINCRBYFLOAT`` (hash, field, amount)
    for each of ``increments``, in one round trip (with Sentry on: ``send_task``, then the
    increments).

    Raises:
        Exception: the broker did not take it (the caller decides what that means).
    """
    if traced():
        celery_app.send_task(TASK, args=[row_id], queue=queue)
        pipe = _client(celery_app.conf.broker_url).pipeline(transaction=False)
        for name, field, amount in increments:
            pipe.hincrbyfloat(name, field, amount)
        pipe.execute()
        return
    keys, args = [_list_key(queue)], [json.dumps(message(row_id, queue=queue))]
    for name, field, amount in increments:
        keys.append(name)
        args += [field, repr(amount)]
    _script(celery_app.conf.broker_url)(keys=keys, args=args)
