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
