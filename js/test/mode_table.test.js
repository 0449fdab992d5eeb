import { afterEach, describe, expect, it } from "vitest";
import {
  COLUMNS,
  agreementShade,
  cellText,
  createModeTableView,
  formatPercent,
  formatPoints,
  sortRows,
} from "../src/mode_table.js";
import widget from "../src/mode_table_widget.js";

const EVIL = "<img src=x onerror=alert(1)>";

function rows() {
  return [
    { id: 0, method: "prime", class_name: "square", description: "colour=red + texture=stripes", size: 45, accuracy: 0.2, drop: 0.7, heldout_drop: 0.6 },
    { id: 1, method: "directions", class_name: "star", description: "a photo of a star on the sand", size: 20, accuracy: 0.35, drop: 0.5, heldout_drop: null },
    { id: 2, method: "barlow", class_name: "square", description: EVIL, size: 80, accuracy: 0.5, drop: 0.4, heldout_drop: 0.45 },
    { id: 3, method: "ces", class_name: "Square", description: "mistakes: adding grass raises p", size: 12, accuracy: 0.0, drop: 0.9, heldout_drop: null },
  ];
}

function agreement() {
  return {
    class_name: "square",
    modes: [
      { method: "prime", description: "colour=red + texture=stripes", size: 45 },
      { method: "prime", description: "texture=stripes", size: 90 },
      { method: "barlow", description: EVIL, size: 80 },
    ],
    values: [
      [1, 0.5, 0.25],
      [0.5, 1, 0.75],
      [0.25, 0.75, 1],
    ],
  };
}

function setup(state = {}) {
  const container = document.createElement("div");
  document.body.appendChild(container);
  const calls = { select: [], sort: [] };
  const view = createModeTableView(container, {
    onSelect: (id) => calls.select.push(id),
    onSort: (key, ascending) => calls.sort.push([key, ascending]),
  });
  view.setState({ rows: rows(), sortBy: "drop", ascending: false, className: "square", ...state });
  return { container, view, calls };
}

function ids(container) {
  return [...container.querySelectorAll("tr.fw-mt-row")].map((tr) => Number(tr.dataset.id));
}

afterEach(() => {
  document.body.replaceChildren();
});

describe("formatting", () => {
  it("formats percentages and accuracy points, with a dash for missing values", () => {
    expect(formatPercent(0.455)).toBe("45.5%");
    expect(formatPercent(null)).toBe("—");
    expect(formatPercent(Number.NaN)).toBe("—");
    expect(formatPoints(0.32)).toBe("+32.0 pt");
    expect(formatPoints(-0.05)).toBe("−5.0 pt");
    expect(formatPoints(0)).toBe("0.0 pt");
    expect(formatPoints(undefined)).toBe("—");
    const size = COLUMNS.find((c) => c.key === "size");
    expect(cellText({ size: 12 }, size)).toBe("12");
    expect(cellText({ size: null }, size)).toBe("—");
  });

  it("shades agreement cells by their overlap and clamps to [0, 1]", () => {
    expect(agreementShade(0)).toContain(" 0%");
    expect(agreementShade(1)).toContain(" 70%");
    expect(agreementShade(2)).toContain(" 70%");
    expect(agreementShade(null)).toBe("");
  });
});

describe("sortRows", () => {
  it("sorts numbers both ways with missing values last, stably", () => {
    const down = sortRows(rows(), "heldout_drop", false).map((r) => r.id);
    expect(down).toEqual([0, 2, 1, 3]);
    const up = sortRows(rows(), "heldout_drop", true).map((r) => r.id);
    expect(up).toEqual([2, 0, 1, 3]);
    expect(sortRows(rows(), "size", true).map((r) => r.id)).toEqual([3, 1, 0, 2]);
  });

  it("sorts text case-insensitively and keeps the order of ties", () => {
    expect(sortRows(rows(), "class_name", true).map((r) => r.id)).toEqual([0, 2, 3, 1]);
    expect(sortRows(rows(), "class_name", false).map((r) => r.id)).toEqual([1, 0, 2, 3]);
  });

  it("leaves the order alone for an unknown key and does not mutate its input", () => {
    const input = rows();
    expect(sortRows(input, "nope", true).map((r) => r.id)).toEqual([0, 1, 2, 3]);
    sortRows(input, "size", true);
    expect(input.map((r) => r.id)).toEqual([0, 1, 2, 3]);
  });
});

describe("mode table view", () => {
  it("renders one row per mode in the sort order, with stable hooks", () => {
    const { container } = setup();
    const root = container.querySelector(".fw-mode-table");
    expect(root.dataset.state).toBe("ready");
    expect(ids(container)).toEqual([3, 0, 1, 2]);
    const header = container.querySelector('th[data-key="drop"]');
    expect(header.getAttribute("aria-sort")).toBe("descending");
    const first = container.querySelector('tr.fw-mt-row[data-id="0"]');
    const cells = [...first.querySelectorAll("td")].map((td) => td.textContent);
    expect(cells).toEqual(["prime", "square", "colour=red + texture=stripes", "45", "20.0%", "+70.0 pt", "+60.0 pt"]);
    // rows of other classes are marked (case matters: "Square" is another class)
    expect(container.querySelector('tr[data-id="1"]').classList.contains("fw-other-class")).toBe(true);
    expect(container.querySelector('tr[data-id="3"]').classList.contains("fw-other-class")).toBe(true);
    expect(first.classList.contains("fw-other-class")).toBe(false);
  });

  it("escapes text from data", () => {
    const { container } = setup({ agreement: agreement() });
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector('tr[data-id="2"] .fw-mt-desc').textContent).toBe(EVIL);
    expect(container.querySelector(".fw-mt-rowhead[title*='onerror']")).not.toBeNull();
  });

  it("reports header clicks as a sort request: same column flips, a new text column starts ascending", () => {
    const { container, calls } = setup();
    container.querySelector('th[data-key="drop"] button').click();
    container.querySelector('th[data-key="method"] button').click();
    container.querySelector('th[data-key="size"] button').click();
    expect(calls.sort).toEqual([
      ["drop", true],
      ["method", true],
      ["size", false],
    ]);
  });

  it("reports row clicks and Enter on a focused row, and marks the selected row", () => {
    const { container, view, calls } = setup();
    container.querySelector('tr[data-id="2"] td:nth-child(3)').click();
    const row = container.querySelector('tr[data-id="1"]');
    row.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(calls.select).toEqual([2, 1]);
    view.setState({ selectedId: 2 });
    const selected = container.querySelectorAll("tr.selected");
    expect(selected).toHaveLength(1);
    expect(selected[0].dataset.id).toBe("2");
    expect(selected[0].getAttribute("aria-selected")).toBe("true");
  });

  it("shows an empty state, the caption and the busy flag", () => {
    const { container, view } = setup();
    view.setState({ rows: [], caption: "0 failure modes", busy: true });
    const root = container.querySelector(".fw-mode-table");
    expect(root.dataset.state).toBe("empty");
    expect(root.dataset.busy).toBe("true");
    expect(container.querySelector(".fw-mt-empty").textContent).toContain("No failure modes");
    expect(container.querySelector(".fw-mt-caption").textContent).toContain("0 failure modes");
    expect(container.querySelector(".fw-mt-busy").hidden).toBe(false);
    view.setState({ busy: false });
    expect(container.querySelector(".fw-mt-busy").hidden).toBe(true);
  });

  it("draws the agreement matrix: cross-method cells shaded, same-method and diagonal muted", () => {
    const { container } = setup({ agreement: agreement() });
    const cells = container.querySelectorAll(".fw-mt-matrix td.fw-mt-cell");
    expect(cells).toHaveLength(9);
    const cell = (i, j) => container.querySelector(`td[data-row="${i}"][data-col="${j}"]`);
    expect(cell(0, 2).textContent).toBe("0.25");
    expect(cell(0, 2).style.background).not.toBe("");
    expect(cell(0, 1).classList.contains("fw-same")).toBe(true);
    expect(cell(1, 1).textContent).toBe("·");
    expect(container.querySelector(".fw-mt-agreement h4").textContent).toContain("class square");
  });

  it("explains why there is no agreement with fewer than two methods", () => {
    const one = agreement();
    one.modes = one.modes.slice(0, 2);
    one.values = [
      [1, 0.5],
      [0.5, 1],
    ];
    const { container } = setup({ agreement: one });
    expect(container.querySelector(".fw-mt-matrix")).toBeNull();
    expect(container.querySelector(".fw-mt-agreement-empty").textContent).toContain("two methods");
  });

  it("ignores clicks and state after destroy and removes its listeners", () => {
    const { container, view, calls } = setup();
    const root = view.root;
    view.destroy();
    expect(container.children).toHaveLength(0);
    root.querySelector("tr.fw-mt-row").click();
    view.setState({ rows: [] });
    expect(calls.select).toEqual([]);
  });
});

describe("widget adapter", () => {
  function fakeModel(state) {
    const handlers = new Map();
    return {
      sent: [],
      saved: 0,
      get: (name) => state[name],
      set: (name, value) => {
        state[name] = value;
      },
      save_changes() {
        this.saved += 1;
      },
      on: (event, fn) => handlers.set(event, [...(handlers.get(event) || []), fn]),
      off: (event, fn) => handlers.set(event, (handlers.get(event) || []).filter((f) => f !== fn)),
      send(message) {
        this.sent.push(message);
      },
      emit(event) {
        for (const fn of handlers.get(event) || []) fn();
      },
      handlers,
    };
  }

  it("draws the traits, coalesces change bursts, sends clicks, sets sort traits, cleans up", async () => {
    const state = {
      rows: rows(),
      sort_by: "drop",
      ascending: false,
      selected_id: -1,
      class_name: "square",
      caption: "4 failure modes",
      busy: false,
      agreement: null,
    };
    const model = fakeModel(state);
    const el = document.createElement("div");
    document.body.appendChild(el);
    const cleanup = widget.render({ model, el });
    expect(ids(el)).toEqual([3, 0, 1, 2]);
    state.sort_by = "size";
    state.ascending = true;
    state.selected_id = 0;
    model.emit("change:sort_by");
    model.emit("change:ascending");
    model.emit("change:selected_id");
    await Promise.resolve();
    expect(ids(el)).toEqual([3, 1, 0, 2]);
    expect(el.querySelector("tr.selected").dataset.id).toBe("0");
    el.querySelector('tr[data-id="2"]').click();
    expect(model.sent).toEqual([{ type: "select", id: 2 }]);
    el.querySelector('th[data-key="size"] button').click();
    expect(state.sort_by).toBe("size");
    expect(state.ascending).toBe(false);
    expect(model.saved).toBe(1);
    cleanup();
    for (const list of model.handlers.values()) expect(list).toHaveLength(0);
    expect(el.children).toHaveLength(0);
  });
});
