"""Summary mode in the dashboard (``docs/accounting-modes.md``): ``/summaries`` lists the
summaries, ``/summaries/<id>`` drills down from a summary to its lines and from each line to
the orders (or credit memos) behind it, each linked to its job page; ``/summaries/<id>.csv``
is the same trace as CSV. Read-only: closing posts to KashFlow, which is beat's and the
CLI's (``kfsync summary close``)."""

from __future__ import annotations

from flask import Response, abort, render_template, request
from sqlalchemy import select

from ingest.api.summary_schemas import SummaryQuery
from ingest.app import current_settings
from ingest.dashboard import bp
from ingest.dashboard.views import PER_PAGE, _args
from ingest.queries import paginate
from services.summaries import counts, export_csv, summary_detail
from store.db import session_scope
from store.summary_models import Summary, SummaryState

_query = SummaryQuery()


@bp.get("/summaries")
def summaries() -> str:
    args, errors = _args(_query)
    query = select(Summary).order_by(Summary.day.desc(), Summary.id.desc())
    for column in ("state", "day", "kind"):
        if args.get(column):
            query = query.where(getattr(Summary, column) == args[column])
    settings = current_settings()
    with session_scope(settings.database_url) as s:
        page = paginate(s, query, args["page"], PER_PAGE)
        for row in page.items:
            s.expunge(row)
    raw = {k: v for k, v in request.args.items() if v != ""}
    return render_template("summaries.html", page=page, args=args, raw=raw, errors=errors,
                           states=[x.value for x in SummaryState],
                           counts=counts(settings.database_url), title="Summaries")


@bp.get("/summaries/<int(max=2147483647):summary_id>")
def summary(summary_id: int) -> str:
    detail = summary_detail(current_settings().database_url, summary_id)
    if detail is None:
        abort(404)
    return render_template("summary.html", s=detail, title=f"Summary {summary_id}")


@bp.get("/summaries/<int(max=2147483647):summary_id>.csv")
def summary_csv(summary_id: int) -> Response:
    text = export_csv(current_settings().database_url, summary_id)
    if text is None:
        abort(404)
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=summary-{summary_id}.csv"})
