// ConceptMapView drawing: the concept explanation map (CES) and its ranked bar lists.
//
// Each concept is a point at a 2-D embedding of its CAV (coordinates in [0, 1] from Python),
// coloured by the sign of its score, sized by |score|; the top concepts carry labels placed
// greedily so that no two labels overlap (labels that do not fit are left out: the tooltip still
// names the point). Beside the map, the top positive and top negative concepts as bars.
//
// Framework-free: the host supplies the view model with setState() and the busy flag with
// setBusy(), and hears clicks back through onConcept / onShowExplained. All text from data
// (concept names, class names) goes through textContent or attributes, never innerHTML.
//
// View model (see failwidgets/viewmodels/concept_map.py, concept_map_view_model):
//   { generation, explained_text, n_explained, target_text, direction, delta_text,
//     embedding_text, has_scores, legend: {positive, negative}, selected (index or null),
//     message, note,
//     concepts: [{index, name, x, y, score, score_text, mean_change_text, val_accuracy_text,
//                 rank, labelled, has_examples}],
//     positive: [{index, name, score, score_text, val_accuracy_text}], negative: [...],
//     empty_reasons: {positive, negative} (why a side has no concept; string or null) }

import { buttonCSS, panelCSS } from "./theme.js";
import { make, startView, svg } from "./dom.js";

const STYLE_ID = "fw-concept-map-style";

export const MAP = {
  width: 440,
  height: 340,
  padding: 26,
  minRadius: 3.5,
  maxRadius: 13,
  fontSize: 11,
  charWidth: 6.4, // estimate of one character's width at fontSize (no layout engine needed)
  labelGap: 3,
  maxLabelChars: 26,
};

export const CONCEPT_MAP_CSS = `
${panelCSS(".fw-cmap", {
  vars: "--fw-cmap-pos: #2f74d0; --fw-cmap-neg: #e06a12; --fw-cmap-zero: var(--jp-ui-font-color3, #9e9e9e);",
  padding: "8px 10px",
})}
[data-jp-theme-light="false"] .fw-cmap { --fw-cmap-pos: #5b9cf0; --fw-cmap-neg: #f08a3c; }
.fw-cmap-header { align-items: baseline; margin-bottom: 4px; }
.fw-cmap-explained { font-weight: 700; overflow-wrap: anywhere; }
.fw-cmap-setting { color: var(--fw-fg-soft); }
${buttonCSS(".fw-cmap")}
.fw-cmap-show { height: 24px; padding: 0 8px; }
.fw-cmap-message, .fw-cmap-note {
  padding: 6px 8px; margin: 4px 0; border-radius: var(--fw-radius); overflow-wrap: anywhere;
  background: color-mix(in srgb, var(--fw-accent) 10%, var(--fw-bg-raised));
  border: 1px solid color-mix(in srgb, var(--fw-accent) 35%, var(--fw-border));
}
.fw-cmap-message[hidden], .fw-cmap-note[hidden] { display: none; }
.fw-cmap-body { display: flex; flex-wrap: wrap; gap: 10px 16px; align-items: flex-start; }
.fw-cmap-plot { position: relative; flex: 1 1 360px; max-width: 520px; min-width: 260px; }
.fw-cmap-map { display: block; width: 100%; height: auto; border: 1px solid var(--fw-border); border-radius: var(--fw-radius); background: var(--fw-bg-raised); }
.fw-cmap-axis { stroke: var(--fw-border); stroke-width: 1; stroke-dasharray: 3 3; }
.fw-cmap-axis-label { font-size: 10px; fill: var(--fw-fg-muted); }
.fw-cmap-point { stroke: var(--fw-bg-raised); stroke-width: 1; cursor: pointer; opacity: 0.9; }
.fw-cmap-point[data-sign="positive"] { fill: var(--fw-cmap-pos); }
.fw-cmap-point[data-sign="negative"] { fill: var(--fw-cmap-neg); }
.fw-cmap-point[data-sign="zero"], .fw-cmap-point[data-sign="none"] { fill: var(--fw-cmap-zero); opacity: 0.7; }
.fw-cmap-point:hover, .fw-cmap-point.hover { stroke: var(--fw-fg); stroke-width: 2; opacity: 1; }
.fw-cmap-point.selected { stroke: var(--fw-fg); stroke-width: 3; opacity: 1; }
.fw-cmap-point:focus { outline: none; }
.fw-cmap-point:focus-visible { stroke: var(--fw-accent); stroke-width: 3; }
.fw-cmap-label {
  font-size: ${MAP.fontSize}px; fill: var(--fw-fg); paint-order: stroke; stroke: var(--fw-bg-raised);
  stroke-width: 3px; stroke-linejoin: round; pointer-events: none;
}
.fw-cmap-label.selected { font-weight: 700; }
.fw-cmap-legend {
  display: flex; flex-wrap: wrap; gap: 2px 12px; margin-top: 4px;
  color: var(--fw-fg-muted); font-size: var(--fw-font-size-small);
}
.fw-cmap-key { display: inline-flex; align-items: center; gap: 4px; }
.fw-cmap-swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%; }
.fw-cmap-swatch[data-sign="positive"] { background: var(--fw-cmap-pos); }
.fw-cmap-swatch[data-sign="negative"] { background: var(--fw-cmap-neg); }
.fw-cmap-tooltip {
  position: absolute; z-index: 2; pointer-events: none; max-width: 260px; padding: 5px 8px;
  background: var(--fw-bg-raised); color: var(--fw-fg); border: 1px solid var(--fw-border-strong);
  border-radius: var(--fw-radius); box-shadow: 0 2px 6px rgba(0, 0, 0, 0.25);
  font-size: var(--fw-font-size-small); line-height: 1.35;
}
.fw-cmap-tooltip[hidden] { display: none; }
.fw-cmap-tip-name { font-weight: 700; font-size: var(--fw-font-size); overflow-wrap: anywhere; }
.fw-cmap-tip-hint { color: var(--fw-fg-muted); font-style: italic; }
.fw-cmap-busy {
  position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
  background: color-mix(in srgb, var(--fw-bg) 55%, transparent); color: var(--fw-fg);
  font-weight: 600; border-radius: var(--fw-radius);
}
.fw-cmap-busy[hidden] { display: none; }
.fw-cmap-bars { flex: 1 1 240px; min-width: 220px; max-width: 420px; display: flex; flex-direction: column; gap: 8px; }
.fw-cmap-bars h4 { margin: 0 0 3px; font-size: 1em; font-weight: 600; }
.fw-cmap-bars h4 small { display: block; font-weight: 400; color: var(--fw-fg-muted); font-size: var(--fw-font-size-small); }
.fw-cmap-bars section[data-side="positive"] h4 { color: var(--fw-cmap-pos); }
.fw-cmap-bars section[data-side="negative"] h4 { color: var(--fw-cmap-neg); }
.fw-cmap-bars ol { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 2px; }
.fw-cmap-bar {
  display: grid; grid-template-columns: minmax(0, 1fr) 90px 48px; align-items: center; gap: 6px;
  width: 100%; text-align: left; padding: 2px 6px; background: var(--fw-bg-raised);
  border-color: transparent !important;
}
.fw-cmap-bar.selected { border-color: var(--fw-accent) !important; box-shadow: 0 0 0 1px var(--fw-accent); }
.fw-cmap-bar-name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.fw-cmap-bar-track { height: 10px; border-radius: 2px; background: var(--fw-bg-hover); overflow: hidden; }
.fw-cmap-bar-fill { height: 100%; border-radius: 2px; }
section[data-side="positive"] .fw-cmap-bar-fill { background: var(--fw-cmap-pos); }
section[data-side="negative"] .fw-cmap-bar-fill { background: var(--fw-cmap-neg); }
.fw-cmap-bar-score { font-family: var(--fw-mono); font-size: var(--fw-font-size-small); color: var(--fw-fg-soft); text-align: right; }
.fw-cmap-empty { color: var(--fw-fg-muted); padding: 2px 0; overflow-wrap: anywhere; }
.fw-cmap-hint { color: var(--fw-fg-muted); font-size: var(--fw-font-size-small); margin-top: 4px; }
`;

/** "positive", "negative", "zero" or "none" (no score yet). */
export function scoreSign(score) {
  if (score === null || score === undefined || Number.isNaN(score)) return "none";
  if (score > 0) return "positive";
  if (score < 0) return "negative";
  return "zero";
}

/** Point radius for a score in [-1, 1]: area grows with |score|. */
export function pointRadius(score, layout = MAP) {
  if (score === null || score === undefined || !Number.isFinite(score)) return layout.minRadius;
  const t = Math.min(1, Math.abs(score));
  return layout.minRadius + (layout.maxRadius - layout.minRadius) * Math.sqrt(t);
}

/** Pixel position of a concept with coordinates in [0, 1] (y up). */
export function project(x, y, layout = MAP) {
  const inner = (size) => size - 2 * layout.padding;
  return [layout.padding + x * inner(layout.width), layout.padding + (1 - y) * inner(layout.height)];
}

/** Shorten long names for a label (the tooltip keeps the full name). */
export function labelText(name, maxChars = MAP.maxLabelChars) {
  const text = String(name);
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}

function overlaps(a, b) {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

/**
 * Greedy label placement. `points` in priority order: [{index, x, y, r, text}] (pixels).
 * Each label tries the right, left, top and bottom of its point; it takes the first spot that
 * stays inside the map and overlaps no placed label and no other labelled point. Labels
 * without a free spot are left out.
 *
 * @returns {Array<{index, x, y, anchor, box}>} the placed labels (x, y: text anchor/baseline).
 */
export function placeLabels(points, layout = MAP) {
  const h = layout.fontSize + 2;
  const gap = layout.labelGap;
  const placed = [];
  const circles = points.map((p) => ({
    index: p.index,
    x0: p.x - p.r,
    x1: p.x + p.r,
    y0: p.y - p.r,
    y1: p.y + p.r,
  }));
  for (const p of points) {
    const w = p.text.length * layout.charWidth;
    const base = layout.fontSize * 0.35;
    const candidates = [
      { x: p.x + p.r + gap, y: p.y + base, anchor: "start", box: [p.x + p.r + gap, p.y - h / 2, w, h] },
      { x: p.x - p.r - gap, y: p.y + base, anchor: "end", box: [p.x - p.r - gap - w, p.y - h / 2, w, h] },
      { x: p.x, y: p.y - p.r - gap - 2, anchor: "middle", box: [p.x - w / 2, p.y - p.r - gap - h, w, h] },
      { x: p.x, y: p.y + p.r + gap + h - 3, anchor: "middle", box: [p.x - w / 2, p.y + p.r + gap, w, h] },
    ];
    for (const c of candidates) {
      const [bx, by, bw, bh] = c.box;
      const box = { x0: bx, y0: by, x1: bx + bw, y1: by + bh };
      if (box.x0 < 0 || box.y0 < 0 || box.x1 > layout.width || box.y1 > layout.height) continue;
      if (placed.some((q) => overlaps(box, q.box))) continue;
      if (circles.some((q) => q.index !== p.index && overlaps(box, q))) continue;
      placed.push({ index: p.index, x: c.x, y: c.y, anchor: c.anchor, box });
      break;
    }
  }
  return placed;
}

/**
 * Create the concept map inside `container`.
 *
 * @param {HTMLElement} container
 * @param {object} options
 * @param {(c: {index: number, name: string}) => void} options.onConcept  a point or bar was clicked
 * @param {() => void} options.onShowExplained  "Show these images" was clicked
 */
export function createConceptMap(container, options = {}) {
  const { onConcept = () => {}, onShowExplained = () => {} } = options;
  const { doc, listeners, listen } = startView(container, STYLE_ID, CONCEPT_MAP_CSS);
  let destroyed = false;
  let model = null;
  let busy = false;

  const root = make(doc, "div", "fw-cmap", { "data-state": "empty", "data-busy": "false" });
  const header = make(doc, "div", "fw-cmap-header fw-toolbar");
  const message = make(doc, "div", "fw-cmap-message", { role: "status" });
  message.hidden = true;
  const note = make(doc, "div", "fw-cmap-note");
  note.hidden = true;
  const body = make(doc, "div", "fw-cmap-body");
  const plot = make(doc, "div", "fw-cmap-plot");
  const map = svg(doc, "svg", {
    class: "fw-cmap-map",
    viewBox: `0 0 ${MAP.width} ${MAP.height}`,
    role: "group",
    "aria-label": "concept map",
  });
  const tooltip = make(doc, "div", "fw-cmap-tooltip", { role: "tooltip" });
  tooltip.hidden = true;
  const busyOverlay = make(doc, "div", "fw-cmap-busy", { "aria-live": "polite" });
  busyOverlay.textContent = "Computing scores…";
  busyOverlay.hidden = true;
  const legend = make(doc, "div", "fw-cmap-legend");
  plot.append(map, tooltip, busyOverlay, legend);
  const bars = make(doc, "div", "fw-cmap-bars");
  body.append(plot, bars);
  const hint = make(doc, "div", "fw-cmap-hint");
  hint.textContent =
    "Hover a point for its score and CAV accuracy; click a point or a bar to see the concept's examples.";
  root.append(header, message, note, body, hint);
  container.appendChild(root);

  function concept(index) {
    return model && model.concepts ? model.concepts[index] : undefined;
  }

  function renderHeader() {
    const explained = make(doc, "span", "fw-cmap-explained");
    explained.textContent = `Explaining ${model.explained_text}`;
    const setting = make(doc, "span", "fw-cmap-setting");
    const verb = model.direction === "remove" ? "remove" : "add";
    setting.textContent = `${model.target_text} · ${verb} concept · δ = ${model.delta_text} · ${model.embedding_text} map`;
    const spacer = make(doc, "span", "fw-cmap-spacer fw-spacer");
    const show = make(doc, "button", "fw-cmap-show", { type: "button", "data-action": "show-explained" });
    show.textContent = "Show these images";
    show.disabled = !model.n_explained;
    header.replaceChildren(explained, setting, spacer, show);
  }

  function renderMap() {
    const { width, height, padding } = MAP;
    const nodes = [];
    // the map's centre lines (embedding axes)
    nodes.push(svg(doc, "line", { class: "fw-cmap-axis", x1: padding, x2: width - padding, y1: height / 2, y2: height / 2 }));
    nodes.push(svg(doc, "line", { class: "fw-cmap-axis", x1: width / 2, x2: width / 2, y1: padding, y2: height - padding }));
    const axisNames = model.embedding_text === "PCA" ? ["PC 1", "PC 2"] : [`${model.embedding_text} 1`, `${model.embedding_text} 2`];
    const xLabel = svg(doc, "text", { class: "fw-cmap-axis-label", x: width - padding, y: height / 2 - 4, "text-anchor": "end" });
    xLabel.textContent = axisNames[0];
    const yLabel = svg(doc, "text", { class: "fw-cmap-axis-label", x: width / 2 + 4, y: padding - 6 });
    yLabel.textContent = axisNames[1];
    nodes.push(xLabel, yLabel);

    const concepts = model.concepts || [];
    const points = concepts.map((c) => {
      const [x, y] = project(c.x, c.y);
      return { c, x, y, r: pointRadius(c.score) };
    });
    // small points first, the selected one last, so big and selected points stay on top
    const drawOrder = [...points].sort((a, b) => {
      const sa = a.c.index === model.selected ? 1 : 0;
      const sb = b.c.index === model.selected ? 1 : 0;
      return sa - sb || a.r - b.r;
    });
    const pointGroup = svg(doc, "g", { class: "fw-cmap-points" });
    for (const p of drawOrder) {
      const selected = p.c.index === model.selected;
      const circle = svg(doc, "circle", {
        class: `fw-cmap-point${selected ? " selected" : ""}`,
        cx: p.x.toFixed(1),
        cy: p.y.toFixed(1),
        r: p.r.toFixed(1),
        tabindex: 0,
        role: "button",
        "data-index": p.c.index,
        "data-sign": scoreSign(p.c.score),
        "aria-label": `${p.c.name}: score ${p.c.score_text}`,
        "aria-pressed": selected ? "true" : "false",
      });
      pointGroup.appendChild(circle);
    }
    nodes.push(pointGroup);

    // labels on the flagged (top) concepts, the biggest |score| placed first
    const flagged = points
      .filter((p) => p.c.labelled)
      .sort((a, b) => Math.abs(b.c.score || 0) - Math.abs(a.c.score || 0) || (a.c.rank ?? 0) - (b.c.rank ?? 0))
      .map((p) => ({ index: p.c.index, x: p.x, y: p.y, r: p.r, text: labelText(p.c.name) }));
    const labelGroup = svg(doc, "g", { class: "fw-cmap-labels" });
    for (const label of placeLabels(flagged)) {
      const text = svg(doc, "text", {
        class: `fw-cmap-label${label.index === model.selected ? " selected" : ""}`,
        x: label.x.toFixed(1),
        y: label.y.toFixed(1),
        "text-anchor": label.anchor,
        "data-index": label.index,
      });
      text.textContent = labelText(concept(label.index).name);
      labelGroup.appendChild(text);
    }
    nodes.push(labelGroup);
    map.replaceChildren(...nodes);
    map.setAttribute("data-labels", String(labelGroup.childNodes.length));
  }

  function renderLegend() {
    const keys = [];
    for (const sign of ["positive", "negative"]) {
      const key = make(doc, "span", "fw-cmap-key", { "data-sign": sign });
      key.append(make(doc, "span", "fw-cmap-swatch", { "data-sign": sign }));
      key.append((model.legend || {})[sign] || sign);
      keys.push(key);
    }
    const size = make(doc, "span", "fw-cmap-key");
    size.textContent = "size: |score|";
    keys.push(size);
    legend.replaceChildren(...keys);
  }

  function barList(side, heading, explanation, entries) {
    const section = make(doc, "section", null, { "data-side": side });
    const h = make(doc, "h4");
    const small = make(doc, "small");
    small.textContent = explanation;
    h.append(heading, small);
    const ol = make(doc, "ol", null, { "aria-label": heading });
    for (const entry of entries) {
      const li = make(doc, "li");
      const selected = entry.index === model.selected;
      const button = make(doc, "button", `fw-cmap-bar${selected ? " selected" : ""}`, {
        type: "button",
        "data-index": entry.index,
        "aria-pressed": selected ? "true" : "false",
        title: `${entry.name}: score ${entry.score_text}, CAV validation accuracy ${entry.val_accuracy_text}`,
      });
      const name = make(doc, "span", "fw-cmap-bar-name");
      name.textContent = entry.name;
      const track = make(doc, "span", "fw-cmap-bar-track");
      const fill = make(doc, "span", "fw-cmap-bar-fill");
      fill.style.display = "block";
      fill.style.width = `${(100 * Math.min(1, Math.abs(entry.score || 0))).toFixed(1)}%`;
      track.appendChild(fill);
      const score = make(doc, "span", "fw-cmap-bar-score");
      score.textContent = entry.score_text;
      button.append(name, track, score);
      li.appendChild(button);
      ol.appendChild(li);
    }
    section.append(h, ol);
    if (!entries.length) {
      // an empty side says why (from Python; text only)
      const reason = (model.empty_reasons || {})[side];
      const empty = make(doc, "div", "fw-cmap-empty", { role: "note" });
      if (!model.has_scores) empty.textContent = "No scores yet.";
      else if (reason) empty.textContent = `None: ${reason}.`;
      else empty.textContent = "None.";
      section.appendChild(empty);
    }
    return section;
  }

  function renderBars() {
    const legendText = model.legend || {};
    bars.replaceChildren(
      barList("positive", "Top positive concepts", legendText.positive || "", model.positive || []),
      barList("negative", "Top negative concepts", legendText.negative || "", model.negative || []),
    );
  }

  function render() {
    hideTooltip();
    if (!model) {
      root.setAttribute("data-state", "empty");
      header.replaceChildren();
      map.replaceChildren();
      legend.replaceChildren();
      bars.replaceChildren();
      message.hidden = true;
      note.hidden = true;
      return;
    }
    root.setAttribute("data-state", model.has_scores ? "ready" : "no-scores");
    root.setAttribute("data-generation", String(model.generation ?? ""));
    renderHeader();
    message.textContent = model.message || "";
    message.hidden = !model.message;
    note.textContent = model.note || "";
    note.hidden = !model.note;
    renderMap();
    renderLegend();
    renderBars();
  }

  function showTooltip(index, clientX, clientY) {
    const c = concept(index);
    if (!c) return;
    const name = make(doc, "div", "fw-cmap-tip-name");
    name.textContent = c.name;
    const score = make(doc, "div", "fw-cmap-tip-score");
    score.textContent = `score ${c.score_text} · mean change of ${model.target_text}: ${c.mean_change_text} per image`;
    const accuracy = make(doc, "div", "fw-cmap-tip-accuracy");
    accuracy.textContent = `CAV validation accuracy ${c.val_accuracy_text}`;
    const parts = [name, score, accuracy];
    if (c.rank !== null && c.rank !== undefined) {
      const rank = make(doc, "div", "fw-cmap-tip-rank");
      rank.textContent = `rank ${c.rank + 1} of ${model.concepts.length}`;
      parts.push(rank);
    }
    const tip = make(doc, "div", "fw-cmap-tip-hint");
    tip.textContent = c.has_examples ? "click: show its positive examples" : "no examples in this EvalSet";
    parts.push(tip);
    tooltip.replaceChildren(...parts);
    tooltip.setAttribute("data-index", String(index));
    tooltip.hidden = false;
    // place it next to the pointer (or the point), inside the plot
    const box = plot.getBoundingClientRect();
    const mapBox = map.getBoundingClientRect();
    let left = 12;
    let top = 12;
    if (clientX !== undefined && box.width > 0) {
      left = clientX - box.left + 14;
      top = clientY - box.top + 14;
    } else if (mapBox.width > 0) {
      const [px, py] = project(c.x, c.y);
      left = (px / MAP.width) * mapBox.width + 14;
      top = (py / MAP.height) * mapBox.height + 14;
    }
    // keep it inside the plot: flip to the other side of the pointer near the right or bottom
    const tipWidth = tooltip.offsetWidth || 0;
    const tipHeight = tooltip.offsetHeight || 0;
    if (box.width > 0 && left + tipWidth > box.width) left = Math.max(0, left - tipWidth - 28);
    if (box.height > 0 && top + tipHeight > box.height) top = Math.max(0, top - tipHeight - 28);
    tooltip.style.left = `${Math.max(0, left)}px`;
    tooltip.style.top = `${Math.max(0, top)}px`;
  }

  function hideTooltip() {
    tooltip.hidden = true;
    tooltip.removeAttribute("data-index");
  }

  function pointIndex(target) {
    if (!target || !target.classList || !target.classList.contains("fw-cmap-point")) return null;
    const index = Number(target.getAttribute("data-index"));
    return Number.isInteger(index) ? index : null;
  }

  function choose(index) {
    const c = concept(index);
    if (c) onConcept({ index: c.index, name: c.name });
  }

  listen(map, "mouseover", (event) => {
    const index = pointIndex(event.target);
    if (index !== null) showTooltip(index, event.clientX, event.clientY);
  });
  listen(map, "mousemove", (event) => {
    const index = pointIndex(event.target);
    if (index === null) hideTooltip();
    else showTooltip(index, event.clientX, event.clientY);
  });
  listen(map, "mouseleave", hideTooltip);
  listen(map, "focusin", (event) => {
    const index = pointIndex(event.target);
    if (index !== null) showTooltip(index);
  });
  listen(map, "focusout", hideTooltip);
  listen(map, "click", (event) => {
    const index = pointIndex(event.target);
    if (index !== null) choose(index);
  });
  listen(map, "keydown", (event) => {
    const index = pointIndex(event.target);
    if (index !== null && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      choose(index);
    }
  });
  listen(bars, "click", (event) => {
    const button = event.target && event.target.closest ? event.target.closest("button.fw-cmap-bar") : null;
    if (!button || !bars.contains(button)) return;
    choose(Number(button.getAttribute("data-index")));
  });
  listen(header, "click", (event) => {
    const button = event.target && event.target.closest ? event.target.closest("button") : null;
    if (button && !button.disabled && button.dataset.action === "show-explained") onShowExplained();
  });

  function setState(next) {
    if (destroyed) return;
    model = next && typeof next === "object" && Array.isArray(next.concepts) ? next : null;
    render();
  }

  function setBusy(value) {
    if (destroyed) return;
    busy = Boolean(value);
    root.setAttribute("data-busy", busy ? "true" : "false");
    root.setAttribute("aria-busy", busy ? "true" : "false");
    busyOverlay.hidden = !busy;
  }

  function destroy() {
    if (destroyed) return;
    destroyed = true;
    listeners.removeAll();
    root.remove();
  }

  return { root, setState, setBusy, destroy };
}
