"""The OpenAPI document validates, matches the routes, and schemathesis finds no 5xx."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.unit.ingest.ops_helpers import AUTH, dead_job, make_app

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
def app(db_url: str, redis_url: str) -> Flask:
    app = make_app(db_url, redis_url)
    dead_job(db_url, 1)  # something to find: job 1 with its dead letter 1
    return app


def test_openapi_document_is_valid_and_covers_every_api_route(app: Flask) -> None:
    reply = app.test_client().get("/api/v1/openapi.json", headers=AUTH)
    assert reply.status_code == 200
    doc = reply.get_json()
    validate(doc)
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json":
            path = rule.rule.replace("<int(max=2147483647):", "{").replace(">", "}")
            served |= {(path, m) for m in rule.methods or () if m in ("GET", "POST")}
    assert documented == served
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http",
                                                                "scheme": "bearer"}


def test_api_answers_generated_requests_without_a_server_error(app: Flask) -> None:
    """Every operation, fed schemathesis's generated requests (valid and invalid), answers
    without a 5xx, with a documented status and a body matching its schema."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=AUTH)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 28
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            case.call_and_validate(headers=AUTH, checks=CHECKS)

        run()
