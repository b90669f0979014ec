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
      "text-background-opacity": 1}}
  ];

  function draw(box, graph) {
    box.hidden = false;
    var cy = window.cytoscape({
      container: box, elements: elements(graph), style: STYLE,
      userZoomingEnabled: false, userPanningEnabled: false, boxSelectionEnabled: false,
      autoungrabify: true,
      layout: {name: "breadthfirst", directed: true, spacingFactor: 1.1, padding: 12,
               transform: function (node, pos) { return {x: pos.y, y: pos.x}; }}
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
