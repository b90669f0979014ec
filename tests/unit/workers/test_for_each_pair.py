"""Beat's per-pair work (``workers.context.for_each_pair``): every enabled pair runs in its
own scope, a pair that fails never stops the others, and the task still fails afterwards
with that error (SQLite, real Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core import pairs as scope
from core.settings import Settings
from services import pairs
from store.db import migrate
from tests.unit.ingest.ops_helpers import add_pair, make_settings
from workers import context


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[Settings]:
    url = f"sqlite:///{tmp_path / 'kfsync.db'}"
    migrate(url)
    found = make_settings(url, redis_url, KFSYNC_PAIRS_KEY=pairs.new_key())
    for name in ("shopb", "shopc", "shopd"):
        add_pair(found, name)
    pairs.set_enabled(found, "shopd", False, "test")
    monkeypatch.setattr(context, "base_settings", lambda: found)
    yield found


def test_every_enabled_pair_runs_in_its_scope_and_their_results_add_up(
        settings: Settings) -> None:
    seen: list[str] = []

    def run() -> int:
        seen.append(scope.current())
        return 2

    assert context.for_each_pair(run) == 6
    assert seen == ["default", "shopb", "shopc"]  # the disabled shopd is skipped
    assert scope.current() == "default"


def test_a_failing_pair_never_stops_the_others_and_the_task_still_fails(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def sync_pair() -> int:
        seen.append(scope.current())
        if scope.current() == "shopb":
            raise ConnectionError("shop B is down")
        return 1

    with pytest.raises(ConnectionError, match="shop B is down"):
        context.for_each_pair(sync_pair)
    assert seen == ["default", "shopb", "shopc"]
    assert "pair shopb: sync_pair failed: ConnectionError: shop B is down" in caplog.text
