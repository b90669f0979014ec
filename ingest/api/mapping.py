"""``/api/v1/mapping``: the versioned mapping profile (``services.profiles``, ``services.studio``).

Versions (list, one with its document and YAML), the draft (read, replace), import, publish,
rollback, preview of a stored order, the suggestion inbox (list, accept) and the mapping
audit trail. Writes are audited as ``api:<user>``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from sqlalchemy import select

from ingest.api import mapping_schemas as ms
from ingest.api.base import ApiError, actor, bp, load_body, load_query
from ingest.app import current_settings
from mappings.errors import MappingError
from services import profiles, studio, studio_preview, studio_suggestions
from store.db import session_scope
from store.models import AuditEntry


def _url() -> str:
    settings = current_settings()
    try:
        profiles.seed(settings.database_url, settings.mapping_file)
    except MappingError as exc:
        raise ApiError(409, {"_mapping": [str(exc)]}) from exc
    return settings.database_url


def _refused(exc: Exception, status: int = 409) -> ApiError:
    text = str(exc)
    return ApiError(404 if text.startswith("no ") else status, {"_mapping": [text]})


@bp.get("/mapping/versions")
def mapping_versions() -> Response:
    items = profiles.versions(_url())
    return jsonify(ms.VersionListSchema().dump({"in_force": items[0].id, "items": items}))


@bp.get("/mapping/versions/<int(max=2147483647):version_id>")
def mapping_version(version_id: int) -> Response:
    url = _url()
    try:
        view = profiles.get_version(url, version_id)
    except profiles.ProfileError as exc:
        raise _refused(exc) from exc
    body = {**view.__dict__, "yaml": profiles.export_yaml(url, version_id)}
    return jsonify(ms.VersionDetailSchema().dump(body))


def _draft_body(url: str) -> dict[str, Any]:
    draft = profiles.draft(url)
    problems = studio.problems(url)
    if draft is None:
        return {"exists": False, "document": None, "base_version": None, "updated_by": None,
                "updated_at": None, "changes": [], "problems": problems}
    return {"exists": True, "document": draft.document, "base_version": draft.base_version,
            "updated_by": draft.updated_by, "updated_at": draft.updated_at,
            "changes": [c.to_dict() for c in draft.changes], "problems": problems}


@bp.get("/mapping/draft")
def mapping_draft() -> Response:
    return jsonify(ms.DraftSchema().dump(_draft_body(_url())))


@bp.post("/mapping/draft")
def mapping_save_draft() -> Response:
    body = load_body(ms.DraftRequest())
    url = _url()
    try:
        profiles.save_draft(url, body["document"], actor(), comment=body.get("comment"))
    except MappingError as exc:
        raise ApiError(400, {"document": str(exc).split("; ")}) from exc
    return jsonify(ms.DraftSchema().dump(_draft_body(url)))


@bp.post("/mapping/import")
def mapping_import() -> Response:
    body = load_body(ms.ImportRequest())
    url = _url()
    try:
        profiles.import_yaml(url, body["yaml"], actor(), source_name="api import")
    except MappingError as exc:
        raise ApiError(400, {"yaml": str(exc).split("; ")}) from exc
    return jsonify(ms.DraftSchema().dump(_draft_body(url)))


@bp.post("/mapping/publish")
def mapping_publish() -> Response:
    body = load_body(ms.PublishRequest())
    try:
        view = studio.publish(_url(), actor(), body.get("comment"))
    except profiles.ProfileError as exc:
        raise _refused(exc) from exc
    return jsonify(ms.VersionSchema().dump(view))


@bp.post("/mapping/rollback")
def mapping_rollback() -> Response:
    body = load_body(ms.RollbackRequest())
    try:
        view = profiles.rollback(_url(), body["version"], actor(), body.get("comment"))
    except profiles.ProfileError as exc:
        raise _refused(exc) from exc
    return jsonify(ms.VersionSchema().dump(view))


@bp.get("/mapping/preview")
def mapping_preview() -> Response:
    args = load_query(ms.PreviewQuery())
    try:
        chosen, _ = studio_preview.preview(_url(), args["order"], version=args.get("version"))
    except profiles.ProfileError as exc:
        raise _refused(exc) from exc
    body = {**chosen.__dict__, "rules": [line.rule for line in chosen.lines]}
    return jsonify(ms.PreviewSchema().dump(body))


@bp.get("/mapping/suggestions")
def mapping_suggestions() -> Response:
    args = load_query(ms.SuggestionQuery())
    rows = studio_suggestions.suggestions(_url(), args["status"])
    return jsonify(ms.SuggestionListSchema().dump({"items": rows}))


@bp.post("/mapping/suggestions/<int(max=2147483647):suggestion_id>/accept")
def mapping_accept(suggestion_id: int) -> Response:
    body = load_body(ms.AcceptRequest())
    try:
        row = studio_suggestions.accept(_url(), suggestion_id, actor(), body["choice"] - 1)
    except profiles.ProfileError as exc:
        raise _refused(exc) from exc
    return jsonify(ms.SuggestionSchema().dump(row))


@bp.get("/mapping/audit")
def mapping_audit() -> Response:
    with session_scope(current_settings().database_url) as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action.like("mapping-%"))
                              .order_by(AuditEntry.id.desc()).limit(500)))
    return jsonify(ms.AuditListSchema().dump({"items": rows}))
