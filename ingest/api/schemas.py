"""marshmallow schemas of the ops API: query strings, request bodies and responses.

They validate what comes in (unknown fields are errors, so a typo never widens a requeue) and
shape what goes out; ``ingest/api/openapi.py`` turns them into the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ingest.queries import as_utc
from store.models import JobState

MAX_PER_PAGE = 200
MAX_IDS = 5000  # one bulk action, like Zapier's replay of 5,000 at a time
MAX_ID = 2**31 - 1  # the database's integer ids; larger numbers cannot name a row


def printable(value: str) -> None:
    """No control characters (PostgreSQL text cannot hold NUL; nobody types the others)."""
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValidationError("Control characters are not allowed.")


def Text(max_len: int, **kw: Any) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=max_len), printable], **kw)


def IdList(**kw: Any) -> fields.List[Any]:
    return fields.List(fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID)),
                       validate=validate.Length(min=1, max=MAX_IDS), **kw)


class UtcDateTime(fields.DateTime):
    """ISO 8601 in UTC, with the offset (SQLite hands back naive UTC values)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return super()._serialize(as_utc(value), attr, obj, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        assert isinstance(parsed, datetime)
        try:
            result = as_utc(parsed)
        except OverflowError:
            raise ValidationError("Not a valid datetime.") from None
        assert result is not None
        return result


class Strict(Schema):
    class Meta:
        unknown = RAISE


class PageQuery(Strict):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class JobQuery(PageQuery):
    state = fields.String(validate=validate.OneOf([s.value for s in JobState]))
    kind = Text(32)
    q = Text(128, metadata={"description": "order number or id, customer code, invoice "
                                               "number, or words of the reason"})
    pair = Text(32, metadata={"description": "only this integration pair's jobs"})


class LetterFilterFields(Strict):
    entity = Text(32, metadata={"description": 'a job kind ("order") or "event"'})
    error_class = Text(32, metadata={"description": "transient, auth, ambiguous, error..."})
    since = UtcDateTime(metadata={"description": "created at or after (ISO 8601, UTC if naive)"})
    until = UtcDateTime(metadata={"description": "created before (ISO 8601, UTC if naive)"})
    pair = Text(32, metadata={"description": "only this integration pair's letters (its "
                                             "job's pair, or its event's)"})


class LetterQuery(PageQuery, LetterFilterFields):
    include_resolved = fields.Boolean(load_default=False)


class AttemptSchema(Schema):
    id = fields.Integer()
    step = fields.String()
    outcome = fields.String()
    http_status = fields.Integer(allow_none=True)
    duration_ms = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    task_id = fields.String(allow_none=True)
    created_at = UtcDateTime()


class JobSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    magento_key = fields.String(metadata={"description": "Magento entity_id"})
    pair = fields.String(metadata={"description": "the integration pair (default: the "
                                                  "KFSYNC_* shop)"})
    magento_ref = fields.String(allow_none=True, metadata={"description": "increment_id"})
    state = fields.String()
    step = fields.String()
    reason = fields.String(allow_none=True)
    customer_code = fields.String(allow_none=True)
    invoice_number = fields.Integer(allow_none=True,
                                    metadata={"description": "KashFlow invoice number"})
    payment_ref = fields.String(allow_none=True)
    profile_version = fields.Integer(allow_none=True, metadata={
        "description": "the mapping profile version that built its invoice"})
    due_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class JobDetailSchema(JobSchema):
    attempts = fields.List(fields.Nested(AttemptSchema))
    document = fields.Dict(allow_none=True, metadata={"description": "the Magento order"})
    plan = fields.Dict(allow_none=True)
    links = fields.Dict(keys=fields.String(), values=fields.String(),
                        metadata={"description": "KashFlow keys linked to this order"})
    open_dead_letters = fields.List(fields.Integer())
    ledger = fields.Dict(allow_none=True, metadata={
        "description": "an order's ledger: each document and payment posted (rows: doc, ref, "
                       "number, amount, at, why), what is still due (negative: overpaid) and "
                       "the related edit or original (services/ledger.py)"})
    magento_url = fields.String(metadata={"description": "the order in Magento's REST API"})
    kashflow_url = fields.String(allow_none=True,
                                 metadata={"description": "the invoice in KashFlow's REST API"})
    magento_admin_url = fields.String(metadata={"description": "the order in the Magento admin"})
    kashflow_page_url = fields.String(allow_none=True, metadata={
        "description": "the invoice in KashFlow's web app (KFSYNC_KASHFLOW_INVOICE_URL)"})


class DeadLetterSchema(Schema):
    id = fields.Integer()
    job_id = fields.Integer(allow_none=True)
    event_id = fields.Integer(allow_none=True)
    step = fields.String()
    error_class = fields.String()
    reason = fields.String()
    payload_ref = fields.String()
    created_at = UtcDateTime()
    resolved_at = UtcDateTime(allow_none=True)
    resolution = fields.String(allow_none=True)
    resolution_note = fields.String(allow_none=True)


class DeadLetterDetailSchema(DeadLetterSchema):
    job = fields.Nested(JobSchema, allow_none=True)


class PageSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class JobPageSchema(PageSchema):
    items = fields.List(fields.Nested(JobSchema))


class DeadLetterPageSchema(PageSchema):
    items = fields.List(fields.Nested(DeadLetterSchema))


class RequeueLettersRequest(LetterFilterFields):
    ids = IdList()
    all = fields.Boolean(load_default=False,
                         metadata={"description": "every open letter matching the filters"})

    @validates_schema
    def _ids_or_all(self, data: dict[str, Any], **_: Any) -> None:
        if bool(data.get("ids")) == bool(data.get("all")):
            raise ValidationError("Give ids, or all=true with optional filters.", "_schema")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("A reason is required.")


class DiscardRequest(Strict):
    ids = IdList(required=True)
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=2000),
                                                    _not_blank, printable])


class RequeueJobsRequest(Strict):
    ids = IdList(required=True)


class ActionResultSchema(Schema):
    status = fields.String(metadata={"description": '"ok"'})
    action = fields.String(metadata={"description": "requeue or discard"})
    ids = fields.List(fields.Integer())
    count = fields.Integer()


class HourSchema(Schema):
    hour = UtcDateTime()
    orders = fields.Integer()


class ErrorRateSchema(Schema):
    window_hours = fields.Integer()
    attempts = fields.Integer()
    failed = fields.Integer()
    rate = fields.Float()


class StatsQuery(Strict):
    pair = Text(32, metadata={"description": "this integration pair's numbers only"})


class PairStatsSchema(Schema):
    pair = fields.String()
    enabled = fields.Boolean(metadata={"description": "false: kfsync pairs disable"})
    jobs_by_state = fields.Dict(keys=fields.String(), values=fields.Integer())
    synced_24h = fields.Integer(metadata={"description": "orders done in the last 24 hours"})
    dead_letters_open = fields.Integer()
    ingest_waiting = fields.Integer(allow_none=True, metadata={
        "description": "events waiting on the pair's ingest queue (null: Redis down)"})
    circuit_open = fields.Boolean(metadata={"description": "its KashFlow circuit is open"})


class StatsSchema(Schema):
    pairs = fields.List(fields.Nested(PairStatsSchema), metadata={
        "description": "every integration pair's own numbers, default first"})
    jobs_by_state = fields.Dict(keys=fields.String(), values=fields.Integer())
    synced_per_hour = fields.List(fields.Nested(HourSchema))
    backlog = fields.Dict(keys=fields.String(), values=fields.Integer(allow_none=True),
                          metadata={"description": "messages waiting per queue (null: Redis "
                                                   "down)"})
    error_rate = fields.Nested(ErrorRateSchema)
    last_success = fields.Dict(keys=fields.String(), values=UtcDateTime(allow_none=True))
    open_circuits = fields.Dict(keys=fields.String(), values=fields.String())
    dead_letters_open = fields.Dict(keys=fields.String(), values=fields.Integer())


class ErrorSchema(Schema):
    status = fields.String(metadata={"description": '"error"'})
    errors = fields.Dict(keys=fields.String(), values=fields.Raw(),
                         metadata={"description": "field -> messages; _auth, _path, "
                                                  "_operation for non-field errors"})
