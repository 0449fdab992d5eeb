import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createTreeView,
  describeNode,
  edgeText,
  errorColour,
  errorDomain,
  formatNumber,
  layoutTree,
  nodeLines,
  nodeRadius,
} from "../src/tree.js";
import widget from "../src/tree_widget.js";

const EVIL = "<img src=x onerror=alert(1)>";

/** A depth-2 tree: root splits on f5, its ">" child on f7; leaves 2, 4 (fails) and 5 (passes). */
function makeTree({ delta = 0.1, tau = 0.2, className = "cat" } = {}) {
  const ber = 0.2;
  const node = (id, parent, depth, leaf, feature, threshold, edge, size, errors) => ({
    id,
    parent,
    depth,
    leaf,
    feature: leaf ? -1 : feature,
    threshold: leaf ? null : threshold,
    edge,
    rule: edge ? `feature[${edge.feature}] ${edge.op} ${edge.threshold}` : "all samples",
    size,
    errors,
    er: errors / size,
    ec: errors / 40,
    iv: (errors / size) * (errors / 40),
    passes: false,
    dim: false,
  });
  // sklearn's pre-order ids; node 3 would be 1's "≤" child but ids need not be consecutive here
  const nodes = [
    node(0, -1, 0, false, 5, 1.0, null, 200, 40),
    node(1, 0, 1, false, 7, -0.25, { feature: 5, op: ">", threshold: 1.0 }, 60, 34),
    node(2, 0, 1, true, -1, null, { feature: 5, op: "<=", threshold: 1.0 }, 140, 6),
    node(4, 1, 2, true, -1, null, { feature: 7, op: "<=", threshold: -0.25 }, 10, 3),
    node(5, 1, 2, true, -1, null, { feature: 7, op: ">", threshold: -0.25 }, 50, 31),
  ];
  for (const n of nodes) {
    if (!n.leaf) continue;
    n.passes = n.er > ber + delta && n.ec > tau;
    n.dim = !n.passes;
  }
  return {
    status: "ok",
    class_name: className,
    grouping: "label",
    delta,
    tau,
    k: 20,
    depth: 2,
    n: 200,
    n_errors: 40,
    ber,
    aler: 0.5,
    n_leaves: 3,
    n_passing: nodes.filter((n) => n.passes).length,
    message: "",
    reason: nodes.some((n) => n.passes) ? "" : "no leaf has ER > BER + δ and EC > τ; best leaf ER 0.62, EC 0.78",
    nodes,
  };
}

function mount(options = {}) {
  const container = document.createElement("div");
  document.body.appendChild(container);
  let counter = 0;
  const created = [];
  const revoked = [];
  const view = createTreeView(container, {
    createObjectURL: () => {
      const url = `blob:test-${counter++}`;
      created.push(url);
      return url;
    },
    revokeObjectURL: (url) => revoked.push(url),
    ...options,
  });
  return { container, view, created, revoked };
}

afterEach(() => {
  document.body.replaceChildren();
});

describe("formatting and scales", () => {
  it("writes conditions and numbers compactly", () => {
    expect(edgeText({ feature: 12, op: "<=", threshold: 0.53412 })).toBe("f12 ≤ 0.534");
    expect(edgeText({ feature: 3, op: ">", threshold: -1.25 })).toBe("f3 > -1.25");
    expect(formatNumber(12345.6)).toBe("1.2e+4");
    expect(formatNumber(null)).toBe("—");
    expect(formatNumber(0)).toBe("0");
  });

  it("colours ER relative to BER on a diverging scale", () => {
    expect(errorColour(0.2, 0.2, 0.3)).toBe("rgb(247, 247, 247)"); // at BER: the neutral middle
    expect(errorColour(0.9, 0.2, 0.3)).toBe("rgb(103, 0, 31)"); // far above: darkest red
    expect(errorColour(0.0, 0.2, 0.2)).toBe("rgb(5, 48, 97)"); // far below: darkest blue
    expect(errorColour(null, 0.2, 0.2)).toBe("#9e9e9e");
    expect(errorDomain(makeTree())).toBeCloseTo(0.45); // |0.62 - 0.2| rounded up to 0.05
  });

  it("sizes nodes by samples", () => {
    expect(nodeRadius(200, 200)).toBe(26);
    expect(nodeRadius(0, 200)).toBe(7);
    expect(nodeRadius(50, 200)).toBeCloseTo(7 + 19 * 0.5);
  });

  it("lays leaves out in columns with inner nodes above their children", () => {
    const tree = makeTree();
    const g = layoutTree(tree.nodes);
    expect(g.columns).toBe(3);
    // leaf order: 2 (≤ of root), then 4 (≤ of 1), 5 (> of 1)
    expect(g.x.get(2)).toBeLessThan(g.x.get(4));
    expect(g.x.get(4)).toBeLessThan(g.x.get(5));
    expect(g.x.get(1)).toBeCloseTo((g.x.get(4) + g.x.get(5)) / 2);
    expect(g.x.get(0)).toBeCloseTo((g.x.get(2) + g.x.get(1)) / 2);
    expect(g.y.get(4) - g.y.get(1)).toBeCloseTo(g.levelHeight);
    expect(g.width).toBe(3 * 150 + 48);
  });

  it("describes nodes with their numbers and their status", () => {
    const tree = makeTree();
    const [root, , , , pass] = tree.nodes;
    expect(nodeLines(root)).toEqual(["200 img · 40 err", "ER 20.0% · EC 100.0%", "IV 0.2"]);
    expect(nodeLines(pass)[2]).toContain("failure");
    expect(describeNode(pass, tree)).toContain("failure leaf");
    expect(describeNode(root, tree)).toContain("split on f5 at 1");
  });
});

describe("the tree view", () => {
  it("draws nodes, edges with their rules, and dims the leaves failing δ/τ", () => {
    const { container, view } = mount();
    view.setTree(makeTree());
    const root = container.querySelector(".fw-tree");
    expect(root.dataset.state).toBe("ready");
    expect(root.dataset.nodes).toBe("5");
    expect(container.querySelectorAll(".fw-tree-edge").length).toBe(4);
    const labels = [...container.querySelectorAll(".fw-tree-edge-label")].map((e) => e.textContent);
    expect(labels).toEqual(expect.arrayContaining(["f5 > 1", "f5 ≤ 1", "f7 ≤ -0.25", "f7 > -0.25"]));
    // leaf 5 passes (ER 62 % > 30 %, EC 78 % > 20 %), leaves 2 and 4 fail
    const node = (id) => container.querySelector(`.fw-tree-node[data-node="${id}"]`);
    expect(node(5).classList.contains("pass")).toBe(true);
    expect(node(5).classList.contains("dim")).toBe(false);
    expect(node(2).classList.contains("dim")).toBe(true);
    expect(node(4).classList.contains("dim")).toBe(true);
    expect(node(0).classList.contains("dim")).toBe(false); // inner nodes never dim
    expect(root.dataset.passing).toBe("1");
    expect(root.dataset.dimmed).toBe("2");
    expect(container.querySelector('.fw-tree-edge[data-node="5"]').classList.contains("to-pass")).toBe(true);
    expect(container.querySelector(".fw-tree-summary").textContent).toContain("BER 20.0%");
  });

  it("re-filters in place when only δ/τ move", () => {
    const { container, view } = mount();
    view.setTree(makeTree());
    const before = container.querySelector('.fw-tree-node[data-node="5"]');
    view.setTree(makeTree({ tau: 0.9 }));
    const after = container.querySelector('.fw-tree-node[data-node="5"]');
    expect(after).toBe(before); // same element: no redraw
    expect(after.classList.contains("dim")).toBe(true);
    expect(after.classList.contains("pass")).toBe(false);
    expect(container.querySelector(".fw-tree").dataset.dimmed).toBe("3");
    // no leaf passes: the status line says why
    expect(container.querySelector(".fw-tree-status").textContent).toContain("0 of 3 leaves pass");
    expect(container.querySelector(".fw-tree-status").textContent).toContain("no leaf has ER > BER + δ and EC > τ; best leaf ER 0.62");
    expect(after.querySelector("title").textContent).toContain("fails δ = 0.1 or τ = 0.9");
    view.setTree(makeTree({ delta: 0.1 + 0.2 })); // 0.30000000000000004 from a slider
    expect(container.querySelector(".fw-tree-status").textContent).toContain("δ = 0.3,");
    view.setTree(makeTree({ tau: 0.2 }));
    expect(after.classList.contains("pass")).toBe(true);
    view.setTree(makeTree({ className: "dog" })); // another class: a fresh drawing
    expect(container.querySelector('.fw-tree-node[data-node="5"]')).not.toBe(after);
  });

  it("selects a node on click and by keyboard", () => {
    const onSelect = vi.fn();
    const { container, view } = mount({ onSelect });
    view.setTree(makeTree());
    const dot = container.querySelector('.fw-tree-node[data-node="5"] .fw-tree-node-dot');
    dot.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(onSelect).toHaveBeenCalledWith(5);
    expect(container.querySelector(".fw-tree").dataset.selected).toBe("5");
    expect(container.querySelector('.fw-tree-node[data-node="5"]').classList.contains("selected")).toBe(true);
    const inner = container.querySelector('.fw-tree-node[data-node="1"]');
    inner.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(onSelect).toHaveBeenLastCalledWith(1);
    view.setSelected(-1);
    expect(container.querySelectorAll(".fw-tree-node.selected").length).toBe(0);
  });

  it("shows the status of a hovered node", () => {
    const { container, view } = mount();
    view.setTree(makeTree());
    const g = container.querySelector('.fw-tree-node[data-node="5"]');
    g.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(container.querySelector(".fw-tree-status").textContent).toContain("EC 77.5%");
  });

  it("says when there is nothing to explain, and shows errors", () => {
    const { container, view } = mount();
    view.setTree(makeTree());
    view.setTree({ status: "no_errors", class_name: "cat", grouping: "label", nodes: [], message: "No errors among the 200 images labelled cat: nothing to explain." });
    const root = container.querySelector(".fw-tree");
    expect(root.dataset.state).toBe("nothing");
    expect(container.querySelector(".fw-tree-message").textContent).toContain("nothing to explain");
    expect(container.querySelectorAll(".fw-tree-node").length).toBe(0);
    view.setTree({ status: "error", class_name: "cat", nodes: [], message: "No images predicted as cat" });
    expect(root.dataset.state).toBe("error");
  });

  it("escapes every text that comes from data", () => {
    const { container, view } = mount();
    const tree = makeTree({ className: EVIL });
    tree.nodes[1].rule = EVIL;
    view.setTree(tree);
    expect(container.querySelector(".fw-tree-title").textContent).toContain(EVIL);
    expect(container.querySelectorAll("img").length).toBe(0);
    view.setTree({ status: "error", class_name: EVIL, nodes: [], message: EVIL });
    expect(container.querySelector(".fw-tree-message").textContent).toBe(EVIL);
    expect(container.querySelectorAll("img").length).toBe(0);
    view.setVisual({ token: 1, state: "error", message: EVIL });
    expect(container.querySelector(".fw-tree-visual-message").textContent).toBe(EVIL);
    expect(container.querySelectorAll("img").length).toBe(0);
  });
});

function visualMessage(token, attack = "pending") {
  const items = [0, 1, 2].map((i) => ({
    index: 10 + i,
    activation: 3 - i,
    label: EVIL,
    prediction: "dog",
    correct: i !== 1,
    image: i,
    overlay: 3 + i,
    attack: attack === "ready" ? 6 + i : -1,
  }));
  return {
    type: "visual",
    token,
    state: "ready",
    feature: 7,
    node: 5,
    rule_features: [5, 7],
    mime: "image/png",
    items,
    heatmaps: "ready",
    attack,
    attack_info: attack === "ready" ? { steps: 100, step_size: 0.3, before: 1, after: 9 } : null,
    message: "",
  };
}

const buffers = (n) => Array.from({ length: n }, (_, i) => new DataView(new Uint8Array([137, 80, 78, 71, i]).buffer));

describe("the feature panel", () => {
  it("shows top images, heatmaps and the attack from binary buffers", () => {
    const { container, view, created, revoked } = mount();
    expect(container.querySelector(".fw-tree-visual").dataset.state).toBe("none");
    expect(view.setVisual(visualMessage(1), buffers(6))).toBe(true);
    const panel = container.querySelector(".fw-tree-visual");
    expect(panel.dataset.state).toBe("ready");
    expect(panel.dataset.attack).toBe("pending");
    expect(panel.querySelectorAll('[data-row="image"] img').length).toBe(3);
    expect(panel.querySelectorAll('[data-row="overlay"] img').length).toBe(3);
    expect(panel.querySelectorAll('[data-row="attack"] .fw-tree-placeholder').length).toBe(3);
    expect(panel.querySelector('[data-row="image"] figure.incorrect').dataset.index).toBe("11");
    expect(created.length).toBe(6);
    // the attack arrives: the same token, complete
    view.setVisual(visualMessage(1, "ready"), buffers(9));
    expect(panel.dataset.attack).toBe("ready");
    expect(panel.querySelectorAll('[data-row="attack"] img').length).toBe(3);
    expect(panel.querySelector('[data-row="attack"] .fw-tree-row-label').textContent).toContain("1 → 9");
    expect(revoked.length).toBe(6); // the first message's URLs are released
    // data text stays text
    expect(panel.querySelector("img").getAttribute("alt")).toContain(EVIL);
    expect(panel.querySelectorAll("img[onerror]").length).toBe(0);
  });

  it("ignores an older message and offers the rule's features", () => {
    const onFeature = vi.fn();
    const { container, view } = mount({ onFeature });
    view.setVisual(visualMessage(5), buffers(6));
    expect(view.setVisual(visualMessage(4, "ready"), buffers(9))).toBe(false);
    const buttons = container.querySelectorAll(".fw-tree-feature");
    expect([...buttons].map((b) => b.textContent)).toEqual(["f5", "f7"]);
    expect(buttons[1].classList.contains("active")).toBe(true);
    buttons[0].dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(onFeature).toHaveBeenCalledWith(5);
  });

  it("clears to the hint when nothing is selected", () => {
    const { container, view, revoked } = mount();
    view.setVisual(visualMessage(1), buffers(6));
    view.setVisual({ type: "visual", token: 2, state: "none" }, []);
    expect(container.querySelector(".fw-tree-visual").dataset.state).toBe("none");
    expect(container.querySelectorAll(".fw-tree-visual img").length).toBe(0);
    expect(revoked.length).toBe(6);
  });
});

describe("cleanup", () => {
  it("removes its listeners, its DOM and its object URLs", () => {
    const onSelect = vi.fn();
    const { container, view, revoked } = mount({ onSelect });
    view.setTree(makeTree());
    view.setVisual(visualMessage(1, "ready"), buffers(9));
    expect(view.listenerCount).toBeGreaterThan(0);
    expect(view.liveUrls).toBe(9);
    const g = container.querySelector(".fw-tree-node");
    view.destroy();
    expect(view.listenerCount).toBe(0);
    expect(view.liveUrls).toBe(0);
    expect(revoked.length).toBe(9);
    expect(container.querySelector(".fw-tree")).toBeNull();
    g.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(onSelect).not.toHaveBeenCalled();
    view.setTree(makeTree()); // no-ops after destroy
    expect(view.setVisual(visualMessage(2), buffers(6))).toBe(false);
    view.destroy(); // twice is fine
  });

  it("the anywidget adapter wires traits and messages and unhooks them", () => {
    const handlers = new Map();
    const sent = [];
    const state = { tree: makeTree(), selected_node: 5 };
    const model = {
      get: (name) => state[name],
      on: (event, fn) => handlers.set(event, fn),
      off: (event, fn) => {
        if (handlers.get(event) === fn) handlers.delete(event);
      },
      send: (message) => sent.push(message),
    };
    const el = document.createElement("div");
    document.body.appendChild(el);
    // jsdom has no object URLs
    URL.createObjectURL = vi.fn(() => "blob:adapter");
    URL.revokeObjectURL = vi.fn();
    const cleanup = widget.render({ model, el });
    expect(sent).toEqual([{ type: "visual-request" }]);
    expect(el.querySelector(".fw-tree").dataset.selected).toBe("5");
    handlers.get("msg:custom")(visualMessage(1), buffers(6));
    expect(el.querySelector(".fw-tree-visual").dataset.state).toBe("ready");
    el.querySelector('.fw-tree-node[data-node="2"]').dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(sent.at(-1)).toEqual({ type: "select", node: 2 });
    el.querySelector(".fw-tree-feature").dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(sent.at(-1)).toEqual({ type: "feature", feature: 5 });
    state.tree = makeTree({ tau: 0.9 });
    handlers.get("change:tree")();
    expect(el.querySelector(".fw-tree").dataset.passing).toBe("0");
    cleanup();
    expect(handlers.size).toBe(0);
    expect(el.querySelector(".fw-tree")).toBeNull();
    expect(URL.revokeObjectURL).toHaveBeenCalledTimes(6);
    delete URL.createObjectURL;
    delete URL.revokeObjectURL;
  });
});
