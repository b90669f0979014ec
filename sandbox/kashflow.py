"""The KashFlow REST sandbox: ``create_app()`` serves ``/v2/...`` (base ``.../v2``).

Strict where KashFlow is (or is assumed to be, see API-SUBSET): a two-step login, then every
call needs ``Authorization: KfToken <SessionToken>`` (401 ``InvalidSessionToken``); unknown
customer codes, products or nominal codes on invoices, duplicate customer codes and invoice
numbers, VAT that does not add up, unknown bank accounts or payment methods, a product code
taken under its nominal (``POST /products``, see the project's docs/api-subset.md) -> 400.
Errors are ``{"Error": ..., "Message": ...}``; lists are ``{"Data", "MetaData"}`` with
``page``/``perpage``, except the reference lists, which are bare arrays.

Control endpoints (no auth), besides the shared ones in ``sandbox.control``:
``POST /_sandbox/customers`` (a customer made by hand: upsert by code), ``POST
/_sandbox/products`` (upsert by ``NominalCode`` + ``Code``), ``DELETE
/_sandbox/products/<nominal>/<code>``, ``GET /_sandbox/state``
(customers, invoices with their payment lines, products, nominals, login state),
``POST /_sandbox/expire-sessions``; settings add ``session_idle_timeout_s``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from sandbox.control import control_error, register_control, upsert_body
from sandbox.faults import FaultRegistry, install
from sandbox.jsonhttp import BadJson, json_response, read_json
from sandbox.kashflow_docs import KashFlowError, rejected
from sandbox.kashflow_session import Sessions
from sandbox.kashflow_store import KashFlowStore
from sandbox.webpages import register_kashflow_pages

API_PREFIX = "/v2"
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 500
INVALID_TOKEN = KashFlowError(401, "InvalidSessionToken", "Session token provided is invalid.")


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    return {"Error": code, "Message": message}


def create_app(store: KashFlowStore | None = None) -> Flask:
    """The KashFlow sandbox app; state in ``app.extensions["sandbox"]``."""
    app = Flask(__name__)
    store = store or KashFlowStore()
    faults, sessions = FaultRegistry(), Sessions()
    app.extensions["sandbox"] = {"store": store, "faults": faults, "sessions": sessions}
    install(app, faults, API_PREFIX, error_body)

    @app.before_request
    def authenticate() -> Response | None:
        if not request.path.startswith(API_PREFIX + "/") or request.url_rule is None:
            return None
        if request.endpoint in ("begin_login", "complete_login"):
            return None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "kftoken" and sessions.touch(token.strip()):
            return None
        return INVALID_TOKEN.response()

    _register_errors(app)
    _register_session(app, sessions)
    _register_customers(app, store)
    _register_invoices(app, store)
    _register_reference(app, store)
    register_kashflow_pages(app, store.invoice)

    def reset() -> None:
        store.reset()
        sessions.reset()

    control = register_control(app, faults, reset, sessions)
    control.add_url_rule("/customers", "seed_customers", methods=["POST"], view_func=lambda:
                         upsert_body(lambda doc: store.create_customer(doc, replace=True)))
    control.add_url_rule("/products", "seed_products", methods=["POST"],
                         view_func=lambda: upsert_body(store.put_product))
    control.add_url_rule("/products/<int:nominal>/<code>", "delete_product",
                         methods=["DELETE"], view_func=lambda nominal, code: _delete_product(
                             store, nominal, code))
    control.add_url_rule("/state", "state", view_func=lambda: json_response(
        {**store.state(), "account": sessions.describe()}))
    control.add_url_rule("/expire-sessions", "expire_sessions", methods=["POST"],
                         view_func=lambda: json_response({"expired": sessions.expire_all()}))
    app.register_blueprint(control)
    return app


def _delete_product(store: KashFlowStore, nominal: int, code: str) -> Response:
    try:
        return json_response(store.delete_product(nominal, code))
    except ValueError as exc:
        return control_error(str(exc), 404)


def _register_errors(app: Flask) -> None:
    app.register_error_handler(KashFlowError, lambda exc: exc.response())
    app.register_error_handler(BadJson, lambda exc: rejected(
        "InvalidRequest", f"The request body is not valid JSON: {exc}").response())

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if request.path.startswith("/_sandbox"):
            return json_response({"error": exc.description}, status)
        if status == 404:
            return json_response(error_body(404, "NotFound", "No HTTP resource was found that "
                                            "matches the request URI."), 404)
        if status == 405:
            return json_response(error_body(405, "MethodNotAllowed", "The requested resource "
                                            f"does not support http method '{request.method}'."),
                                 405)
        return json_response(error_body(status, type(exc).__name__, exc.description or ""),
                             status)


def _page(items: list[dict[str, Any]]) -> Response:
    """The ``{"Data", "MetaData"}`` envelope for ``page`` (from 1) and ``perpage``."""
    try:
        page = max(1, int(request.args.get("page", 1)))
        per = min(MAX_PER_PAGE, max(1, int(request.args.get("perpage", DEFAULT_PER_PAGE))))
    except ValueError:
        raise rejected("InvalidParameters", "page and perpage must be integers.") from None
    last = max(1, -(-len(items) // per))
    base, args = request.base_url, request.args.to_dict()

    def url(n: int) -> str:
        return f"{base}?{urlencode({**args, 'page': str(n), 'perpage': str(per)})}"

    return json_response({"Data": items[(page - 1) * per: page * per], "MetaData": {
        "FirstPageUrl": url(1), "LastPageUrl": url(last),
        "NextPageUrl": url(page + 1) if page < last else None,
        "PreviousPageUrl": url(page - 1) if page > 1 else None, "TotalRecords": len(items)}})


def _register_session(app: Flask, sessions: Sessions) -> None:
    @app.post("/v2/sessiontoken")
    def begin_login() -> Response:
        return json_response(sessions.begin(read_json(request)))

    @app.put("/v2/sessiontoken")
    def complete_login() -> Response:
        return json_response(sessions.complete(read_json(request)))

    @app.delete("/v2/sessiontoken")
    def end_session() -> Response:
        sessions.end(request.headers.get("Authorization", "").partition(" ")[2].strip())
        return Response(status=204)


def _register_customers(app: Flask, store: KashFlowStore) -> None:
    @app.get("/v2/customers")
    def list_customers() -> Response:
        return _page(store.customers())

    @app.get("/v2/customers/search")
    def search_customers() -> Response:
        email, code = request.args.get("email"), request.args.get("code")
        if email is None and code is None:
            raise rejected("InvalidParameters", "Give email or code to search customers.")
        found = (store.customers_by_code(code) if code is not None
                 else store.customers(email=email))
        return _page(found)

    @app.get("/v2/customers/<code>")
    def get_customer(code: str) -> Response:
        return json_response(store.customer(code))

    @app.post("/v2/customers")
    def create_customer() -> Response:
        return json_response(store.create_customer(read_json(request)), 201)

    @app.put("/v2/customers/<code>")
    def update_customer(code: str) -> Response:
        return json_response(store.update_customer(code, read_json(request)))


def _register_invoices(app: Flask, store: KashFlowStore) -> None:
    @app.get("/v2/invoices/<int:number>")
    def get_invoice(number: int) -> Response:
        return json_response(store.invoice(number))

    @app.get("/v2/invoices")
    def list_invoices() -> Response:
        summaries = [{**i, "LineItems": None, "PaymentLines": None}
                     for i in store.invoices(request.args.get("customerCode"))]
        return _page(summaries)

    @app.post("/v2/invoices")
    def create_invoice() -> Response:
        return json_response(store.create_invoice(read_json(request)), 201)

    @app.post("/v2/invoices/bulk/payments")
    def pay_invoices() -> Response:
        return json_response(store.pay_invoices(read_json(request)), 201)


def _register_reference(app: Flask, store: KashFlowStore) -> None:
    @app.get("/v2/products")
    def list_products() -> Response:
        return _page(store.products())

    @app.get("/v2/products/<int:nominal>/<code>")
    def get_product(nominal: int, code: str) -> Response:
        return json_response(store.product(nominal, code))

    @app.post("/v2/products")
    def create_product() -> Response:
        return json_response(store.create_product(read_json(request)), 201)

    @app.put("/v2/products/<int:nominal>/<code>")
    def update_product(nominal: int, code: str) -> Response:
        return json_response(store.update_product(nominal, code, read_json(request)))

    @app.get("/v2/vat/settings/vatrates")
    def vat_rates() -> Response:
        return json_response(store.reference("vat_rates"))

    @app.get("/v2/bankaccounts")
    def bank_accounts() -> Response:
        return json_response(store.reference("bank_accounts"))

    @app.get("/v2/paymentmethods/invoice")
    def payment_methods() -> Response:
        return json_response(store.reference("payment_methods"))
