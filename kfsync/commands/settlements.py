"""``kfsync reconcile settlement|payouts|journal``: gateway payouts.

``settlement FILE`` imports a payout export (Stripe, PayPal, Braintree recognised by their
header or named with ``--export``; any other CSV with ``--columns``), matches its rows to the
payments kfsync posted and stores the payout. ``payouts`` lists the stored payouts;
``journal ID`` writes the journal that clears a payout (Dr bank, Dr fees, Cr clearing) as CSV
for the accountant: KashFlow's API slice has no journal endpoint (docs/settlements.md).
"""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from kfsync.cli import echo_json, fail, load_settings, make_console
from kfsync.commands.reconcile import _actor, reconcile

console = make_console()


@reconcile.command("settlement")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--export", "export", type=click.Choice(["stripe", "paypal", "braintree", "csv"]),
              help="what the file is (default: recognised by its header; csv with --columns)")
@click.option("--columns", help="for --export csv: FIELD=HEADER pairs, e.g. "
              "txn_id=Reference,gross=Amount,fee=Fee,net=Net,kind=Type,currency=Cur,date=Date")
@click.option("--currency", default="GBP", show_default=True,
              help="the currency of a csv without a currency column")
@click.option("--gateway", "gateway_method", help="the Magento payment method whose mapping "
              "names the clearing account (default by export: stripe_payments, "
              "paypal_express, braintree)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="output format")
def settlement(csv_file: str, export: str | None, columns: str | None, currency: str,
               gateway_method: str | None, fmt: str) -> None:
    """Import a settlement (payout) export: match its rows by transaction id, store the
    payout, report fees and unmatched rows (docs/settlements.md lists the columns)."""
    from dataclasses import asdict

    from mappings.errors import MappingError
    from mappings.settlements import parse_columns
    from services.settlements import import_settlement

    if columns and export not in (None, "csv"):
        raise click.UsageError("--columns goes with --export csv")
    if export == "csv" and not columns:
        raise click.UsageError("--export csv needs --columns (e.g. txn_id=Reference,gross=Amount)")
    try:
        mapped = parse_columns(columns) if columns else None
    except MappingError as exc:
        raise click.UsageError(str(exc)) from None
    settings = load_settings()
    with open(csv_file, encoding="utf-8-sig", newline="") as handle:
        text = handle.read()
    try:
        summary = import_settlement(settings.database_url, text, actor=_actor(),
                                    source=csv_file, fmt=export, columns=mapped,
                                    currency=currency, gateway_method=gateway_method)
    except MappingError as exc:
        fail(f"{csv_file}: {exc}")
    if fmt == "json":
        echo_json(asdict(summary))
        return
    again = " (imported before: that import stands)" if summary.already_imported else ""
    console.print(f"{summary.format} payout {summary.payout_ref} = payout {summary.payout_id}"
                  f"{again}: {summary.rows} rows, {summary.matched} matched "
                  f"({summary.matched_gross}; {summary.refunds_matched} refunds), "
                  f"fees {summary.fees}, {summary.payouts} payout row(s) {summary.payout_total}, "
                  f"net {summary.net}, {len(summary.unmatched)} unmatched")
    if summary.unmatched:
        table = Table("line", "txn", "kind", "gross", "currency", title="Unmatched rows")
        for row in summary.unmatched:
            table.add_row(str(row["line"]), row["txn_id"], row["kind"], str(row["gross"]),
                          row["currency"])
        console.print(table)
    console.print(f"journal: kfsync reconcile journal {summary.payout_id} --out journal.csv")


@reconcile.command("payouts")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def payouts(fmt: str) -> None:
    """The imported payouts, newest first."""
    settings = load_settings()
    from sqlalchemy import select

    from services.settlements import describe_payout
    from store.db import session_scope
    from store.reconcile_models import SettlementPayout

    with session_scope(settings.database_url) as s:
        rows = [describe_payout(p) for p in s.scalars(
            select(SettlementPayout).order_by(SettlementPayout.id.desc()))]
    if fmt == "json":
        echo_json(rows)
        return
    table = Table("id", "format", "payout", "period", "currency", "matched", "unmatched",
                  "fees", "to bank")
    for r in rows:
        table.add_row(str(r["id"]), r["format"], r["payout_ref"],
                      f"{r['period_start']} .. {r['period_end']}", r["currency"],
                      f"{r['matched']} ({r['matched_gross']})",
                      f"{r['unmatched']} ({r['unmatched_gross']})", str(r["fees"]),
                      str(r["payout_amount"]))
    console.print(table)


@reconcile.command("journal")
@click.argument("payout_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True),
              help="write the CSV here (default: standard output)")
@click.option("--bank-account", type=int, help="KashFlow bank account Id the payout reached "
              "(default KFSYNC_SETTLEMENT_BANK_ACCOUNT, else the default bank account)")
@click.option("--clearing-account", type=int, help="KashFlow bank account Id used as the "
              "gateway's clearing account (default: the payment mapping's, else the default)")
def journal(payout_id: int, out: str | None, bank_account: int | None,
            clearing_account: int | None) -> None:
    """The journal clearing a payout, as CSV: Dr bank, Dr fees, Cr clearing (and suspense
    for what kfsync posted nothing for)."""
    settings = load_settings()
    from connectors.errors import ConnectorError
    from mappings.errors import MappingError
    from mappings.settlement_journal import journal_csv
    from services.settlements import gateway_method_of, journal_accounts, payout_journal_of
    from workers import context

    method = gateway_method_of(settings.database_url, payout_id)
    if method is None:
        fail(f"no settlement payout with id {payout_id} (see kfsync reconcile payouts)")
    rule = context.rules().payment_methods.get(method)
    try:
        accounts = journal_accounts(
            context.kashflow().bank_accounts(),
            clearing_id=clearing_account or (rule.account_id if rule else None),
            bank_id=bank_account or settings.settlement_bank_account,
            fees_nominal=settings.settlement_fees_nominal,
            suspense_nominal=settings.settlement_suspense_nominal)
        lines = payout_journal_of(settings.database_url, payout_id, accounts, actor=_actor())
    except (MappingError, ConnectorError) as exc:
        fail(f"journal of payout {payout_id}: {exc}")
    text = journal_csv(lines)
    if out:
        with open(out, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        click.echo(f"payout {payout_id}: {len(lines)} journal lines written to {out}", err=True)
    else:
        click.echo(text, nl=False)


COMMANDS: list[Any] = []  # the commands above belong to the reconcile group
