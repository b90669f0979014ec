"""``kfsync users``: named operators for the dashboard and the ops API.

``add`` (role viewer, operator or admin; the password is prompted for, or read from stdin
with ``--password-stdin``), ``list``, ``disable`` (revokes the user's tokens and ends their
sessions at once), and ``token`` (a new API token, shown once; ``--revoke ID`` revokes one).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from kfsync.cli import fail, load_settings, make_console
from store.account_models import ROLES

T = TypeVar("T")


def _run(action: Callable[[str], T]) -> T:
    """Run ``action(database_url)``; an ``AccountError`` or a database error is one line."""
    from store.accounts import AccountError

    url = load_settings().database_url
    try:
        return action(url)
    except AccountError as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(f"database: {type(exc).__name__} (is it migrated? run: kfsync migrate)")


@click.group()
def users() -> None:
    """Named operators: viewer (reads), operator (requeue, discard, resolve), admin (mapping,
    users, tokens)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="what the user may do")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def users_add(name: str, role: str, password_stdin: bool) -> None:
    """Add a user who logs in to the dashboard with NAME and a password."""
    from store.accounts import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user_id = _run(lambda url: add_user(url, name, role, password))
    click.echo(f"added user {name} ({role}), id {user_id}")


@users.command("list")
def users_list() -> None:
    """Every user, their role, whether disabled, and their live API token ids."""
    from store.accounts import list_users

    rows = _run(list_users)
    table = Table("name", "role", "state", "live tokens", "created")
    for user, tokens in rows:
        state = f"disabled {user.disabled_at:%Y-%m-%d}" if user.disabled_at else "active"
        table.add_row(user.name, user.role, state, ", ".join(map(str, tokens)) or "-",
                      f"{user.created_at:%Y-%m-%d %H:%M}")
    console = make_console()
    console.print(table)
    console.print(f"{len(rows)} user(s)")


@users.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Disable NAME: their API tokens are revoked and their sessions end now."""
    from store.accounts import disable_user

    _run(lambda url: disable_user(url, name))
    click.echo(f"disabled user {name}; their tokens are revoked and their sessions ended")


@users.command("token")
@click.argument("name", required=False)
@click.option("--label", default="token", show_default=True, help="what the token is for")
@click.option("--revoke", "revoke_id", type=click.IntRange(1, 2**31 - 1),
              help="revoke the token with this id instead")
def users_token(name: str | None, label: str, revoke_id: int | None) -> None:
    """Issue an API token for NAME (printed once, stored hashed), or --revoke ID."""
    from store.accounts import issue_token, revoke_token

    if (name is None) == (revoke_id is None):
        raise click.UsageError("give a user NAME to issue a token, or --revoke ID")
    if revoke_id is not None:
        _run(lambda url: revoke_token(url, revoke_id))
        click.echo(f"revoked token {revoke_id}")
        return
    assert name is not None
    token_id, token = _run(lambda url: issue_token(url, name, label))
    click.echo(f"token {token_id} for {name} (shown once; send as Authorization: Bearer ...):",
               err=True)
    click.echo(token)


COMMANDS: list[Any] = [users]
