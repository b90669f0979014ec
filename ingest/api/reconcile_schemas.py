"""marshmallow schemas of ``/api/v1/reconciliation`` (see ``ingest/api/schemas.py``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ingest.api.schemas import PageQuery, PageSchema, Strict, Text, UtcDateTime, printable
from store.reconcile_models import ItemReason, ItemStatus

ACTIONS = ("match", "post", "dismiss")


class ReconciliationQuery(PageQuery):
    status = fields.String(load_default=ItemStatus.OPEN.value,
                           validate=validate.OneOf([s.value for s in ItemStatus]))
    day = fields.Date(metadata={"description": "the day reconciled (YYYY-MM-DD)"})
    reason = fields.String(validate=validate.OneOf([r.value for r in ItemReason]))
    pair = Text(32, metadata={"description": "only this integration pair's items"})


class ReconciliationItemSchema(Schema):
    id = fields.Integer()
    pair = fields.String(metadata={"description": "the integration pair (docs/pairs.md)"})
    day = fields.Date()
    reason = fields.String(metadata={"description": ", ".join(r.value for r in ItemReason)})
    status = fields.String(metadata={"description": ", ".join(s.value for s in ItemStatus)})
    order_key = fields.String(metadata={"description": "Magento order entity_id"})
    order_ref = fields.String(allow_none=True, metadata={"description": "increment_id"})
    payment_method = fields.String(allow_none=True)
    txn_id = fields.String(allow_none=True)
    invoice_number = fields.Integer(allow_none=True)
    magento_amount = fields.Decimal(as_string=True, allow_none=True)
    kashflow_amount = fields.Decimal(as_string=True, allow_none=True)
    detail = fields.String(allow_none=True)
    created_at = UtcDateTime()
    resolved_at = UtcDateTime(allow_none=True)
    resolved_by = fields.String(allow_none=True)
    resolution_note = fields.String(allow_none=True)


class ReconciliationPageSchema(PageSchema):
    items = fields.List(fields.Nested(ReconciliationItemSchema))


class ResolveItemRequest(Strict):
    action = fields.String(required=True, validate=validate.OneOf(ACTIONS), metadata={
        "description": "match (it balances), post (the payments worker posts the missing "
                       "amount on the invoice, once; the item answers 'posting', then turns "
                       "'posted'), dismiss (close; needs a note as the reason)"})
    note = fields.String(validate=[validate.Length(min=1, max=2000), printable])


class PayoutSchema(Schema):
    id = fields.Integer()
    format = fields.String(metadata={"description": "stripe, paypal, braintree or csv"})
    payout_ref = fields.String(metadata={"description": "the gateway's payout id (or the "
                                                        "export's digest)"})
    source = fields.String(allow_none=True, metadata={"description": "the file imported"})
    gateway_method = fields.String(metadata={"description": "Magento payment method whose "
                                                            "mapping names the clearing account"})
    currency = fields.String()
    period_start = fields.Date(allow_none=True)
    period_end = fields.Date(allow_none=True)
    row_count = fields.Integer()
    matched = fields.Integer()
    unmatched = fields.Integer()
    matched_gross = fields.Decimal(as_string=True)
    unmatched_gross = fields.Decimal(as_string=True)
    fees = fields.Decimal(as_string=True)
    payout_amount = fields.Decimal(as_string=True, metadata={"description": "what reached "
                                                                            "the bank"})
    imported_at = UtcDateTime()
    imported_by = fields.String()


class PayoutRowSchema(Schema):
    line = fields.Integer()
    txn_id = fields.String()
    kind = fields.String(metadata={"description": "charge, refund, fee, payout or other"})
    gross = fields.String()
    fee = fields.String()
    net = fields.String()
    day = fields.String(allow_none=True)
    kashflow_number = fields.Integer(allow_none=True, metadata={
        "description": "the KashFlow invoice or credit note it matched (null: unmatched)"})


class PayoutDetailSchema(PayoutSchema):
    rows = fields.List(fields.Nested(PayoutRowSchema))


class PayoutPageSchema(PageSchema):
    items = fields.List(fields.Nested(PayoutSchema))
