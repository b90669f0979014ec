"""workers.context.rules(): the active profile version; a changed mapping file publishes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.settings import Settings
from services import profiles
from store.db import migrate
from workers import context


def _touch(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)


def test_rules_follow_the_file_and_the_studio(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mapping.yml"
    path.write_text("default_nominal_code: 4000\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'kfsync.db'}"
    migrate(url)
    settings = Settings.load({"KFSYNC_MAPPING_FILE": str(path), "KFSYNC_DATABASE_URL": url},
                             env_file=None)
    monkeypatch.setattr(context, "settings", lambda: settings)
    assert context.profile()[0] == 1 and context.rules().default_nominal_code == 4000
    _touch(path, "default_nominal_code: 4010\n")
    assert context.profile()[0] == 2 and context.rules().default_nominal_code == 4010
    _touch(path, "default_nominal_code: [not a number]\n")
    assert context.rules().default_nominal_code == 4010  # a bad edit keeps the version in force

    # A studio publish stays in force while the file does not change...
    def edit(doc: dict[str, object]) -> str:
        doc["default_nominal_code"] = 4020
        return "nominal 4020"

    profiles.edit_draft(url, "alice", edit)
    assert profiles.publish(url, "alice", "studio change").id == 3
    _touch(path, "default_nominal_code: 4010\n")  # the file as it was last published
    assert context.profile()[0] == 3 and context.rules().default_nominal_code == 4020
    # ...and a real change of the file is published over it.
    _touch(path, "default_nominal_code: 4030\n")
    assert context.profile()[0] == 4 and context.rules().default_nominal_code == 4030
    assert [v.source for v in profiles.versions(url)] == ["file", "studio", "file", "file"]
