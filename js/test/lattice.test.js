import { afterEach, describe, expect, it, vi } from "vitest";
import {
  countCrossings,
  createLatticeView,
  describeNode,
  dropColour,
  dropDomain,
  fitLayout,
  formatPoints,
  layoutLattice,
  matchesQuery,
  nodeRadius,
} from "../src/lattice.js";
import widget from "../src/lattice_widget.js";

const EVIL = "<img src=x onerror=alert(1)>";

/** Lattice of a class with tags A, B, C (ABC a failure mode) and an extra tag. */
function makeGraph({ tagC = "C", extra = "noise" } = {}) {
  const node = (row, tags, n, accuracy, mode = false) => ({
    row,
    tags,
    size: tags.length,
    n,
    n_errors: Math.round(n * (1 - accuracy)),
    accuracy,
    drop: 0.9 - accuracy,
    mode,
  });
  const nodes = [
    node(10, [], 400, 0.9),
    node(11, ["A"], 120, 0.85),
    node(12, ["B"], 120, 0.85),
    node(13, [tagC], 120, 0.86),
    node(14, [extra], 150, 0.9),
    node(15, ["A", "B"], 40, 0.7),
    node(16, ["A", tagC], 40, 0.7),
    node(17, ["B", tagC], 40, 0.72),
    node(18, ["A", extra], 50, 0.88),
    node(19, ["A", "B", tagC], 20, 0.15, true),
  ];
  const edge = (subset, superset, removed, gain, necessity = false) => ({
    subset,
    superset,
    removed,
    gain,
    necessary: necessity,
    necessity,
  });
  const edges = [
    edge(10, 11, "A", 0.05),
    edge(10, 12, "B", 0.05),
    edge(10, 13, tagC, 0.04),
    edge(10, 14, extra, 0.0),
    edge(12, 15, "A", 0.15),
    edge(11, 15, "B", 0.15),
    edge(13, 16, "A", 0.16),
    edge(11, 16, tagC, 0.15),
    edge(13, 17, "B", 0.14),
    edge(12, 17, tagC, 0.13),
    edge(14, 18, "A", 0.02),
    edge(11, 18, extra, -0.03),
    edge(17, 19, "A", 0.57, true),
    edge(16, 19, "B", 0.55, true),
    edge(15, 19, tagC, 0.55, true),
  ];
  return {
    class_name: "square",
    class_accuracy: 0.9,
    n_class: 400,
    n_modes: 1,
    n_modes_shown: 1,
    truncated: false,
    message: "",
    nodes,
    edges,
  };
}

function setup() {
  const container = document.createElement("div");
  document.body.appendChild(container);
  const calls = { selects: [], queries: [] };
  const view = createLatticeView(container, {
    onSelect: (row) => calls.selects.push(row),
    onQuery: (q) => calls.queries.push(q),
  });
  return { container, view, calls };
}

afterEach(() => {
  document.body.replaceChildren();
});

describe("helpers", () => {
  it("formats drops and describes nodes", () => {
    expect(formatPoints(0.312)).toBe("+31.2 pts");
    expect(formatPoints(-0.05)).toBe("−5.0 pts");
    expect(formatPoints(null)).toBe("—");
    const text = describeNode({ tags: ["a", "b"], n: 1200, n_errors: 30, accuracy: 0.975, drop: 0.3, mode: true }, "cat");
    expect(text).toBe("a + b · |I_S| = 1,200 (30 errors) · accuracy 97.5% · drop +30.0 pts · failure mode");
    expect(describeNode({ tags: [], n: 5, n_errors: 0, accuracy: 1, drop: 0, mode: false }, "cat")).toMatch(
      /^all images of cat · /,
    );
  });

  it("colours drops on a diverging scale: red worse, blue better, light at zero", () => {
    const rgb = (text) => text.match(/\d+/g).map(Number);
    const [rHigh, , bHigh] = rgb(dropColour(0.5, 0.5));
    const [rLow, , bLow] = rgb(dropColour(-0.5, 0.5));
    const mid = rgb(dropColour(0, 0.5));
    expect(rHigh).toBeGreaterThan(bHigh);
    expect(bLow).toBeGreaterThan(rLow);
    expect(Math.min(...mid)).toBeGreaterThan(230);
    expect(dropColour(2, 0.5)).toBe(dropColour(0.5, 0.5)); // clamped
    expect(dropColour(null, 0.5)).toBe("#9e9e9e");
    expect(dropDomain([{ drop: 0.01 }])).toBeCloseTo(0.05);
    expect(dropDomain([{ drop: -0.42 }, { drop: 0.3 }])).toBeCloseTo(0.45);
  });

  it("sizes nodes by support", () => {
    expect(nodeRadius(400, 400)).toBe(18);
    expect(nodeRadius(0, 400)).toBe(5);
    expect(nodeRadius(100, 400)).toBeCloseTo(5 + 13 * 0.5);
  });

  it("matches tags case-insensitively, never with an empty query", () => {
    expect(matchesQuery({ tags: ["colour=Red"] }, "red")).toBe(true);
    expect(matchesQuery({ tags: ["colour=Red"] }, " ")).toBe(false);
    expect(matchesQuery({ tags: [] }, "red")).toBe(false);
  });
});

describe("layout", () => {
  it("puts one level per set size, the class at the top", () => {
    const graph = makeGraph();
    const layout = layoutLattice(graph);
    expect(layout.levels.map((l) => l.length)).toEqual([1, 4, 4, 1]);
    expect(layout.levels[0]).toEqual([10]);
    const ys = layout.levels.map((level) => layout.y.get(level[0]));
    expect([...ys].sort((p, q) => p - q)).toEqual(ys); // deeper levels lower
    for (const level of layout.levels) {
      const xs = level.map((row) => layout.x.get(row));
      expect(new Set(xs).size).toBe(xs.length);
      for (const row of level) expect(layout.y.get(row)).toBe(layout.y.get(level[0]));
    }
    expect(layout.width).toBeGreaterThan(4 * 100);
  });

  it("narrows columns (not below the minimum) so the widest level fits", () => {
    const nodes = makeGraph().nodes; // widest level: 4 sets
    expect(fitLayout(nodes, 0).columnWidth).toBe(128); // unknown width: the default
    expect(fitLayout(nodes, 2000).columnWidth).toBe(128);
    const fitted = fitLayout(nodes, 4 * 110 + 40);
    expect(fitted.columnWidth).toBe(110);
    expect(fitted.maxLabelChars).toBe(17);
    expect(fitLayout(nodes, 200).columnWidth).toBe(100);
  });

  it("orders levels to reduce crossings", () => {
    // Three chains a -> {o, a}, b -> {n, b}, c -> {m, c}: sorted by name, level 2 is the
    // reverse of its parents' order (3 crossings); the barycentre sweep untangles them.
    const node = (row, tags) => ({ row, tags, size: tags.length, n: 10, n_errors: 1, accuracy: 0.9, drop: 0, mode: false });
    const graph = {
      n_class: 10,
      nodes: [node(0, []), node(1, ["a"]), node(2, ["b"]), node(3, ["c"]), node(4, ["m", "c"]), node(5, ["n", "b"]), node(6, ["o", "a"])],
      edges: [
        { subset: 0, superset: 1 }, { subset: 0, superset: 2 }, { subset: 0, superset: 3 },
        { subset: 1, superset: 6 }, { subset: 2, superset: 5 }, { subset: 3, superset: 4 },
      ],
    }; // prettier-ignore
    const layout = layoutLattice(graph);
    expect(layout.initialCrossings).toBe(3);
    expect(layout.crossings).toBe(0);
    const position = new Map();
    layout.levels.forEach((level) => level.forEach((row, i) => position.set(row, i)));
    const edges = graph.edges.map((e) => ({ ...e, level: e.subset === 0 ? 0 : 1 }));
    expect(countCrossings(layout.levels, edges, position)).toBe(0);
  });
});

describe("rendering", () => {
  it("draws every node and edge with stable hooks", () => {
    const { container, view } = setup();
    view.setGraph(makeGraph());
    const root = container.querySelector(".fw-lattice");
    expect(root.dataset.state).toBe("ready");
    expect(root.dataset.nodes).toBe("10");
    expect(root.dataset.modes).toBe("1");
    expect(root.dataset.class).toBe("square");
    expect(container.querySelectorAll("svg .fw-node[data-row]")).toHaveLength(10);
    expect(container.querySelectorAll("svg .fw-node.mode")).toHaveLength(1);
    expect(container.querySelectorAll("svg .fw-node-halo")).toHaveLength(1);
    expect(container.querySelector("svg .fw-node.mode").dataset.row).toBe("19");
    expect(container.querySelectorAll("svg line.fw-edge")).toHaveLength(15);
    expect(container.querySelectorAll("svg line.fw-edge.necessity")).toHaveLength(3);
    expect(container.querySelectorAll("svg .fw-edge-label")).toHaveLength(3);
    expect(container.querySelector(".fw-edge-label").textContent).toMatch(/^\+5\d pts$/);
    // labels: one line per tag, the class name for the empty set
    const top = container.querySelector('.fw-node[data-row="19"] .fw-node-label');
    expect([...top.querySelectorAll("tspan")].map((t) => t.textContent)).toEqual(["A", "B", "C"]);
    expect(container.querySelector('.fw-node[data-row="10"] .fw-node-label').textContent).toBe("all square");
    // size by |I_S|, colour by drop
    const r = (row) => Number(container.querySelector(`.fw-node[data-row="${row}"] .fw-node-dot`).getAttribute("r"));
    expect(r(10)).toBeGreaterThan(r(11));
    expect(r(11)).toBeGreaterThan(r(19));
    const fill = container.querySelector('.fw-node[data-row="19"] .fw-node-dot').getAttribute("fill");
    const [red, , blue] = fill.match(/\d+/g).map(Number);
    expect(red).toBeGreaterThan(blue);
    expect(container.querySelector(".fw-lattice-title").textContent).toBe("Tag lattice · square");
  });

  it("shows the message and nothing else for an empty graph", () => {
    const { container, view } = setup();
    view.setGraph({ class_name: "cat", nodes: [], edges: [], message: "No images of class 'cat'." });
    expect(container.querySelector(".fw-lattice").dataset.state).toBe("empty");
    expect(container.querySelectorAll(".fw-node")).toHaveLength(0);
    expect(container.querySelector(".fw-lattice-message").textContent).toBe("No images of class 'cat'.");
    view.setGraph(makeGraph());
    expect(container.querySelectorAll(".fw-node")).toHaveLength(10);
    view.setGraph(null);
    expect(container.querySelectorAll(".fw-node")).toHaveLength(0);
  });

  it("redraws when the graph changes (e.g. a slider re-filtered the modes)", () => {
    const { container, view } = setup();
    view.setGraph(makeGraph());
    const graph = makeGraph();
    graph.nodes = graph.nodes.filter((n) => n.row !== 19);
    graph.edges = graph.edges.filter((e) => e.superset !== 19);
    view.setGraph(graph);
    expect(container.querySelectorAll(".fw-node")).toHaveLength(9);
    expect(container.querySelectorAll(".fw-node.mode")).toHaveLength(0);
    expect(container.querySelectorAll(".fw-edge.necessity")).toHaveLength(0);
    expect(container.querySelector(".fw-lattice").dataset.modes).toBe("0");
  });
});

describe("escaping", () => {
  it("shows tag and class names from data as text, never as markup", () => {
    const { container, view } = setup();
    const graph = makeGraph({ tagC: EVIL, extra: `</text><script>alert(2)</script>` });
    graph.class_name = EVIL;
    view.setGraph(graph);
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("script")).toBeNull();
    const labels = [...container.querySelectorAll(".fw-node-label tspan")].map((t) => t.textContent);
    expect(labels.some((t) => t.startsWith("<img src=x"))).toBe(true); // shown literally (truncated)
    const titles = [...container.querySelectorAll(".fw-node > title")].map((t) => t.textContent);
    expect(titles.some((t) => t.includes(EVIL))).toBe(true);
    expect(container.querySelector(".fw-lattice-title").textContent).toBe(`Tag lattice · ${EVIL}`);
    const edgeTitles = [...container.querySelectorAll(".fw-edge > title")].map((t) => t.textContent);
    expect(edgeTitles.some((t) => t.includes(`remove ${EVIL}`))).toBe(true);
    // hover details too
    container.querySelector('.fw-node[data-row="13"]').dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(container.querySelector(".fw-lattice-status").textContent).toContain(EVIL);
    expect(container.querySelector("img")).toBeNull();
  });
});

describe("interaction", () => {
  it("a click or Enter selects a node and reports its row", () => {
    const { container, view, calls } = setup();
    view.setGraph(makeGraph());
    container.querySelector('.fw-node[data-row="19"] .fw-node-dot').dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(calls.selects).toEqual([19]);
    expect(container.querySelector(".fw-node.selected").dataset.row).toBe("19");
    const other = container.querySelector('.fw-node[data-row="15"]');
    other.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(calls.selects).toEqual([19, 15]);
    view.setSelected(11);
    expect(container.querySelector(".fw-node.selected").dataset.row).toBe("11");
    expect(container.querySelector(".fw-lattice").dataset.selected).toBe("11");
    view.setSelected(-1);
    expect(container.querySelector(".fw-node.selected")).toBeNull();
    // the selection survives a redraw with the same node
    view.setSelected(19);
    view.setGraph(makeGraph());
    expect(container.querySelector(".fw-node.selected").dataset.row).toBe("19");
  });

  it("hover shows tags, |I_S|, accuracy and drop", () => {
    const { container, view } = setup();
    view.setGraph(makeGraph());
    const status = container.querySelector(".fw-lattice-status");
    expect(status.textContent).toMatch(/10 tag sets drawn, 1 failure mode/);
    container.querySelector('.fw-node[data-row="19"]').dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(status.textContent).toBe("A + B + C · |I_S| = 20 (17 errors) · accuracy 15.0% · drop +75.0 pts · failure mode");
    container.querySelector("svg").dispatchEvent(new MouseEvent("mouseleave"));
    expect(status.textContent).toMatch(/10 tag sets drawn/);
  });

  it("the search box highlights matching nodes and dims the rest", () => {
    const { container, view, calls } = setup();
    view.setGraph(makeGraph());
    const search = container.querySelector(".fw-lattice-search");
    search.value = "nOi";
    search.dispatchEvent(new Event("input", { bubbles: true }));
    expect(calls.queries).toEqual(["nOi"]);
    const matched = [...container.querySelectorAll(".fw-node.match")].map((g) => g.dataset.row);
    expect(matched).toEqual(expect.arrayContaining(["14", "18"]));
    expect(matched).toHaveLength(2);
    expect(container.querySelectorAll(".fw-node.dim")).toHaveLength(8);
    expect(container.querySelector(".fw-lattice-matches").textContent).toBe("2 of 10 sets");
    expect(container.querySelector(".fw-lattice").dataset.matches).toBe("2");
    // edges touching a match stay visible
    expect(container.querySelector('.fw-edge[data-subset="14"][data-superset="18"]').classList.contains("dim")).toBe(false);
    expect(container.querySelector('.fw-edge[data-subset="17"][data-superset="19"]').classList.contains("dim")).toBe(true);
    // the host sets the query (e.g. from Python), and clearing it undims everything
    view.setQuery("");
    expect(search.value).toBe("");
    expect(container.querySelectorAll(".fw-node.dim, .fw-node.match")).toHaveLength(0);
    view.setQuery("A");
    expect(container.querySelectorAll(".fw-node.match").length).toBeGreaterThan(0);
    // the highlight follows a new graph
    view.setGraph(makeGraph());
    expect(container.querySelectorAll(".fw-node.match").length).toBeGreaterThan(0);
  });
});

describe("cleanup", () => {
  it("destroy removes the DOM and every listener", () => {
    const { container, view, calls } = setup();
    view.setGraph(makeGraph());
    const node = container.querySelector('.fw-node[data-row="19"]');
    const search = container.querySelector(".fw-lattice-search");
    expect(view.listenerCount).toBeGreaterThan(0);
    view.destroy();
    expect(view.listenerCount).toBe(0);
    expect(container.querySelector(".fw-lattice")).toBeNull();
    node.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    search.value = "x";
    search.dispatchEvent(new Event("input", { bubbles: true }));
    expect(calls.selects).toEqual([]);
    expect(calls.queries).toEqual([]);
    view.setGraph(makeGraph()); // ignored after destroy
    expect(container.querySelector(".fw-lattice")).toBeNull();
    view.destroy(); // twice is fine
  });

  it("the anywidget adapter syncs traits, sends clicks and unhooks on cleanup", () => {
    const handlers = new Map();
    const state = { graph: makeGraph(), selected_row: -1, query: "" };
    const model = {
      get: (name) => state[name],
      set: vi.fn((name, value) => {
        state[name] = value;
      }),
      save_changes: vi.fn(),
      send: vi.fn(),
      on: (event, handler) => handlers.set(event, handler),
      off: vi.fn((event, handler) => {
        if (handlers.get(event) === handler) handlers.delete(event);
      }),
    };
    const el = document.createElement("div");
    document.body.appendChild(el);
    const cleanup = widget.render({ model, el });
    expect(el.querySelectorAll(".fw-node")).toHaveLength(10);
    el.querySelector('.fw-node[data-row="19"]').dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(model.send).toHaveBeenCalledWith({ type: "select", row: 19 });
    state.selected_row = 15;
    handlers.get("change:selected_row")();
    expect(el.querySelector(".fw-node.selected").dataset.row).toBe("15");
    state.query = "noise";
    handlers.get("change:query")();
    expect(el.querySelector(".fw-lattice-search").value).toBe("noise");
    const search = el.querySelector(".fw-lattice-search");
    search.value = "B";
    search.dispatchEvent(new Event("input", { bubbles: true }));
    expect(model.set).toHaveBeenCalledWith("query", "B");
    expect(model.save_changes).toHaveBeenCalled();
    state.graph = { ...makeGraph(), nodes: makeGraph().nodes.slice(0, 1), edges: [] };
    handlers.get("change:graph")();
    expect(el.querySelectorAll(".fw-node")).toHaveLength(1);
    cleanup();
    expect(handlers.size).toBe(0);
    expect(model.off).toHaveBeenCalledTimes(3);
    expect(el.querySelector(".fw-lattice")).toBeNull();
  });
});
