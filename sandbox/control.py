"""Control endpoints both sandboxes share, under ``/_sandbox/`` (no auth, never faulted):

- ``POST /_sandbox/faults`` one rule or a list (see ``sandbox.faults``) -> 201 ``{"rules"}``
- ``GET /_sandbox/faults`` -> ``{"rules": [...], "settings": {...}}``
- ``DELETE /_sandbox/faults`` (all) and ``DELETE /_sandbox/faults/<id>`` (one)
- ``GET /_sandbox/calls`` -> ``{"total", "calls": {"METHOD /path": n}, "statuses": {"429": n},
  "by_route": {"METHOD /path": {"201": n, "dropped": n}},
  "rate_limited", "faults": {kind: n}}``; ``DELETE /_sandbox/calls`` zeroes the counters
- ``GET|POST /_sandbox/settings`` ``{"latency_ms": n, "rate_limit": {"rate", "burst"} | null}``
  plus the server's own settings (KashFlow: ``session_idle_timeout_s``)
- ``POST /_sandbox/reset`` restores the seed data and clears faults, settings and counters
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from flask import Blueprint, Flask, Response, request

from sandbox.faults import FaultRegistry, RuleError
from sandbox.jsonhttp import BadJson, json_response, read_json


class ServerSettings(Protocol):
    """Settings a server adds to the shared ones; ``apply_settings`` raises ``ValueError``."""

    def apply_settings(self, body: dict[str, Any]) -> None: ...

    def settings(self) -> dict[str, Any]: ...


def control_error(message: str, status: int = 400) -> Response:
    return json_response({"error": message}, status)


def register_control(app: Flask, registry: FaultRegistry, reset: Callable[[], None],
                     extra: ServerSettings | None = None) -> Blueprint:
    """Add the shared ``/_sandbox/`` endpoints to ``app``; returns the blueprint for more."""
    bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")

    def all_settings() -> dict[str, Any]:
        return {**registry.settings(), **(extra.settings() if extra else {})}

    @bp.post("/reset")
    def reset_all() -> Response:
        registry.reset()
        reset()
        return json_response({"status": "reset"})

    @bp.post("/faults")
    def add_faults() -> Response:
        try:
            rules = registry.add(read_json(request))
        except (BadJson, RuleError) as exc:
            return control_error(str(exc))
        return json_response({"rules": [r.describe() for r in rules]}, 201)

    @bp.get("/faults")
    def list_faults() -> Response:
        return json_response({"rules": registry.rules(), "settings": all_settings()})

    @bp.delete("/faults")
    @bp.delete("/faults/<int:rule_id>")
    def clear_faults(rule_id: int | None = None) -> Response:
        registry.clear(rule_id)
        return json_response({"rules": registry.rules()})

    @bp.get("/calls")
    def calls() -> Response:
        return json_response(registry.calls.snapshot())

    @bp.delete("/calls")
    def zero_calls() -> Response:
        registry.calls.reset()
        return json_response(registry.calls.snapshot())

    @bp.get("/settings")
    def get_settings() -> Response:
        return json_response(all_settings())

    @bp.post("/settings")
    def post_settings() -> Response:
        try:
            body = read_json(request)
            if not isinstance(body, dict):
                raise BadJson("settings are a JSON object")
            if extra is not None:
                extra.apply_settings(body)
            registry.update_settings(body)
        except (BadJson, ValueError) as exc:
            return control_error(str(exc))
        return json_response(all_settings())

    return bp


def upsert_body(parse: Callable[[Any], Any]) -> Response:
    """Run ``parse`` on the JSON body (one document or a list); 400 on ``ValueError``."""
    try:
        body = read_json(request)
        if isinstance(body, list):
            return json_response([parse(doc) for doc in body])
        return json_response(parse(body))
    except (BadJson, ValueError) as exc:
        return control_error(str(exc))
