"""The flow page under ``/flow``: each entity's flow drawn from the runner's definitions
(``workers.flowgraph``) with today's counts per node, and a page per node with its settings,
the studio forms behind it and its routes (``mappings.routes``).

The graph is drawn by the vendored cytoscape (``ingest/static/vendor/cytoscape``) and
``ingest/static/flow.js``; the same nodes are an ordered list of links, so the page works by
keyboard and without JavaScript. Only these pages' responses allow ``script-src 'self'``
(``g.kfsync_scripts``, read by ``ingest.dashboard``); every other page, the node pages
included, keeps its policy with no script at all.

Route edits go through the studio's draft (``services.profiles.edit_draft``) like every
other mapping change: preview, impact, publish, rollback and the audit trail are the
studio's own. Their endpoints are named ``studio_*`` so they need the admin role.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, send_from_directory, url_for
from werkzeug.wrappers import Response

from ingest.app import current_settings
from ingest.dashboard import bp
from ingest.dashboard.studio import recent_orders, studio_url
from ingest.dashboard.studio_actions import actor
from mappings.errors import MappingError
from mappings.profile import parse_document
from mappings.routes import (
    ACTION_LABELS,
    FIELDS,
    NODE_ACTIONS,
    OP_LABELS,
    OPS,
    VALUED_ACTIONS,
    parse_route,
)
from services import catalogue, profiles, studio
from store.db import session_scope
from store.flowstats import flow_stats
from workers import flowgraph

STATIC = Path(__file__).resolve().parent.parent / "static"
ASSETS = ("flow.js", "vendor/cytoscape/cytoscape.min.js")
CONDITION_ROWS = 3  # condition rows on the add-route form (one is required)

# The graph node a route's ``node`` attaches to.
ROUTE_NODES = {"order.decide": "decide", "ensure_customer": "ensure_customer",
               "create_invoice": "create_invoice", "post_payment": "post_payment"}
STUDIO_FORMS = {
    "skus": ("SKU map", "dashboard.studio_skus"),
    "payments": ("Payments and VAT", "dashboard.studio_payments"),
    "policies": ("Policies", "dashboard.studio_policies"),
}
# Per node: the profile keys that steer it, and the studio forms that edit them.
NODE_SETTINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "order.decide": (("state_actions", "status_actions", "unknown_state", "checks"),
                     ("policies",)),
    "ensure_customer": (("guest_policy", "shared_guest_code", "customer_code_prefix",
                         "guest_code_prefix", "steps.create_customers"), ("policies",)),
    "create_invoice": (("default_nominal_code", "shipping_nominal_code", "unmapped_sku",
                        "invalid_lines", "discounts", "line_description", "due_days",
                        "invoice_number_offset"), ("skus", "payments", "policies")),
    "post_payment": (("payment_methods", "offline_payment_methods",
                      "unmapped_payment_method", "tenders", "steps.post_payments"),
                     ("payments", "policies")),
    "credit_cancellation": (("on_cancel_after_invoice", "cancel_note_number_offset"),
                            ("policies",)),
    "create_credit_note": (("steps.credit_notes", "credit_note_number_offset"), ("policies",)),
    "post_refund": (("steps.credit_notes",), ("policies",)),
    "sync_customer": (("steps.create_customers", "customer_code_prefix"), ("policies",)),
    "stock.pass": (("steps.stock_sync",), ("policies",)),
}


def _with_scripts() -> None:
    g.kfsync_scripts = True  # this response may run the page's own script files


def _graphs() -> list[flowgraph.Graph]:
    with session_scope(current_settings().database_url) as s:
        return flowgraph.graphs(flow_stats(s))


def graph_data(graphs: list[flowgraph.Graph]) -> dict[str, Any]:
    """What ``flow.js`` draws: per graph, its nodes (with counts and links) and edges."""
    def node(n: flowgraph.Node) -> dict[str, Any]:
        count = n.count
        return {"id": n.id, "label": n.label, "kind": n.kind,
                "href": url_for("dashboard.flow_node", node_id=n.id),
                "done": count.done if count else None, "failed": count.failed if count else None}
    return {"graphs": [{"name": gr.name, "nodes": [node(n) for n in gr.nodes],
                        "edges": [{"source": e.source, "target": e.target, "label": e.label}
                                  for e in gr.edges]} for gr in graphs]}


@bp.get("/flow")
def flow() -> str:
    _with_scripts()
    graphs = _graphs()
    return render_template("flow.html", title="Flow", graphs=graphs, data=graph_data(graphs))


@bp.get("/flow/static/<path:name>")
def flow_asset(name: str) -> Response:
    if name not in ASSETS:
        abort(404)
    response: Response = send_from_directory(STATIC, name, max_age=3600)
    return response


def _setting(doc: dict[str, Any], key: str) -> Any:
    value: Any = doc
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@bp.get("/flow/<node_id>")
def flow_node(node_id: str) -> str:
    if len(node_id) > 64:
        abort(404)
    with session_scope(current_settings().database_url) as s:
        found = flowgraph.find_node(node_id, flow_stats(s))
    if found is None:
        abort(404)
    graph, node = found
    url = studio_url()
    doc = profiles.working_document(url)
    keys, forms = NODE_SETTINGS.get(node_id, ((), ()))
    route_node = ROUTE_NODES.get(node_id)
    routes = [(n, r) for n, r in enumerate(parse_document(doc, "draft").routes, start=1)
              if r.node == route_node] if route_node else []
    mine = tuple(f"routes.{n}." for n, _ in routes)
    problems = [p for p in studio.problems(url, doc) if mine and p.path.startswith(mine)]
    draft = profiles.draft(url)
    return render_template(
        "flow_node.html", title=node.label, graph=graph, node=node,
        settings=[(k, _setting(doc, k)) for k in keys],
        forms=[STUDIO_FORMS[f] for f in forms], route_node=route_node, routes=routes,
        actions=NODE_ACTIONS.get(route_node or "", ()), action_labels=ACTION_LABELS,
        valued=VALUED_ACTIONS, fields=FIELDS, ops=OPS, op_labels=OP_LABELS,
        rows=range(CONDITION_ROWS), problems=problems, draft=draft,
        recent=recent_orders(url), catalogue=catalogue.load(url))


def _route_from_form(route_node: str) -> dict[str, Any]:
    """The route document the add form describes (validated by ``parse_route``)."""
    when = []
    for n in range(CONDITION_ROWS):
        name = request.form.get(f"field-{n}", "").strip()
        if not name:
            continue
        op = request.form.get(f"op-{n}", "").strip()
        value: Any = request.form.get(f"value-{n}", "").strip()
        if op in ("one_of", "not_one_of"):
            value = [v.strip() for v in str(value).split(",") if v.strip()]
        when.append({"field": name, "op": op, "value": value})
    route: dict[str, Any] = {"node": route_node, "action": request.form.get("action", ""),
                             "when": when}
    value = request.form.get("value", "").strip()
    if value:
        route["value"] = value
    return route


@bp.post("/flow/<node_id>/routes", endpoint="studio_route_add")
def route_add(node_id: str) -> Response:
    route_node = ROUTE_NODES.get(node_id)
    if route_node is None:
        abort(404)
    raw = _route_from_form(route_node)
    url = studio_url()

    def change(doc: dict[str, Any]) -> str:
        route = parse_route(raw)  # refuses with the reason; nothing is stored
        doc.setdefault("routes", []).append(route.to_document())
        number = len(doc["routes"])
        wrong = [p.message for p in studio.problems(url, doc)
                 if p.severity == "error" and p.path.startswith(f"routes.{number}.")]
        if wrong:
            raise MappingError("; ".join(wrong))
        return f"routes.{number} added: {route.describe()}"
    return _edit(change, node_id)


@bp.post("/flow/<node_id>/routes/delete", endpoint="studio_route_delete")
def route_delete(node_id: str) -> Response:
    raw = request.form.get("number", "")
    number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else 0

    def change(doc: dict[str, Any]) -> str:
        routes = doc.get("routes") or []
        if not 0 < number <= len(routes):
            raise MappingError(f"there is no route {raw}")
        gone = routes.pop(number - 1)
        if not routes:
            doc.pop("routes")
        return f"routes.{number} removed ({gone.get('node')}: {gone.get('action')})"
    return _edit(change, node_id)


def _edit(change: Callable[[dict[str, Any]], str], node_id: str) -> Response:
    notes: list[str] = []

    def noted(doc: dict[str, Any]) -> str:
        notes.append(change(doc))
        return notes[-1]
    try:
        profiles.edit_draft(studio_url(), actor(), noted, action="mapping-route")
        flash(f"Draft saved: {notes[-1]}. Preview it on a stored order, then publish it on "
              "the Mapping page to put it in force.", "ok")
    except (MappingError, profiles.ProfileError) as exc:
        flash(f"Route refused: {str(exc).removeprefix('draft: ')}", "error")
    return redirect(url_for("dashboard.flow_node", node_id=node_id))
