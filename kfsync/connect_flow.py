"""The steps of ``kfsync connect`` after the values are in: test, write, report."""

from __future__ import annotations

import os
from pathlib import Path

import click

from core.settings import Settings
from kfsync import connect
from kfsync.envfile import new_secret, update_env_file


def run_connect(values: dict[str, str | None], kashflow_url: str, env_file: Path) -> int:
    """Test both systems with ``values``, keep what works in ``env_file``; 0 when both
    answered, 1 otherwise. Prints the report (never a secret)."""
    current = Settings.load(env_file=str(env_file))
    magento = {"KFSYNC_MAGENTO_BASE_URL": str(values["magento_url"]).rstrip("/"),
               "KFSYNC_MAGENTO_TOKEN": str(values["magento_token"])}
    kashflow = {"KFSYNC_KASHFLOW_BASE_URL": kashflow_url,
                "KFSYNC_KASHFLOW_USERNAME": str(values["kashflow_username"]),
                "KFSYNC_KASHFLOW_PASSWORD": str(values["kashflow_password"]),
                "KFSYNC_KASHFLOW_MEMORABLE_WORD": str(values["kashflow_memorable_word"])}
    # Test with exactly these values (no OAuth left over from the environment or .env).
    blank_oauth = {f"KFSYNC_MAGENTO_OAUTH_{k}": "" for k in
                   ("CONSUMER_KEY", "CONSUMER_SECRET", "ACCESS_TOKEN", "ACCESS_TOKEN_SECRET")}
    trial = Settings.load({**os.environ, **blank_oauth, **magento, **kashflow},
                          env_file=str(env_file))
    report = connect.Report()
    keep: dict[str, str] = {}
    if connect.check_magento(trial, report):
        keep |= magento
    if connect.check_kashflow(trial, report):
        keep |= kashflow
    keep |= _generated(current, report)
    if keep:
        update_env_file(env_file, keep)
    connect.check_webhooks(trial, report)
    _print(report, env_file, sorted(keep))
    return 1 if report.failed else 0


def _generated(current: Settings, report: connect.Report) -> dict[str, str]:
    """A webhook secret and an ops token when .env has none (never replaced)."""
    made: dict[str, str] = {}
    if not current.webhook_secrets:
        made["KFSYNC_WEBHOOK_SECRETS"] = new_secret()
        report.ok.append("generated a webhook secret (KFSYNC_WEBHOOK_SECRETS in .env): give "
                         "the same value to the shop's webhook sender")
    if not current.ops_token:
        made["KFSYNC_OPS_TOKEN"] = new_secret()
        report.ok.append("generated an ops token (KFSYNC_OPS_TOKEN in .env): the dashboard "
                         "login")
    return made


def _print(report: connect.Report, env_file: Path, kept: list[str]) -> None:
    for line in report.ok:
        click.echo(f"ok       {line}")
    for line in report.failed:
        click.echo(f"FAILED   {line}")
    for line in report.missing:
        click.echo(f"to do    {line}")
    if kept:
        click.echo(f"saved    {len(kept)} setting(s) in {env_file}: {', '.join(kept)}")
    if report.failed:
        click.echo("not saved: the credentials that failed; fix them and run `kfsync connect` "
                   "again")
    else:
        click.echo("next     kfsync migrate, then kfsync run (or: docker compose up -d)")
