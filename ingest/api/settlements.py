"""``/api/v1/settlements``: imported gateway payouts (``services.settlements``), newest first,
and one payout with each row and what it matched. Importing and the journal are the CLI's
(``kfsync reconcile settlement|journal``): the journal reads KashFlow's bank accounts."""

from __future__ import annotations

from flask import Response, jsonify
from sqlalchemy import select

from ingest.api.base import ApiError, bp, load_query, page_body
from ingest.api.reconcile_schemas import PayoutDetailSchema, PayoutPageSchema
from ingest.api.schemas import PageQuery
from ingest.app import current_settings
from ingest.queries import paginate
from store.db import session_scope
from store.reconcile_models import SettlementPayout

_query, _page, _detail = PageQuery(), PayoutPageSchema(), PayoutDetailSchema()


@bp.get("/settlements")
def list_payouts() -> Response:
    args = load_query(_query)
    query = select(SettlementPayout).order_by(SettlementPayout.id.desc())
    with session_scope(current_settings().database_url) as s:
        return jsonify(page_body(paginate(s, query, args["page"], args["per_page"]), _page))


@bp.get("/settlements/<int(max=2147483647):payout_id>")
def one_payout(payout_id: int) -> Response:
    with session_scope(current_settings().database_url) as s:
        payout = s.get(SettlementPayout, payout_id)
        if payout is None:
            raise ApiError(404, {"_path": [f"No settlement payout {payout_id}."]})
        return jsonify(_detail.dump(payout))
