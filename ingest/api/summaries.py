"""``/api/v1/summaries``: summary mode's summaries (``services.summaries``), newest day
first, and one summary with each line traced back to its orders. Closing is beat's and the
CLI's (``kfsync summary close``): it posts to KashFlow."""

from __future__ import annotations

from flask import Response, jsonify
from sqlalchemy import select

from ingest.api.base import ApiError, bp, load_query, page_body
from ingest.api.summary_schemas import SummaryDetailSchema, SummaryPageSchema, SummaryQuery
from ingest.app import current_settings
from ingest.queries import paginate
from services.summaries import summary_detail
from store.db import session_scope
from store.summary_models import Summary

_query, _page, _detail = SummaryQuery(), SummaryPageSchema(), SummaryDetailSchema()


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
