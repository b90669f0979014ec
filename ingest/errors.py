"""App-wide error replies and the request-body bound.

Machine clients (webhooks, the ops API, health) get JSON errors in the shape ingest uses,
``{"status": "error", "errors": {field: [messages]}}``, for a failure nobody caught too:
a 503 when the database is the cause (retry later), else a 500 that was logged. The dashboard
keeps its HTML pages.
"""

from __future__ import annotations

import io

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import InternalServerError, RequestEntityTooLarge

MAX_BODY_BYTES = 1024 * 1024  # webhooks over 1 MiB are refused with 413 before being read


def init_app(app: Flask) -> None:
    app.before_request(bound_chunked_body)
    app.register_error_handler(413, too_large)
    app.register_error_handler(404, not_found)
    app.register_error_handler(405, bad_method)
    app.register_error_handler(InternalServerError, internal_error)


def error(status: int, field: str, message: str) -> tuple[Response, int]:
    return jsonify(status="error", errors={field: [message]}), status


def bound_chunked_body() -> None:
    """A body without ``Content-Length`` (chunked) over the limit is a 413, as a declared one
    is: Werkzeug would silently cut it at the limit, and the cut body then failed its
    signature (401) or its parse (400), telling the sender the wrong thing."""
    if request.content_length is not None or "wsgi.input_terminated" not in request.environ:
        return
    body = request.environ["wsgi.input"].read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise RequestEntityTooLarge()
    request.environ["wsgi.input"] = io.BytesIO(body)
    request.environ["CONTENT_LENGTH"] = str(len(body))


def too_large(_: Exception) -> tuple[Response, int]:
    return error(413, "_body", f"Body larger than {MAX_BODY_BYTES} bytes.")


def not_found(_: Exception) -> tuple[Response, int]:
    return error(404, "_path", "Not found.")


def bad_method(_: Exception) -> tuple[Response, int]:
    return error(405, "_method", "Method not allowed.")


def internal_error(exc: InternalServerError) -> tuple[Response | str, int]:
    """Flask has logged the exception already (with its traceback, secrets scrubbed)."""
    if request.blueprint == "dashboard":
        return exc.get_body(), 500
    if isinstance(exc.original_exception, DBAPIError):
        return error(503, "_service", "Database unavailable or not migrated; retry later.")
    return error(500, "_service", "Internal error; it was logged.")
