"""The marshmallow schemas of ``/api/v1/summaries`` (summary mode, docs/accounting-modes.md)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ingest.api.schemas import PageQuery, PageSchema, UtcDateTime
from store.summary_models import SummaryState


class SummaryQuery(PageQuery):
    state = fields.String(validate=validate.OneOf([s.value for s in SummaryState]))
    day = fields.Date(metadata={"description": "only the summaries of this day (UTC)"})
    kind = fields.String(validate=validate.OneOf(("invoice", "credit")))


class SummarySchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "invoice (orders) or credit (credit memos)"})
    store = fields.String(metadata={"description": "Magento store id"})
    currency = fields.String()
    day = fields.Date()
    state = fields.String(metadata={"description": "open, closing or posted"})
    documents = fields.Integer(metadata={"description": "orders or credit memos in it"})
    number = fields.Integer(allow_none=True, metadata={
        "description": "the KashFlow invoice or credit note number, once posted"})
    net = fields.Decimal(as_string=True, allow_none=True)
    vat = fields.Decimal(as_string=True, allow_none=True)
    gross = fields.Decimal(as_string=True, allow_none=True)
    posted_at = UtcDateTime(allow_none=True)
    error = fields.String(allow_none=True, metadata={"description": "why the last close "
                                                                    "failed"})


class SourceSchema(Schema):
    document = fields.String(metadata={"description": "order, creditmemo, capture (a later "
                                                      "capture of an order) or cancel"})
    magento_ref = fields.String(allow_none=True)
    magento_key = fields.String()
    job_id = fields.Integer(allow_none=True)
    document_day = fields.String()
    late = fields.Boolean(metadata={"description": "its own day was closed: booked here"})
    net = fields.Decimal(as_string=True)
    vat = fields.Decimal(as_string=True)


class SummaryLineSchema(Schema):
    description = fields.String()
    kind = fields.String(metadata={"description": "sales, shipping, discount, adjustment, "
                                                  "vat_rounding or offset"})
    nominal = fields.Integer()
    vat_level = fields.String()
    net = fields.Decimal(as_string=True)
    vat = fields.Decimal(as_string=True)
    sources = fields.List(fields.Nested(SourceSchema))


class DocumentSchema(SourceSchema):
    gross = fields.Decimal(as_string=True)


class SummaryPaymentSchema(Schema):
    method = fields.String()
    amount = fields.String()
    account_id = fields.Integer(allow_none=True)
    comment = fields.String()
    invoices = fields.List(fields.Integer(), metadata={
        "description": "the KashFlow invoices (or notes) it is allocated to: this summary's, "
                       "and those holding orders whose late captures it carries"})


class SummaryDetailSchema(SummarySchema):
    customer_code = fields.String(allow_none=True)
    post_attempts = fields.Integer()
    lines = fields.List(fields.Nested(SummaryLineSchema), metadata={
        "description": "as posted, each with the documents behind it"})
    open_lines = fields.List(fields.Nested(SummaryLineSchema), metadata={
        "description": "an unposted summary's groups so far"})
    payments = fields.List(fields.Nested(SummaryPaymentSchema))
    entries = fields.List(fields.Nested(DocumentSchema), metadata={
        "description": "every order or credit memo in it"})


class SummaryCloseSchema(Schema):
    id = fields.Integer()
    state = fields.String(metadata={"description": "its state when the close was queued"})
    queued = fields.Boolean(metadata={"description": "sent to the worker (false: the broker "
                                                     "did not answer)"})
    message = fields.String()


class SummaryPageSchema(PageSchema):
    items = fields.List(fields.Nested(SummarySchema))
