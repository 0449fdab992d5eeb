// The shared vocabulary of the views: theme.js's CSS builders and shared sheet, dom.js's view
// frame / legend / selection / lookup helpers, events.js's hover wiring, adapter.js's model wiring.
import { describe, expect, it, vi } from "vitest";
import { SHARED_CSS, buttonCSS, ensureViewStyle, panelCSS } from "../src/theme.js";
import { closestIn, markSelected, rampLegend, startView, viewFrame } from "../src/dom.js";
import { wireHover } from "../src/events.js";
import {
  onMessages,
  readTraits,
  saveTraits,
  snakeTraits,
  syncTraits,
  watchTraits,
} from "../src/adapter.js";

/** A minimal anywidget model: traits, change events, custom messages. */
function fakeModel(values = {}) {
  const handlers = new Map();
  const model = {
    values: { ...values },
    saved: 0,
    get: (name) => model.values[name],
    set: (name, value) => {
      model.values[name] = value;
    },
    save_changes: () => {
      model.saved += 1;
    },
    on: (event, handler) => {
      if (!handlers.has(event)) handlers.set(event, new Set());
      handlers.get(event).add(handler);
    },
    off: (event, handler) => handlers.get(event)?.delete(handler),
    emit: (event, ...args) => {
      for (const handler of handlers.get(event) || []) handler(...args);
    },
    change: (name, value) => {
      model.values[name] = value;
      model.emit(`change:${name}`);
    },
    listening: () => [...handlers.values()].reduce((n, set) => n + set.size, 0),
  };
  return model;
}

describe("theme.js builders", () => {
  it("panelCSS gives the panel its theme, padding, sizing and focus ring", () => {
    const css = panelCSS(".fw-x", { vars: "--fw-mark: red;", padding: "8px 10px", more: "min-width: 280px;" });
    expect(css).toContain("--fw-bg: var(--jp-layout-color0");
    expect(css).toContain("--fw-mark: red;");
    expect(css).toMatch(/\.fw-x \{[^}]*padding: 8px 10px;[^}]*min-width: 280px;/);
    expect(css).toContain(".fw-x * { box-sizing: border-box; }");
    expect(css).toContain(".fw-x :focus-visible { outline: 2px solid var(--fw-accent)");
    expect(panelCSS(".fw-y")).toContain("padding: 6px 8px;");
    expect(buttonCSS(".fw-x")).toContain(".fw-x button:not(:disabled):hover");
  });

  it("ensureViewStyle puts the shared sheet in once, before each view's own", () => {
    const doc = document.implementation.createHTMLDocument("t");
    ensureViewStyle(doc, "fw-a-style", ".fw-a {}");
    ensureViewStyle(doc, "fw-b-style", ".fw-b {}");
    ensureViewStyle(doc, "fw-a-style", ".fw-a {}");
    const ids = [...doc.head.querySelectorAll("style")].map((style) => style.id);
    expect(ids).toEqual(["fw-shared-style", "fw-a-style", "fw-b-style"]);
    expect(doc.getElementById("fw-shared-style").textContent).toBe(SHARED_CSS);
  });
});

describe("dom.js view helpers", () => {
  it("viewFrame makes the root and the toolbar parts with the view's and the shared classes", () => {
    const { root, toolbar, title, spacer } = viewFrame(document, "fw-scn", "fw-scenarios");
    expect(root.className).toBe("fw-scenarios");
    expect(root.getAttribute("data-state")).toBe("empty");
    expect(toolbar.className).toBe("fw-scn-toolbar fw-toolbar");
    expect(title.className).toBe("fw-scn-title fw-title");
    expect(spacer.className).toBe("fw-scn-spacer fw-spacer");
    expect(viewFrame(document, "fw-tree").root.className).toBe("fw-tree");
    expect(toolbar.children.length).toBe(0); // the view appends what it shows
  });

  it("rampLegend lays out caption, ends, ramp and keys in order", () => {
    const { legend, low, high } = rampLegend(document, "fw-t", {
      caption: "drop",
      background: "linear-gradient(to right, red, blue)",
      rampTitle: "<b>colour</b>",
      keys: [["fw-t-key-ring fw-key-ring", "failure mode"]],
    });
    expect(legend.className).toBe("fw-t-legend fw-legend");
    const ramp = legend.querySelector(".fw-t-ramp.fw-ramp");
    expect(ramp.title).toBe("<b>colour</b>");
    expect(ramp.style.background).toContain("linear-gradient");
    expect([...legend.childNodes].map((n) => n.className || n.textContent)).toEqual([
      "drop",
      "fw-t-low",
      "fw-t-ramp fw-ramp",
      "fw-t-high",
      "fw-t-key fw-key",
    ]);
    expect(legend.querySelector(".fw-t-key").textContent).toBe("failure mode");
    expect(legend.querySelector(".fw-key-ring")).not.toBeNull();
    expect(low.parentNode).toBe(legend);
    expect(high.parentNode).toBe(legend);
  });

  it("markSelected marks one element and unmarks the others", () => {
    const elements = new Map([1, 2, 3].map((id) => [id, document.createElement("div")]));
    markSelected(elements, 2, "aria-pressed");
    expect([...elements.values()].map((el) => el.classList.contains("selected"))).toEqual([false, true, false]);
    expect(elements.get(1).getAttribute("aria-pressed")).toBe("false");
    markSelected(elements, -1, "aria-current");
    expect([...elements.values()].some((el) => el.classList.contains("selected"))).toBe(false);
    expect(elements.get(2).getAttribute("aria-current")).toBe("false");
  });

  it("closestIn finds the matching ancestor inside the given element only", () => {
    const outer = document.createElement("div");
    outer.className = "fw-row";
    const layer = document.createElement("div");
    const row = document.createElement("div");
    row.className = "fw-row";
    const label = document.createElement("span");
    label.append("text");
    row.appendChild(label);
    layer.appendChild(row);
    outer.appendChild(layer);
    expect(closestIn(label, ".fw-row", layer)).toBe(row);
    expect(closestIn(label.firstChild, ".fw-row", layer)).toBeNull(); // a text node
    expect(closestIn(layer, ".fw-row", layer)).toBeNull(); // the match lies outside
    expect(closestIn(null, ".fw-row", layer)).toBeNull();
  });

  it("startView injects the style and returns the document and a listener set", () => {
    const container = document.createElement("div");
    document.body.appendChild(container);
    const { doc, listeners, listen } = startView(container, "fw-kit-style", ".fw-kit {}");
    expect(doc).toBe(document);
    expect(document.getElementById("fw-kit-style")).not.toBeNull();
    const handler = vi.fn();
    listen(container, "click", handler);
    container.click();
    listeners.removeAll();
    container.click();
    expect(handler).toHaveBeenCalledTimes(1);
    container.remove();
  });
});

describe("wireHover", () => {
  it("reports the hovered or focused item, and null on leaving the area", () => {
    const area = document.createElement("div");
    const item = document.createElement("button");
    item.className = "item";
    area.appendChild(item);
    document.body.appendChild(area);
    const seen = [];
    const listeners = [];
    const listen = (target, type, handler) => {
      target.addEventListener(type, handler);
      listeners.push(type);
    };
    wireHover(listen, area, area, (target) => closestIn(target, ".item", area), (el) => seen.push(el));
    item.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    item.dispatchEvent(new FocusEvent("focusin", { bubbles: true }));
    area.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    area.dispatchEvent(new MouseEvent("mouseleave"));
    expect(seen).toEqual([item, item, null, null]);
    expect(listeners).toEqual(["mouseover", "focusin", "mouseleave"]);
    area.remove();
  });
});

describe("adapter.js", () => {
  it("syncTraits applies each trait now, in order, and on its changes until stopped", () => {
    const model = fakeModel({ tree: "t0", selected_node: 3 });
    const calls = [];
    const stop = syncTraits(model, {
      tree: (value) => calls.push(["tree", value]),
      selected_node: (value) => calls.push(["selected", value]),
    });
    expect(calls).toEqual([
      ["tree", "t0"],
      ["selected", 3],
    ]);
    model.change("selected_node", 5);
    expect(calls.at(-1)).toEqual(["selected", 5]);
    stop();
    expect(model.listening()).toBe(0);
    model.change("tree", "t1");
    expect(calls.length).toBe(3);
  });

  it("watchTraits calls one listener for any of the traits, not at once", () => {
    const model = fakeModel({ a: 1, b: 2 });
    const listener = vi.fn();
    const stop = watchTraits(model, ["a", "b"], listener);
    expect(listener).not.toHaveBeenCalled();
    model.change("a", 3);
    model.change("b", 4);
    expect(listener).toHaveBeenCalledTimes(2);
    stop();
    expect(model.listening()).toBe(0);
  });

  it("snakeTraits, readTraits and saveTraits map view names onto traits", () => {
    const traits = snakeTraits(["pageSize", "nLabelIssues", "sort"], { version: "_data_version" });
    expect(traits).toEqual({
      pageSize: "page_size",
      nLabelIssues: "n_label_issues",
      sort: "sort",
      version: "_data_version",
    });
    const model = fakeModel({ page_size: 50, n_label_issues: 2, sort: "asc", _data_version: 7 });
    expect(readTraits(model, traits)).toEqual({ pageSize: 50, nLabelIssues: 2, sort: "asc", version: 7 });
    saveTraits(model, { sort_by: "drop", ascending: false });
    expect(model.values.sort_by).toBe("drop");
    expect(model.values.ascending).toBe(false);
    expect(model.saved).toBe(1); // one save for all
  });

  it("onMessages routes custom messages by type and ignores the others", () => {
    const model = fakeModel();
    const page = vi.fn();
    const stop = onMessages(model, { page });
    const buffers = [new ArrayBuffer(2)];
    model.emit("msg:custom", { type: "page", page: 1 }, buffers);
    model.emit("msg:custom", { type: "constructor" }, []);
    model.emit("msg:custom", { type: "other" }, []);
    model.emit("msg:custom", null, []);
    expect(page).toHaveBeenCalledTimes(1);
    expect(page).toHaveBeenCalledWith({ type: "page", page: 1 }, buffers);
    stop();
    expect(model.listening()).toBe(0);
  });
});
