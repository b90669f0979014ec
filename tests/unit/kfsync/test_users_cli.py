"""``kfsync users``: add, list, token, disable, as an operator runs them; usage mistakes are
one line and exit 2, refusals one line and exit 1."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from store.accounts import check_password, token_principal
from store.db import migrate
from tests.cli import kfsync

PASSWORD = "a long enough password"


def run(*args: str, url: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return kfsync("users", *args, env={"KFSYNC_DATABASE_URL": url}, stdin=stdin)


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'kfsync.db'}"
    migrate(url)
    return url


def test_add_list_token_and_disable(url: str) -> None:
    added = run("add", "ann", "--role", "operator", "--password-stdin", url=url,
                stdin=PASSWORD + "\n")
    assert added.returncode == 0 and "added user ann (operator)" in added.stdout
    assert check_password(url, "ann", PASSWORD) is not None
    issued = run("token", "ann", "--label", "nightly script", url=url)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("kfs_") and len(token) > 40
    principal = token_principal(url, token)
    assert principal is not None and (principal.name, principal.role) == ("ann", "operator")
    listed = run("list", url=url)
    assert "ann" in listed.stdout and "operator" in listed.stdout and "active" in listed.stdout
    assert token not in listed.stdout and PASSWORD not in listed.stdout
    disabled = run("disable", "ann", url=url)
    assert disabled.returncode == 0
    assert token_principal(url, token) is None and check_password(url, "ann", PASSWORD) is None
    assert "disabled" in run("list", url=url).stdout


def test_revoke_a_token_by_id(url: str) -> None:
    run("add", "ann", "--role", "viewer", "--password-stdin", url=url, stdin=PASSWORD)
    issued = run("token", "ann", url=url)
    token_id = issued.stderr.split()[1]
    assert run("token", "--revoke", token_id, url=url).returncode == 0
    assert token_principal(url, issued.stdout.strip()) is None


@pytest.mark.parametrize("args", [("add", "ann"), ("add", "ann", "--role", "root"),
                                  ("token",), ("token", "ann", "--revoke", "1"),
                                  ("frobnicate",)])
def test_usage_mistakes_are_one_line_and_exit_2(url: str, args: tuple[str, ...]) -> None:
    result = run(*args, url=url)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (("add", "ann", "--role", "admin", "--password-stdin"), "short",
     "kfsync: the password must be at least 12 characters"),
    (("disable", "nobody"), "", "kfsync: no user named 'nobody'"),
    (("token", "nobody"), "", "kfsync: no user named 'nobody'"),
])
def test_refusals_are_one_line_and_exit_1(url: str, args: tuple[str, ...], stdin: str,
                                          message: str) -> None:
    result = run(*args, url=url, stdin=stdin)
    assert result.returncode == 1
    assert result.stderr.strip() == message


def test_an_unmigrated_database_is_one_line(tmp_path: Path) -> None:
    result = run("list", url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.returncode == 1
    assert result.stderr.strip() == ("kfsync: database: OperationalError (is it migrated? "
                                     "run: kfsync migrate)")
