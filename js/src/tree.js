// TreeView drawing: Barlow's failure tree of one class as a node-link diagram (SVG), and the
// feature panel (top activating images, CAM heatmaps, feature attack) of the selected node.
//
// Nodes: area ~ samples, fill = ER − BER on a diverging scale (blue: fewer errors than the
// group, red: more), ER / EC / IV written under each node; leaves that fail δ/τ are dimmed,
// passing leaves (failure modes) ringed. Each edge carries its condition "f12 ≤ 0.534".
//
// Framework-free: the host supplies the tree with setTree(), the selection with setSelected()
// and the panel with setVisual(message, buffers) (one binary image per buffer); it hears back
// through onSelect(nodeId) and onFeature(featureIndex). Text from data goes through textContent
// or attributes only, never innerHTML.

import { panelCSS } from "./theme.js";
import { closestIn, make, markSelected, rampLegend, startView, svg, viewFrame } from "./dom.js";
import { DIVERGING_STOPS, MISSING_COLOUR, divergingColour, symmetricDomain } from "./colour.js";
import { wireItems } from "./events.js";
import { imageURL, releaseURL } from "./images.js";

const STYLE_ID = "fw-tree-style";

export const LAYOUT = {
  columnWidth: 150,
  padding: 24,
  minRadius: 7,
  maxRadius: 26,
  lineHeight: 13,
  lines: 3,
  edgeGap: 62,
};

export const TREE_CSS = `
${panelCSS(".fw-tree", {
  vars: "--fw-mark: #f59e0b; --fw-node-stroke: var(--jp-ui-font-color2, rgba(0, 0, 0, 0.54));",
})}
.fw-tree-toolbar { gap: 4px 14px; margin-bottom: 4px; }
.fw-tree-summary { color: var(--fw-fg-soft); }
.fw-tree-legend { flex-wrap: wrap; }
.fw-tree-ramp { width: 110px; }
.fw-tree-key { margin-left: 6px; }
.fw-tree-key-dim { width: 12px; height: 12px; border-radius: 50%; background: var(--fw-fg-muted); opacity: 0.35; }
.fw-tree-message { padding: 10px 6px; color: var(--fw-fg-soft); }
.fw-tree[data-state="nothing"] .fw-tree-message {
  font-size: calc(var(--fw-font-size) + 1px); color: var(--fw-fg);
  border: 1px dashed var(--fw-border-strong); border-radius: var(--fw-radius); margin: 6px 0;
}
.fw-tree[data-state="error"] .fw-tree-message { color: var(--fw-bad); }
.fw-tree-scroll { max-height: min(75vh, 760px); }
.fw-tree-edge { stroke: var(--fw-border-strong); stroke-width: 1.6; fill: none; }
.fw-tree-edge.to-pass { stroke: var(--fw-mark); stroke-width: 3; }
.fw-tree-edge.dim { opacity: 0.35; }
.fw-tree-edge-label {
  font-family: var(--fw-mono); font-size: 11px; fill: var(--fw-fg); paint-order: stroke;
  stroke: var(--fw-bg); stroke-width: 4px; stroke-linejoin: round;
}
.fw-tree-edge-label.dim { opacity: 0.45; }
.fw-tree-node { cursor: pointer; outline: none; }
.fw-tree-node-dot { stroke: var(--fw-node-stroke); stroke-width: 1; }
.fw-tree-node.pass .fw-tree-node-dot { stroke: var(--fw-mark); stroke-width: 4; }
.fw-tree-node-ring { fill: none; stroke: none; stroke-width: 2; }
.fw-tree-node.selected .fw-tree-node-ring { stroke: var(--fw-fg); stroke-dasharray: 4 2; }
.fw-tree-node:hover .fw-tree-node-dot, .fw-tree-node:focus-visible .fw-tree-node-dot { stroke: var(--fw-fg); stroke-width: 2.5; }
.fw-tree-node.pass:hover .fw-tree-node-dot { stroke: var(--fw-mark); stroke-width: 5.5; }
.fw-tree-node-label { font-size: 11px; fill: var(--fw-fg-soft); }
.fw-tree-node.pass .fw-tree-node-label { fill: var(--fw-fg); font-weight: 600; }
.fw-tree-node.dim { opacity: 0.35; }
.fw-tree-visual { border-top: 1px solid var(--fw-border); margin-top: 6px; padding-top: 6px; }
.fw-tree:not([data-state="ready"]) .fw-tree-visual,
.fw-tree:not([data-state="ready"]) .fw-tree-legend,
.fw-tree:not([data-state="ready"]) .fw-tree-status { display: none; }
.fw-tree-visual[data-state="none"] .fw-tree-visual-rows { display: none; }
.fw-tree-visual-head { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 10px; margin-bottom: 4px; }
.fw-tree-visual-title { font-weight: 600; }
.fw-tree-features { display: inline-flex; flex-wrap: wrap; gap: 4px; align-items: center; color: var(--fw-fg-muted); font-size: var(--fw-font-size-small); }
.fw-tree-feature {
  font: inherit; font-family: var(--fw-mono); color: var(--fw-fg); background: var(--fw-input-bg);
  border: 1px solid var(--fw-input-border); border-radius: 10px; padding: 0 8px; height: 20px; cursor: pointer;
}
.fw-tree-feature.active { border-color: var(--fw-accent); color: var(--fw-accent); font-weight: 700; }
.fw-tree-visual-row { display: flex; align-items: flex-start; gap: 6px; margin: 4px 0; }
.fw-tree-row-label { flex: 0 0 118px; color: var(--fw-fg-soft); font-size: var(--fw-font-size-small); padding-top: 4px; }
.fw-tree-row-label small { display: block; color: var(--fw-fg-muted); font-size: 10px; margin-top: 2px; }
.fw-tree-figure { margin: 0; display: flex; flex-direction: column; align-items: center; width: 92px; }
.fw-tree-figure img {
  width: 88px; height: 88px; object-fit: contain; border-radius: 3px;
  border: 2px solid var(--fw-border); background: var(--fw-bg-hover);
}
.fw-tree-figure.incorrect img { border-color: var(--fw-bad); }
.fw-tree-figure figcaption { font-size: 10px; line-height: 1.25; text-align: center; color: var(--fw-fg-muted); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 92px; }
.fw-tree-figure figcaption span { display: block; overflow: hidden; text-overflow: ellipsis; }
.fw-tree-placeholder {
  width: 88px; height: 88px; border-radius: 3px; border: 2px dashed var(--fw-border-strong);
  display: flex; align-items: center; justify-content: center; text-align: center;
  color: var(--fw-fg-muted); font-size: 10px; padding: 4px;
}
.fw-tree-visual-message { color: var(--fw-fg-muted); font-size: var(--fw-font-size-small); }
.fw-tree-visual-message:empty { display: none; }
.fw-tree-visual[data-state="error"] .fw-tree-visual-message { color: var(--fw-bad); }
`;

const numberFormat = new Intl.NumberFormat("en-US");

export function formatPercent(value) {
  return value == null || !Number.isFinite(value) ? "—" : `${(100 * value).toFixed(1)}%`;
}

/** A threshold or activation with 3 significant digits ("0.534", "12.3", "1.2e+3"). */
export function formatNumber(value) {
  if (value == null || !Number.isFinite(value)) return "—";
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e4 || abs < 1e-3)) return value.toExponential(1);
  return String(Number(value.toPrecision(3)));
}

/** The condition on an edge, e.g. "f12 ≤ 0.534". */
export function edgeText(edge) {
  const op = edge.op === "<=" ? "≤" : ">";
  return `f${edge.feature} ${op} ${formatNumber(edge.threshold)}`;
}

/** The three lines written under a node. */
export function nodeLines(node) {
  return [
    `${numberFormat.format(node.size)} img · ${numberFormat.format(node.errors)} err`,
    `ER ${formatPercent(node.er)} · EC ${formatPercent(node.ec)}`,
    `IV ${formatNumber(node.iv)}${node.passes ? " · failure" : ""}`,
  ];
}

/** One line describing a node (tooltip and status). */
export function describeNode(node, tree) {
  const parts = [
    node.parent < 0 ? `all ${numberFormat.format(node.size)} images` : node.rule,
    `${numberFormat.format(node.size)} images, ${numberFormat.format(node.errors)} errors`,
    `ER ${formatPercent(node.er)} (BER ${formatPercent(tree.ber)})`,
    `EC ${formatPercent(node.ec)}`,
    `IV ${formatNumber(node.iv)}`,
  ];
  if (!node.leaf) parts.push(`split on f${node.feature} at ${formatNumber(node.threshold)}`);
  else if (node.passes) parts.push(`failure leaf (ER > BER + ${formatNumber(tree.delta)}, EC > ${formatNumber(tree.tau)})`);
  else parts.push(`fails δ = ${formatNumber(tree.delta)} or τ = ${formatNumber(tree.tau)}`);
  return parts.join(" · ");
}

/** Colour of ER − BER on the diverging scale [-domain, +domain] (clamped): blue = the node
 * errs less than the group, red = more. */
export function errorColour(er, ber, domain) {
  if (er == null || ber == null) return MISSING_COLOUR;
  return divergingColour(er - ber, domain);
}

/** Symmetric colour domain: the largest |ER − BER|, at least 0.05, rounded up to 0.05. */
export function errorDomain(tree) {
  const finite = (node) => Number.isFinite(node.er) && Number.isFinite(tree.ber);
  return symmetricDomain((tree.nodes || []).map((node) => (finite(node) ? node.er - tree.ber : NaN)));
}

export function nodeRadius(size, rootSize, layout = LAYOUT) {
  const share = rootSize > 0 ? Math.max(0, Math.min(1, size / rootSize)) : 0;
  return layout.minRadius + (layout.maxRadius - layout.minRadius) * Math.sqrt(share);
}

/**
 * Positions of the nodes: leaves get consecutive columns in depth-first order (the "≤" child
 * before the ">" child), an inner node sits above the middle of its children, one row per depth.
 *
 * @returns {{x: Map, y: Map, width: number, height: number, levelHeight: number, columns: number}}
 */
export function layoutTree(nodes, layout = LAYOUT) {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const children = new Map();
  let root = null;
  for (const node of nodes) {
    if (node.parent < 0 || !byId.has(node.parent)) {
      if (root === null) root = node.id;
      continue;
    }
    if (!children.has(node.parent)) children.set(node.parent, []);
    children.get(node.parent).push(node);
  }
  for (const list of children.values()) {
    list.sort((p, q) => Number(p.edge?.op === ">") - Number(q.edge?.op === ">") || p.id - q.id);
  }
  const levelHeight = 2 * layout.maxRadius + layout.lines * layout.lineHeight + layout.edgeGap;
  const x = new Map();
  const y = new Map();
  let column = 0;
  let maxDepth = 0;
  const visit = (id, depth) => {
    maxDepth = Math.max(maxDepth, depth);
    y.set(id, layout.padding + layout.maxRadius + depth * levelHeight);
    const kids = children.get(id) || [];
    if (!kids.length) {
      x.set(id, layout.padding + (column + 0.5) * layout.columnWidth);
      column += 1;
      return;
    }
    for (const kid of kids) visit(kid.id, depth + 1);
    x.set(id, (x.get(kids[0].id) + x.get(kids[kids.length - 1].id)) / 2);
  };
  if (root !== null) visit(root, 0);
  const columns = Math.max(1, column);
  const width = columns * layout.columnWidth + 2 * layout.padding;
  const height =
    2 * layout.padding + maxDepth * levelHeight + 2 * layout.maxRadius + layout.lines * layout.lineHeight + 4;
  return { x, y, width, height, levelHeight, columns };
}

/**
 * Create the tree view inside `container`.
 *
 * @param {HTMLElement} container
 * @param {object} options
 * @param {(nodeId: number) => void} options.onSelect  a node was clicked (or chosen by keyboard).
 * @param {(feature: number) => void} options.onFeature  a feature of the selected rule was chosen.
 * @param {(blob: Blob) => string} [options.createObjectURL]
 * @param {(url: string) => void} [options.revokeObjectURL]
 */
export function createTreeView(container, options = {}) {
  const {
    onSelect = () => {},
    onFeature = () => {},
    layout = LAYOUT,
    createObjectURL = (blob) => URL.createObjectURL(blob),
    revokeObjectURL = (url) => URL.revokeObjectURL(url),
  } = options;
  const { doc, listeners, listen } = startView(container, STYLE_ID, TREE_CSS);

  let tree = { nodes: [] };
  let selected = -1;
  let hovered = null;
  let destroyed = false;
  let nodeElements = new Map(); // id -> <g>
  let edgeElements = new Map(); // child id -> {line, label}
  let visualToken = -1;
  let urls = [];

  // ------------------------------------------------------------------ DOM skeleton
  const { root, toolbar, title, spacer } = viewFrame(doc, "fw-tree");
  const summary = make(doc, "span", "fw-tree-summary");
  const { legend, low, high } = rampLegend(doc, "fw-tree", {
    caption: "ER − BER",
    background: `linear-gradient(to right, ${DIVERGING_STOPS.join(", ")})`,
    rampTitle: "node colour: error rate minus the group's base error rate",
    keys: [
      ["fw-tree-key-ring fw-key-ring", "failure leaf"],
      ["fw-tree-key-dim", "fails δ / τ"],
    ],
  });
  toolbar.append(title, summary, spacer, legend);

  const message = make(doc, "div", "fw-tree-message fw-message", { "aria-live": "polite" });
  const scroll = make(doc, "div", "fw-tree-scroll fw-scroll");
  const canvas = svg(doc, "svg", { class: "fw-tree-svg fw-drawing", role: "group", "aria-label": "Failure tree" });
  const edgeLayer = svg(doc, "g", { class: "fw-tree-edges" });
  const nodeLayer = svg(doc, "g", { class: "fw-tree-nodes" });
  const labelLayer = svg(doc, "g", { class: "fw-tree-edge-labels" });
  canvas.append(edgeLayer, nodeLayer, labelLayer);
  scroll.appendChild(canvas);
  const status = make(doc, "div", "fw-tree-status fw-statusline", { "aria-live": "polite" });

  const visual = make(doc, "div", "fw-tree-visual", { "data-state": "none", "data-attack": "off" });
  const visualHead = make(doc, "div", "fw-tree-visual-head");
  const visualTitle = make(doc, "span", "fw-tree-visual-title");
  const featureBar = make(doc, "span", "fw-tree-features");
  visualHead.append(visualTitle, featureBar);
  const visualRows = make(doc, "div", "fw-tree-visual-rows");
  const visualMessage = make(doc, "div", "fw-tree-visual-message", { "aria-live": "polite" });
  visual.append(visualHead, visualRows, visualMessage);

  root.append(toolbar, message, scroll, status, visual);
  container.appendChild(root);

  // ------------------------------------------------------------------ the tree
  function defaultStatus() {
    if (tree.status !== "ok") return "";
    const passing = `${tree.n_passing} of ${tree.n_leaves} leaves pass δ = ${formatNumber(tree.delta)}, τ = ${formatNumber(tree.tau)}`;
    if (tree.n_passing === 0 && tree.reason) return `${passing}: ${tree.reason}`; // why none
    return `${passing} — hover for details, click a node to see its images and its feature`;
  }

  function renderStatus() {
    const text = hovered ? describeNode(hovered, tree) : defaultStatus();
    status.textContent = text;
    status.title = text;
  }

  function buildNode(node, geometry, domain, rootSize) {
    const cx = geometry.x.get(node.id);
    const cy = geometry.y.get(node.id);
    const r = nodeRadius(node.size, rootSize, layout);
    const g = svg(doc, "g", {
      class: "fw-tree-node",
      "data-node": node.id,
      "data-leaf": node.leaf ? "true" : "false",
      tabindex: 0,
      role: "button",
    });
    const tip = svg(doc, "title");
    const ring = svg(doc, "circle", { class: "fw-tree-node-ring", cx, cy, r: r + 6 });
    const dot = svg(doc, "circle", { class: "fw-tree-node-dot", cx, cy, r, fill: errorColour(node.er, tree.ber, domain) });
    const label = svg(doc, "text", { class: "fw-tree-node-label", x: cx, y: cy + layout.maxRadius + layout.lineHeight, "text-anchor": "middle" });
    nodeLines(node).forEach((line, i) => {
      const span = svg(doc, "tspan", { x: cx, dy: i === 0 ? 0 : layout.lineHeight, class: `fw-tree-line-${i}` });
      span.textContent = line;
      label.appendChild(span);
    });
    g.append(tip, ring, dot, label);
    g._fwNode = node;
    return g;
  }

  function buildEdge(node, geometry, rootSize) {
    const parent = node.parent;
    const x1 = geometry.x.get(parent);
    const y1 = geometry.y.get(parent) + layout.maxRadius + layout.lines * layout.lineHeight + 4;
    const x2 = geometry.x.get(node.id);
    const y2 = geometry.y.get(node.id) - nodeRadius(node.size, rootSize, layout) - 3;
    const line = svg(doc, "line", { class: "fw-tree-edge", x1, y1, x2, y2, "data-node": node.id });
    const tip = svg(doc, "title");
    tip.textContent = `${node.edge.op === "<=" ? "≤" : ">"} branch: feature ${node.edge.feature} ${node.edge.op} ${node.edge.threshold}`;
    line.appendChild(tip);
    const left = node.edge.op === "<=";
    const label = svg(doc, "text", {
      class: "fw-tree-edge-label",
      x: (x1 + x2) / 2 + (left ? -6 : 6),
      y: (y1 + y2) / 2 + 4,
      "text-anchor": left ? "end" : "start",
      "data-node": node.id,
    });
    label.textContent = edgeText(node.edge);
    return { line, label };
  }

  /** Threshold-dependent classes only: passing leaves ringed, failing leaves dimmed. */
  function applyPasses() {
    let dimmed = 0;
    for (const [id, g] of nodeElements) {
      const node = g._fwNode;
      g.classList.toggle("pass", Boolean(node.passes));
      g.classList.toggle("dim", Boolean(node.dim));
      g.setAttribute("data-passes", node.passes ? "true" : "false");
      if (node.dim) dimmed++;
      const text = describeNode(node, tree);
      g.setAttribute("aria-label", text);
      g.firstChild.textContent = text;
      const edge = edgeElements.get(id);
      if (edge) {
        edge.line.classList.toggle("to-pass", Boolean(node.passes));
        edge.line.classList.toggle("dim", Boolean(node.dim));
        edge.label.classList.toggle("dim", Boolean(node.dim));
      }
      const last = g.querySelector(".fw-tree-line-2");
      if (last) last.textContent = nodeLines(node)[2];
    }
    root.setAttribute("data-passing", String(tree.n_passing ?? 0));
    root.setAttribute("data-dimmed", String(dimmed));
  }

  function applySelection() {
    markSelected(nodeElements, selected, "aria-pressed");
    root.setAttribute("data-selected", String(selected));
  }

  function clearDrawing() {
    nodeElements = new Map();
    edgeElements = new Map();
    edgeLayer.replaceChildren();
    nodeLayer.replaceChildren();
    labelLayer.replaceChildren();
    canvas.setAttribute("width", "0");
    canvas.setAttribute("height", "0");
  }

  function renderHeader() {
    const grouping = tree.grouping === "prediction" ? "predicted as" : "labelled";
    title.textContent = tree.class_name != null && tree.class_name !== "" ? `Barlow tree · ${grouping} ${tree.class_name}` : "Barlow tree";
    if (tree.status === "ok") {
      summary.textContent = `${numberFormat.format(tree.n)} images, ${numberFormat.format(tree.n_errors)} errors · BER ${formatPercent(tree.ber)} · ALER ${formatPercent(tree.aler)} · depth ${tree.depth}, k ${tree.k}`;
    } else {
      summary.textContent = "";
    }
  }

  /** Same tree structure (only δ/τ moved): keep the DOM and update classes. */
  function sameStructure(previous, next) {
    if (!previous || previous.status !== "ok" || next.status !== "ok") return false;
    if (previous.class_name !== next.class_name || previous.grouping !== next.grouping) return false;
    if (previous.k !== next.k || previous.depth !== next.depth || previous.n !== next.n) return false;
    const a = previous.nodes || [];
    const b = next.nodes || [];
    if (a.length !== b.length) return false;
    return a.every((node, i) => node.id === b[i].id && node.size === b[i].size && node.errors === b[i].errors && node.feature === b[i].feature);
  }

  function render(previous) {
    renderHeader();
    const states = { ok: "ready", no_errors: "nothing", error: "error" };
    root.setAttribute("data-state", states[tree.status] || "empty");
    root.setAttribute("data-class", tree.class_name ?? "");
    root.setAttribute("data-grouping", tree.grouping ?? "");
    message.textContent = tree.status === "ok" ? "" : tree.message || "";
    hovered = null;
    if (tree.status !== "ok") {
      clearDrawing();
      root.setAttribute("data-nodes", "0");
      root.setAttribute("data-passing", "0");
      root.setAttribute("data-dimmed", "0");
      low.textContent = high.textContent = "";
      renderStatus();
      return;
    }
    if (sameStructure(previous, tree)) {
      const byId = new Map(tree.nodes.map((node) => [node.id, node]));
      for (const [id, g] of nodeElements) g._fwNode = byId.get(id);
      applyPasses();
      applySelection();
      renderStatus();
      return;
    }
    const nodes = tree.nodes;
    const domain = errorDomain(tree);
    low.textContent = `−${Math.round(100 * domain)}`;
    high.textContent = `+${Math.round(100 * domain)} pts`;
    const geometry = layoutTree(nodes, layout);
    canvas.setAttribute("width", String(geometry.width));
    canvas.setAttribute("height", String(geometry.height));
    canvas.setAttribute("viewBox", `0 0 ${geometry.width} ${geometry.height}`);
    const rootNode = nodes.find((node) => node.parent < 0) || nodes[0];
    const rootSize = rootNode ? rootNode.size : 0;
    nodeElements = new Map();
    edgeElements = new Map();
    nodeLayer.replaceChildren(
      ...nodes
        .filter((node) => geometry.x.has(node.id))
        .map((node) => {
          const g = buildNode(node, geometry, domain, rootSize);
          nodeElements.set(node.id, g);
          return g;
        }),
    );
    for (const node of nodes) {
      if (node.edge && nodeElements.has(node.id) && nodeElements.has(node.parent)) {
        edgeElements.set(node.id, buildEdge(node, geometry, rootSize));
      }
    }
    edgeLayer.replaceChildren(...[...edgeElements.values()].map((e) => e.line));
    labelLayer.replaceChildren(...[...edgeElements.values()].map((e) => e.label));
    root.setAttribute("data-nodes", String(nodeElements.size));
    applyPasses();
    applySelection();
    renderStatus();
  }

  // ------------------------------------------------------------------ the feature panel
  function revokeAll() {
    for (const url of urls) releaseURL(url, revokeObjectURL);
    urls = [];
  }

  /** An image with one or two caption lines (title: the full text, for hover). */
  function figure(item, url, lines, alt) {
    const fig = make(doc, "figure", `fw-tree-figure ${item.correct ? "correct" : "incorrect"}`, { "data-index": item.index });
    const img = make(doc, "img", null, { alt, loading: "lazy", draggable: "false" });
    img.src = url;
    const cap = make(doc, "figcaption");
    for (const line of lines) {
      const span = make(doc, "span");
      span.textContent = line;
      cap.appendChild(span);
    }
    fig.title = `${alt}${lines.length > 1 ? ` · ${lines.slice(1).join(" · ")}` : ""}`;
    fig.append(img, cap);
    return fig;
  }

  function placeholder(text) {
    const box = make(doc, "div", "fw-tree-placeholder");
    box.textContent = text;
    return box;
  }

  function renderVisual(content, buffers) {
    revokeAll();
    const state = content.state || "none";
    visual.setAttribute("data-state", state);
    visual.setAttribute("data-attack", content.attack || "off");
    visual.setAttribute("data-heatmaps", content.heatmaps || "off");
    visual.setAttribute("data-feature", content.feature != null ? String(content.feature) : "");
    visualMessage.textContent = content.message || "";
    featureBar.replaceChildren();
    visualRows.replaceChildren();
    if (state !== "ready") {
      visualTitle.textContent = state === "none" ? "Click a node to see its feature: top activating images, CAM heatmaps, feature attack" : "Feature panel";
      return;
    }
    const feature = content.feature;
    const where = content.node >= 0 ? ` (node ${content.node})` : "";
    visualTitle.textContent = `Feature f${feature}${where} · top ${content.items.length} activating images of the group`;
    const ruleFeatures = content.rule_features || [];
    if (ruleFeatures.length > 1) {
      featureBar.append("features of this rule:");
      for (const f of ruleFeatures) {
        const button = make(doc, "button", f === feature ? "fw-tree-feature active" : "fw-tree-feature", { type: "button", "data-feature": f });
        button.textContent = `f${f}`;
        featureBar.appendChild(button);
      }
    }
    const mime = content.mime || "image/png";
    const urlOf = (position) => {
      const url = imageURL(content, buffers, position, createObjectURL, mime);
      if (url) urls.push(url);
      return url;
    };
    const row = (name, label, detail = "") => {
      const element = make(doc, "div", "fw-tree-visual-row", { "data-row": name });
      const text = make(doc, "span", "fw-tree-row-label");
      text.textContent = label;
      if (detail) {
        const small = make(doc, "small");
        small.textContent = detail;
        text.appendChild(small);
      }
      element.appendChild(text);
      visualRows.appendChild(element);
      return element;
    };
    const items = content.items || [];
    const top = row("image", "top activating", `f${feature} value under each image`);
    for (const item of items) {
      const url = urlOf(item.image);
      const lines = [`#${item.index} ${item.correct ? "✓" : "✗"}`, `f${feature} = ${formatNumber(item.activation)}`];
      const alt = `image ${item.index}: ${item.label}${item.correct ? "" : ` predicted as ${item.prediction}`}`;
      top.appendChild(url ? figure(item, url, lines, alt) : placeholder("no image"));
    }
    if (content.heatmaps && content.heatmaps !== "off") {
      const heat = row("overlay", "CAM heatmap", `red: where f${feature} fires`);
      for (const item of items) {
        const url = urlOf(item.overlay);
        heat.appendChild(url ? figure(item, url, [`#${item.index}`], `CAM of f${feature} on image ${item.index}`) : placeholder("—"));
      }
    }
    if (content.attack && content.attack !== "off") {
      const info = content.attack_info;
      const detail = info ? `${info.steps} steps · f${feature} ${formatNumber(info.before)} → ${formatNumber(info.after)}` : "";
      const attack = row("attack", "feature attack", detail);
      for (const item of items) {
        const url = urlOf(item.attack);
        if (url) attack.appendChild(figure(item, url, [`#${item.index}`], `feature attack of f${feature} on image ${item.index}`));
        else attack.appendChild(placeholder(content.attack === "pending" ? "computing…" : "—"));
      }
    }
  }

  // ------------------------------------------------------------------ events

  function nodeOf(target) {
    return closestIn(target, ".fw-tree-node", nodeLayer);
  }

  function choose(g) {
    selected = Number(g.getAttribute("data-node"));
    applySelection();
    onSelect(selected);
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
  listen(featureBar, "click", (event) => {
    const button = event.target && event.target.closest ? event.target.closest(".fw-tree-feature") : null;
    if (button) onFeature(Number(button.getAttribute("data-feature")));
  });

  // ------------------------------------------------------------------ public API
  function setTree(next) {
    if (destroyed) return;
    const previous = tree;
    tree = next && typeof next === "object" ? { nodes: [], ...next } : { nodes: [] };
    if (!Array.isArray(tree.nodes)) tree.nodes = [];
    render(previous);
  }

  function setSelected(id) {
    if (destroyed) return;
    selected = Number.isInteger(id) ? id : -1;
    applySelection();
  }

  /**
   * The feature panel: message {token, state: "none"|"ready"|"error", feature, node, items:
   * [{index, activation, correct, label, image, overlay, attack}], heatmaps, attack, attack_info,
   * message, mime} and the binary images (items index them; -1 for none). Messages older than
   * the last one shown (smaller token) are ignored. Returns true when shown.
   */
  function setVisual(content, buffers = []) {
    if (destroyed || !content || typeof content !== "object") return false;
    const token = Number.isFinite(content.token) ? content.token : visualToken;
    if (token < visualToken) return false;
    visualToken = token;
    renderVisual(content, buffers || []);
    return true;
  }

  function destroy() {
    if (destroyed) return;
    destroyed = true;
    listeners.removeAll();
    revokeAll();
    nodeElements = new Map();
    edgeElements = new Map();
    root.remove();
  }

  render(null);
  renderVisual({ state: "none" }, []);

  return {
    root,
    setTree,
    setSelected,
    setVisual,
    destroy,
    /** Listeners currently attached (for tests). */
    get listenerCount() {
      return listeners.size;
    },
    /** Object URLs currently alive (for tests). */
    get liveUrls() {
      return urls.length;
    },
  };
}
