"""marshmallow schemas of ``/api/v1/mapping`` (see ``ingest/api/schemas.py``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ingest.api.schemas import MAX_ID, Strict, Text, UtcDateTime, printable

_COMMENT = Text(2000, load_default=None, allow_none=True,
                metadata={"description": "why (kept with the version and in the audit log)"})


class ChangeSchema(Schema):
    path = fields.String(metadata={"description": "e.g. skus.TSHIRT.nominal_code"})
    kind = fields.String(metadata={"description": "added, removed, changed"})
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class VersionSchema(Schema):
    id = fields.Integer(metadata={"description": "the version number"})
    source = fields.String(metadata={"description": "defaults, file, studio, import, rollback"})
    author = fields.String()
    comment = fields.String(allow_none=True)
    created_at = UtcDateTime()
    parent_id = fields.Integer(allow_none=True)
    rollback_of = fields.Integer(allow_none=True)
    changes = fields.List(fields.Nested(ChangeSchema))


class VersionListSchema(Schema):
    in_force = fields.Integer(metadata={"description": "the version applied to new work"})
    items = fields.List(fields.Nested(VersionSchema))


class VersionDetailSchema(VersionSchema):
    document = fields.Dict(metadata={"description": "the whole rules document"})
    yaml = fields.String(metadata={"description": "the same, as an importable YAML export"})


class ProblemSchema(Schema):
    severity = fields.String(metadata={"description": "error (blocks publishing) or warning"})
    path = fields.String()
    message = fields.String()


class DraftSchema(Schema):
    exists = fields.Boolean()
    document = fields.Dict(allow_none=True)
    base_version = fields.Integer(allow_none=True)
    updated_by = fields.String(allow_none=True)
    updated_at = UtcDateTime(allow_none=True)
    changes = fields.List(fields.Nested(ChangeSchema))
    problems = fields.List(fields.Nested(ProblemSchema))


class DraftRequest(Strict):
    document = fields.Dict(required=True, metadata={
        "description": "the whole rules document (as GET /mapping/versions/{id} returns)"})
    comment = _COMMENT


class ImportRequest(Strict):
    yaml = fields.String(required=True, validate=[validate.Length(min=1, max=2_000_000),
                                                   printable],
                         metadata={"description": "a profile export or mapping file"})


class PublishRequest(Strict):
    comment = _COMMENT


class RollbackRequest(Strict):
    version = fields.Integer(required=True, strict=True,
                             validate=validate.Range(min=1, max=MAX_ID))
    comment = _COMMENT


class PreviewQuery(Strict):
    order = Text(64, required=True,
                 metadata={"description": "job id, Magento entity_id or increment_id"})
    version = fields.Integer(validate=validate.Range(min=1, max=MAX_ID), metadata={
        "description": "preview this version instead of the draft"})


class FindingSchema(Schema):
    check = fields.String()
    severity = fields.String()
    message = fields.String()


class PreviewSchema(Schema):
    job_id = fields.Integer()
    order_ref = fields.String(allow_none=True)
    label = fields.String()
    customer_code = fields.String(allow_none=True)
    body = fields.Raw(allow_none=True, metadata={"description": "the exact POST /invoices body"})
    rules = fields.List(fields.String(), metadata={"description": "the rule behind each line"})
    error = fields.String(allow_none=True)
    penny = fields.String()
    findings = fields.List(fields.Nested(FindingSchema))
    notes = fields.List(fields.String())
    changes = fields.List(fields.String(), metadata={
        "description": "differences from the published profile's invoice"})
    action = fields.String(metadata={"description": "the decision: invoice, wait, skip, review"})
    path = fields.List(fields.List(fields.String()), metadata={
        "description": "the order's path through the flow: [node, what happens there]"})
    routes = fields.List(fields.String(), metadata={
        "description": "the profile's routes that match the order (docs/mapping.md §16)"})


class SuggestionQuery(Strict):
    status = fields.String(load_default="open", validate=validate.OneOf(
        ("open", "accepted", "rejected", "applied")))


class SuggestionSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "sku, payment, vat"})
    source_key = fields.String()
    source_label = fields.String(allow_none=True)
    status = fields.String()
    chosen = fields.String(allow_none=True)
    candidates = fields.Dict(metadata={"description": '{"top": [target, label, confidence, '
                                                      'reason, auto, nominal_code]}'})


class SuggestionListSchema(Schema):
    items = fields.List(fields.Nested(SuggestionSchema))


class AcceptRequest(Strict):
    choice = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=3),
                            metadata={"description": "1 = the best suggestion"})


class AuditSchema(Schema):
    id = fields.Integer()
    at = UtcDateTime()
    actor = fields.String()
    action = fields.String()
    target = fields.String()
    note = fields.String(allow_none=True)


class AuditListSchema(Schema):
    items = fields.List(fields.Nested(AuditSchema))
