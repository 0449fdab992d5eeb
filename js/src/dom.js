// DOM helpers shared by the views (no Jupyter here).

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
