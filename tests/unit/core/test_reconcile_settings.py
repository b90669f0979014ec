"""The reconciliation and settlement settings, and the beat entry they make."""

from __future__ import annotations

from pathlib import Path

import pytest
from celery.schedules import crontab

import celeryconfig
from core.settings import ConfigError, Settings


def load(**env: str) -> Settings:
    return Settings.load({f"KFSYNC_{k.upper()}": v for k, v in env.items()}, env_file=None)


def test_defaults() -> None:
    settings = load()
    assert (settings.reconcile_at, settings.reconcile_days) == ("02:30", 2)
    assert settings.settlement_bank_account is None
    assert (settings.settlement_fees_nominal, settings.settlement_suspense_nominal) == (7900,
                                                                                        9998)


@pytest.mark.parametrize(("raw", "expected"), [("04:05", "04:05"), ("4:05", "04:05"),
                                               ("OFF", "off"), (" 23:59 ", "23:59")])
def test_reconcile_at(raw: str, expected: str) -> None:
    assert load(reconcile_at=raw).reconcile_at == expected


@pytest.mark.parametrize("raw", ["24:00", "2:5", "noon", "02:30:00", "-1:30"])
def test_a_bad_reconcile_at_is_one_clear_line(raw: str) -> None:
    with pytest.raises(ConfigError, match="KFSYNC_RECONCILE_AT must be HH:MM"):
        load(reconcile_at=raw)


@pytest.mark.parametrize(("name", "raw"), [("reconcile_days", "0"), ("reconcile_days", "two"),
                                           ("settlement_fees_nominal", "x")])
def test_bad_numbers(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=f"KFSYNC_{name.upper()}"):
        load(**{name: raw})


def test_the_beat_entry_runs_daily_at_the_time_set() -> None:
    entry = celeryconfig.reconcile_entry("04:05")
    assert entry is not None and entry["task"] == "kfsync.maintenance.reconcile_payments"
    assert entry["schedule"] == crontab(hour=4, minute=5)
    assert celeryconfig.reconcile_entry("off") is None
    assert "reconcile-payments" in celeryconfig.beat_schedule  # the default: on, at 02:30
    assert "kfsync.maintenance.reconcile_payments" in celeryconfig.routine_task_names()
    # Summary mode's close (docs/accounting-modes.md): every 300 s, whatever the settings.
    assert celeryconfig.beat_schedule["close-summaries"] == {
        "task": "kfsync.maintenance.close_summaries", "schedule": 300.0}


def test_the_settings_are_documented() -> None:
    root = Path(__file__).resolve().parents[3]
    example = (root / ".env.example").read_text(encoding="utf-8")
    readme = (root / "README.md").read_text(encoding="utf-8")
    for name in ("RECONCILE_AT", "RECONCILE_DAYS", "SETTLEMENT_BANK_ACCOUNT",
                 "SETTLEMENT_FEES_NOMINAL", "SETTLEMENT_SUSPENSE_NOMINAL"):
        assert f"KFSYNC_{name}=" in example
        short = f"`_{name.removeprefix('SETTLEMENT_')}`"  # "`KFSYNC_A_X` / `_Y`" in a row
        assert f"KFSYNC_{name}" in readme or short in readme, name
