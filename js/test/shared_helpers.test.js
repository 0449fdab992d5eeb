import { describe, expect, it, vi } from "vitest";
import { DIVERGING_STOPS, MISSING_COLOUR, divergingColour, symmetricDomain } from "../src/colour.js";
import { SVG_NS, make, svg } from "../src/dom.js";
import { listenerSet, wireItems } from "../src/events.js";

describe("make and svg", () => {
  it("set the class and the attributes as text, never as markup", () => {
    const node = make(document, "div", "fw-row", { "data-index": 3, title: "<b>x</b>" });
    expect(node.tagName).toBe("DIV");
    expect(node.className).toBe("fw-row");
    expect(node.getAttribute("data-index")).toBe("3");
    expect(node.getAttribute("title")).toBe("<b>x</b>");
    expect(node.children.length).toBe(0);
    expect(make(document, "span").hasAttribute("class")).toBe(false);
  });

  it("svg makes elements in the SVG namespace", () => {
    const circle = svg(document, "circle", { r: 4 });
    expect(circle.namespaceURI).toBe(SVG_NS);
    expect(circle.getAttribute("r")).toBe("4");
    expect(svg(document, "g").attributes.length).toBe(0);
  });
});

describe("divergingColour", () => {
  const rgb = (hex) => {
    const v = parseInt(hex.slice(1), 16);
    return `rgb(${(v >> 16) & 255}, ${(v >> 8) & 255}, ${v & 255})`;
  };

  it("maps -domain, 0 and +domain to the ends and the middle, clamping beyond", () => {
    const last = DIVERGING_STOPS.length - 1;
    expect(divergingColour(-0.2, 0.2)).toBe(rgb(DIVERGING_STOPS[0]));
    expect(divergingColour(0, 0.2)).toBe(rgb(DIVERGING_STOPS[last / 2]));
    expect(divergingColour(0.2, 0.2)).toBe(rgb(DIVERGING_STOPS[last]));
    expect(divergingColour(5, 0.2)).toBe(rgb(DIVERGING_STOPS[last]));
  });

  it("is grey for a missing value", () => {
    for (const value of [null, undefined, Number.NaN, Infinity]) {
      expect(divergingColour(value, 0.2)).toBe(MISSING_COLOUR);
    }
  });

  it("symmetricDomain rounds the largest |value| up to 0.05, within [0.05, 1]", () => {
    expect(symmetricDomain([0.01, -0.12, Number.NaN, null])).toBeCloseTo(0.15);
    expect(symmetricDomain([])).toBeCloseTo(0.05);
    expect(symmetricDomain([3])).toBe(1);
  });
});

describe("wireItems", () => {
  function setup() {
    const area = document.createElement("div");
    const layer = document.createElement("div");
    const item = document.createElement("button");
    item.className = "item";
    layer.append(item);
    area.append(layer);
    const listeners = listenerSet();
    const choose = vi.fn();
    const hover = vi.fn();
    const itemOf = (target) => (target && target.closest ? target.closest(".item") : null);
    wireItems(listeners.listen, layer, area, itemOf, { choose, hover });
    return { area, layer, item, listeners, choose, hover };
  }

  it("chooses on click and on Enter / Space, hovers on mouseover and focus, clears on leave", () => {
    const { area, layer, item, choose, hover } = setup();
    item.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    item.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    item.dispatchEvent(new KeyboardEvent("keydown", { key: " ", bubbles: true }));
    item.dispatchEvent(new KeyboardEvent("keydown", { key: "a", bubbles: true }));
    layer.dispatchEvent(new MouseEvent("click", { bubbles: true })); // not on an item
    expect(choose.mock.calls).toEqual([[item], [item], [item]]);
    item.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    item.dispatchEvent(new FocusEvent("focusin", { bubbles: true }));
    area.dispatchEvent(new MouseEvent("mouseleave"));
    expect(hover.mock.calls).toEqual([[item], [item], [null]]);
  });

  it("adds its listeners to the view's set, so the cleanup removes them", () => {
    const { item, listeners, choose } = setup();
    expect(listeners.size).toBe(5);
    listeners.removeAll();
    item.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(choose).not.toHaveBeenCalled();
  });
});
