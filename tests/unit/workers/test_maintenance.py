"""Beat's sweeps run one at a time across the deployment (workers/maintenance.py)."""

from __future__ import annotations

import pytest
import redis

from core import leases


def test_a_maintenance_task_skips_its_run_while_another_holds_its_lock(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import Settings
    from workers import maintenance

    settings = Settings.load({"KFSYNC_REDIS_URL": redis_url}, env_file=None)
    monkeypatch.setattr(maintenance.context, "settings", lambda: settings)
    runs: list[int] = []

    @maintenance.exclusive("test_sweep")
    def sweep() -> int:
        runs.append(1)
        return 7

    with leases.locked(redis.Redis.from_url(redis_url), "kfsync:lock:test_sweep") as mine:
        assert mine
        assert sweep() == 0
    assert sweep() == 7
    assert runs == [1]
