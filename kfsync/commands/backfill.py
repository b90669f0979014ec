"""``kfsync backfill``: bring a shop's history into KashFlow through the normal pipeline.

Orders created in ``[since, until)`` become inbound events (one per order, so a second run or
a resume adds nothing twice) and go through the same workers, rate limit and rules as live
traffic. Then the credit memos and Magento invoices (captures) created in the range, one event
each (``workers.catchup``): refunds become credit notes, and a capture made after its order
(an authorise-only gateway) is posted on the order's invoice. Feeding pauses while the step
queues hold more than ``--max-backlog`` messages, so live orders are never stuck behind
history. Ctrl-C stops safely; the same command resumes from the stored cursor.
``--pair NAME`` backfills that integration pair's shop into its KashFlow company: its
Magento client, its cursor, its jobs and its ingest queue (docs/pairs.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache, partial
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
)
from rich.text import Text
from sqlalchemy import Executable, bindparam, select, union

from kfsync.cli import fail, make_console
from kfsync.eta import SteadyRate
from store.db import session_scope
from store.models import Cursor, InboundEvent, JobState, SyncJob

console = make_console()
SETTLED = [JobState.DONE, JobState.SKIPPED, JobState.WAITING, JobState.NEEDS_REVIEW,
           JobState.DEAD, JobState.DISCARDED]
MAGENTO_TIME = "%Y-%m-%d %H:%M:%S"
# The resume cursor is written at most this often (and when the feeding stops): a run killed
# outright re-reads at most this much of its range, which it finds recorded already.
SAVE_EVERY_S = 1.0


@click.command()
@click.option("--since", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="first day (UTC), inclusive")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="last day, exclusive")
@click.option("--max-backlog", default=200, show_default=True, type=click.IntRange(10, 100000),
              help="pause feeding while the step queues hold more messages than this")
@click.option("--wait/--no-wait", default=True, help="wait until every order has settled")
@click.option("--pair", help="the integration pair whose shop to backfill (docs/pairs.md; "
                             "default: pair default)")
def backfill(since: datetime, until: datetime | None, max_backlog: int, wait: bool,
             pair: str | None) -> None:
    """Sync past orders created from SINCE (until UNTIL), resumably, with progress and ETA."""
    from kfsync.commands.pairs import work_as_pair

    settings = work_as_pair(pair, "magento_auth", purpose="kfsync backfill")
    from core import pairs
    from workers.app import configure
    from workers.catchup import keyset_orders
    from workers.maintenance import backlog, step_queues

    configure(settings)
    until = until or datetime.utcnow() + timedelta(days=1)
    if until <= since:
        raise click.UsageError("--until must be after --since")
    window = [[("created_at", since.strftime(MAGENTO_TIME), "gteq")],
              [("created_at", until.strftime(MAGENTO_TIME), "lt")]]
    name = f"backfill:{since:%Y-%m-%d}:{until:%Y-%m-%d}"
    url = settings.database_url  # the cursor, events and jobs are the current pair's
    total, state = _plan(window, url, name)
    broker = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
    # The queues the workers take events and chains from (a pair's own ingest queue too),
    # listed once for the run.
    pending = partial(backlog, broker, step_queues(settings))
    with _progress() as progress:
        watch = Watch(progress, url, name, total, state)
        saved = time.monotonic()
        try:
            for order in keyset_orders(window, after_id=state["after_id"]):
                while pending() > max_backlog:
                    watch.poll()
                    time.sleep(0.5)
                _feed(url, order, name, watch, state)
                if time.monotonic() - saved >= SAVE_EVERY_S:
                    _save(url, name, state)
                    saved = time.monotonic()
                watch.poll()
        finally:  # Ctrl-C included: the next run resumes after the last order recorded
            _save(url, name, state)
        documents = _documents(progress, url, name, window, pending, max_backlog)
        if wait:
            while not watch.poll(force=True):
                time.sleep(1)
    console.print(f"backfill {name}{_of_pair(pairs.current())}: {state['count']} of {total} "
                  f"order(s) through the pipeline ({state['already']} were already in step)")
    console.print(f"history: {documents} new credit memo(s) and invoice(s)")


def _feed(url: str, order: dict[str, Any], name: str, watch: Watch,
          state: dict[str, int]) -> None:
    """Record one order of the range as the run's event and count it once: when its job
    settles (an event of this run, or of an interrupted run of the same range), or now, as
    already in step (synced before from this very version)."""
    from workers.catchup import record_order

    key = str(order["entity_id"])
    if record_order(url, order, "backfill", tag=name):
        watch.recorded(key)
    elif not watch.recorded_earlier(key):
        state["already"] += 1
    state["after_id"], state["count"] = int(order["entity_id"]), state["count"] + 1


def _documents(progress: Progress, url: str, name: str,
               window: list[list[tuple[str, str, str]]], pending: Callable[[], int],
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
            while pending() > max_backlog:
                time.sleep(1)
            recorded += bool(record(url, doc, "backfill", name))
            progress.advance(task)
    progress.update(task, total=progress.tasks[task].completed)
    return recorded


def _plan(window: list[list[tuple[str, str, str]]], url: str, name: str
          ) -> tuple[int, dict[str, int]]:
    from connectors.errors import ConnectorError
    from core import pairs
    from workers import context

    try:
        total = int(context.magento().search_orders(window, page_size=1).get("total_count", 0))
    except ConnectorError as exc:
        fail(f"could not list orders in Magento: {exc}")
    with session_scope(url) as s:
        cursor = s.get(Cursor, _cursor(name))
        state = {"after_id": 0, "count": 0, "already": 0, **(cursor.value if cursor else {})}
    if state["after_id"]:
        console.print(f"resuming {name}{_of_pair(pairs.current())} after order entity "
                      f"{state['after_id']}")
    return total, state


def _save(url: str, name: str, state: dict[str, int]) -> None:
    with session_scope(url) as s:
        s.merge(Cursor(name=_cursor(name), value=dict(state)))


def _cursor(name: str) -> str:
    """The run's cursor: one per pair (``name@<pair>``; pair default's as it always was)."""
    from core import pairs

    return pairs.scoped_key(name)


def _of_pair(name: str) -> str:
    return "" if name == "default" else f" of pair {name}"


class SettledCount:
    """This run's orders whose job has settled (synced, skipped or held for review), counted
    as the run goes, at a cost that does not grow with the run.

    The run's order events recorded before this process started (a resumed run's) are read
    once; the feeder adds every order it records (``add``). Each call then asks only about
    the orders not yet seen settled, one equality lookup per key on the jobs' unique index
    (``_settled_of``). Two earlier forms grew with the run: one query joining events and
    jobs was planned as a loop over every pair of rows while a fresh database had no
    statistics yet (a second per poll at 4,000 jobs), and ``magento_key IN (...)`` plus a
    re-read of the run's events by id were each read as a filter over every job or event of
    the kind (bench/NOTES.md)."""

    CHUNK = 128  # keys per query (a power of two: see _settled_of)

    def __init__(self, url: str, name: str) -> None:
        from core import pairs

        self.url, self.pair = url, pairs.current()
        self.settled = 0
        with session_scope(url) as s:
            self.earlier = set(s.scalars(  # once per run
                select(InboundEvent.resource_key).where(
                    InboundEvent.source == "backfill", InboundEvent.pair == self.pair,
                    InboundEvent.resource_type == "order",
                    InboundEvent.event_id.like(f"{name}:%"))))
        self.waiting = set(self.earlier)

    def add(self, key: str) -> None:
        """An order this run recorded an event for."""
        self.waiting.add(key)

    def __call__(self) -> int:
        waiting = sorted(self.waiting)
        with session_scope(self.url) as s:
            for at in range(0, len(waiting), self.CHUNK):
                keys = waiting[at:at + self.CHUNK]
                size = 1 << (len(keys) - 1).bit_length()  # padded: a few statement shapes
                params = {f"b_key{n}": keys[min(n, len(keys) - 1)] for n in range(size)}
                done = set(s.scalars(_settled_of(size), {"b_pair": self.pair, **params}))
                self.waiting -= done
                self.settled += len(done)
        return self.settled


@cache
def _settled_of(count: int) -> Executable:
    """The keys among ``count`` whose order job has settled: one equality lookup per key on
    the jobs' whole unique index (pair, kind, magento_key), ``UNION`` (a padded key
    repeats)."""
    lookups = [select(SyncJob.magento_key).where(
        SyncJob.pair == bindparam("b_pair"), SyncJob.kind == "order",
        SyncJob.magento_key == bindparam(f"b_key{n}"), SyncJob.state.in_(SETTLED))
        for n in range(count)]
    return lookups[0] if count == 1 else union(*lookups)


class Watch:
    """The run's two bars — orders queued and orders settled — and the ETA of the whole run.

    The ETA is the settled count's (what ends the run), at its recent steady pace
    (``kfsync.eta.SteadyRate``). Settled orders are counted at most once per ``EVERY_S``; when
    the output is not a terminal (a log, a benchmark) a plain line is printed every
    ``PLAIN_EVERY_S`` instead of the bars.
    """

    EVERY_S = 1.0
    PLAIN_EVERY_S = 5.0

    def __init__(self, progress: Progress, url: str, name: str, total: int,
                 state: dict[str, int]) -> None:
        self.progress, self.url, self.name, self.total, self.state = (
            progress, url, name, total, state)
        self.started = time.monotonic()
        self._settled_so_far = SettledCount(url, name)
        self.queued = progress.add_task("queued", total=total, completed=state["count"],
                                        eta=None)
        done = self._count()
        self.rate = SteadyRate(total, done)
        self.settled = progress.add_task("settled", total=total, completed=done, eta=None)
        self._polled = self._printed = time.monotonic()

    def recorded(self, key: str) -> None:
        """The feeder stored an event for order ``key``: count it once it settles."""
        self._settled_so_far.add(key)

    def recorded_earlier(self, key: str) -> bool:
        """Whether an earlier run of this range recorded an event for order ``key`` (it is
        counted once it settles, not as already in step)."""
        return key in self._settled_so_far.earlier

    def _count(self) -> int:
        return min(self.total, self.state["already"] + self._settled_so_far())

    def poll(self, force: bool = False) -> bool:
        """Refresh the bars (settled at most once per ``EVERY_S`` unless ``force``); True once
        every order has settled."""
        self.progress.update(self.queued, completed=self.state["count"])
        now = time.monotonic()
        if not force and now - self._polled < self.EVERY_S:
            return False
        self._polled = now
        done = self._count()
        self.rate.update(done)
        eta = self.rate.seconds_left()
        self.progress.update(self.settled, completed=done, eta=eta)
        if not console.is_terminal and (now - self._printed >= self.PLAIN_EVERY_S
                                        or done >= self.total):
            self._printed = now
            speed = self.rate.rate()
            console.print(
                f"progress: {now - self.started:.1f} s, queued {self.state['count']}/"
                f"{self.total}, settled {done}/{self.total}, "
                f"{'--' if speed is None else f'{speed:.1f}'} orders/s, ETA "
                f"{'--' if eta is None else f'{eta:.0f}'} s", highlight=False)
        return done >= self.total


class RateColumn(ProgressColumn):
    """Orders per second, averaged by rich over the recent updates."""

    def render(self, task: Task) -> Text:
        return Text("-- orders/s" if task.speed is None else f"{task.speed:.1f} orders/s")


class EtaColumn(ProgressColumn):
    """The run's time left (``Watch``), on the settled bar."""

    def render(self, task: Task) -> Text:
        if task.description != "settled":
            return Text("")
        eta = task.fields.get("eta")
        if eta is None:
            return Text("ETA --:--")
        minutes, seconds = divmod(int(eta + 0.5), 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"ETA {hours}:{minutes:02d}:{seconds:02d}" if hours
                    else f"ETA {minutes:02d}:{seconds:02d}")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(),
                    RateColumn(), EtaColumn(), console=console,
                    disable=not console.is_terminal)


COMMANDS: list[Any] = [backfill]
