"""Structured logs: JSON lines in qa and prod, readable lines in dev; every line carries the
references of the work in hand (job id, task id, Magento and KashFlow references).

The references live in one context variable, so they follow the code that set them without
being passed around: the Celery ``task_prerun`` hook (``workers/telemetry.py``) starts each
task with a fresh context holding its ``task_id``; the step runner adds the job with
``bind(job_id=..., magento_ref=...)`` once it has claimed it and ``bind(kashflow_ref=...)``
when KashFlow answers. Secrets never reach a line: every configured secret value is replaced
by ``***`` in the formatted text.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

FIELDS = ("job_id", "event_id", "task_id", "magento_ref", "kashflow_ref", "dead_letter_id")
_EMPTY: dict[str, Any] = {}  # never mutated: every change sets a new dict
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("kfsync_log_context")


def _refs() -> dict[str, Any]:
    return _context.get(_EMPTY)


def bind(**refs: Any) -> None:
    """Add references (``job_id``, ``task_id``, ``magento_ref``, ``kashflow_ref``...) to every
    log line from here on in this context (a task, a request); ``None`` values are dropped."""
    merged = {**_refs(), **{k: v for k, v in refs.items() if v is not None}}
    _context.set(merged)


def clear(**refs: Any) -> None:
    """Start a fresh context holding only ``refs`` (the start of a task or request)."""
    _context.set({k: v for k, v in refs.items() if v is not None})


@contextmanager
def bound(**refs: Any) -> Iterator[None]:
    """``bind`` for the duration of a ``with`` block, then restore the previous context."""
    token = _context.set({**_refs(), **{k: v for k, v in refs.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def current() -> dict[str, Any]:
    return dict(_refs())


class ContextFilter(logging.Filter):
    """Copies the bound references onto each record (``record.job_id`` ...)."""

    def filter(self, record: logging.LogRecord) -> bool:
        refs = _refs()
        for name in FIELDS:
            if not hasattr(record, name):
                setattr(record, name, refs.get(name))
        record.kfsync_refs = {k: v for k, v in refs.items()}
        return True


SHORT_SECRET = 8  # shorter secrets are cut only where they stand alone (see secret_pattern)


def secret_pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """One regex matching every secret, longest first.

    A short secret (dev allows one character; prod refuses under 32) is matched only where
    no letter or digit touches it, so ``pw`` is cut from ``Bearer pw`` but a secret ``a``
    does not cut every ``a`` of every line.
    """
    alternatives = []
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        quoted = re.escape(secret)
        alternatives.append(quoted if len(secret) >= SHORT_SECRET
                            else rf"(?<![A-Za-z0-9]){quoted}(?![A-Za-z0-9])")
    return re.compile("|".join(alternatives)) if alternatives else None


class _Scrubbing(logging.Formatter):
    pattern: re.Pattern[str] | None = None

    def scrub(self, text: str) -> str:
        return self.pattern.sub("***", text) if self.pattern else text


class JsonFormatter(_Scrubbing):
    """One JSON object per line: time, level, logger, message, references, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "kfsync_refs", {}))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return self.scrub(json.dumps(line, default=str))


class TextFormatter(_Scrubbing):
    """``12:00:01 INFO workers.runner [job=7 task=ab12 order=000000123] message``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(refs)s %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        refs = getattr(record, "kfsync_refs", {})
        short = {"job_id": "job", "event_id": "event", "task_id": "task",
                 "magento_ref": "order", "kashflow_ref": "invoice", "dead_letter_id": "letter"}
        parts = [f"{short.get(k, k)}={v}" for k, v in refs.items()]
        record.refs = f" [{' '.join(parts)}]" if parts else ""
        return self.scrub(super().format(record))


# Celery's per-run lines about the beat schedule's own upkeep tasks (relay, redrive, probe...):
# a third of a quiet system's log at INFO. They are DEBUG lines here; failures stay loud.
ROUTINE_LOGGERS = ("celery.beat", "celery.app.trace", "celery.worker.strategy")


class RoutineFilter(logging.Filter):
    """Demote the INFO lines Celery writes for every run of a periodic upkeep task ("Sending
    due task", "received", "succeeded") to DEBUG: dropped unless the root logger is at DEBUG."""

    def __init__(self, task_names: Iterable[str]) -> None:
        super().__init__()
        self.task_names = tuple(task_names)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not record.name.startswith(ROUTINE_LOGGERS):
            return True
        message = record.getMessage()
        if not any(name in message for name in self.task_names):
            return True
        if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def configure(env: str, *, secrets: Iterable[str] = (), level: str | int = "INFO",
              stream: Any = None, routine_tasks: Iterable[str] = ()) -> logging.Handler:
    """Send the root logger to ``stream`` (stderr): JSON for qa/prod, text for dev.

    ``routine_tasks`` names the periodic upkeep tasks whose Celery INFO lines are demoted to
    DEBUG (the caller passes ``celeryconfig.routine_task_names()``: this layer imports no app
    module). Idempotent: a handler installed by an earlier call is replaced. Returns the handler.
    """
    formatter: _Scrubbing = JsonFormatter() if env in ("qa", "prod") else TextFormatter()
    formatter.pattern = secret_pattern(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    handler.addFilter(RoutineFilter(routine_tasks))
    handler.set_name("kfsync")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "kfsync"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def add_secrets(secrets: Iterable[str]) -> None:
    """Scrub ``secrets`` too from now on (an integration pair's credentials, read from the
    store after logging was configured: ``services.pairs``)."""
    new = {s for s in secrets if s}
    for handler in logging.getLogger().handlers:
        formatter = handler.formatter
        if handler.get_name() != "kfsync" or not isinstance(formatter, _Scrubbing) or not new:
            continue
        known = set(getattr(formatter, "secrets", ()))
        if new <= known:
            continue
        formatter.secrets = known | new  # type: ignore[attr-defined]
        # The pattern of configure's secrets is rebuilt with these added.
        old = formatter.pattern.pattern if formatter.pattern else None
        added = secret_pattern(new - known)
        assert added is not None
        formatter.pattern = re.compile(f"{added.pattern}|{old}" if old else added.pattern)
