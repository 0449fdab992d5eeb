// DOM helpers shared by the views (no Jupyter here).

import { ensureViewStyle } from "./theme.js";
import { listenerSet } from "./events.js";

/**
 * A new element of `doc`: `make(doc, "div", "fw-row", { "data-index": 3 })`.
 * `className` may be empty; attribute values are set as strings (never as HTML).
 */
export function make(doc, tag, className, attributes) {
  const node = doc.createElement(tag);
  if (className) node.className = className;
  if (attributes) {
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  }
  return node;
}

export const SVG_NS = "http://www.w3.org/2000/svg";

/** A new SVG element of `doc`: `svg(doc, "circle", { r: 4 })` (attribute values as strings). */
export function svg(doc, tag, attributes) {
  const node = doc.createElementNS(SVG_NS, tag);
  if (attributes) {
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  }
  return node;
}

/**
 * The top of a view: `root` (`<div class="${rootClass}" data-state="empty">`) and its `toolbar`
 * holding a `title` and a `spacer` that pushes what follows to the right. Each part has the
 * view's class (`${prefix}-toolbar`, ...: the hooks of its rules and tests) and the shared one
 * of theme.js's vocabulary (`fw-toolbar`, ...). The caller appends them.
 */
export function viewFrame(doc, prefix, rootClass = prefix) {
  return {
    root: make(doc, "div", rootClass, { "data-state": "empty" }),
    toolbar: make(doc, "div", `${prefix}-toolbar fw-toolbar`),
    title: make(doc, "span", `${prefix}-title fw-title`),
    spacer: make(doc, "span", `${prefix}-spacer fw-spacer`),
  };
}

/**
 * A colour legend (`${prefix}-legend fw-legend`): `caption`, the low end, a colour ramp (CSS
 * `background`, tooltip `rampTitle`), the high end, then one key per `[swatchClass, text]`.
 * Returns the legend and its two (empty) ends, which the view labels.
 */
export function rampLegend(doc, prefix, { caption, background, rampTitle, keys = [] }) {
  const legend = make(doc, "span", `${prefix}-legend fw-legend`);
  const low = make(doc, "span", `${prefix}-low`);
  const ramp = make(doc, "span", `${prefix}-ramp fw-ramp`, { title: rampTitle });
  ramp.style.background = background;
  const high = make(doc, "span", `${prefix}-high`);
  legend.append(caption, low, ramp, high);
  for (const [swatchClass, text] of keys) {
    const key = make(doc, "span", `${prefix}-key fw-key`);
    key.append(make(doc, "span", swatchClass), text);
    legend.append(key);
  }
  return { legend, low, high };
}

/**
 * Mark the element of `key` in `elements` (a Map key -> element) as the selected one: class
 * "selected" and `attribute` (e.g. "aria-pressed") "true" on it, "false" on the others.
 */
export function markSelected(elements, key, attribute) {
  for (const [id, element] of elements) {
    const on = id === key;
    element.classList.toggle("selected", on);
    element.setAttribute(attribute, on ? "true" : "false");
  }
}

/**
 * What every view starts with: its document, its style sheet injected (theme.js's shared
 * vocabulary first), and a listener set whose `listen` adds listeners that the view's cleanup
 * removes with `listeners.removeAll()`.
 */
export function startView(container, styleId, css) {
  ensureViewStyle(container, styleId, css);
  const listeners = listenerSet();
  return { doc: container.ownerDocument, listeners, listen: listeners.listen };
}

/**
 * The element matching `selector` that `target` is in (itself included), when that element
 * lies inside `within`; else null. `target` is whatever an event carries (a text node has no
 * `closest`).
 */
export function closestIn(target, selector, within) {
  const found = target && target.closest ? target.closest(selector) : null;
  return found && within.contains(found) ? found : null;
}
