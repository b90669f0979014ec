"""Dashboard forms (POST): requeue and discard dead letters and review items, one or many.

Each form posts the checked ``ids`` (and a ``reason`` for discard) with its CSRF token; the
work is ``workers.operations``, audited as ``dashboard:<user>``. The outcome is flashed on
the page the operator comes back to. Viewers get 403 here (``ingest.dashboard``).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, request, url_for
from werkzeug.wrappers import Response

from ingest.app import current_settings
from ingest.auth import actor as _actor
from ingest.dashboard import bp, safe_path
from workers.operations import (
    LetterFilter,
    OperationError,
    discard_jobs,
    discard_letters,
    requeue_jobs,
    requeue_letters,
)

MAX_IDS = 5000


def _ids() -> list[int]:
    values = request.form.getlist("ids")
    return sorted({int(v) for v in values if v.isdigit() and 0 < int(v) < 2**31})[:MAX_IDS]


def _back(default: str) -> Response:
    return redirect(safe_path(request.form.get("back")) or url_for(default))


def _run(what: str, verb: str, action: Callable[[list[int]], list[int]], default: str
         ) -> Response:
    ids = _ids()
    if not ids:
        flash(f"Tick at least one {what} first.", "error")
        return _back(default)
    try:
        done = action(ids)
    except OperationError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{verb} {len(done)} {what}(s): "
              f"{', '.join(map(str, done))}", "ok")
    return _back(default)


def _reason() -> str | None:
    reason = request.form.get("reason", "").strip()
    if not reason:
        flash("A discard needs a reason (it is kept in the audit log).", "error")
        return None
    return reason[:2000]


@bp.post("/dead-letters/requeue")
def requeue_letters_form() -> Response:
    settings = current_settings()
    return _run("dead letter", "Requeued", lambda ids: requeue_letters(
        settings.database_url, settings.redis_url, LetterFilter(ids=tuple(ids)), actor=actor()),
        "dashboard.letters")


@bp.post("/dead-letters/discard")
def discard_letters_form() -> Response:
    settings = current_settings()
    reason = _reason()
    if reason is None:
        return _back("dashboard.letters")
    return _run("dead letter", "Discarded", lambda ids: discard_letters(
        settings.database_url, settings.redis_url, ids, reason=reason, actor=actor()),
        "dashboard.letters")


@bp.post("/review/requeue")
def requeue_jobs_form() -> Response:
    settings = current_settings()
    return _run("job", "Requeued",
                lambda ids: requeue_jobs(settings.database_url, ids, actor=actor()),
                "dashboard.review")


@bp.post("/review/discard")
def discard_jobs_form() -> Response:
    settings = current_settings()
    reason = _reason()
    if reason is None:
        return _back("dashboard.review")
    return _run("job", "Discarded",
                lambda ids: discard_jobs(settings.database_url, ids, reason=reason, actor=actor()),
                "dashboard.review")


def actor() -> str:
    """The audit log's name for the operator: ``dashboard:<user>``."""
    return _actor("dashboard")
