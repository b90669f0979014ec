"""``kfsync stock status|sync [--sku SKU] [--dry-run]``: compare stock levels, or run one pass.

Both run in this process with the worker's code (``workers.stock.run_pass``): ``status`` plans
without writing or storing anything and shows the last stored passes; ``sync`` takes the same
lock as the beat's pass, writes what changed and stores its summary (``--dry-run``: plans and
stores the summary, writes nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.table import Table

from kfsync.cli import fail, load_settings, make_console

if TYPE_CHECKING:  # the worker code is imported only when a command runs
    from mappings.stock import SkuPlan
    from workers.stock import PassReport

console = make_console()
KASHFLOW = ("kashflow_username", "kashflow_password", "kashflow_memorable_word")


@click.group()
def stock() -> None:
    """Inventory: compare stock levels, or run one sync pass."""


PAIR_HELP = "the integration pair whose shop and company (docs/pairs.md; default: default)"


@stock.command("status")
@click.option("--sku", help="only this Magento SKU")
@click.option("--pair", help=PAIR_HELP)
def stock_status(sku: str | None, pair: str | None) -> None:
    """Per SKU: both quantities, baseline and planned action; then the last passes."""
    report = _run(sku, dry_run=True, record=False, pair=pair)
    _print(report)
    _print_runs()


@stock.command("sync")
@click.option("--sku", help="only this Magento SKU")
@click.option("--dry-run", is_flag=True, help="plan and record the summary, write nothing")
@click.option("--pair", help=PAIR_HELP)
def stock_sync(sku: str | None, dry_run: bool, pair: str | None) -> None:
    """One sync pass now (the same pass beat runs on its interval, for each pair)."""
    report = _run(sku, dry_run=dry_run, record=True, pair=pair)
    _print(report)
    counts = report.counts
    click.echo(f"run {report.run_id}{' (dry run)' if dry_run else ''}: "
               f"{counts['changed']} changed, {counts['unchanged']} unchanged, "
               f"{counts['skipped']} skipped, {counts['conflicts']} conflicts, "
               f"{counts['errors']} errors; KashFlow calls {counts['kashflow_calls']}, "
               f"Magento calls {counts['magento_calls']}")
    if counts["errors"]:
        raise click.ClickException(f"{counts['errors']} SKU(s) could not be written")


def _run(sku: str | None, *, dry_run: bool, record: bool, pair: str | None) -> PassReport:
    from kfsync.commands.pairs import work_as_pair

    work_as_pair(pair, "magento_auth", *KASHFLOW, purpose="kfsync stock")
    from connectors.errors import ConnectorError
    from mappings.errors import MappingError
    from workers.stock import run_pass

    try:
        report = run_pass(sku, dry_run=dry_run, trigger="cli", record=record)
    except (ConnectorError, MappingError) as exc:
        fail(" ".join(str(exc).split()))
    if report is None:
        fail("another stock sync pass is running; try again when it has finished")
    return report


def _print(report: PassReport) -> None:
    table = Table("sku", "mode", "KashFlow", "Magento", "baseline", "target", "action", "why")
    for plan in report.plans:
        r = plan.reading
        base = r.baseline
        result = report.outcome.get(plan.sku, plan.action if plan.action != "write"
                                    else "would write")
        table.add_row(plan.sku, r.mode, _num(r.kashflow), _num(r.magento),
                      _num(base.agreed if base else None), _num(plan.target),
                      result + _sides(plan), plan.reason)
    planned = {p.sku for p in report.plans}
    for sku, result in report.outcome.items():
        if sku not in planned:
            table.add_row(sku, "", "", "", "", "", "skipped", result)
    console.print(table)
    if report.unmapped:
        click.echo("stock-managed KashFlow products no Magento SKU matches (not synced): "
                   + _some(report.unmapped))
    if report.unmatched_magento:
        click.echo("Magento SKUs no KashFlow product matches (by skus entry or code): "
                   + _some(report.unmatched_magento))


def _some(items: list[str], shown: int = 20) -> str:
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def _sides(plan: SkuPlan) -> str:
    sides = [name for name, value in (("KashFlow", plan.write_kashflow),
                                      ("Magento", plan.write_magento)) if value is not None]
    return f" ({', '.join(sides)})" if sides and plan.action == "write" else ""


def _print_runs() -> None:
    from services.stock_ledger import last_runs

    runs = last_runs(load_settings().database_url)
    if not runs:
        click.echo("no stock sync pass has been stored yet")
        return
    table = Table("run", "trigger", "sku", "started", "changed", "unchanged", "skipped",
                  "conflicts", "errors", "KashFlow calls", "Magento calls")
    for run in runs:
        trigger = run.trigger + (" (dry run)" if run.dry_run else "")
        table.add_row(str(run.id), trigger, run.sku or "all",
                      f"{run.started_at:%Y-%m-%d %H:%M:%S}", *(str(v) for v in (
                          run.changed, run.unchanged, run.skipped, run.conflicts, run.errors,
                          run.kashflow_calls, run.magento_calls)))
    console.print(table)


def _num(value: object) -> str:
    from decimal import Decimal

    return "" if value is None else format(Decimal(str(value)).normalize(), "f")


COMMANDS = [stock]
