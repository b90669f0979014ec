"""The ``kfsync`` command (DESIGN §6.1). Errors are one line; exit 0 ok, 1 failure, 2 usage."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from core.settings import ConfigError, Settings

ALL_QUEUES = "ingest,orders,customers,payments,refunds,stock,maintenance"


class CommandFailed(click.ClickException):
    exit_code = 1


def fail(message: str) -> NoReturn:
    raise CommandFailed(message)


def load_settings(*required: str, purpose: str = "", service: bool = False) -> Settings:
    """Settings for a command; ``service``: also apply the environment's start checks
    (``Settings.check_environment``: prod refuses missing secrets, SQLite, the sandbox)."""
    try:
        settings = Settings.load()
        if service:
            settings.check_environment(purpose)
            if settings.env == "prod" and settings.ops_token:
                click.echo("kfsync: warning: KFSYNC_OPS_TOKEN is set in prod; it is a shared "
                           "admin login: use named users (kfsync users add) and unset it",
                           err=True)
        if required:
            settings.require(*required, purpose=purpose)
    except ConfigError as exc:
        fail(str(exc))
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kfsync")
def cli() -> None:
    """kfsync keeps a Magento 2 shop and a KashFlow account in step."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one readable line on error, never a traceback."""
    try:
        code = cli.main(args=argv, prog_name="kfsync", standalone_mode=False)
    except click.UsageError as exc:
        hint = f" (see: kfsync {exc.ctx.command_path.partition(' ')[2]} --help)" if exc.ctx else ""
        click.echo(" ".join(f"kfsync: {exc.format_message()}{hint}".split()), err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"kfsync: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("kfsync: aborted", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last guard: one line, details only with KFSYNC_DEBUG
        import os

        if os.environ.get("KFSYNC_DEBUG"):
            raise
        click.echo(f"kfsync: {_one_line(exc)}", err=True)
        sys.exit(1)
    # Outside standalone mode click returns a command's ``ctx.exit(n)`` code instead of
    # exiting with it (and a command's own return value, None for every kfsync command).
    if isinstance(code, int) and not isinstance(code, bool) and code:
        sys.exit(code)


def _one_line(exc: Exception) -> str:
    """An unexpected error as one line; a database without kfsync's tables names the fix."""
    text = str(exc)
    if type(exc).__name__ in ("OperationalError", "ProgrammingError") and (
            "no such table" in text or "does not exist" in text):
        return "the database has no kfsync tables yet (or misses some): run `kfsync migrate`"
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _register() -> None:
    from kfsync.commands import (
        backfill,
        dlq,
        jobs,
        mapping,
        onboard,
        ops,
        pairs,
        reconcile,
        services,
        stock,
        summary,
        users,
    )

    for module in (services, jobs, dlq, backfill, ops, stock, reconcile, mapping, onboard,
                   users, pairs, summary):
        for command in module.COMMANDS:
            cli.add_command(command)


def make_console() -> Any:
    """A rich console at least 120 columns wide, so tables stay readable when piped."""
    from rich.console import Console

    return Console(width=max(120, Console().width))


def echo_json(data: Any) -> None:
    import simplejson

    click.echo(simplejson.dumps(data, use_decimal=True, indent=2, default=str))


_register()  # last: the command modules import helpers defined above
