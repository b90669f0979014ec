"""The Makefile's install profiles: ``make demo`` and ``make run`` install kfsync alone (no
test tools, no semantic model); ``make test`` and ``make lint`` add the dev extras."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def planned(target: str, venv: Path) -> str:
    """The commands ``make TARGET`` would run on a fresh clone (``make -n``, nothing runs)."""
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    result = subprocess.run(["make", "-n", target, f"VENV={venv}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30, check=True)
    return result.stdout


@pytest.mark.parametrize("target", ["demo", "run"])
def test_demo_and_run_install_the_runtime_only(target: str, tmp_path: Path) -> None:
    plan = planned(target, tmp_path / "venv")
    installs = [line for line in plan.splitlines() if "pip install" in line and "-e" in line]
    assert installs == [f"{tmp_path / 'venv'}/bin/python -m pip install --quiet -e ."], plan
    assert "dev" not in " ".join(installs) and "semantic" not in " ".join(installs)


@pytest.mark.parametrize("target", ["test", "lint"])
def test_test_and_lint_add_the_dev_tools(target: str, tmp_path: Path) -> None:
    plan = planned(target, tmp_path / "venv")
    assert "pip install --quiet -e '.[dev,semantic]'" in plan, plan


def test_make_run_starts_the_preconfigured_sandbox(tmp_path: Path) -> None:
    assert "kfsync run --sandbox" in planned("run", tmp_path / "venv")
