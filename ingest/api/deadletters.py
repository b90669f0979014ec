"""``/api/v1/dead-letters``: list with filters, detail, requeue (ids, or all matching
filters) and discard (ids, with a reason). The work itself is ``workers.operations``."""

from __future__ import annotations

from flask import Response, jsonify

from ingest.api.base import (
    ApiError,
    action_body,
    actor,
    bp,
    known_pair,
    load_body,
    load_query,
    page_body,
)
from ingest.api.schemas import (
    DeadLetterDetailSchema,
    DeadLetterPageSchema,
    DiscardRequest,
    LetterQuery,
    RequeueLettersRequest,
)
from ingest.app import current_settings
from ingest.queries import paginate
from store.db import session_scope
from store.models import DeadLetter, SyncJob
from workers.operations import LetterFilter, discard_letters, letters_query, requeue_letters

_query, _page, _detail = LetterQuery(), DeadLetterPageSchema(), DeadLetterDetailSchema()
_requeue, _discard = RequeueLettersRequest(), DiscardRequest()


@bp.get("/dead-letters")
def list_letters() -> Response:
    args = load_query(_query)
    flt = LetterFilter(entity=args.get("entity"), error_class=args.get("error_class"),
                       since=args.get("since"), until=args.get("until"),
                       include_resolved=args["include_resolved"], pair=known_pair(args))
    with session_scope(current_settings().database_url) as s:
        page = paginate(s, letters_query(flt), args["page"], args["per_page"])
        return jsonify(page_body(page, _page))


@bp.get("/dead-letters/<int(max=2147483647):letter_id>")
def show_letter(letter_id: int) -> Response:
    with session_scope(current_settings().database_url) as s:
        letter = s.get(DeadLetter, letter_id)
        if letter is None:
            raise ApiError(404, {"_path": [f"No dead letter {letter_id}."]})
        job = s.get(SyncJob, letter.job_id) if letter.job_id is not None else None
        return jsonify(_detail.dump({**_letter_fields(letter), "job": job}))


def _letter_fields(letter: DeadLetter) -> dict[str, object]:
    return {name: getattr(letter, name) for name in _detail.fields if name != "job"}


@bp.post("/dead-letters/requeue")
def requeue() -> Response:
    """Requeue open dead letters: ``{"ids": [...]}`` or ``{"all": true, <filters>}``."""
    body = load_body(_requeue)
    settings = current_settings()
    flt = LetterFilter(ids=tuple(body.get("ids") or ()), entity=body.get("entity"),
                       error_class=body.get("error_class"), since=body.get("since"),
                       until=body.get("until"), pair=known_pair(body))
    done = requeue_letters(settings.database_url, settings.redis_url, flt, actor=actor())
    return jsonify(action_body("requeue", done))


@bp.post("/dead-letters/discard")
def discard() -> Response:
    """Close open dead letters without syncing them: ``{"ids": [...], "reason": "..."}``."""
    body = load_body(_discard)
    settings = current_settings()
    done = discard_letters(settings.database_url, settings.redis_url, body["ids"],
                           reason=body["reason"], actor=actor())
    return jsonify(action_body("discard", done))
