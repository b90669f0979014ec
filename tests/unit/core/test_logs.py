"""Structured logs: JSON lines carrying the bound references, readable text in dev, and no
secret in either."""

from __future__ import annotations

import io
import json
import logging

from core import logs


def emit(env: str, secrets: tuple[str, ...] = ()) -> str:
    stream = io.StringIO()
    handler = logs.configure(env, secrets=secrets, stream=stream)
    try:
        logs.clear(task_id="9f1c-task")
        logs.bind(job_id=17, magento_ref="000000123")
        with logs.bound(kashflow_ref=1042):
            logging.getLogger("workers.runner").info("invoice created with KfToken %s",
                                                    "KF-session-abc")
        logging.getLogger("workers.runner").warning("after the block")
    finally:
        logging.getLogger().removeHandler(handler)
        logs.clear()
    return stream.getvalue()


def test_prod_lines_are_json_with_job_task_and_references() -> None:
    first, second = [json.loads(line) for line in emit("prod").splitlines()]
    assert first["message"].startswith("invoice created")
    assert (first["job_id"], first["task_id"], first["magento_ref"], first["kashflow_ref"]) == (
        17, "9f1c-task", "000000123", 1042)
    assert first["level"] == "info" and first["logger"] == "workers.runner"
    assert "kashflow_ref" not in second and second["job_id"] == 17


def test_dev_lines_are_readable() -> None:
    line = emit("dev").splitlines()[0]
    assert "INFO workers.runner [task=9f1c-task job=17 order=000000123 invoice=1042]" in line


def test_secrets_are_cut_out_of_every_line() -> None:
    for env in ("dev", "prod"):
        text = emit(env, secrets=("KF-session-abc",))
        assert "KF-session-abc" not in text and "***" in text


def test_routine_beat_lines_are_debug_and_other_lines_stay() -> None:
    import io
    import logging

    from celeryconfig import routine_task_names
    from core import logs as kfsync_logs

    out = io.StringIO()
    kfsync_logs.configure("dev", stream=out, level="INFO", routine_tasks=routine_task_names())
    try:
        logging.getLogger("celery.beat").info(
            "Scheduler: Sending due task relay-events (kfsync.maintenance.relay_events)")
        logging.getLogger("celery.app.trace").info(
            "Task kfsync.maintenance.redrive_stalled[ab] succeeded in 0.01s: None")
        logging.getLogger("celery.app.trace").info(
            "Task kfsync.events.process_event[cd] succeeded in 0.20s: None")
        logging.getLogger("celery.app.trace").error(
            "Task kfsync.maintenance.relay_events[ef] raised unexpected: boom")
        text = out.getvalue()
        assert "relay-events" not in text and "redrive_stalled" not in text
        assert "process_event[cd] succeeded" in text and "relay_events[ef] raised" in text
        kfsync_logs.configure("dev", stream=out, level="DEBUG",
                              routine_tasks=routine_task_names())
        logging.getLogger("celery.beat").info(
            "Scheduler: Sending due task relay-events (kfsync.maintenance.relay_events)")
        assert "DEBUG celery.beat" in out.getvalue()
    finally:
        kfsync_logs.configure("dev", level="INFO")


def test_short_secrets_are_cut_where_they_stand_alone() -> None:
    """Issue #17 (7): secrets under 4 characters were never scrubbed."""
    stream = io.StringIO()
    handler = logs.configure("dev", secrets=("pw", "x"), stream=stream)
    try:
        logging.getLogger("ingest").warning("sent Bearer pw, token=x; password check")
    finally:
        logging.getLogger().removeHandler(handler)
    text = stream.getvalue()
    assert "Bearer ***, token=***;" in text
    assert "password check" in text  # the letters of other words are left alone
