"""The OpenAPI 3 document of ``/api/v1/``, generated from the marshmallow schemas (apispec).

Each route is one row of ``OPERATIONS``; the schemas give the parameters, bodies and
responses, so the document cannot drift from what the views validate and return.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

from ingest.api import mapping_schemas as ms
from ingest.api import reconcile_schemas as rc
from ingest.api import schemas as sc
from ingest.api import summary_schemas as su

PREFIX = "/api/v1"
ID_PARAM = {"schema": {"type": "integer", "minimum": 1, "maximum": sc.MAX_ID}, "required": True}
# path, method, summary, query schema, body schema, 200 schema, extra error statuses
OPERATIONS: list[tuple[str, str, str, type[Schema] | None, type[Schema] | None,
                       type[Schema], tuple[int, ...]]] = [
    ("/jobs", "get", "List sync jobs (filters: state, kind, q, pair)", sc.JobQuery, None,
     sc.JobPageSchema, (400,)),
    ("/jobs/{job_id}", "get", "One job: attempts, the Magento order, KashFlow invoice number",
     None, None, sc.JobDetailSchema, (404,)),
    ("/review", "get", "Jobs held for review (needs_review)", sc.PageQuery, None,
     sc.JobPageSchema, (400,)),
    ("/review/requeue", "post", "Resume jobs held for review (or dead) at their failed step",
     None, sc.RequeueJobsRequest, sc.ActionResultSchema, (400, 404, 409)),
    ("/review/discard", "post", "Close jobs held for review (or dead) with a reason", None,
     sc.DiscardRequest, sc.ActionResultSchema, (400, 404, 409)),
    ("/dead-letters", "get",
     "List dead letters (filters: entity, error_class, since, until, pair)",
     sc.LetterQuery, None, sc.DeadLetterPageSchema, (400,)),
    ("/dead-letters/{letter_id}", "get", "One dead letter with its job", None, None,
     sc.DeadLetterDetailSchema, (404,)),
    ("/dead-letters/requeue", "post",
     "Requeue open dead letters: ids, or all matching filters (pair too)",
     None, sc.RequeueLettersRequest, sc.ActionResultSchema, (400, 404, 409)),
    ("/dead-letters/discard", "post", "Close open dead letters without syncing, with a reason",
     None, sc.DiscardRequest, sc.ActionResultSchema, (400, 404, 409)),
    ("/stats", "get", "The overview's numbers, of every pair or one (pair), and per pair",
     sc.StatsQuery, None, sc.StatsSchema, (400,)),
    ("/reconciliation", "get", "Payment reconciliation items (filters: status, day, reason)",
     rc.ReconciliationQuery, None, rc.ReconciliationPageSchema, (400,)),
    ("/reconciliation/{item_id}/resolve", "post",
     "Resolve an open reconciliation item: match, post the missing payment, or dismiss",
     None, rc.ResolveItemRequest, rc.ReconciliationItemSchema, (400, 404, 409)),
    ("/settlements", "get", "Imported gateway payouts, newest first", sc.PageQuery, None,
     rc.PayoutPageSchema, (400,)),
    ("/settlements/{payout_id}", "get", "One payout: its totals and each row with its match",
     None, None, rc.PayoutDetailSchema, (404,)),
    ("/summaries", "get", "Summary mode's summaries, newest day first (filters: state, day, "
     "kind)", su.SummaryQuery, None, su.SummaryPageSchema, (400,)),
    ("/summaries/{summary_id}", "get", "One summary: its lines, each with the orders behind "
     "it, its payments and documents", None, None, su.SummaryDetailSchema, (404,)),
    ("/summaries/{summary_id}/close", "post", "Close and post one summary now, whatever its "
     "day (the worker posts it; audited), as kfsync summary close --id", None, None,
     su.SummaryCloseSchema, (404, 409)),
    ("/mapping/versions", "get", "Mapping profile versions, newest (in force) first", None,
     None, ms.VersionListSchema, (409,)),
    ("/mapping/versions/{version_id}", "get", "One profile version: document, changes, YAML",
     None, None, ms.VersionDetailSchema, (404, 409)),
    ("/mapping/draft", "get", "The draft profile, its changes and validation problems", None,
     None, ms.DraftSchema, (409,)),
    ("/mapping/draft", "post", "Replace the draft with a whole rules document (validated)",
     None, ms.DraftRequest, ms.DraftSchema, (400, 409)),
    ("/mapping/import", "post", "Make a YAML profile the draft (shows its diff)", None,
     ms.ImportRequest, ms.DraftSchema, (400, 409)),
    ("/mapping/publish", "post", "Publish the draft as a new version (refused on errors)",
     None, ms.PublishRequest, ms.VersionSchema, (400, 404, 409)),
    ("/mapping/rollback", "post", "Put an older version back in force, as a new version",
     None, ms.RollbackRequest, ms.VersionSchema, (400, 404, 409)),
    ("/mapping/preview", "get", "The invoice the draft (or a version) would post for a "
     "stored order, the rule behind each line, checks and differences", ms.PreviewQuery,
     None, ms.PreviewSchema, (400, 404, 409)),
    ("/mapping/suggestions", "get", "The assisted-mapping inbox", ms.SuggestionQuery, None,
     ms.SuggestionListSchema, (400, 409)),
    ("/mapping/suggestions/{suggestion_id}/accept", "post",
     "Accept a suggestion into the draft (and learn an alias)", None, ms.AcceptRequest,
     ms.SuggestionSchema, (400, 404, 409)),
    ("/mapping/audit", "get", "Mapping edits, decisions, publishes, rollbacks and imports",
     None, None, ms.AuditListSchema, ()),
]


def _operation(path: str, summary: str, query: type[Schema] | None, body: type[Schema] | None,
               ok: type[Schema], errors: tuple[int, ...]) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "parameters": [], "responses": {
        "200": {"description": "OK", "content": {"application/json": {"schema": ok}}},
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "403": {"$ref": "#/components/responses/Forbidden"},
        "429": {"$ref": "#/components/responses/Throttled"},
    }}
    for status in errors:
        op["responses"][str(status)] = {
            "description": {400: "Invalid request", 404: "No such record",
                            409: "Not in a state that allows this"}[status],
            "content": {"application/json": {"schema": "ErrorSchema"}}}
    if query is not None:
        op["parameters"].append({"in": "query", "schema": query})
    for name in ("job_id", "letter_id", "item_id", "version_id", "suggestion_id", "payout_id",
                 "summary_id"):
        if "{" + name + "}" in path:
            op["parameters"].append({"in": "path", "name": name, **ID_PARAM})
    if body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": body}}}
    return op


@cache
def build_spec() -> dict[str, Any]:
    spec = APISpec(title="kfsync ops API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Jobs, dead letters, review items, payment "
                                        "reconciliation, settlements, summaries and "
                                        "stats. Every route needs "
                                        "Authorization: Bearer <token>: a user's API "
                                        "token (kfsync users token) or KFSYNC_OPS_TOKEN. "
                                        "Reading needs the viewer role, requeue, discard "
                                        "and resolve operator, mapping changes admin."},
                   security=[{"bearer": []}])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("ErrorSchema", schema=sc.ErrorSchema)
    for name, description in (
            ("Unauthorized", "Missing, wrong or revoked token"),
            ("Forbidden", "The token's user lacks the role this needs"),
            ("Throttled", "Too many failed token attempts from this client; wait a minute")):
        spec.components.response(name, {
            "description": description,
            "content": {"application/json": {"schema": "ErrorSchema"}}})
    paths: dict[str, dict[str, Any]] = {}
    for path, method, summary, query, body, ok, errors in OPERATIONS:
        paths.setdefault(path, {})[method] = _operation(path, summary, query, body, ok, errors)
    for path, operations in paths.items():
        spec.path(path=PREFIX + path, operations=operations)
    return spec.to_dict()
