"""The Magento 2 REST sandbox: ``create_app()`` serves ``/rest/V1/...`` (base ``.../rest``).

Strict where Magento is: every REST call needs ``Authorization: Bearer <MAGENTO_TOKEN>`` or a
valid OAuth 1.0a HMAC-SHA256 signature (401 otherwise), list endpoints need
``searchCriteria`` (400) with ``pageSize`` <= 300 (400), MSI saves take at most 20 source
items (400), unknown ids are 404. Errors are ``{"message": "...%1...", "parameters": ...}``.
Null members are omitted from every answer. ``/rest/all/V1/...`` and ``/rest/default/V1/...``
(store codes) are accepted too.

Control endpoints (no auth), besides the shared ones in ``sandbox.control``:
``POST /_sandbox/orders|customers|creditmemos|invoices|transactions`` (one document as Magento
returns it, or a list; upsert by key, key assigned when absent) -> the stored document(s);
``POST /_sandbox/products`` (a product, optional ``qty`` / ``is_in_stock`` for its stock);
``GET /_sandbox/state`` -> everything stored.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from sandbox import search_criteria
from sandbox.control import register_control, upsert_body
from sandbox.faults import FaultRegistry, install
from sandbox.jsonhttp import (
    BadJson,
    is_number,
    json_response,
    json_text_response,
    omit_nulls,
    read_json,
)
from sandbox.magento_auth import MagentoAuth
from sandbox.magento_store import MagentoStore
from sandbox.webpages import register_magento_pages

API_PREFIX = "/rest"
MAX_SOURCE_ITEMS = 20  # webapi/validation/complex_array_limit (synchronous requests)
STORE_PATH = re.compile(r"^/rest/(?:all|default)(/V1/.*)$")
NO_ENTITY = "The entity that was requested doesn't exist. Verify the entity and try again."
NO_PRODUCT = "The product that was requested doesn't exist. Verify the product and try again."
REQUIRED = '"%fieldName" is required. Enter and try again.'
ACL = {  # endpoint -> the ACL resource Magento names in its 401 body
    "get_order": "Magento_Sales::actions_view", "list_orders": "Magento_Sales::actions_view",
    "get_creditmemo": "Magento_Sales::sales_creditmemo",
    "list_creditmemos": "Magento_Sales::sales_creditmemo",
    "get_invoice": "Magento_Sales::sales_invoice",
    "list_invoices": "Magento_Sales::sales_invoice",
    "get_customer": "Magento_Customer::customer",
    "list_transactions": "Magento_Sales::transactions_fetch",
    "list_products": "Magento_Catalog::products",
    "get_stock_item": "Magento_Catalog::catalog_inventory",
    "put_stock_item": "Magento_Catalog::catalog_inventory",
    "list_source_items": "Magento_InventoryApi::source",
    "save_source_items": "Magento_InventoryApi::stock_source_item_assign",
}


class MagentoError(Exception):
    """Answered as Magento's error body: ``{"message", "parameters", "errors"}``."""

    def __init__(self, status: int, message: str, parameters: Any = None,
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.parameters, self.errors = parameters, errors

    def response(self) -> Response:
        return json_response(omit_nulls({"message": self.message, "parameters": self.parameters,
                                         "errors": self.errors}), self.status)


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    if status >= 500:
        report = uuid.uuid4().hex[:13]
        message = ("Internal Error. Details are available in Magento log file. "
                   f"Report ID: webapi-{report}")
    return {"message": message}


def out(obj: Any) -> Response:
    return json_response(omit_nulls(obj))


class StoreCodePaths:
    """WSGI middleware: ``/rest/all/V1/x`` -> ``/rest/V1/x``, keeping the path the client used
    (OAuth signs it) in ``environ["sandbox.original_path"]``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        environ["sandbox.original_path"] = environ.get("SCRIPT_NAME", "") + path
        match = STORE_PATH.match(path)
        if match:
            environ["PATH_INFO"] = API_PREFIX + match.group(1)
        return self.app(environ, start_response)  # type: ignore[no-any-return]


def create_app(store: MagentoStore | None = None) -> Flask:
    """The Magento sandbox app; state in ``app.extensions["sandbox"]``."""
    app = Flask(__name__)
    store = store or MagentoStore()
    faults, auth = FaultRegistry(), MagentoAuth()
    app.extensions["sandbox"] = {"store": store, "faults": faults, "auth": auth}
    app.wsgi_app = StoreCodePaths(app.wsgi_app)  # type: ignore[method-assign]
    install(app, faults, API_PREFIX, error_body)

    @app.before_request
    def authenticate() -> Response | None:
        if not request.path.startswith(API_PREFIX + "/") or request.url_rule is None:
            return None
        original = request.environ.get("sandbox.original_path", request.path)
        if auth.allows(request, original):
            return None
        resource = ACL.get(request.endpoint or "", "Magento_Sales::actions_view")
        return MagentoError(401, "The consumer isn't authorized to access %resources.",
                            {"resources": resource}).response()

    _register_errors(app)
    _register_sales(app, store)
    _register_catalog(app, store)
    register_magento_pages(app, lambda entity_id: store.answer("orders", entity_id))

    def reset() -> None:
        store.reset()
        auth.reset()

    control = register_control(app, faults, reset)
    for collection in ("orders", "customers", "creditmemos", "invoices", "transactions"):
        control.add_url_rule(f"/{collection}", f"seed_{collection}", _seeder(store, collection),
                             methods=["POST"])
    control.add_url_rule("/products", "seed_products",
                         lambda: upsert_body(store.upsert_product), methods=["POST"])
    control.add_url_rule("/state", "state", lambda: json_response(store.state()))
    app.register_blueprint(control)
    return app


def _seeder(store: MagentoStore, collection: str) -> Any:
    return lambda: upsert_body(lambda doc: store.upsert(collection, doc))


def _register_errors(app: Flask) -> None:
    app.register_error_handler(MagentoError, lambda exc: exc.response())

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if request.path.startswith("/_sandbox"):
            return json_response({"error": exc.description}, exc.code or 500)
        if exc.code in (404, 405):  # Magento routes by method too: no match is a 404
            return MagentoError(404, "Request does not match any route.").response()
        status = exc.code or 500
        return json_response(error_body(status, "", exc.description or ""), status)

    @app.errorhandler(BadJson)
    def bad_json(exc: BadJson) -> Response:
        return MagentoError(400, "Decoding error: \n%1", [str(exc)]).response()


def _list(search: Callable[[search_criteria.Criteria], tuple[list[dict[str, Any]], int]]
          ) -> Response:
    try:
        criteria = search_criteria.parse(request.args)
    except search_criteria.CriteriaError as exc:
        raise MagentoError(400, exc.message, exc.parameters) from exc
    items, total = search(criteria)
    return out({"items": items, "search_criteria": criteria.echo(), "total_count": total})


def _found(answer: str | None, message: str = NO_ENTITY, parameters: Any = None
           ) -> Response:
    """``answer`` (a ``MagentoStore.answer``), or the 404 when there is none."""
    if answer is None:
        raise MagentoError(404, message, parameters)
    return json_text_response(answer)


def _register_sales(app: Flask, store: MagentoStore) -> None:
    @app.get("/rest/V1/orders/<int:entity_id>")
    def get_order(entity_id: int) -> Response:
        return _found(store.answer("orders", entity_id))

    @app.get("/rest/V1/orders")
    def list_orders() -> Response:
        return _list(partial(store.search, "orders"))

    @app.get("/rest/V1/creditmemo/<int:entity_id>")
    def get_creditmemo(entity_id: int) -> Response:
        return _found(store.answer("creditmemos", entity_id))

    @app.get("/rest/V1/creditmemos")
    def list_creditmemos() -> Response:
        return _list(partial(store.search, "creditmemos"))

    @app.get("/rest/V1/invoices/<int:entity_id>")
    def get_invoice(entity_id: int) -> Response:
        return _found(store.answer("invoices", entity_id))

    @app.get("/rest/V1/invoices")
    def list_invoices() -> Response:
        return _list(partial(store.search, "invoices"))

    @app.get("/rest/V1/customers/<int:customer_id>")
    def get_customer(customer_id: int) -> Response:
        return _found(store.answer("customers", customer_id),
                      "No such entity with %fieldName = %fieldValue",
                      {"fieldName": "customerId", "fieldValue": customer_id})

    @app.get("/rest/V1/transactions")
    def list_transactions() -> Response:
        return _list(partial(store.search, "transactions"))


def _register_catalog(app: Flask, store: MagentoStore) -> None:
    @app.get("/rest/V1/products")
    def list_products() -> Response:
        return _list(lambda c: search_criteria.search(c, store.products()))

    @app.get("/rest/V1/stockItems/<sku>")
    def get_stock_item(sku: str) -> Response:
        item = store.stock_item(sku)
        if item is None:
            raise MagentoError(404, NO_PRODUCT)
        return out(item)

    @app.put("/rest/V1/products/<sku>/stockItems/<item_id>")
    def put_stock_item(sku: str, item_id: str) -> Response:
        body = read_json(request)
        item = body.get("stockItem") if isinstance(body, dict) else None
        if not isinstance(item, dict):
            raise MagentoError(400, REQUIRED, {"fieldName": "stockItem"})
        qty, in_stock = item.get("qty"), item.get("is_in_stock")
        if qty is not None and not is_number(qty):
            raise MagentoError(400, 'The "%value" value\'s type is invalid. The "%type" type '
                               "was expected. Verify and try again.",
                               {"value": str(qty), "type": "float"})
        updated = store.update_stock_item(sku, qty, in_stock)
        if updated is None:
            raise MagentoError(404, NO_PRODUCT)
        return json_response(updated)

    @app.get("/rest/V1/inventory/source-items")
    def list_source_items() -> Response:
        return _list(lambda c: search_criteria.search(c, store.source_items()))

    @app.post("/rest/V1/inventory/source-items")
    def save_source_items() -> Response:
        body = read_json(request)
        items = body.get("sourceItems") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise MagentoError(400, REQUIRED, {"fieldName": "sourceItems"})
        if len(items) > MAX_SOURCE_ITEMS:
            raise MagentoError(400, 'Maximum items of type "%type" is %max', {
                "type": "\\Magento\\InventoryApi\\Api\\Data\\SourceItemInterface",
                "max": MAX_SOURCE_ITEMS})
        if not items:
            raise MagentoError(400, "Input data is empty")
        errors = [e for item in items for e in _source_item_errors(item, store.known_sources())]
        if errors:
            raise MagentoError(400, "Validation Failed", None, errors)
        store.save_source_items(items)
        return json_response([])


def _source_item_errors(item: Any, sources: list[str]) -> list[dict[str, Any]]:
    if not isinstance(item, dict):
        return [{"message": "A source item is an object.", "parameters": []}]
    errors = [{"message": '"%field" can not be empty.', "parameters": {"field": name}}
              for name in ("sku", "source_code")
              if not isinstance(item.get(name), str) or not item[name].strip()]
    if isinstance(item.get("source_code"), str) and item["source_code"] not in sources:
        errors.append({"message": 'Source with code "%1" does not exist.',
                       "parameters": [item["source_code"]]})
    if not is_number(item.get("quantity")):
        errors.append({"message": '"%field" should be numeric.',
                       "parameters": {"field": "quantity"}})
    if item.get("status") not in (0, 1):
        errors.append({"message": '"%field" should be a known status.',
                       "parameters": {"field": "status"}})
    return errors
