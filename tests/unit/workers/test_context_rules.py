"""workers.context.rules(): a changed mapping file applies without a restart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kfsync.settings import Settings
from workers import context


def test_rules_reload_when_the_file_changes(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mapping.yml"
    path.write_text("default_nominal_code: 4000\n", encoding="utf-8")
    settings = Settings.load({"KFSYNC_MAPPING_FILE": str(path)}, env_file=None)
    monkeypatch.setattr(context, "settings", lambda: settings)
    assert context.rules().default_nominal_code == 4000
    path.write_text("default_nominal_code: 4010\n", encoding="utf-8")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    assert context.rules().default_nominal_code == 4010
    path.write_text("default_nominal_code: [not a number]\n", encoding="utf-8")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    assert context.rules().default_nominal_code == 4010  # a bad edit keeps the last good rules
