"""Store-facing commands: migrate, jobs list|show, replay order."""

from __future__ import annotations

import uuid
from typing import Any

import click
from rich.table import Table
from sqlalchemy import select

from kfsync.cli import fail, load_settings, make_console
from services.ledger import OrderLedger, order_ledger
from store.db import migrate as apply_migrations
from store.db import session_scope
from store.models import InboundEvent, JobState, SyncJob

console = make_console()


SERVICE_SETTINGS = ("webhook_secrets", "ops_token", "magento_auth", "kashflow_username",
                    "kashflow_password", "kashflow_memorable_word")


@click.command()
@click.option("--check-settings", is_flag=True,
              help="first check that web, worker and beat have every setting they need "
                   "(Compose runs this before starting them)")
def migrate(check_settings: bool) -> None:
    """Apply database migrations."""
    settings = load_settings()
    if check_settings:
        missing = settings.missing(*SERVICE_SETTINGS)
        if missing:
            fail(f"the services need {', '.join(missing)} to be set in .env "
                 "(`kfsync compose-env --sandbox > .env` for the sandbox, `kfsync connect` "
                 "for your shop)")
    apply_migrations(settings.database_url)
    click.echo("database is at the latest schema")


@click.group()
def jobs() -> None:
    """Sync jobs with their state and attempts."""


@jobs.command("list")
@click.option("--state", type=click.Choice([s.value for s in JobState]), help="only this state")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--pair", help="only this integration pair's jobs (docs/pairs.md)")
def jobs_list(state: str | None, limit: int, pair: str | None) -> None:
    """The most recently updated jobs."""
    from kfsync.commands.pairs import pair_filter

    settings = load_settings()
    pair = pair_filter(settings, pair)
    with session_scope(settings.database_url) as s:
        query = select(SyncJob).order_by(SyncJob.updated_at.desc(), SyncJob.id.desc()).limit(limit)
        if state:
            query = query.where(SyncJob.state == state)
        if pair:
            query = query.where(SyncJob.pair == pair)
        rows = list(s.scalars(query))
    paired = any(job.pair != "default" for job in rows)  # one shop: no pair column
    table = Table("id", *(("pair",) if paired else ()), "order", "state", "step", "customer",
                  "invoice", "reason")
    for job in rows:
        table.add_row(str(job.id), *((job.pair,) if paired else ()),
                      job.magento_ref or job.magento_key, job.state, job.step,
                      job.customer_code or "", str(job.invoice_number or ""), job.reason or "")
    console.print(table)


@jobs.command("show")
@click.argument("job_id", type=int)
def jobs_show(job_id: int) -> None:
    """One job: its state and every attempt."""
    settings = load_settings()
    with session_scope(settings.database_url) as s:
        job = s.get(SyncJob, job_id)
        if job is None:
            fail(f"no job {job_id}")
        attempts = [(a.created_at, a.step, a.outcome, a.http_status, a.duration_ms, a.error)
                    for a in job.attempts]
        ledger = order_ledger(s, job)
        info: dict[str, Any] = {
            "job": job.id, "kind": job.kind, "magento order": f"{job.magento_ref or '?'} "
            f"(entity {job.magento_key})", "state": job.state, "step": job.step,
            "reason": job.reason or "", "customer": job.customer_code or "",
            "invoice": job.invoice_number or "", "payment": job.payment_ref or "",
            "created": job.created_at, "updated": job.updated_at,
        }
    for key, value in info.items():
        console.print(f"[bold]{key:>14}[/bold]  {value}")
    if ledger is not None:
        _print_ledger(ledger)
    if not attempts:  # a held or waiting job that never reached KashFlow: no empty table
        console.print(f"[bold]{'attempts':>14}[/bold]  none: no step has run")
        return
    table = Table("when", "step", "outcome", "http", "ms", "error", title="attempts")
    for when, step, outcome, status, ms, error in attempts:
        table.add_row(str(when)[:19], step, outcome, str(status or ""), str(ms or ""), error or "")
    console.print(table)


def _print_ledger(ledger: OrderLedger) -> None:
    """The order's ledger: each document and payment posted, when and why."""
    if ledger.rows:
        table = Table("document", "reference", "KashFlow", "amount", "when", "why",
                      title="ledger")
        for row in ledger.rows:
            table.add_row(row.doc.replace("_", " "), row.ref, str(row.number or ""),
                          str(row.amount), row.at, row.why)
        console.print(table)
        console.print(f"[bold]{'overpaid' if ledger.overpaid else 'due':>14}[/bold]  "
                      f"{ledger.overpaid or ledger.due}")
    for rel in ledger.related:
        console.print(f"[bold]{rel['relation']:>14}[/bold]  order {rel['order']} "
                      f"(job {rel['job_id']}, KashFlow {rel['invoice_number'] or '-'})")


@click.group()
def replay() -> None:
    """Resync a document from Magento."""


@replay.command("order")
@click.argument("increment_id")
@click.option("--pair", help="the integration pair whose shop the order is in (docs/pairs.md; "
                             "default: pair default)")
def replay_order(increment_id: str, pair: str | None) -> None:
    """Fetch order INCREMENT_ID from Magento again and resync it (never duplicates)."""
    from kfsync.commands.pairs import work_as_pair

    settings = work_as_pair(pair, "magento_auth", purpose="kfsync replay")
    from connectors.errors import ConnectorError
    from core import pairs
    from workers import context
    from workers.app import configure
    from workers.dispatch import enqueue_event

    configure(settings)
    name = pairs.current()
    try:
        found = context.magento().search_orders(
            [[("increment_id", increment_id, "eq")]], page_size=1)
    except ConnectorError as exc:
        fail(f"could not look the order up in Magento: {exc}")
    of = "" if name == pairs.DEFAULT else f" of pair {name}"
    if not found.get("items"):
        fail(f"Magento{of} has no order {increment_id}")
    order = found["items"][0]
    with session_scope(settings.database_url) as s:
        event = InboundEvent(
            source="replay", event_id=str(uuid.uuid4()), topic="order.updated", pair=name,
            resource_type="order", resource_key=str(order["entity_id"]),
            increment_id=increment_id, payload={"replay": increment_id},
        )
        s.add(event)
        s.flush()
        row_id = event.id
    sent = enqueue_event(settings.database_url, row_id, name)
    click.echo(f"replay of order {increment_id}{of} queued (event {row_id})" if sent else
               f"replay of order {increment_id}{of} stored (event {row_id}); the broker is "
               "down, the relay will send it")


COMMANDS: list[Any] = [migrate, jobs, replay]
