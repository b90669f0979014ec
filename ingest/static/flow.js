/* The flow page's graphs (ingest/templates/flow.html), drawn with the vendored cytoscape.
 *
 * Reads the graphs from the page's JSON data block, draws each left to right with today's
 * counts on its nodes, and opens a node's page on click or tap. The ordered list of links
 * under each graph is the same content for keyboards and screen readers, and works without
 * this script (the graph boxes stay hidden then). No inline script, no eval: the page's
 * Content-Security-Policy allows only script files from this origin.
 */
(function () {
  "use strict";

  function label(node) {
    if (node.done === null || node.done === undefined) {
      return node.label;
    }
    var text = node.label + "\n" + node.done + " done";
    if (node.failed) {
      text += " · " + node.failed + " failed";
    }
    return text;
  }

  function elements(graph) {
    var out = [];
    graph.nodes.forEach(function (node) {
      out.push({group: "nodes", data: {
        id: node.id, label: label(node), href: node.href, kind: node.kind,
        failed: node.failed ? 1 : 0}});
    });
    graph.edges.forEach(function (edge, n) {
      out.push({group: "edges", data: {
        id: graph.name + "-e" + n, source: edge.source, target: edge.target,
        label: edge.label}});
    });
    return out;
  }

  var STYLE = [
    {selector: "node", style: {
      "shape": "round-rectangle", "width": 150, "height": 46, "background-color": "#eef1f5",
      "border-width": 1, "border-color": "#8793a3", "label": "data(label)",
      "text-wrap": "wrap", "text-valign": "center", "text-halign": "center",
      "font-size": 11, "color": "#1d2430"}},
    {selector: "node[kind = 'event']", style: {"shape": "ellipse", "background-color": "#dbe8fd"}},
    {selector: "node[kind = 'decide']", style: {"shape": "diamond", "width": 120,
      "height": 70, "background-color": "#fdf0c8"}},
    {selector: "node[failed = 1]", style: {"border-color": "#c93c37", "border-width": 2}},
    {selector: "edge", style: {
      "width": 1.5, "line-color": "#8793a3", "target-arrow-color": "#8793a3",
      "target-arrow-shape": "triangle", "curve-style": "bezier", "label": "data(label)",
      "font-size": 10, "color": "#6b7686", "text-background-color": "#fff",
      "text-background-opacity": 1, "text-margin-y": -8}}
  ];

  var COLUMN = 220;  // px between columns: a node (150) and room for an edge label
  var ROW = 80;

  // Left to right in the runner's order: a node's column is its longest distance from a
  // node nothing leads to; nodes in one column stack in the order the graph lists them.
  function positions(graph) {
    var depth = {};
    graph.nodes.forEach(function (node) { depth[node.id] = 0; });
    for (var pass = 0; pass < graph.nodes.length; pass += 1) {
      graph.edges.forEach(function (edge) {
        depth[edge.target] = Math.max(depth[edge.target], depth[edge.source] + 1);
      });
    }
    var rows = {};
    var at = {};
    graph.nodes.forEach(function (node) {
      var column = depth[node.id];
      rows[column] = (rows[column] || 0) + 1;
      at[node.id] = {x: column * COLUMN + 90, y: (rows[column] - 1) * ROW + 40};
    });
    var most = Math.max.apply(null, Object.keys(rows).map(function (k) { return rows[k]; }));
    return {at: at, height: most * ROW + 10};
  }

  function draw(box, graph) {
    var placed = positions(graph);
    box.hidden = false;
    box.style.height = placed.height + "px";
    var cy = window.cytoscape({
      container: box, elements: elements(graph), style: STYLE,
      userZoomingEnabled: false, userPanningEnabled: false, boxSelectionEnabled: false,
      autoungrabify: true, maxZoom: 1, minZoom: 0.3,
      layout: {name: "preset", padding: 12,
               positions: function (node) { return placed.at[node.id()]; }}
    });
    cy.on("tap", "node", function (event) {
      window.location.assign(event.target.data("href"));
    });
    box.dataset.drawn = String(cy.nodes().length);
  }

  function start() {
    var data = document.getElementById("flow-data");
    if (!data || typeof window.cytoscape !== "function") {
      return;
    }
    JSON.parse(data.textContent).graphs.forEach(function (graph) {
      var box = document.getElementById("graph-" + graph.name);
      if (box) {
        draw(box, graph);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
