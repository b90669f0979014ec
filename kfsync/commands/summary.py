"""``kfsync summary``: summary mode's summaries (``docs/accounting-modes.md``).

``summary list`` shows them (``--state``, ``--day``); ``summary show ID`` one summary, its
lines and the orders behind each; ``summary close`` closes and posts the summaries of days
before ``--before`` (default: as beat does, days ended ``close_after_minutes`` ago), or one
``--id``; ``summary export ID`` writes its trace (line x order) as CSV.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click
from rich.table import Table

from kfsync.cli import echo_json, fail, load_settings, make_console

console = make_console()
LIST_COLUMNS = ("id", "kind", "store", "currency", "day", "state", "documents", "number",
                "gross")


@click.group()
def summary() -> None:
    """Summary mode: one KashFlow invoice per store, currency and day."""


@summary.command("list")
@click.option("--state", type=click.Choice(["open", "closing", "posted"]))
@click.option("--day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def list_(state: str | None, day: datetime | None, fmt: str) -> None:
    """The summaries, newest day first."""
    settings = load_settings()
    from services.summaries import list_summaries

    rows = list_summaries(settings.database_url, state=state,
                          day=day.date() if day else None)
    if fmt == "json":
        echo_json(rows)
        return
    table = Table(*LIST_COLUMNS, title="Summaries")
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in LIST_COLUMNS))
    console.print(table)
    console.print(f"{len(rows)} summar{'y' if len(rows) == 1 else 'ies'}")


@summary.command("show")
@click.argument("summary_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def show(summary_id: int, fmt: str) -> None:
    """One summary: its lines, the orders behind each, its payments."""
    settings = load_settings()
    from services.summaries import summary_detail

    detail = summary_detail(settings.database_url, summary_id)
    if detail is None:
        fail(f"no summary {summary_id}")
    if fmt == "json":
        echo_json(detail)
        return
    _print(detail)


def _print(detail: dict[str, Any]) -> None:
    console.print(f"summary {detail['id']}: {detail['kind']} of store {detail['store']}, "
                  f"{detail['currency']}, {detail['day']}: {detail['state']}"
                  + (f", KashFlow {detail['number']}" if detail["number"] else "")
                  + (f"; error: {detail['error']}" if detail["error"] else ""))
    table = Table("line", "net", "vat", "documents", title="Lines")
    for line in detail["lines"] or detail["open_lines"]:
        refs = ", ".join(str(s["magento_ref"]) for s in line["sources"][:8])
        more = len(line["sources"]) - 8
        table.add_row(line["description"], str(line["net"]), str(line["vat"]),
                      refs + (f" (+{more})" if more > 0 else ""))
    console.print(table)
    for pay in detail["payments"]:
        on = ", ".join(map(str, pay.get("invoices") or []))
        console.print(f"payment {pay['method']}: {pay['amount']} into account "
                      f"{pay['account_id']}" + (f", paid on {on}" if on else ""))
    late = [d["magento_ref"] for d in detail["entries"] if d["late"]]
    console.print(f"{len(detail['entries'])} document(s)"
                  + (f"; late (their own day was closed): {', '.join(late)}" if late else ""))


@summary.command("close")
@click.option("--before", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="close the summaries of days before this one (default: as beat does)")
@click.option("--id", "summary_id", type=int, help="close this one summary, whatever its day")
def close(before: datetime | None, summary_id: int | None) -> None:
    """Close and post summaries now (beat does it every 300 s for days past)."""
    settings = load_settings()
    from workers.summary_post import close_due, close_summary

    if summary_id is not None:
        state = close_summary(settings.database_url, summary_id)
        if state is None:
            fail(f"no summary {summary_id}")
        click.echo(f"summary {summary_id}: {state}")
        return
    posted = close_due(settings.database_url, before.date() if before else None)
    click.echo(f"{len(posted)} summar{'y' if len(posted) == 1 else 'ies'} posted"
               + (f": {', '.join(map(str, posted))}" if posted else ""))


@summary.command("export")
@click.argument("summary_id", type=int)
def export(summary_id: int) -> None:
    """The summary's trace as CSV: one row per line and order."""
    settings = load_settings()
    from services.summaries import export_csv

    text = export_csv(settings.database_url, summary_id)
    if text is None:
        fail(f"no summary {summary_id}")
    sys.stdout.write(text)


COMMANDS = [summary]
