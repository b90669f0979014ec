"""KFSYNC_ENV=prod refuses to start what would run unsafely, each time with one line, exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.kfsync.test_cli import kfsync

LONG = "x" * 32  # prod refuses chosen secrets shorter than 32 characters
PROD = {"KFSYNC_ENV": "prod", "KFSYNC_WEBHOOK_SECRETS": f"whsec-{LONG}",
        "KFSYNC_OPS_TOKEN": f"ops-{LONG}",
        "KFSYNC_DATABASE_URL": "postgresql+psycopg://kfsync@127.0.0.1:1/kfsync",
        "KFSYNC_MAGENTO_TOKEN": "m", "KFSYNC_KASHFLOW_USERNAME": "u",
        "KFSYNC_KASHFLOW_PASSWORD": "p", "KFSYNC_KASHFLOW_MEMORABLE_WORD": "w",
        "KFSYNC_FLOWER_BASIC_AUTH": f"ops:{LONG}"}


@pytest.mark.parametrize("command", ["web", "worker", "run"])
@pytest.mark.parametrize(("unset", "message"), [
    ("KFSYNC_WEBHOOK_SECRETS", "needs KFSYNC_WEBHOOK_SECRETS to be set"),
    ("KFSYNC_DATABASE_URL", "needs a PostgreSQL KFSYNC_DATABASE_URL, not SQLite"),
])
def test_prod_refuses_to_start_without_a_secret_or_on_sqlite(
        command: str, unset: str, message: str, tmp_path: Path) -> None:
    env = {k: v for k, v in PROD.items() if k != unset}
    result = kfsync(command, env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == f"kfsync: KFSYNC_ENV=prod: kfsync {command} {message}"


@pytest.mark.parametrize(("name", "value"), [
    ("KFSYNC_WEBHOOK_SECRETS", f"whsec-{LONG},short"), ("KFSYNC_OPS_TOKEN", "o"),
    ("KFSYNC_FLOWER_BASIC_AUTH", "ops:pw"),
])
def test_prod_refuses_a_short_secret_naming_the_variable(name: str, value: str,
                                                          tmp_path: Path) -> None:
    """Issue #17 (7): one-character secrets were accepted in prod."""
    result = kfsync("web", env={**PROD, name: value}, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"kfsync: KFSYNC_ENV=prod: kfsync web needs each secret in {name} to be at least 32 "
        "characters (try: openssl rand -hex 32)")


@pytest.mark.parametrize("command", ["sandbox", "demo"])
def test_prod_never_starts_the_sandbox(command: str, tmp_path: Path) -> None:
    result = kfsync(command, env=PROD, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"kfsync: KFSYNC_ENV=prod: kfsync {command} never runs in "
                                     "production (fake APIs)")


def test_prod_flower_needs_basic_auth(tmp_path: Path) -> None:
    env = {k: v for k, v in PROD.items() if k != "KFSYNC_FLOWER_BASIC_AUTH"}
    result = kfsync("flower", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == ("kfsync: KFSYNC_ENV=prod: kfsync flower needs "
                                     "KFSYNC_FLOWER_BASIC_AUTH to be set")


def test_flower_command_gets_basic_auth_and_every_queue() -> None:
    """What ``kfsync flower`` hands Flower: the auth from settings and the app's queues."""
    import celeryconfig
    from kfsync.cli import ALL_QUEUES

    names = {q.name for q in celeryconfig.task_queues}
    assert names == {*ALL_QUEUES.split(","), "dead_letter"}


def test_prod_warns_while_the_bootstrap_ops_token_is_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kfsync.cli import load_settings

    monkeypatch.chdir(tmp_path)
    for name, value in PROD.items():
        monkeypatch.setenv(name, value)
    load_settings(purpose="kfsync web", service=True)
    assert "warning: KFSYNC_OPS_TOKEN is set in prod" in capsys.readouterr().err
    monkeypatch.delenv("KFSYNC_OPS_TOKEN")
    load_settings(purpose="kfsync web", service=True)
    assert capsys.readouterr().err == ""
