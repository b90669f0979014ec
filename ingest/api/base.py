"""The ``/api/v1`` blueprint: bearer auth on every route, JSON error bodies like ingest's
(``{"status": "error", "errors": {field: [messages]}}``), and request parsing helpers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import Schema, ValidationError

from ingest.app import current_settings
from ingest.auth import bearer_matches
from workers.operations import OperationError

bp = Blueprint("api", __name__, url_prefix="/api/v1")
ACTOR = "api"


class ApiError(Exception):
    def __init__(self, status: int, errors: dict[str, Any]) -> None:
        super().__init__(status, errors)
        self.status, self.errors = status, errors


def error(status: int, errors: dict[str, Any]) -> tuple[Response, int]:
    return jsonify(status="error", errors=errors), status


@bp.before_request
def _require_token() -> tuple[Response, int] | None:
    if not bearer_matches(current_settings(), request.headers.get("Authorization")):
        reply, status = error(401, {"_auth": ["Send Authorization: Bearer <KFSYNC_OPS_TOKEN>."]})
        reply.headers["WWW-Authenticate"] = 'Bearer realm="kfsync"'
        return reply, status
    return None


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> tuple[Response, int]:
    return error(exc.status, exc.errors)


@bp.errorhandler(ValidationError)
def _invalid(exc: ValidationError) -> tuple[Response, int]:
    messages = exc.normalized_messages()  # type: ignore[no-untyped-call]
    return error(400, messages if isinstance(messages, dict) else {"_schema": messages})


@bp.errorhandler(OperationError)
def _refused(exc: OperationError) -> tuple[Response, int]:
    # "no open dead letter with id 4" / "no job with id 9" -> 404; anything else -> 409
    status = 404 if str(exc).startswith("no ") else 409
    return error(status, {"_operation": [str(exc)]})


def load_query(schema: Schema) -> dict[str, Any]:
    data = schema.load(request.args.to_dict())
    assert isinstance(data, dict)
    return data


def load_body(schema: Schema) -> dict[str, Any]:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ApiError(400, {"_body": ["Expected a JSON object."]})
    data = schema.load(payload)
    assert isinstance(data, dict)
    return data


def page_body(page: Any, schema: Schema) -> dict[str, Any]:
    """A page of results: ``items``, ``total``, ``page``, ``per_page``."""
    body = schema.dump({"items": page.items, "total": page.total, "page": page.page,
                        "per_page": page.per_page})
    assert isinstance(body, dict)
    return body


def action_body(action: str, ids: list[int]) -> dict[str, Any]:
    return {"status": "ok", "action": action, "ids": ids, "count": len(ids)}
