// LatticeView drawing: PRIME's tag sets of one class as a Hasse diagram (SVG).
//
// Levels by set size (the empty set, i.e. the whole class, at the top), an edge from each set to
// each of its one-tag-removed subsets, node colour = accuracy drop (diverging scale), node area
// ~ |I_S|. Failure modes carry an amber ring and their necessity edges are drawn thick in the
// same colour with the accuracy gain as a label. Each level is ordered by the barycentre
// heuristic to reduce edge crossings.
//
// Framework-free: the host supplies the graph with setGraph(), the selection with
// setSelected(), the search text with setQuery(), and hears back through onSelect / onQuery.
// All text from data goes through textContent or attributes, never innerHTML.

import { panelCSS } from "./theme.js";
import { closestIn, make, markSelected, rampLegend, startView, svg, viewFrame } from "./dom.js";
import { DIVERGING_STOPS, divergingColour, symmetricDomain } from "./colour.js";
import { wireItems } from "./events.js";

const STYLE_ID = "fw-lattice-style";

export const LAYOUT = {
  columnWidth: 128,
  minColumnWidth: 100,
  padding: 20,
  minRadius: 5,
  maxRadius: 18,
  lineHeight: 13,
  levelGap: 34,
  maxLabelChars: 20,
};

export const LATTICE_CSS = `
${panelCSS(".fw-lattice", {
  vars: "--fw-mark: #f59e0b; --fw-node-stroke: var(--jp-ui-font-color2, rgba(0, 0, 0, 0.54));",
})}
.fw-lattice-search {
  font: inherit; color: var(--fw-fg); background: var(--fw-input-bg);
  border: 1px solid var(--fw-input-border); border-radius: 3px; height: 24px; padding: 0 6px; width: 14em;
}
.fw-lattice-matches { color: var(--fw-fg-muted); font-size: var(--fw-font-size-small); min-width: 6em; }
.fw-lattice-ramp { width: 120px; }
.fw-lattice-key-edge { width: 18px; height: 0; border-top: 4px solid var(--fw-mark); }
.fw-lattice-scroll { max-height: min(75vh, 720px); }
.fw-lattice-message { padding: 6px; color: var(--fw-fg-muted); }
.fw-edge { stroke: var(--fw-border-strong); stroke-width: 1.2; fill: none; }
.fw-edge.necessity { stroke: var(--fw-mark); stroke-width: 4; stroke-linecap: round; }
.fw-edge.dim { opacity: 0.2; }
.fw-edge-label {
  font-size: 10px; font-weight: 600; fill: var(--fw-fg); paint-order: stroke;
  stroke: var(--fw-bg); stroke-width: 3px; stroke-linejoin: round; pointer-events: none;
}
.fw-edge-label.dim { opacity: 0.2; }
.fw-node { cursor: pointer; outline: none; }
.fw-node-dot { stroke: var(--fw-node-stroke); stroke-width: 1; }
.fw-node.mode .fw-node-dot { stroke: var(--fw-mark); stroke-width: 3.5; }
.fw-node-ring { fill: none; stroke: none; stroke-width: 2; }
.fw-node-halo { fill: var(--fw-mark); fill-opacity: 0.28; stroke: var(--fw-mark); stroke-width: 1.5; }
.fw-node.selected .fw-node-ring { stroke: var(--fw-fg); stroke-dasharray: 4 2; }
.fw-node:hover .fw-node-dot, .fw-node:focus-visible .fw-node-dot { stroke: var(--fw-fg); stroke-width: 2.5; }
.fw-node.mode:hover .fw-node-dot { stroke: var(--fw-mark); stroke-width: 5; }
.fw-node-label { font-size: 11px; fill: var(--fw-fg-soft); }
.fw-node.mode .fw-node-label { fill: var(--fw-fg); font-weight: 600; }
.fw-node.match .fw-node-label { fill: var(--fw-accent); font-weight: 700; }
.fw-node.dim { opacity: 0.22; }
`;

const numberFormat = new Intl.NumberFormat("en-US");

export function formatPercent(value) {
  return value == null || !Number.isFinite(value) ? "—" : `${(100 * value).toFixed(1)}%`;
}

/** Signed difference in percentage points, e.g. "+31.2 pts". */
export function formatPoints(value) {
  if (value == null || !Number.isFinite(value)) return "—";
  const points = 100 * value;
  return `${points >= 0 ? "+" : "−"}${Math.abs(points).toFixed(1)} pts`;
}

export function nodeTitle(node, className) {
  return node.tags.length ? node.tags.join(" + ") : `all images of ${className ?? "the class"}`;
}

/** One line describing a node: tags, |I_S|, accuracy, drop, and whether it is a failure mode. */
export function describeNode(node, className) {
  const parts = [
    nodeTitle(node, className),
    `|I_S| = ${numberFormat.format(node.n)} (${numberFormat.format(node.n_errors)} errors)`,
    `accuracy ${formatPercent(node.accuracy)}`,
    `drop ${formatPoints(node.drop)}`,
  ];
  if (node.mode) parts.push("failure mode");
  return parts.join(" · ");
}

/** Colour of an accuracy drop on the diverging scale [-domain, +domain] (clamped): blue = the
 * set is *more* accurate than the class, red = less. */
export function dropColour(drop, domain) {
  return divergingColour(drop, domain);
}

/** Symmetric colour domain: the largest |drop| drawn, at least 0.05, rounded up to 0.05. */
export function dropDomain(nodes) {
  return symmetricDomain(nodes.map((node) => node.drop));
}

export function nodeRadius(n, nClass, layout = LAYOUT) {
  const share = nClass > 0 ? Math.max(0, Math.min(1, n / nClass)) : 0;
  return layout.minRadius + (layout.maxRadius - layout.minRadius) * Math.sqrt(share);
}

function truncate(text, limit) {
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

/**
 * The layout constants for a drawing `available` pixels wide: columns shrink (down to
 * minColumnWidth) so that the widest level fits, and labels are cut to the column width.
 */
export function fitLayout(nodes, available, layout = LAYOUT) {
  const counts = new Map();
  for (const node of nodes) counts.set(node.size, (counts.get(node.size) || 0) + 1);
  const widest = Math.max(1, ...counts.values());
  let columnWidth = layout.columnWidth;
  if (available > 0) {
    const fit = Math.floor((available - 2 * layout.padding) / widest);
    columnWidth = Math.max(layout.minColumnWidth, Math.min(layout.columnWidth, fit));
  }
  const maxLabelChars = Math.min(layout.maxLabelChars, Math.floor(columnWidth / 6.3));
  return { ...layout, columnWidth, maxLabelChars };
}

/** Number of crossing edge pairs between consecutive levels, for an order (row -> position). */
export function countCrossings(levels, edges, position) {
  const bySize = new Map();
  for (const edge of edges) {
    const key = edge.level;
    if (!bySize.has(key)) bySize.set(key, []);
    bySize.get(key).push([position.get(edge.subset), position.get(edge.superset)]);
  }
  let crossings = 0;
  for (const pairs of bySize.values()) {
    for (let i = 0; i < pairs.length; i++) {
      for (let j = i + 1; j < pairs.length; j++) {
        const [u1, l1] = pairs[i];
        const [u2, l2] = pairs[j];
        if ((u1 - u2) * (l1 - l2) < 0) crossings++;
      }
    }
  }
  return crossings;
}

/**
 * Positions of the nodes: one level per set size, each level centred and ordered by repeated
 * barycentre sweeps (down, then up), keeping the order with the fewest crossings.
 *
 * @returns {{levels: number[][], x: Map, y: Map, labelBottom: Map, width: number, height: number,
 *            crossings: number, initialCrossings: number}}
 */
export function layoutLattice(graph, layout = LAYOUT, sweeps = 8) {
  const nodes = graph.nodes || [];
  const byRow = new Map(nodes.map((node) => [node.row, node]));
  const edges = (graph.edges || [])
    .filter((e) => byRow.has(e.subset) && byRow.has(e.superset))
    .map((e) => ({ ...e, level: byRow.get(e.subset).size }));
  const maxSize = nodes.reduce((m, node) => Math.max(m, node.size), 0);
  const levels = Array.from({ length: maxSize + 1 }, () => []);
  for (const node of nodes) levels[node.size].push(node.row);
  const key = (row) => byRow.get(row).tags.join("\u0000");
  for (const level of levels) level.sort((p, q) => (key(p) < key(q) ? -1 : key(p) > key(q) ? 1 : 0));

  const up = new Map(); // row -> subsets (level above)
  const down = new Map(); // row -> supersets (level below)
  for (const e of edges) {
    if (!up.has(e.superset)) up.set(e.superset, []);
    if (!down.has(e.subset)) down.set(e.subset, []);
    up.get(e.superset).push(e.subset);
    down.get(e.subset).push(e.superset);
  }
  const position = new Map();
  const place = () => {
    for (const level of levels) level.forEach((row, i) => position.set(row, i - (level.length - 1) / 2));
  };
  place();
  const initialCrossings = countCrossings(levels, edges, position);
  let best = { crossings: initialCrossings, order: levels.map((l) => [...l]) };
  const reorder = (level, neighbours) => {
    const keyed = level.map((row, i) => {
      const others = neighbours.get(row) || [];
      const centre = others.length
        ? others.reduce((sum, r) => sum + position.get(r), 0) / others.length
        : position.get(row);
      return [centre, i, row];
    });
    keyed.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
    level.splice(0, level.length, ...keyed.map((k) => k[2]));
    level.forEach((row, i) => position.set(row, i - (level.length - 1) / 2));
  };
  for (let sweep = 0; sweep < sweeps && best.crossings > 0; sweep++) {
    if (sweep % 2 === 0) for (let k = 1; k < levels.length; k++) reorder(levels[k], up);
    else for (let k = levels.length - 2; k >= 0; k--) reorder(levels[k], down);
    const crossings = countCrossings(levels, edges, position);
    if (crossings < best.crossings) best = { crossings, order: levels.map((l) => [...l]) };
  }
  best.order.forEach((order, k) => levels[k].splice(0, levels[k].length, ...order));
  place();

  const widest = levels.reduce((m, level) => Math.max(m, level.length), 1);
  const width = widest * layout.columnWidth + 2 * layout.padding;
  const x = new Map();
  const y = new Map();
  const labelBottom = new Map();
  let top = layout.padding;
  levels.forEach((level, k) => {
    const lines = Math.max(1, k);
    const centreY = top + layout.maxRadius;
    for (const row of level) {
      x.set(row, width / 2 + position.get(row) * layout.columnWidth);
      y.set(row, centreY);
      labelBottom.set(row, centreY + layout.maxRadius + lines * layout.lineHeight + 2);
    }
    top = centreY + layout.maxRadius + lines * layout.lineHeight + layout.levelGap;
  });
  const height = top - layout.levelGap + layout.padding;
  return { levels, x, y, labelBottom, width, height, crossings: best.crossings, initialCrossings };
}

export function matchesQuery(node, query) {
  const q = (query || "").trim().toLowerCase();
  if (!q) return false;
  return node.tags.some((tag) => tag.toLowerCase().includes(q));
}

/**
 * Create the lattice view inside `container`.
 *
 * @param {HTMLElement} container
 * @param {object} options
 * @param {(row: number) => void} options.onSelect  a node was clicked (or chosen by keyboard).
 * @param {(query: string) => void} options.onQuery  the tag search text changed.
 */
export function createLatticeView(container, options = {}) {
  const { onSelect = () => {}, onQuery = () => {}, layout: baseLayout = LAYOUT } = options;
  let layout = baseLayout;
  const { doc, listeners, listen } = startView(container, STYLE_ID, LATTICE_CSS);

  let graph = { nodes: [], edges: [] };
  let selectedRow = -1;
  let query = "";
  let hovered = null;
  let destroyed = false;
  let nodeElements = new Map(); // row -> <g>
  let edgeElements = []; // [{edge, line, label}]
  let geometry = null;

  // ------------------------------------------------------------------ DOM skeleton
  const { root, toolbar, title, spacer } = viewFrame(doc, "fw-lattice");
  const search = make(doc, "input", "fw-lattice-search", {
    type: "search",
    placeholder: "Search tags…",
    "aria-label": "Search tags",
    spellcheck: "false",
  });
  const matches = make(doc, "span", "fw-lattice-matches", { "aria-live": "polite" });
  const { legend, low, high } = rampLegend(doc, "fw-lattice", {
    caption: "drop",
    background: `linear-gradient(to right, ${DIVERGING_STOPS.join(", ")})`,
    rampTitle: "accuracy drop: class accuracy − set accuracy",
    keys: [
      ["fw-lattice-key-ring fw-key-ring", "failure mode"],
      ["fw-lattice-key-edge", "necessity edge"],
    ],
  });
  toolbar.append(title, spacer, search, matches, legend);

  const scroll = make(doc, "div", "fw-lattice-scroll fw-scroll");
  const canvas = svg(doc, "svg", { class: "fw-lattice-svg fw-drawing", role: "group", "aria-label": "Tag lattice" });
  const edgeLayer = svg(doc, "g", { class: "fw-edges" });
  const labelLayer = svg(doc, "g", { class: "fw-edge-labels" });
  const nodeLayer = svg(doc, "g", { class: "fw-nodes" });
  canvas.append(edgeLayer, nodeLayer, labelLayer);
  scroll.appendChild(canvas);
  const message = make(doc, "div", "fw-lattice-message fw-message", { "aria-live": "polite" });
  const status = make(doc, "div", "fw-lattice-status fw-statusline", { "aria-live": "polite" });
  root.append(toolbar, message, scroll, status);
  container.appendChild(root);

  // ------------------------------------------------------------------ rendering
  function defaultStatus() {
    const nodes = graph.nodes || [];
    if (!nodes.length) return "";
    const modes = nodes.filter((n) => n.mode).length;
    return `${nodes.length} tag sets drawn, ${modes} failure mode${modes === 1 ? "" : "s"} — hover for details, click a set to see its images`;
  }

  function renderStatus() {
    const text = hovered ? describeNode(hovered, graph.class_name) : defaultStatus();
    status.textContent = text;
    status.title = text;
  }

  function buildNode(node, domain) {
    const cx = geometry.x.get(node.row);
    const cy = geometry.y.get(node.row);
    const r = nodeRadius(node.n, graph.n_class, layout);
    const classes = ["fw-node"];
    if (node.mode) classes.push("mode");
    const g = svg(doc, "g", {
      class: classes.join(" "),
      "data-row": node.row,
      "data-size": node.size,
      "data-mode": node.mode ? "true" : "false",
      tabindex: 0,
      role: "button",
      "aria-label": describeNode(node, graph.class_name),
    });
    const tip = svg(doc, "title");
    tip.textContent = describeNode(node, graph.class_name);
    const ring = svg(doc, "circle", { class: "fw-node-ring", cx, cy, r: r + (node.mode ? 10 : 5) });
    const dot = svg(doc, "circle", { class: "fw-node-dot", cx, cy, r, fill: dropColour(node.drop, domain) });
    const label = svg(doc, "text", { class: "fw-node-label", x: cx, y: cy + layout.maxRadius + layout.lineHeight - 2, "text-anchor": "middle" });
    const lines = node.tags.length ? node.tags : [`all ${graph.class_name ?? ""}`.trim()];
    lines.forEach((line, i) => {
      const span = svg(doc, "tspan", { x: cx, dy: i === 0 ? 0 : layout.lineHeight });
      span.textContent = truncate(line, layout.maxLabelChars);
      label.appendChild(span);
    });
    g.append(tip, ring);
    if (node.mode) g.appendChild(svg(doc, "circle", { class: "fw-node-halo", cx, cy, r: r + 7 }));
    g.append(dot, label);
    g._fwNode = node;
    return g;
  }

  function buildEdge(edge) {
    const x1 = geometry.x.get(edge.subset);
    const y1 = geometry.labelBottom.get(edge.subset);
    const superset = nodeElements.get(edge.superset)._fwNode;
    const x2 = geometry.x.get(edge.superset);
    const y2 = geometry.y.get(edge.superset) - nodeRadius(superset.n, graph.n_class, layout) - 2;
    const line = svg(doc, "line", {
      class: edge.necessity ? "fw-edge necessity" : "fw-edge",
      x1, y1, x2, y2,
      "data-subset": edge.subset,
      "data-superset": edge.superset,
    }); // prettier-ignore
    const tip = svg(doc, "title");
    tip.textContent = `remove ${edge.removed}: accuracy ${formatPoints(edge.gain)}${edge.necessity ? " (necessity edge)" : ""}`;
    line.appendChild(tip);
    let label = null;
    if (edge.necessity) {
      label = svg(doc, "text", {
        class: "fw-edge-label",
        x: (x1 + x2) / 2,
        y: (y1 + y2) / 2 + 3,
        "text-anchor": "middle",
        "data-subset": edge.subset,
        "data-superset": edge.superset,
      });
      label.textContent = `${edge.gain >= 0 ? "+" : "−"}${Math.round(Math.abs(100 * edge.gain))} pts`;
    }
    return { edge, line, label };
  }

  function applyQuery() {
    const q = query.trim();
    let count = 0;
    for (const [, g] of nodeElements) {
      const hit = matchesQuery(g._fwNode, q);
      if (hit) count++;
      g.classList.toggle("match", hit);
      g.classList.toggle("dim", Boolean(q) && !hit);
    }
    for (const { edge, line, label } of edgeElements) {
      const a = nodeElements.get(edge.subset);
      const b = nodeElements.get(edge.superset);
      const dim = Boolean(q) && !(a && a.classList.contains("match")) && !(b && b.classList.contains("match"));
      line.classList.toggle("dim", dim);
      if (label) label.classList.toggle("dim", dim);
    }
    matches.textContent = q ? `${count} of ${nodeElements.size} sets` : "";
    root.setAttribute("data-matches", String(count));
  }

  function applySelection() {
    markSelected(nodeElements, selectedRow, "aria-pressed");
    root.setAttribute("data-selected", String(selectedRow));
  }

  function render() {
    const nodes = graph.nodes || [];
    const modes = nodes.filter((n) => n.mode).length;
    title.textContent = graph.class_name != null ? `Tag lattice · ${graph.class_name}` : "Tag lattice";
    message.textContent = graph.message || "";
    root.setAttribute("data-class", graph.class_name ?? "");
    root.setAttribute("data-nodes", String(nodes.length));
    root.setAttribute("data-modes", String(modes));
    hovered = null;
    if (!nodes.length) {
      geometry = null;
      nodeElements = new Map();
      edgeElements = [];
      edgeLayer.replaceChildren();
      labelLayer.replaceChildren();
      nodeLayer.replaceChildren();
      canvas.setAttribute("width", "0");
      canvas.setAttribute("height", "0");
      root.setAttribute("data-state", "empty");
      low.textContent = high.textContent = "";
      renderStatus();
      applyQuery();
      return;
    }
    const domain = dropDomain(nodes);
    low.textContent = formatPoints(-domain).replace(" pts", "");
    high.textContent = formatPoints(domain);
    layout = fitLayout(nodes, scroll.clientWidth, baseLayout);
    geometry = layoutLattice(graph, layout);
    canvas.setAttribute("width", String(geometry.width));
    canvas.setAttribute("height", String(geometry.height));
    canvas.setAttribute("viewBox", `0 0 ${geometry.width} ${geometry.height}`);
    canvas.setAttribute("data-crossings", String(geometry.crossings));
    nodeElements = new Map();
    const byRow = new Map(nodes.map((n) => [n.row, n]));
    const ordered = geometry.levels.flat().map((row) => byRow.get(row));
    nodeLayer.replaceChildren(
      ...ordered.map((node) => {
        const g = buildNode(node, domain);
        nodeElements.set(node.row, g);
        return g;
      }),
    );
    // necessity edges last, so they are drawn over the thin ones
    const edges = [...(graph.edges || [])].sort((p, q) => Number(p.necessity) - Number(q.necessity));
    edgeElements = edges.filter((e) => nodeElements.has(e.subset) && nodeElements.has(e.superset)).map(buildEdge);
    edgeLayer.replaceChildren(...edgeElements.map((e) => e.line));
    labelLayer.replaceChildren(...edgeElements.filter((e) => e.label).map((e) => e.label));
    root.setAttribute("data-state", "ready");
    applySelection();
    applyQuery();
    renderStatus();
  }

  // ------------------------------------------------------------------ events

  function nodeOf(target) {
    return closestIn(target, ".fw-node", nodeLayer);
  }

  function choose(g) {
    const row = Number(g.getAttribute("data-row"));
    selectedRow = row;
    applySelection();
    onSelect(row);
  }

  wireItems(listen, nodeLayer, canvas, nodeOf, {
    choose,
    hover(g) {
      const node = g ? g._fwNode : null;
      if (node !== hovered) {
        hovered = node;
        renderStatus();
      }
    },
  });
  listen(search, "input", () => {
    query = search.value;
    applyQuery();
    onQuery(query);
  });

  // ------------------------------------------------------------------ public API
  function setGraph(next) {
    if (destroyed) return;
    graph = next && Array.isArray(next.nodes) ? next : { nodes: [], edges: [], ...(next || {}) };
    render();
  }

  function setSelected(row) {
    if (destroyed) return;
    selectedRow = Number.isInteger(row) ? row : -1;
    applySelection();
  }

  function setQuery(text) {
    if (destroyed) return;
    query = typeof text === "string" ? text : "";
    if (search.value !== query) search.value = query;
    applyQuery();
  }

  function destroy() {
    if (destroyed) return;
    destroyed = true;
    listeners.removeAll();
    nodeElements = new Map();
    edgeElements = [];
    root.remove();
  }

  render();

  return {
    root,
    setGraph,
    setSelected,
    setQuery,
    destroy,
    /** Listeners currently attached (for tests). */
    get listenerCount() {
      return listeners.size;
    },
    get layout() {
      return geometry;
    },
  };
}
