"""The payment reconciliation queue in the dashboard: ``/reconciliation`` lists the items the
daily reconciliation found (``workers.reconcile``), and each open item has its form: match (it
balances), post the missing payment (claimed here, posted once by the payments worker), or
dismiss with a reason. With several integration pairs the page has the pair selector
(``ingest.dashboard.pairsel``): the chosen pair's items and its last run. Every action is
audited as ``dashboard:<user>``; viewers see the queue without the forms and get 403 on a
POST, and every POST carries its CSRF token (``ingest.dashboard``).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from ingest.api.reconcile_schemas import ReconciliationQuery
from ingest.app import current_settings
from ingest.dashboard import bp, safe_path
from ingest.dashboard.actions import actor
from ingest.dashboard.pairsel import select_pair
from ingest.dashboard.views import PER_PAGE, _args
from ingest.queries import Page, paginate
from store.db import session_scope
from store.reconcile_models import ItemReason, ItemStatus, ReconciliationItem
from workers.operations import OperationError
from workers.reconcile import describe_item, resolve_item
from workers.reconcile_queue import last_run

_query = ReconciliationQuery()
POSTABLE = (ItemReason.MISSING_PAYMENT, ItemReason.AMOUNT_DIFFERS)
DONE_TEXT = {"matched": "matched", "posting": "being posted by the payments worker",
             "dismissed": "dismissed"}


@bp.get("/reconciliation")
def reconciliation() -> str:
    args, errors = _args(_query)
    chosen = select_pair()
    args["pair"] = chosen.current
    query = select(ReconciliationItem).where(ReconciliationItem.status == args["status"])
    if chosen.current:
        query = query.where(ReconciliationItem.pair == chosen.current)
    if args.get("day"):
        query = query.where(ReconciliationItem.day == args["day"])
    if args.get("reason"):
        query = query.where(ReconciliationItem.reason == args["reason"])
    settings = current_settings()
    with session_scope(settings.database_url) as s:
        found = paginate(s, query.order_by(ReconciliationItem.day, ReconciliationItem.id),
                         args["page"], PER_PAGE)
        page = Page([describe_item(x) for x in found.items], found.total, found.page,
                    found.per_page)
    raw = {k: v for k, v in request.args.items() if v != "" and k != "pair"}
    return render_template("reconciliation.html", page=page, args=args, raw=raw,
                           errors=errors, statuses=[s.value for s in ItemStatus],
                           reasons=[r.value for r in ItemReason], postable=POSTABLE,
                           last_run=last_run(settings.redis_url, chosen.current),
                           schedule=settings.reconcile_at, title="Reconciliation",
                           pairsel=chosen)


@bp.post("/reconciliation/<int(max=2147483647):item_id>/resolve")
def resolve_reconciliation(item_id: int) -> Response:
    action = request.form.get("action", "")
    note = request.form.get("note", "").strip()[:2000] or None
    back = safe_path(request.form.get("back")) or url_for("dashboard.reconciliation")
    if action == "dismiss" and not note:
        flash("A dismiss needs a reason (it is kept in the audit log).", "error")
        return redirect(back)
    try:
        item = resolve_item(current_settings().database_url, item_id, action, actor=actor(),
                            note=note, post_inline=False)
    except OperationError as exc:
        flash(str(exc), "error")
    else:
        flash(f"Reconciliation item {item_id} ({item['order_ref']}, {item['reason']}): "
              f"{DONE_TEXT.get(item['status'], item['status'])}.", "ok")
    return redirect(back)
