"""The flows the flow page draws, generated from the definitions the runner executes.

The order, credit memo and customer graphs are built from ``workers.orders.ORDER_FLOW``,
``workers.refunds.CREDITMEMO_FLOW`` and ``workers.customers.CUSTOMER_FLOW`` (read when a
page asks, so a step added to a flow in code is drawn with no other change): an event node
for the topics that start the flow, the decision ``process_event`` takes
(``workers.events``), then one node per ``StepDef`` in order. An ``optional`` step is
reached only when the decision says pay (its edge says so); an ``on_demand`` step only when
a finished job's ledger re-opens it (``workers.lifecycle``). Stock and reconciliation are
not job flows: their graphs name the real beat entry, task and CLI command.

Counts come from ``store.flowstats`` (today's attempts per step, jobs per decision, events
per topic, stock passes and reconciliation items).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from store.flowstats import Count, FlowStats
from store.models import Step
from workers.runner import Flow

ORDER_TOPICS = ("order.created", "order.updated", "invoice.created")
CUSTOMER_TOPICS = ("customer.created", "customer.updated")
CREDITMEMO_TOPICS = ("creditmemo.created",)
STOCK_TOPICS = ("stock.updated",)
LABELS = {  # nicer words for the steps a merchant knows; any other step shows its own name
    Step.ENSURE_CUSTOMER: "Customer",
    Step.CREATE_INVOICE: "Invoice",
    Step.POST_PAYMENT: "Payments",
    Step.CREDIT_CANCELLATION: "Cancellation credit note",
    Step.SYNC_CUSTOMER: "Customer master data",
    Step.CREATE_CREDIT_NOTE: "Credit note",
    Step.POST_REFUND: "Refund payment",
    Step.ADD_TO_SUMMARY: "Summary",
}
# On-demand steps entered straight from the decision for a reason of their own.
ENTERED_FOR = {Step.ADD_TO_SUMMARY: (
    "summary mode", "summary mode only: booked in its day's summary invoice, no KashFlow call")}


@dataclass(frozen=True)
class Node:
    id: str        # unique across graphs: the step name, or "<graph>.<name>"
    label: str
    kind: str      # event, decide, step, task
    detail: str    # what it does, one line
    count: Count | None = None
    task: str | None = None  # the Celery task name a step runs as


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""


@dataclass(frozen=True)
class Graph:
    name: str
    title: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...] = field(default=())

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)


def job_graph(name: str, title: str, flow: Flow, topics: tuple[str, ...],
              decide_detail: str) -> Graph:
    """A job flow's graph: event -> decide -> its steps, from ``flow``'s definitions."""
    event, decide = f"{name}.event", f"{name}.decide"
    nodes = [Node(event, "Magento event", "event", "webhook or catch-up poll: "
                  + ", ".join(topics)),
             Node(decide, "Decide", "decide", decide_detail)]
    edges = [Edge(event, decide)]
    previous = decide
    for d in flow.steps:
        step = str(d.step)
        why, detail = ENTERED_FOR.get(d.step, ("re-opened", (
            "only when the decision says pay" if d.optional else
            "only when a finished job's ledger re-opens it" if d.on_demand else
            "runs in order")))
        nodes.append(Node(step, LABELS.get(d.step, step.replace("_", " ")), "step",
                          detail, task=d.task))
        if d.on_demand:
            edges.append(Edge(decide, step, why))
            continue
        edges.append(Edge(previous, step, "when pay" if d.optional else
                          "invoice" if previous == decide and name == "order" else ""))
        previous = step
    return Graph(name, title, tuple(nodes), tuple(edges))


def stock_graph(interval_s: float | None) -> Graph:
    every = f"every {interval_s:g} s" if interval_s else "on its interval"
    nodes = (
        Node("stock.beat", "Beat", "event", f"kfsync.stock.sync_all {every}",
             task="kfsync.stock.sync_all"),
        Node("stock.event", "stock.updated", "event", "webhook: one SKU",
             task="kfsync.stock.sync_sku"),
        Node("stock.cli", "kfsync stock sync", "event", "one pass on demand"),
        Node("stock.pass", "Stock pass", "task", "compare both sides, write the master's "
             "quantities (one Redis lock: never two passes at once)"),
    )
    return Graph("stock", "Stock", nodes, tuple(Edge(n.id, "stock.pass") for n in nodes[:3]))


def reconciliation_graph() -> Graph:
    nodes = (
        Node("reconciliation.cli", "kfsync reconcile payments", "event",
             "or the ops API: one day at a time"),
        Node("reconciliation.compare", "Compare", "task",
             "gateway payments in Magento against KashFlow payment lines"),
        Node("reconciliation.items", "Differences", "task",
             "one item per difference, resolved by an operator or cleared by a later run"),
    )
    return Graph("reconciliation", "Reconciliation", nodes,
                 (Edge(nodes[0].id, nodes[1].id), Edge(nodes[1].id, nodes[2].id)))


def graphs(stats: FlowStats | None = None) -> list[Graph]:
    """Every graph of the flow page, with today's counts when ``stats`` is given."""
    # Read here, not at import: the flows are the modules' current definitions.
    import celeryconfig
    from workers import customers, orders, refunds

    stock = celeryconfig.beat_schedule.get("stock-sync", {}).get("schedule")
    built = [
        job_graph("order", "Order to cash", orders.ORDER_FLOW, ORDER_TOPICS,
                  "by state and totals, the policies and the routes: invoice, wait, skip "
                  "or review; pay or not"),
        job_graph("creditmemo", "Credit memo", refunds.CREDITMEMO_FLOW, CREDITMEMO_TOPICS,
                  "a credit note unless credit_notes is off; refund when online"),
        job_graph("customer", "Customer", customers.CUSTOMER_FLOW, CUSTOMER_TOPICS,
                  "registered customers' master data"),
        stock_graph(float(stock) if isinstance(stock, int | float) else None),
        reconciliation_graph(),
    ]
    return [with_counts(g, stats) for g in built] if stats is not None else built


def with_counts(graph: Graph, stats: FlowStats) -> Graph:
    """``graph`` with each node's count for today."""
    def count(node: Node) -> Count | None:
        if node.kind == "step":
            return stats.steps.get(node.id, Count())
        if node.kind == "decide":
            return stats.decided.get(graph.name, Count())
        if node.id == "stock.pass":
            return stats.stock
        if node.id == "reconciliation.items":
            return stats.reconciliation
        if node.kind == "event" and graph.name in TOPICS:
            return Count(sum(stats.topics.get(t, 0) for t in TOPICS[graph.name]))
        return None
    return replace(graph, nodes=tuple(replace(n, count=count(n)) for n in graph.nodes))


TOPICS = {"order": ORDER_TOPICS, "creditmemo": CREDITMEMO_TOPICS,
          "customer": CUSTOMER_TOPICS}


def find_node(node_id: str, stats: FlowStats | None = None) -> tuple[Graph, Node] | None:
    """The graph and node with id ``node_id``, or None."""
    for graph in graphs(stats):
        node = graph.node(node_id)
        if node is not None:
            return graph, node
    return None
