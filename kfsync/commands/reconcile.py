"""``kfsync reconcile``: the daily payment reconciliation report and its items.

``reconcile payments --date D`` reconciles the orders created on D (UTC) and prints, per
payment method, Magento captured, KashFlow received, refunds, the difference and open items;
``--format csv|json`` for spreadsheets. ``reconcile items`` lists the queue;
``reconcile match|post|dismiss ID`` resolves one item (audited). Gateway payouts:
``kfsync.commands.settlements``.
"""

from __future__ import annotations

import csv
import getpass
import sys
from datetime import UTC, date, datetime
from typing import Any

import click
from rich.table import Table

from kfsync.cli import echo_json, fail, load_settings, make_console

console = make_console()
COLUMNS = ("method", "orders", "magento_captured", "kashflow_received", "refunds",
           "difference", "open_items")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@click.group()
def reconcile() -> None:
    """Payment reconciliation: Magento captures vs KashFlow payments."""


@reconcile.command("payments")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="the day (UTC) whose orders to reconcile; default yesterday")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json"]), default="text",
              show_default=True)
@click.option("--pair", help="the integration pair whose shop and company (docs/pairs.md; "
                             "default: default)")
def payments(day: datetime | None, fmt: str, pair: str | None) -> None:
    """Reconcile one day and print the report per payment method."""
    from kfsync.commands.pairs import work_as_pair

    work_as_pair(pair)
    from connectors.errors import ConnectorError
    from workers.reconcile import reconcile_day

    when = day.date() if day else date.fromordinal(datetime.now(UTC).date().toordinal() - 1)
    try:
        rows = reconcile_day(when)
    except ConnectorError as exc:
        fail(f"reconciliation of {when} failed: {exc}")
    if fmt == "json":
        echo_json({"date": when.isoformat(), "methods": rows,
                   "differences": sum(r["open_items"] for r in rows)})
        return
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=["date", *COLUMNS])
        writer.writeheader()
        for row in rows:
            writer.writerow({"date": when.isoformat(), **row})
        return
    table = Table(*COLUMNS, title=f"Payments on {when}")
    for row in rows:
        table.add_row(*(str(row[c]) for c in COLUMNS))
    console.print(table)
    console.print(f"{sum(r['open_items'] for r in rows)} open item(s)")


@reconcile.command("items")
@click.option("--all", "include_resolved", is_flag=True, help="include resolved items")
@click.option("--pair", help="only this integration pair's items (docs/pairs.md)")
def items(include_resolved: bool, pair: str | None) -> None:
    """The reconciliation queue (open items and posts under way, oldest first)."""
    from kfsync.commands.pairs import pair_filter

    settings = load_settings()
    pair = pair_filter(settings, pair)
    from sqlalchemy import select

    from store.db import session_scope
    from store.reconcile_models import ItemStatus, ReconciliationItem
    from workers.reconcile import describe_item

    query = select(ReconciliationItem).order_by(ReconciliationItem.id)
    if not include_resolved:  # open, and those whose post is under way
        query = query.where(ReconciliationItem.status.in_([ItemStatus.OPEN, ItemStatus.POSTING]))
    if pair:
        query = query.where(ReconciliationItem.pair == pair)
    with session_scope(settings.database_url) as s:
        rows = [describe_item(x) for x in s.scalars(query)]
    table = Table("id", "pair", "day", "order", "method", "reason", "txn", "magento",
                  "kashflow", "status")
    for r in rows:
        table.add_row(str(r["id"]), r["pair"], str(r["day"]), str(r["order_ref"]),
                      str(r["payment_method"]),
                      r["reason"], str(r["txn_id"]), str(r["magento_amount"]),
                      str(r["kashflow_amount"]), r["status"])
    console.print(table)
    console.print(f"{len(rows)} item(s)")


def _resolve(item_id: int, action: str, note: str | None) -> None:
    settings = load_settings()
    from connectors.errors import ConnectorError
    from workers.operations import OperationError
    from workers.reconcile import resolve_item

    try:
        item: dict[str, Any] = resolve_item(settings.database_url, item_id, action,
                                              actor=_actor(), note=note)
    except OperationError as exc:
        fail(str(exc))
    except ConnectorError as exc:
        fail(f"posting reconciliation item {item_id} failed: {exc} (it stays 'posting'; "
             f"run `kfsync reconcile post {item_id}` again to resume)")
    if item["status"] == "posting":  # another process writes on the invoice's payments now
        click.echo(f"reconciliation item {item_id}: posting (another process is posting "
                   "payments on its invoice; run the post again in a moment, or `kfsync "
                   "reconcile items --all` shows when it is done)")
        return
    click.echo(f"reconciliation item {item_id}: {item['status']}")


@reconcile.command("match")
@click.argument("item_id", type=int)
@click.option("--note", help="how it balances (kept in the audit log)")
def match(item_id: int, note: str | None) -> None:
    """Mark an item as balancing (e.g. paid another way)."""
    _resolve(item_id, "match", note)


@reconcile.command("post")
@click.argument("item_id", type=int)
@click.option("--note", help="kept in the audit log")
def post(item_id: int, note: str | None) -> None:
    """Post the missing amount as a payment on the order's KashFlow invoice (exactly once;
    an item left 'posting' resumes)."""
    _resolve(item_id, "post", note)


@reconcile.command("dismiss")
@click.argument("item_id", type=int)
@click.option("--reason", required=True, help="why it needs no action (kept in the audit log)")
def dismiss(item_id: int, reason: str) -> None:
    """Close an item without action."""
    _resolve(item_id, "dismiss", reason)


from kfsync.commands import settlements  # noqa: E402,F401 - adds settlement, journal, payouts

COMMANDS: list[Any] = [reconcile]
