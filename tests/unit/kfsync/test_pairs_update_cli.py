"""``kfsync pairs update`` and the ``--pair`` filters as an operator runs them (a real
subprocess, SQLite, real Redis): a pair's endpoint, stores, cap and a secret changed, the
secret re-entered and never shown back nor logged in the audit; mistakes one line, exit 2,
and nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text

from core.settings import Settings
from services import pairs
from store.db import session_scope
from store.models import AuditEntry
from tests.unit.ingest.ops_helpers import add_event_letter, add_job, dead_job
from tests.unit.kfsync.test_pairs_cli import environment, run

NEW_PASSWORD = "pw-rotated-7d1e5c"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return environment(tmp_path, "prod")  # pair shopb: store 2, secrets *-prod-*


def kfsync(env: dict[str, str], *args: str, stdin: str = "") -> tuple[int, str, str]:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "kfsync", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stdout, done.stderr


def loaded(env: dict[str, str]) -> pairs.Pair:
    settings = Settings.load(env, env_file=None)
    pairs.forget(settings, "shopb")
    return pairs.load(settings, "shopb")


def test_update_changes_settings_and_a_secret_and_never_shows_it(
        env: dict[str, str]) -> None:
    before = loaded(env)
    done = run(env, "update", "shopb", "--magento-url", "https://new.b.example/rest",
               "--store-id", "2", "--store-id", "5", "--max-in-flight", "2",
               "--secrets-stdin", stdin=f"kashflow_password={NEW_PASSWORD}\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("pair shopb: updated magento_base_url, store_ids, "
                                   "max_in_flight, kashflow_password")
    after = loaded(env)
    assert after.settings.magento_base_url == "https://new.b.example/rest"
    assert after.store_ids == (2, 5) and after.settings.max_in_flight == 2
    assert after.settings.kashflow_password == NEW_PASSWORD
    assert after.settings.magento_token == "tok-prod"  # the others kept
    assert after.settings.webhook_secrets == ("hook-prod-secret",)
    assert after.version == before.version + 1
    shown = run(env, "show", "shopb")
    assert NEW_PASSWORD not in shown.stdout + done.stdout + done.stderr
    url = env["KFSYNC_DATABASE_URL"]
    with session_scope(url) as s:
        stored = s.execute(text("SELECT secrets FROM integration_pairs")).scalar_one()
        [audit] = s.scalars(select(AuditEntry).where(AuditEntry.action == "pair_update"))
        note = audit.note
    assert NEW_PASSWORD not in stored  # encrypted again
    assert note == "changed: magento_base_url, store_ids, max_in_flight, kashflow_password"

    # the cap removed, every store served, a webhook secret from the environment
    again = run({**env, "KFSYNC_PAIR_WEBHOOK_SECRETS": "hook-new-1, hook-new-2"}, "update",
                "shopb", "--no-max-in-flight", "--all-stores", "--secrets-env")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == ("pair shopb: updated store_ids, max_in_flight, "
                                    "webhook_secrets")
    after = loaded(env)
    assert after.store_ids == () and after.settings.max_in_flight is None
    assert after.settings.webhook_secrets == ("hook-new-1", "hook-new-2")
    same = run(env, "update", "shopb", "--kashflow-username", "prod-user")
    assert (same.returncode, same.stdout.strip()) == (0, "pair shopb: no change")


def test_update_mistakes_are_one_line_exit_2_and_store_nothing(env: dict[str, str]) -> None:
    before = loaded(env)
    for args, says in (
            (("update", "nosuch", "--rate", "2"), "no stored pair named nosuch"),
            (("update", "default", "--rate", "2"), "change .env"),
            (("update", "shopb"), "nothing to change"),
            (("update", "shopb", "--magento-url", "ftp://b.example"), "must be an http(s) URL"),
            (("update", "shopb", "--rate", "0"), "kashflow_rate must be a positive number"),
            (("update", "shopb", "--store-id", "3", "--all-stores"), "not both"),
            (("update", "shopb", "--secret", "kashflow_pin"), "Invalid value"),
            (("update", "shopb", "--secrets-stdin"), "KEY=VALUE"),
            (("update", "shopb", "--secrets-env"), "none of KFSYNC_PAIR_"),
            (("update", "shopb", "--secrets-stdin"), "cannot update magento_pin")):
        stdin = {"KEY=VALUE": "just-a-value\n",
                 "cannot update magento_pin": "magento_pin=1234\n"}.get(says, "")
        done = run(env, *args, stdin=stdin)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and says in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr and "1234" not in done.stderr
    assert loaded(env).version == before.version  # nothing stored
    empty = run(env, "update", "shopb", "--secrets-stdin", stdin="kashflow_password=\n")
    assert empty.returncode == 2 and "missing kashflow_password" in empty.stderr


def test_list_filters_take_a_pair_and_refuse_an_unknown_one(env: dict[str, str]) -> None:
    url = env["KFSYNC_DATABASE_URL"]
    add_job(url, 11)
    dead_job(url, 12)
    add_job(url, 11, pair="shopb")
    dead_job(url, 13, pair="shopb")
    add_event_letter(url, "shopb")
    code, out, err = kfsync(env, "jobs", "list", "--pair", "shopb")
    assert code == 0, err
    assert "000000013" in out and "000000012" not in out and "shopb" in out
    code, out, err = kfsync(env, "dlq", "list", "--pair", "shopb")
    assert code == 0 and "2 dead letter(s)" in out and "order 000000013" in out, err
    assert "shopb" in out  # the pair column, once a pair other than default has letters
    code, out, err = kfsync(env, "dlq", "list", "--pair", "default")
    assert code == 0 and "1 dead letter(s)" in out and "order 000000012" in out, err
    code, out, err = kfsync(env, "dlq", "requeue", "--all", "--pair", "default")
    assert code == 0 and out.startswith("requeued 1 dead letter(s)"), err
    assert "1 dead letter(s)" not in kfsync(env, "dlq", "list", "--pair", "default")[1]
    assert "2 dead letter(s)" in kfsync(env, "dlq", "list", "--pair", "shopb")[1]
    for args in (("jobs", "list", "--pair", "shopc"), ("dlq", "list", "--pair", "shopc"),
                 ("dlq", "requeue", "--all", "--pair", "shopc")):
        code, out, err = kfsync(env, *args)
        assert code == 2 and err.count("\n") == 1, (args, err)
        assert "no pair named shopc (pairs: default, shopb)" in err, err
