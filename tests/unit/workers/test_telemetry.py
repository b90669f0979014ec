"""Task metrics through the Celery signals (``workers/telemetry.py``) on real Redis: a task's
events reach Redis at ``task_postrun``, whatever its outcome."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from celery import Celery
from celery.exceptions import Retry

from core.metrics import API_CALLS, TASK_DURATION, recorder
from workers import telemetry

TASK = "kfsync.orders.create_invoice"
KASHFLOW_201 = "kashflow\x1fPOST\x1f201\x1fdefault"


@pytest.fixture
def redis_url(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The handlers' settings point at the test Redis; no hold outlives the test."""
    monkeypatch.setattr(telemetry, "_settings", lambda: SimpleNamespace(redis_url=redis_url))
    yield redis_url
    recorder(redis_url).flush()  # the shared recorder: other tests expect immediate writes


def kashflow_calls(redis_url: str) -> float:
    return recorder(redis_url).read(API_CALLS).get(KASHFLOW_201, 0.0)


def task_runs(redis_url: str, state: str) -> float:
    fields = recorder(redis_url).read(TASK_DURATION)
    return fields.get(f"{TASK}\x1f{state}\x1fdefault\x1ecount", 0.0)


def test_a_task_s_calls_and_duration_reach_redis_at_postrun(redis_url: str) -> None:
    task = SimpleNamespace(name=TASK)
    telemetry._task_started(task_id="t1", task=task, args=(7,))
    for _ in range(3):
        recorder(redis_url).api_call("kashflow", "POST", "/invoices", 201, 0.2)
    assert kashflow_calls(redis_url) == 0.0
    telemetry._task_finished(task_id="t1", task=task, state="SUCCESS")
    assert kashflow_calls(redis_url) == 3.0 and task_runs(redis_url, "SUCCESS") == 1.0


def test_postrun_flushes_when_no_start_was_seen(redis_url: str) -> None:
    telemetry._task_started(task_id=None, task=SimpleNamespace(name=TASK), args=())
    recorder(redis_url).api_call("kashflow", "POST", "/invoices", 201, 0.2)
    telemetry._task_finished(task_id=None, task=SimpleNamespace(name=TASK), state="SUCCESS")
    assert kashflow_calls(redis_url) == 1.0 and task_runs(redis_url, "SUCCESS") == 0.0


@pytest.mark.parametrize(("error", "state"), [(ValueError("bad order"), "FAILURE"),
                                              (Retry("later"), "RETRY")])
def test_failed_and_retried_tasks_flush_too(redis_url: str, error: Exception,
                                            state: str) -> None:
    """Run by Celery's own tracer (``apply``), which sends the two signals."""
    app = Celery("kfsync-telemetry-test", set_as_current=False)
    seen_during_the_task: list[float] = []

    # shared=False: a shared task joins every app, kfsync's too, and would replace the real
    # create_invoice there for the rest of the test session.
    @app.task(name=TASK, shared=False)  # type: ignore[untyped-decorator]  # Celery: no hints
    def create_invoice() -> None:
        recorder(redis_url).api_call("kashflow", "POST", "/invoices", 201, 0.2)
        seen_during_the_task.append(kashflow_calls(redis_url))
        raise error

    assert create_invoice.apply().state == state
    assert seen_during_the_task == [0.0]  # held by task_prerun
    assert kashflow_calls(redis_url) == 1.0 and task_runs(redis_url, state) == 1.0


def test_the_handlers_do_not_raise_while_redis_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    monkeypatch.setattr(telemetry, "_settings", lambda: SimpleNamespace(redis_url=dead))
    telemetry._task_started(task_id="t2", task=SimpleNamespace(name=TASK), args=(7,))
    recorder(dead).api_call("kashflow", "POST", "/invoices", None, 1.0)
    telemetry._task_finished(task_id="t2", task=SimpleNamespace(name=TASK), state="FAILURE")


def test_a_pairs_task_is_labelled_with_its_pair_whichever_postrun_runs_first(
        redis_url: str) -> None:
    """The task enters its event's pair (``core.pairs.enter``); ``workers.context`` leaves it
    at postrun, possibly before telemetry records the duration: the label is still the pair."""
    from core import pairs
    from workers import context

    task = SimpleNamespace(name=TASK)
    context._task_starts()
    telemetry._task_started(task_id="t3", task=task, args=(7,))
    pairs.enter("shopb")
    recorder(redis_url).api_call("kashflow", "POST", "/invoices", 201, 0.2)
    context._task_ends()  # back to default first...
    assert pairs.current() == "default"
    telemetry._task_finished(task_id="t3", task=task, state="SUCCESS")  # ...then the metrics
    fields = recorder(redis_url).read(TASK_DURATION)
    assert fields.get(f"{TASK}\x1fSUCCESS\x1fshopb\x1ecount") == 1.0
    assert recorder(redis_url).read(API_CALLS)["kashflow\x1fPOST\x1f201\x1fshopb"] == 1.0
    context._task_starts()  # the next task starts as default's
    assert pairs.task_pair() == "default"
