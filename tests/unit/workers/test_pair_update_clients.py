"""A worker process picks up ``kfsync pairs update`` without a restart: once it sees the
pair's new version (within ``RECHECK_S``), its clients are built again with the new
endpoints and credentials; pair default's clients are untouched (SQLite, real Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core import pairs as scope
from core.settings import Settings
from services import pair_update, pairs
from store.db import migrate
from tests.unit.ingest.ops_helpers import add_pair, make_settings
from workers import context


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[Settings]:
    url = f"sqlite:///{tmp_path / 'kfsync.db'}"
    migrate(url)
    found = make_settings(url, redis_url, KFSYNC_PAIRS_KEY=pairs.new_key())
    add_pair(found, "shopb")
    monkeypatch.setattr(context, "base_settings", lambda: found)
    context.reset_clients()
    yield found
    context.reset_clients()


def test_a_pairs_clients_follow_its_update_and_defaults_stay(settings: Settings) -> None:
    default_kf = context.kashflow()
    with scope.scope("shopb"):
        old_kf, old_mg = context.kashflow(), context.magento()
        assert context.kashflow() is old_kf  # cached while the pair is unchanged
        assert old_mg.base_url == "https://b.example/rest"
    changed = pair_update.update(
        settings, "shopb", {"magento_base_url": "https://new.b.example/rest",
                            "kashflow_base_url": "https://kf.b.example/v2"},
        {"kashflow_password": "rotated-pw-41"}, "test")
    assert changed == ["magento_base_url", "kashflow_base_url", "kashflow_password"]
    pairs.forget(settings, "shopb")  # as RECHECK_S passing does in a worker
    with scope.scope("shopb"):
        new_kf, new_mg = context.kashflow(), context.magento()
    assert new_kf is not old_kf and new_mg is not old_mg
    assert new_mg.base_url == "https://new.b.example/rest"
    assert new_kf.base_url == "https://kf.b.example/v2"
    assert new_kf._password == "rotated-pw-41"
    assert context.kashflow() is default_kf  # default's client kept
    assert sum(1 for key in context._clients if key.startswith("kashflow@shopb")) == 1
