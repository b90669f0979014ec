"""Operational commands: status and demo."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table
from sqlalchemy import func, select, text

from core.settings import Settings
from kfsync.cli import fail, load_settings, make_console
from store.db import get_engine, session_scope
from store.models import InboundEvent, SyncJob

console = make_console()


@click.command()
def status() -> None:
    """Health of Redis, database, Magento, KashFlow; queue depths; backlog."""
    settings = _running() or load_settings()
    problem = schema_problem(settings.database_url)
    if problem:
        fail(problem)
    checks = {"database": _db(settings), "redis": _redis(settings),
              "magento": _magento(settings), "kashflow": _kashflow(settings)}
    table = Table("component", "status")
    for name, result in checks.items():
        table.add_row(name, result if result == "ok" else f"[red]{result}[/red]")
    console.print(table)
    if checks["redis"] == "ok":
        _queues(settings)
    if checks["database"] == "ok":
        _backlog(settings)
        _pairs(settings)
        _push_sources(settings)
    if any(v != "ok" for v in checks.values()):
        raise click.ClickException("some components are not healthy")


def _running() -> Settings | None:
    """Print the addresses of the ``kfsync run`` serving from this directory, if one is;
    returns the settings to check when it is a sandbox run (its own database and Redis)."""
    from kfsync import runinfo

    info = runinfo.read()
    if info is None:
        return None
    console.print("kfsync run is serving" + (" the sandbox" if info.sandbox else "") + ":",
                  highlight=False)
    for line in runinfo.url_lines(info):
        console.print(f"  {line}", highlight=False, soft_wrap=True)
    if not info.sandbox:
        return None
    from kfsync.foreground import sandbox_settings

    return sandbox_settings(info)


def schema_problem(url: str) -> str | None:
    """One line when the database is not at the latest schema (never migrated, or behind),
    naming the command that fixes it; None when it is current or cannot be reached (the
    database check reports that)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from store.db import alembic_config

    try:
        with get_engine(url).connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception:
        return None
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    if current is None:
        return f"the database ({_safe(url)}) has no kfsync tables yet: run `kfsync migrate`"
    if current != head:
        return (f"the database ({_safe(url)}) is at schema {current}, this kfsync needs "
                f"{head}: run `kfsync migrate`")
    return None


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "KFSYNC_DATABASE_URL"


def _db(settings: Settings) -> str:
    try:
        with get_engine(settings.database_url).connect() as conn:
            conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"


def _redis(settings: Settings) -> str:
    from kfsync.redis_embedded import answers

    return "ok" if answers(settings.redis_url) else f"no answer at {settings.redis_url}"


def _magento(settings: Settings) -> str:
    if not (settings.magento_token or settings.magento_oauth):
        return "not configured (KFSYNC_MAGENTO_TOKEN)"
    from connectors.errors import ConnectorError
    from services.clients import magento_client

    try:
        magento_client(settings).search_orders([], page_size=1)
        return "ok"
    except ConnectorError as exc:
        return str(exc)


def _kashflow(settings: Settings) -> str:
    if not settings.kashflow_username:
        return "not configured (KFSYNC_KASHFLOW_USERNAME)"
    from connectors.errors import ConnectorError
    from services.clients import kashflow_client

    try:
        kashflow_client(settings).bank_accounts()
        return "ok"
    except ConnectorError as exc:
        return str(exc)


def _queues(settings: Settings) -> None:
    import redis

    from celeryconfig import DEAD_LETTER_QUEUE, QUEUES

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2)
    table = Table("queue", "waiting")
    for name in (*QUEUES, DEAD_LETTER_QUEUE):
        table.add_row(name, str(client.llen(name)))
    console.print(table)


def _backlog(settings: Settings) -> None:
    with session_scope(settings.database_url) as s:
        states = dict(s.execute(select(SyncJob.state, func.count()).group_by(SyncJob.state))
                      .tuples().all())
        unsent = s.scalar(select(func.count()).select_from(InboundEvent)
                          .where(InboundEvent.enqueued_at.is_(None),
                                 InboundEvent.processed_at.is_(None)))
    table = Table("jobs by state", "count")
    for state, count in sorted(states.items()):
        table.add_row(state, str(count))
    table.add_row("events not yet enqueued", str(unsent))
    console.print(table)


def _pairs(settings: Settings) -> None:
    """With more than one integration pair: each pair's own numbers (the dashboard's table)."""
    from ingest.queries import pair_overview
    from services.pairs import known

    names = known(settings)
    if len(names) < 2:
        return
    with session_scope(settings.database_url) as s:
        rows = pair_overview(s, settings.redis_url, names)
    table = Table("pair", "synced 24 h", "in progress", "needs review", "dead",
                  "dead letters open", "events queued", "circuit")
    for row in rows:
        by_state = row["jobs_by_state"]
        busy = by_state["queued"] + by_state["running"] + by_state["retrying"]
        waiting = row["ingest_waiting"]
        table.add_row(row["pair"] + ("" if row["enabled"] else " (disabled)"),
                      str(row["synced_24h"]), str(busy),
                      str(by_state["needs_review"]), str(by_state["dead"]),
                      str(row["dead_letters_open"]), "?" if waiting is None else str(waiting),
                      "[red]open[/red]" if row["circuit_open"] else "closed")
    console.print(table)


def _push_sources(settings: Settings) -> None:
    from ingest.sources.activity import push_activity

    with session_scope(settings.database_url) as s:
        rows = push_activity(s)
    table = Table("push source", "last hour")
    for row in rows:
        table.add_row(row.source, row.summary)
    console.print(table)


@click.command()
@click.option("--keep-running/--no-keep-running", default=None,
              help="keep the services up after the summary (default: only on a terminal)")
def demo(keep_running: bool | None) -> None:
    """Sandbox + services + ~20 signed sample webhooks, then a summary table."""
    load_settings(purpose="kfsync demo", service=True)  # never in prod: it starts the sandbox
    from kfsync.demo import run_demo

    run_demo(keep_running)


COMMANDS: list[Any] = [status, demo]
