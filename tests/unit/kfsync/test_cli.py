"""The kfsync command as a user runs it: exit codes and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def kfsync(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
           ) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KFSYNC_")}
    return subprocess.run([sys.executable, "-m", "kfsync", *args], env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=60, check=False, cwd=cwd)


@pytest.mark.parametrize("args", [("frobnicate",), ("jobs", "show", "abc"),
                                  ("worker", "-c", "0"), ("jobs", "list", "--state", "lost")])
def test_usage_mistakes_are_one_line_and_exit_2(args: tuple[str, ...], tmp_path: Path) -> None:
    result = kfsync(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("kfsync: ")
    assert "Traceback" not in result.stderr


def test_web_without_a_webhook_secret_names_the_variable(tmp_path: Path) -> None:
    result = kfsync("web", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "kfsync: kfsync web needs KFSYNC_WEBHOOK_SECRETS to be set"


def test_bad_setting_is_one_line(tmp_path: Path) -> None:
    result = kfsync("jobs", "list", env={"KFSYNC_KASHFLOW_RATE": "fast"}, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "kfsync: KFSYNC_KASHFLOW_RATE must be a number, got 'fast'"


def test_migrate_then_list_and_show(tmp_path: Path) -> None:
    env = {"KFSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}
    assert kfsync("migrate", env=env, cwd=tmp_path).returncode == 0
    listed = kfsync("jobs", "list", env=env, cwd=tmp_path)
    assert listed.returncode == 0 and "state" in listed.stdout
    missing = kfsync("jobs", "show", "999", env=env, cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.strip() == "kfsync: no job 999"


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = kfsync("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "web", "worker", "beat", "flower", "sandbox", "demo", "migrate",
                    "jobs", "replay", "status"):
        assert f"  {command}" in result.stdout


def test_status_and_jobs_before_the_first_migrate_say_what_to_run(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    for args in (("status",), ("jobs", "list"), ("dlq", "list")):
        result = kfsync(*args, cwd=tmp_path)
        assert result.returncode == 1, args
        [line] = result.stderr.strip().splitlines()
        assert "run `kfsync migrate`" in line and "Traceback" not in result.stderr, args


def test_run_names_every_missing_setting_at_once_and_points_at_the_sandbox(
        tmp_path: Path) -> None:
    result = kfsync("run", env={"KFSYNC_MAGENTO_TOKEN": "t"}, cwd=tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    for name in ("KFSYNC_WEBHOOK_SECRETS", "KFSYNC_KASHFLOW_USERNAME", "KFSYNC_KASHFLOW_PASSWORD",
                 "KFSYNC_KASHFLOW_MEMORABLE_WORD"):
        assert name in line
    assert "KFSYNC_MAGENTO_TOKEN" not in line and "kfsync run --sandbox" in line


def test_run_refuses_a_busy_port_in_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = kfsync("run", "--sandbox", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"kfsync: port {port} is in use (another kfsync, or "
                                     "another program); choose another with --port")


def test_run_warns_when_no_ops_token_is_set(tmp_path: Path) -> None:
    import socket

    env = {"KFSYNC_WEBHOOK_SECRETS": "s3cret-value", "KFSYNC_MAGENTO_TOKEN": "t",
           "KFSYNC_KASHFLOW_USERNAME": "u", "KFSYNC_KASHFLOW_PASSWORD": "p",
           "KFSYNC_KASHFLOW_MEMORABLE_WORD": "w"}
    with socket.socket() as busy:  # stops the run right after its checks
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = kfsync("run", "--port", str(busy.getsockname()[1]), env=env, cwd=tmp_path)
    warning, refusal = result.stderr.strip().splitlines()
    assert warning == ("kfsync: warning: nobody can log in to the dashboard or the ops API: "
                       "add a user (kfsync users add NAME --role admin) or set "
                       "KFSYNC_OPS_TOKEN in .env")
    assert "is in use" in refusal and result.returncode == 1


def test_run_does_not_warn_once_a_named_user_can_log_in(tmp_path: Path) -> None:
    import socket

    from store.accounts import add_user
    from store.db import migrate

    db_url = f"sqlite:///{tmp_path / 'kfsync.db'}"
    migrate(db_url)
    add_user(db_url, "ann", "admin", "a long enough password")
    env = {"KFSYNC_WEBHOOK_SECRETS": "s3cret-value", "KFSYNC_MAGENTO_TOKEN": "t",
           "KFSYNC_KASHFLOW_USERNAME": "u", "KFSYNC_KASHFLOW_PASSWORD": "p",
           "KFSYNC_KASHFLOW_MEMORABLE_WORD": "w", "KFSYNC_DATABASE_URL": db_url}
    with socket.socket() as busy:  # stops the run right after its checks
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = kfsync("run", "--port", str(busy.getsockname()[1]), env=env, cwd=tmp_path)
    [refusal] = result.stderr.strip().splitlines()
    assert "is in use" in refusal and result.returncode == 1


def test_a_command_exit_code_reaches_the_shell() -> None:
    """``ctx.exit(n)`` in a command is the process's exit code, as in click's standalone mode
    (``kfsync.cli.main`` runs click without it, to print its own one-line errors)."""
    import click

    from kfsync.cli import cli
    from tests.cli import kfsync

    @click.command("exit-with")
    @click.argument("code", type=int)
    @click.pass_context
    def exit_with(ctx: click.Context, code: int) -> None:
        ctx.exit(code)

    cli.add_command(exit_with)
    try:
        assert kfsync("exit-with", "3", env={}).returncode == 3
        assert kfsync("exit-with", "0", env={}).returncode == 0
        assert kfsync("--help", env={}).returncode == 0
    finally:
        cli.commands.pop("exit-with")
