"""``/api/v1/reconciliation``: the payment reconciliation queue and the operator's actions
(match, post, dismiss; audited). The work itself is ``workers.reconcile``."""

from __future__ import annotations

from flask import Response, jsonify
from sqlalchemy import select

from ingest.api.base import actor, bp, known_pair, load_body, load_query, page_body
from ingest.api.reconcile_schemas import (
    ReconciliationItemSchema,
    ReconciliationPageSchema,
    ReconciliationQuery,
    ResolveItemRequest,
)
from ingest.app import current_settings
from ingest.queries import paginate
from store.db import session_scope
from store.reconcile_models import ReconciliationItem
from workers.reconcile import resolve_item

_query, _page = ReconciliationQuery(), ReconciliationPageSchema()
_item, _resolve = ReconciliationItemSchema(), ResolveItemRequest()


@bp.get("/reconciliation")
def list_items() -> Response:
    args = load_query(_query)
    query = select(ReconciliationItem).where(ReconciliationItem.status == args["status"])
    if args.get("day"):
        query = query.where(ReconciliationItem.day == args["day"])
    if args.get("reason"):
        query = query.where(ReconciliationItem.reason == args["reason"])
    pair = known_pair(args)
    if pair:
        query = query.where(ReconciliationItem.pair == pair)
    with session_scope(current_settings().database_url) as s:
        page = paginate(s, query.order_by(ReconciliationItem.id), args["page"], args["per_page"])
        return jsonify(page_body(page, _page))


@bp.post("/reconciliation/<int(max=2147483647):item_id>/resolve")
def resolve(item_id: int) -> Response:
    """``{"action": "match"|"post"|"dismiss", "note": "..."}`` (dismiss needs the note); a
    post is claimed here (``posting``) and done by the payments worker."""
    body = load_body(_resolve)
    item = resolve_item(current_settings().database_url, item_id, body["action"], actor=actor(),
                        note=body.get("note"), post_inline=False)
    return jsonify(_item.dump(item))
