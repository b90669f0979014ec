"""The flow page's graphs are the runner's own flow definitions, with today's counts."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

import pytest

from store.db import session_scope
from store.flowstats import Count, flow_stats, midnight
from store.models import Attempt, InboundEvent, JobState, Step, SyncJob, utcnow
from store.stock_models import StockRun
from workers import flowgraph, orders
from workers.runner import Flow, StepDef


def order_graph() -> flowgraph.Graph:
    return next(g for g in flowgraph.graphs() if g.name == "order")


def test_the_order_graph_is_the_order_flow_in_order() -> None:
    graph = order_graph()
    assert [n.id for n in graph.nodes] == [
        "order.event", "order.decide", "ensure_customer", "create_invoice", "post_payment",
        "credit_cancellation", "add_to_summary"]
    assert [(e.source, e.target, e.label) for e in graph.edges] == [
        ("order.event", "order.decide", ""),
        ("order.decide", "ensure_customer", "invoice"),
        ("ensure_customer", "create_invoice", ""),
        ("create_invoice", "post_payment", "when pay"),
        ("order.decide", "credit_cancellation", "re-opened"),
        ("order.decide", "add_to_summary", "summary mode")]
    assert graph.node("create_invoice") == flowgraph.Node(
        "create_invoice", "Invoice", "step", "runs in order", task="kfsync.orders.create_invoice")
    names = [g.name for g in flowgraph.graphs()]
    assert names == ["order", "creditmemo", "customer", "stock", "reconciliation"]


def test_a_step_added_to_the_flow_in_code_is_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    flow = orders.ORDER_FLOW
    notify = StepDef(cast(Step, "notify_accounts"), "kfsync.orders.notify_accounts",
                     flow.steps[0].act)
    steps = (*flow.steps[:2], notify, *flow.steps[2:])
    monkeypatch.setattr(orders, "ORDER_FLOW", Flow(flow.kind, steps, flow.in_process))
    graph = order_graph()
    assert [n.id for n in graph.nodes][3:6] == ["create_invoice", "notify_accounts",
                                                 "post_payment"]
    assert graph.node("notify_accounts") == flowgraph.Node(
        "notify_accounts", "notify accounts", "step", "runs in order",
        task="kfsync.orders.notify_accounts")
    edges = {(e.source, e.target) for e in graph.edges}
    assert ("create_invoice", "notify_accounts") in edges
    assert ("notify_accounts", "post_payment") in edges
    assert ("create_invoice", "post_payment") not in edges


def test_each_node_shows_todays_done_and_failed(db_url: str) -> None:
    yesterday = midnight() - timedelta(hours=1)
    with session_scope(db_url) as s:
        done = SyncJob(kind="order", magento_key="1", state=JobState.DONE)
        held = SyncJob(kind="order", magento_key="2", state=JobState.NEEDS_REVIEW)
        s.add_all([done, held])
        s.flush()
        outcomes = [("create_invoice", "ok"), ("create_invoice", "ok"),
                    ("create_invoice", "transient"), ("create_invoice", "started"),
                    ("post_payment", "rejected")]
        s.add_all(Attempt(job_id=done.id, step=step, outcome=outcome)
                  for step, outcome in outcomes)
        s.add(Attempt(job_id=done.id, step="create_invoice", outcome="ok",
                      created_at=yesterday))
        s.add_all(InboundEvent(source="magento", event_id=f"e{n}", topic=topic,
                               resource_type="order", resource_key=str(n), payload={})
                  for n, topic in enumerate(["order.created", "invoice.created",
                                             "creditmemo.created"]))
        s.add_all([StockRun(trigger="beat", errors=0, started_at=utcnow()),
                   StockRun(trigger="beat", errors=2)])
    with session_scope(db_url) as s:
        stats = flow_stats(s)
    by_id = {n.id: n.count for g in flowgraph.graphs(stats) for n in g.nodes}
    assert by_id["create_invoice"] == Count(done=2, failed=1)
    assert by_id["post_payment"] == Count(done=0, failed=1)
    assert by_id["ensure_customer"] == Count()
    assert by_id["order.decide"] == Count(done=1, failed=1)
    assert by_id["order.event"] == Count(done=2)
    assert by_id["creditmemo.event"] == Count(done=1)
    assert by_id["stock.pass"] == Count(done=1, failed=1)
    assert by_id["stock.cli"] is None
