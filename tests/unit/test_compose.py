"""docker-compose.yml: valid against the Compose specification, and every kfsync command in it
is one the CLI accepts (so a renamed option or queue cannot hide in the deployment file)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from kfsync.cli import cli

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def services() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


def test_compose_file_matches_the_compose_specification() -> None:
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert tool, "check-jsonschema is installed with the test extras"
    result = subprocess.run([tool, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", [n for n, s in services().items()
                                  if s.get("command", [""])[0] == "kfsync"])
def test_every_kfsync_command_parses(name: str) -> None:
    args = services()[name]["command"][1:]
    sub = cli.get_command(click.Context(cli), args[0])
    assert sub is not None, f"{name}: unknown command {args[0]}"
    sub_ctx = sub.make_context(args[0], list(args[1:]))
    queues = sub_ctx.params.get("queues")
    if queues:
        from kfsync.cli import ALL_QUEUES
        assert set(queues.split(",")) <= set(ALL_QUEUES.split(",")), name


def test_redis_keeps_its_data_and_workers_cover_every_queue() -> None:
    svc = services()
    assert "--appendonly" in svc["redis"]["command"]
    consumed: set[str] = set()
    for spec in svc.values():
        command = spec.get("command", [])
        if command[:2] == ["kfsync", "worker"]:
            consumed |= set(command[command.index("-Q") + 1].split(","))
    from kfsync.cli import ALL_QUEUES
    assert consumed == set(ALL_QUEUES.split(","))


# -- the sandbox profile ------------------------------------------------------------------
def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${NAME:-default}`` with ``env`` as the shell and project .env."""
    import re

    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), value)


def kfsync_services() -> dict[str, Any]:
    return {n: s for n, s in services().items()
            if s.get("command", [""])[0] == "kfsync" and n != "sandbox"}


def test_the_sandbox_profile_points_every_service_at_the_sandbox_service() -> None:
    from urllib.parse import urlsplit

    svc = services()
    assert svc["sandbox"]["profiles"] == ["sandbox"]
    published = {p.split(":")[-1] for p in svc["sandbox"]["ports"]}
    for name, spec in kfsync_services().items():
        env = {k: interpolate(str(v), {}) for k, v in spec["environment"].items()}
        for key in ("KFSYNC_MAGENTO_BASE_URL", "KFSYNC_KASHFLOW_BASE_URL"):
            url = urlsplit(env[key])
            assert url.hostname == "sandbox", (name, key, env[key])  # never 127.0.0.1
            assert str(url.port) in published, (name, key)
        # A shop's own address in .env wins over the sandbox's.
        mine = interpolate(str(spec["environment"]["KFSYNC_MAGENTO_BASE_URL"]),
                           {"KFSYNC_MAGENTO_BASE_URL": "https://shop.example/rest"})
        assert mine == "https://shop.example/rest"


def test_services_wait_for_a_settings_check_so_missing_secrets_cannot_loop() -> None:
    svc = services()
    assert svc["migrate"]["command"] == ["kfsync", "migrate", "--check-settings"]
    assert svc["migrate"]["restart"] == "no"
    for name, spec in kfsync_services().items():
        if name != "migrate":
            assert spec["depends_on"]["migrate"]["condition"] == \
                "service_completed_successfully", name


def test_compose_env_for_the_sandbox_has_everything_the_services_need(tmp_path: Path) -> None:
    from core.settings import Settings
    from kfsync.commands.jobs import SERVICE_SETTINGS
    from kfsync.envfile import compose_env_text

    env_file = tmp_path / ".env"
    env_file.write_text(compose_env_text(sandbox=True))
    settings = Settings.load({}, env_file=str(env_file))
    assert settings.missing(*SERVICE_SETTINGS) == []
    assert settings.magento_base_url == "http://sandbox:8081/rest"
    assert settings.kashflow_base_url == "http://sandbox:8082/v2"
    again = Settings.load({}, env_file=str(env_file)).ops_token
    other = tmp_path / "other.env"
    other.write_text(compose_env_text(sandbox=True))
    assert Settings.load({}, env_file=str(other)).ops_token != again  # fresh each time


def test_migrate_check_settings_names_what_is_missing_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("KFSYNC_")}
    env["KFSYNC_DATABASE_URL"] = f"sqlite:///{tmp_path / 'kfsync.db'}"
    result = subprocess.run([sys.executable, "-m", "kfsync", "migrate", "--check-settings"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "KFSYNC_WEBHOOK_SECRETS" in line and "kfsync compose-env --sandbox" in line


def test_compose_states_the_version_it_needs() -> None:
    assert "Compose v2.24" in COMPOSE.read_text()
    assert "Compose v2.24" in (ROOT / "README.md").read_text()
