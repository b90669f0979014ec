"""``/api/v1/summaries``: summary mode's summaries (``services.summaries``), newest day
first, and one summary with each line traced back to its orders; ``POST
/summaries/{id}/close`` (an operator's write, audited) has the worker close and post one
summary now, whatever its day, as ``kfsync summary close --id`` does: the web process only
enqueues (the worker calls KashFlow)."""

from __future__ import annotations

from flask import Response, jsonify
from sqlalchemy import select

from ingest.api.base import ApiError, actor, bp, load_query, page_body
from ingest.api.summary_schemas import (
    SummaryCloseSchema,
    SummaryDetailSchema,
    SummaryPageSchema,
    SummaryQuery,
)
from ingest.app import current_settings
from ingest.queries import paginate
from services.summaries import summary_detail
from store.db import session_scope
from store.models import AuditEntry
from store.summary_models import Summary, SummaryState
from workers.dispatch import publish_task

_query, _page, _detail = SummaryQuery(), SummaryPageSchema(), SummaryDetailSchema()
_closed = SummaryCloseSchema()


@bp.get("/summaries")
def list_summaries() -> Response:
    args = load_query(_query)
    query = select(Summary).order_by(Summary.day.desc(), Summary.id.desc())
    for column in ("state", "day", "kind"):
        if args.get(column):
            query = query.where(getattr(Summary, column) == args[column])
    with session_scope(current_settings().database_url) as s:
        return jsonify(page_body(paginate(s, query, args["page"], args["per_page"]), _page))


@bp.get("/summaries/<int(max=2147483647):summary_id>")
def one_summary(summary_id: int) -> Response:
    detail = summary_detail(current_settings().database_url, summary_id)
    if detail is None:
        raise ApiError(404, {"_path": [f"No summary {summary_id}."]})
    return jsonify(_detail.dump(detail))


@bp.post("/summaries/<int(max=2147483647):summary_id>/close")
def close_summary(summary_id: int) -> Response:
    """Have the worker close and post summary ``summary_id`` now (409: posted already)."""
    with session_scope(current_settings().database_url) as s:
        row = s.get(Summary, summary_id)
        if row is None:
            raise ApiError(404, {"_path": [f"No summary {summary_id}."]})
        if row.state == SummaryState.POSTED:
            raise ApiError(409, {"_state": [f"Summary {summary_id} is posted already "
                                            f"(KashFlow {row.number})."]})
        state = row.state
        s.add(AuditEntry(actor=actor(), action="summary_close",
                         target=f"summaries/{summary_id}", note=None))
    queued = publish_task("kfsync.maintenance.close_summary", (summary_id,),
                          then="beat's close_summaries takes it once its day is due")
    message = (f"Summary {summary_id} ({state}) is being closed and posted by the worker."
               if queued else f"The broker did not answer: summary {summary_id} was not "
               "queued; try again, or run kfsync summary close --id.")
    return jsonify(_closed.dump({"id": summary_id, "state": state, "queued": queued,
                                 "message": message}))
