"""The ``/api/v1`` blueprint: bearer auth on every route, JSON error bodies like ingest's
(``{"status": "error", "errors": {field: [messages]}}``), and request parsing helpers."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from marshmallow import Schema, ValidationError

from ingest import auth
from ingest.app import current_settings, current_throttle
from ingest.safejson import BadJson, loads
from ingest.throttle import BEARER_PER_CLIENT
from workers.operations import OperationError

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api/v1")


class ApiError(Exception):
    def __init__(self, status: int, errors: dict[str, Any]) -> None:
        super().__init__(status, errors)
        self.status, self.errors = status, errors


def error(status: int, errors: dict[str, Any]) -> tuple[Response, int]:
    return jsonify(status="error", errors=errors), status


def actor() -> str:
    """The audit log's name for the caller: ``api:<user>`` (``api`` for the ops token)."""
    return auth.actor("api")


def needed_role() -> str:
    """Reading needs ``viewer``; changing the mapping ``admin``; any other write ``operator``."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return "viewer"
    return "admin" if request.path.startswith(f"{bp.url_prefix}/mapping") else "operator"


@bp.before_request
def _require_token() -> tuple[Response, int] | None:
    token = auth.bearer_value(request.headers.get("Authorization"))
    checks = [(BEARER_PER_CLIENT, f"bearer:{request.remote_addr}")]
    if token and current_throttle().blocked(checks):
        log.warning("API token attempts throttled for client %s", request.remote_addr)
        return error(429, {"_auth": ["Too many failed token attempts; wait a minute."]})
    principal = auth.bearer_principal(current_settings(), token) if token else None
    if principal is None:
        if token:
            current_throttle().failed(checks)
            log.warning("refused an API token from client %s (%s %s)", request.remote_addr,
                        request.method, request.path)
        reply, status = error(401, {"_auth": [
            "Send Authorization: Bearer <your API token or KFSYNC_OPS_TOKEN>."]})
        reply.headers["WWW-Authenticate"] = 'Bearer realm="kfsync"'
        return reply, status
    g.kfsync_principal = principal
    if not principal.can(needed_role()):
        return error(403, {"_auth": [f"{principal.name} is a {principal.role}; this needs "
                                     f"the {needed_role()} role."]})
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


def known_pair(data: dict[str, Any]) -> str | None:
    """The ``pair`` filter of a query or body, if given; 400 when it names no pair (a
    misspelt pair would otherwise look like one with nothing in it)."""
    name = data.get("pair")
    if not name:
        return None
    from services.pairs import known

    names = known(current_settings())
    if name not in names:
        raise ApiError(400, {"pair": [f"No pair named {name} (pairs: {', '.join(names)})."]})
    return str(name)


def load_body(schema: Schema) -> dict[str, Any]:
    try:
        payload = loads(request.get_data(cache=False), use_decimal=False)
    except BadJson as exc:
        raise ApiError(400, {"_body": [str(exc)]}) from None
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
