"""``kfsync dlq``: dead letters — list, show, requeue (one, many or by filter), discard."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table

from kfsync.cli import fail, load_settings, make_console
from kfsync.commands.pairs import pair_filter
from store.db import session_scope

console = make_console()
DATE = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"])


def _filters(f: Any) -> Any:
    f = click.option("--entity", help='job kind ("order") or "event"')(f)
    f = click.option("--error-class", help="transient, auth, ambiguous, error...")(f)
    f = click.option("--since", type=DATE, help="created at or after (UTC)")(f)
    f = click.option("--pair", help="only this integration pair's letters (docs/pairs.md)")(f)
    return click.option("--until", type=DATE, help="created before (UTC)")(f)


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value else None


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@click.group()
def dlq() -> None:
    """Dead letters: work that outlasted its retries, kept until an operator acts."""


@dlq.command("list")
@_filters
@click.option("--all", "include_resolved", is_flag=True, help="include requeued/discarded")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100000))
def dlq_list(entity: str | None, error_class: str | None, since: datetime | None,
             until: datetime | None, pair: str | None, include_resolved: bool,
             limit: int) -> None:
    """Open dead letters, newest first."""
    settings = load_settings()
    pair = pair_filter(settings, pair)
    from workers.operations import (
        LetterFilter,
        describe_letter,
        letter_pairs,
        letter_subjects,
        letters_query,
    )

    flt = LetterFilter(entity=entity, error_class=error_class, since=_utc(since),
                       until=_utc(until), include_resolved=include_resolved, pair=pair)
    with session_scope(settings.database_url) as s:
        letters = list(s.scalars(letters_query(flt).limit(limit)))
        subjects, pair_of = letter_subjects(s, letters), letter_pairs(s, letters)
        rows = [describe_letter(x) for x in letters]
    paired = any(name != "default" for name in pair_of.values())  # one shop: no pair column
    # The reason is never cut: the numbers that explain a hold come at its end.
    table = Table("id", *(("pair",) if paired else ()), "created", "about", "step", "class",
                  "reason", "resolution")
    for row in rows:
        table.add_row(str(row["id"]), *((pair_of[row["id"]],) if paired else ()),
                      str(row["created_at"])[:19], subjects[row["id"]],
                      row["step"], row["error_class"], row["reason"],
                      row["resolution"] or "open")
    console.print(table)
    console.print(f"{len(rows)} dead letter(s)")


@dlq.command("show")
@click.argument("letter_id", type=int)
def dlq_show(letter_id: int) -> None:
    """One dead letter in full."""
    settings = load_settings()
    from workers.operations import LetterFilter, describe_letter, letter_subjects, letters_query

    flt = LetterFilter(ids=(letter_id,), include_resolved=True)
    with session_scope(settings.database_url) as s:
        letter = s.scalars(letters_query(flt)).first()
        if letter is None:
            fail(f"no dead letter {letter_id}")
        row = {"about": letter_subjects(s, [letter])[letter.id], **describe_letter(letter)}
    for key, value in row.items():
        console.print(f"[bold]{key:>16}[/bold]  {'' if value is None else value}")


@dlq.command("requeue")
@click.argument("letter_ids", type=int, nargs=-1)
@click.option("--all", "everything", is_flag=True, help="every open letter matching the filters")
@_filters
def dlq_requeue(letter_ids: tuple[int, ...], everything: bool, entity: str | None,
                error_class: str | None, since: datetime | None, until: datetime | None,
                pair: str | None) -> None:
    """Resume dead letters at their failed step: IDs, or --all with filters."""
    if bool(letter_ids) == everything:
        raise click.UsageError("give dead letter IDs or --all (with optional filters)")
    settings = load_settings()
    pair = pair_filter(settings, pair)
    from workers.operations import LetterFilter, OperationError, requeue_letters

    flt = LetterFilter(ids=letter_ids, entity=entity, error_class=error_class,
                       since=_utc(since), until=_utc(until), pair=pair)
    try:
        done = requeue_letters(settings.database_url, settings.redis_url, flt, actor=_actor())
    except OperationError as exc:
        fail(str(exc))
    click.echo(f"requeued {len(done)} dead letter(s)" + (f": {', '.join(map(str, done))}"
                                                        if done else ""))


@dlq.command("discard")
@click.argument("letter_ids", type=int, nargs=-1, required=True)
@click.option("--reason", required=True, help="why this needs no sync (kept in the audit log)")
def dlq_discard(letter_ids: tuple[int, ...], reason: str) -> None:
    """Close dead letters without syncing them."""
    settings = load_settings()
    from workers.operations import OperationError, discard_letters

    try:
        done = discard_letters(settings.database_url, settings.redis_url, list(letter_ids),
                               reason=reason, actor=_actor())
    except OperationError as exc:
        fail(str(exc))
    click.echo(f"discarded {len(done)} dead letter(s)")


COMMANDS: list[Any] = [dlq]
