"""``kfsync backfill``: bring a shop's history into KashFlow through the normal pipeline.

Orders created in ``[since, until)`` become inbound events (one per order, so a second run or
a resume adds nothing twice) and go through the same workers, rate limit and rules as live
traffic. Then the credit memos and Magento invoices (captures) created in the range, one event
each (``workers.catchup``): refunds become credit notes, and a capture made after its order
(an authorise-only gateway) is posted on the order's invoice. Feeding pauses while the step
queues hold more than ``--max-backlog`` messages, so live orders are never stuck behind
history. Ctrl-C stops safely; the same command resumes from the stored cursor.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import click
import redis
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from sqlalchemy import func, select

from kfsync.cli import fail, load_settings, make_console
from store.db import session_scope
from store.models import Cursor, InboundEvent, JobState, SyncJob

console = make_console()
SETTLED = [JobState.DONE, JobState.SKIPPED, JobState.WAITING, JobState.NEEDS_REVIEW,
           JobState.DEAD, JobState.DISCARDED]
MAGENTO_TIME = "%Y-%m-%d %H:%M:%S"


@click.command()
@click.option("--since", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="first day (UTC), inclusive")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="last day, exclusive")
@click.option("--max-backlog", default=200, show_default=True, type=click.IntRange(10, 100000),
              help="pause feeding while the step queues hold more messages than this")
@click.option("--wait/--no-wait", default=True, help="wait until every order has settled")
def backfill(since: datetime, until: datetime | None, max_backlog: int, wait: bool) -> None:
    """Sync past orders created from SINCE (until UNTIL), resumably, with progress and ETA."""
    settings = load_settings("magento_auth", purpose="kfsync backfill")
    from workers.app import configure
    from workers.catchup import keyset_orders, record_order

    configure(settings)
    until = until or datetime.utcnow() + timedelta(days=1)
    if until <= since:
        raise click.UsageError("--until must be after --since")
    window = [[("created_at", since.strftime(MAGENTO_TIME), "gteq")],
              [("created_at", until.strftime(MAGENTO_TIME), "lt")]]
    name = f"backfill:{since:%Y-%m-%d}:{until:%Y-%m-%d}"
    url = settings.database_url
    total, state = _plan(window, url, name)
    broker = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
    with _progress() as progress:
        task = progress.add_task("queued", total=total, completed=state["count"])
        for order in keyset_orders(window, after_id=state["after_id"]):
            while _backlog(broker) > max_backlog:
                time.sleep(1)
            if not record_order(url, order, "backfill", tag=name):
                state["already"] += 1  # synced before from this very version
            state["after_id"], state["count"] = int(order["entity_id"]), state["count"] + 1
            _save(url, name, state)
            progress.update(task, completed=state["count"])
        documents = _documents(progress, url, name, window, broker, max_backlog)
        if wait:
            _wait(progress, url, name, total, state["already"])
    console.print(f"backfill {name}: {state['count']} of {total} order(s) through the pipeline "
                  f"({state['already']} were already in step)")
    console.print(f"history: {documents} new credit memo(s) and invoice(s)")


def _documents(progress: Progress, url: str, name: str,
               window: list[list[tuple[str, str, str]]], broker: redis.Redis,
               max_backlog: int) -> int:
    """The range's credit memos and Magento invoices as events (each once, across runs);
    returns how many were new."""
    from workers.catchup import (
        keyset_creditmemos,
        keyset_invoices,
        record_creditmemo,
        record_invoice,
    )

    task = progress.add_task("history", total=None)
    recorded = 0
    for keyset, record in ((keyset_creditmemos, record_creditmemo),
                           (keyset_invoices, record_invoice)):
        for doc in keyset(window):
            while _backlog(broker) > max_backlog:
                time.sleep(1)
            recorded += bool(record(url, doc, "backfill", name))
            progress.advance(task)
    progress.update(task, total=progress.tasks[task].completed)
    return recorded


def _plan(window: list[list[tuple[str, str, str]]], url: str, name: str
          ) -> tuple[int, dict[str, int]]:
    from connectors.errors import ConnectorError
    from workers import context

    try:
        total = int(context.magento().search_orders(window, page_size=1).get("total_count", 0))
    except ConnectorError as exc:
        fail(f"could not list orders in Magento: {exc}")
    with session_scope(url) as s:
        cursor = s.get(Cursor, name)
        state = {"after_id": 0, "count": 0, "already": 0, **(cursor.value if cursor else {})}
    if state["after_id"]:
        console.print(f"resuming {name} after order entity {state['after_id']}")
    return total, state


def _save(url: str, name: str, state: dict[str, int]) -> None:
    with session_scope(url) as s:
        s.merge(Cursor(name=name, value=dict(state)))


def _backlog(broker: redis.Redis) -> int:
    from workers.maintenance import STEP_QUEUES

    return sum(int(broker.llen(q)) for q in STEP_QUEUES)


def _wait(progress: Progress, url: str, name: str, total: int, already: int) -> None:
    """Show the run's orders settling (synced, skipped or held for review) until all have."""
    task = progress.add_task("settled", total=total)
    ours = (select(InboundEvent.resource_key)
            .where(InboundEvent.source == "backfill", InboundEvent.event_id.like(f"{name}:%")))
    while True:
        with session_scope(url) as s:
            settled = already + int(s.scalar(
                select(func.count(SyncJob.id)).where(SyncJob.kind == "order",
                                                     SyncJob.magento_key.in_(ours),
                                                     SyncJob.state.in_(SETTLED))) or 0)
        progress.update(task, completed=min(settled, total))
        if settled >= total:
            return
        time.sleep(1)


class RateColumn(ProgressColumn):
    """Orders per second, averaged by rich over the recent updates."""

    def render(self, task: Task) -> Text:
        return Text("-- orders/s" if task.speed is None else f"{task.speed:.1f} orders/s")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(),
                    RateColumn(), TimeRemainingColumn(),
                    console=console)


COMMANDS: list[Any] = [backfill]
