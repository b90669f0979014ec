"""``kfsync pairs`` as an operator runs it, between two environments (two databases, two
keys): add in each, export from qa, import into prod with its diff, then --apply. The prod
pair keeps its own endpoints and secrets; usage mistakes are one line and exit 2."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from core.settings import Settings
from services import pairs
from store.db import migrate
from tests.cli import kfsync
from tests.conftest import TEST_REDIS_URL

SECRETS = ("magento_token=tok-{env}\nkashflow_password=pw-{env}-secret\n"
           "kashflow_memorable_word=word-{env}\nwebhook_secrets=hook-{env}-secret\n")


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return kfsync("pairs", *args, env=env, stdin=stdin)


def environment(tmp_path: Path, name: str) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    migrate(url)
    base = {k: v for k, v in os.environ.items() if not k.startswith("KFSYNC_")}
    env = {**base, "KFSYNC_DATABASE_URL": url, "KFSYNC_PAIRS_KEY": pairs.new_key(),
           "KFSYNC_REDIS_URL": TEST_REDIS_URL}  # `add` tells workers there (none listen)
    added = run(env, "add", "shopb", "--magento-url", f"https://{name}.b.example/rest",
                "--kashflow-username", f"{name}-user", "--store-id", "2", "--secrets-stdin",
                stdin=SECRETS.format(env=name))
    assert added.returncode == 0, added.stderr
    return env


@pytest.fixture
def qa_and_prod(tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    return environment(tmp_path, "qa"), environment(tmp_path, "prod")


def test_a_pairs_rules_are_promoted_with_a_diff_and_its_secrets_stay(
        qa_and_prod: tuple[dict[str, str], dict[str, str]], tmp_path: Path) -> None:
    qa, prod = qa_and_prod
    # qa gets per-store rules (stored by import too: the same path as promotion)
    rules = tmp_path / "rules.yml"
    rules.write_text("store_ids: [2, 3]\nstore_rules:\n  '2': {default_nominal_code: 4010}\n"
                     "  '3': {prefix: C}\n", encoding="utf-8")
    assert run(qa, "import", "shopb", str(rules), "--apply").returncode == 0
    exported = run(qa, "export", "shopb")
    assert exported.returncode == 0, exported.stderr
    assert "4010" in exported.stdout and "qa" not in exported.stdout  # no endpoint or user
    assert "secret" not in exported.stdout
    document = tmp_path / "shopb.yml"
    document.write_text(exported.stdout, encoding="utf-8")

    dry = run(prod, "import", "shopb", str(document))
    assert dry.returncode == 0, dry.stderr
    assert "+ store_rules.2: " in dry.stdout and "~ store_ids: [2] -> [2, 3]" in dry.stdout
    assert "run again with --apply" in dry.stdout
    assert run(prod, "import", "shopb", str(document), "--apply").returncode == 0
    assert "no change" in run(prod, "import", "shopb", str(document)).stdout

    settings = Settings.load(prod, env_file=None)
    loaded = pairs.load(settings, "shopb")
    assert loaded.store_ids == (2, 3) and loaded.store_rules == {
        "2": {"default_nominal_code": 4010}, "3": {"prefix": "C"}}
    assert loaded.settings.magento_base_url == "https://prod.b.example/rest"
    assert loaded.settings.kashflow_password == "pw-prod-secret"  # prod's own, untouched


def test_pairs_cli_mistakes_are_one_line_and_exit_2(
        qa_and_prod: tuple[dict[str, str], dict[str, str]], tmp_path: Path) -> None:
    qa, _ = qa_and_prod
    bad = tmp_path / "bad.yml"
    bad.write_text("magento_base_url: https://elsewhere.example/rest\n", encoding="utf-8")
    for args in (("import", "shopb", str(bad)), ("export", "nosuch"),
                 ("add", "shopb", "--magento-url", "https://x.example/rest",
                  "--kashflow-username", "u", "--store-rule", "nominal=4010")):
        done = run(qa, *args, stdin=SECRETS.format(env="x"))
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "not promotable: magento_base_url" in run(qa, "import", "shopb", str(bad)).stderr
