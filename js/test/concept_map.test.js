import { afterEach, describe, expect, it, vi } from "vitest";
import {
  MAP,
  createConceptMap,
  labelText,
  placeLabels,
  pointRadius,
  project,
  scoreSign,
} from "../src/concept_map.js";
import widget from "../src/concept_map_widget.js";

const EVIL = "<img src=x onerror=alert(1)>";

function concept(index, name, x, y, score, extra = {}) {
  return {
    index,
    name,
    x,
    y,
    score,
    score_text: score === null ? "—" : (score > 0 ? "+" : "") + score.toFixed(2),
    mean_change_text: "+0.1",
    val_accuracy_text: "92%",
    rank: index,
    labelled: false,
    has_examples: true,
    ...extra,
  };
}

function viewModel(extra = {}) {
  const concepts = [
    concept(0, "background=grass", 0.9, 0.5, 1.0, { labelled: true, rank: 0 }),
    concept(1, EVIL, 0.1, 0.9, 0.6, { labelled: true, rank: 1 }),
    concept(2, "texture=dots", 0.5, 0.1, -0.8, { labelled: true, rank: 4 }),
    concept(3, "colour=red", 0.3, 0.3, 0.1, { rank: 2 }),
    concept(4, "has_part", 0.7, 0.8, 0.0, { rank: 3 }),
  ];
  const bar = (c) => ({
    index: c.index,
    name: c.name,
    score: c.score,
    score_text: c.score_text,
    val_accuracy_text: c.val_accuracy_text,
  });
  return {
    generation: 3,
    class_name: "star",
    explained_text: "12 test mistakes of star",
    n_explained: 12,
    target_text: "p(true label)",
    direction: "add",
    delta_text: "1e+04",
    embedding: "pca",
    embedding_text: "PCA",
    has_scores: true,
    concepts,
    positive: [bar(concepts[0]), bar(concepts[1]), bar(concepts[3])],
    negative: [bar(concepts[2])],
    legend: { positive: "Adding it raises p(true label)", negative: "Adding it lowers p(true label)" },
    selected: null,
    message: null,
    note: null,
    ...extra,
  };
}

function setup() {
  const container = document.createElement("div");
  document.body.appendChild(container);
  const calls = { concepts: [], shows: 0 };
  const view = createConceptMap(container, {
    onConcept: (c) => calls.concepts.push(c),
    onShowExplained: () => (calls.shows += 1),
  });
  return { container, view, calls };
}

afterEach(() => {
  document.body.replaceChildren();
  vi.restoreAllMocks();
});

describe("helpers", () => {
  it("signs, radii, projection and label text", () => {
    expect(scoreSign(0.2)).toBe("positive");
    expect(scoreSign(-0.2)).toBe("negative");
    expect(scoreSign(0)).toBe("zero");
    expect(scoreSign(null)).toBe("none");
    expect(pointRadius(null)).toBe(MAP.minRadius);
    expect(pointRadius(1)).toBeCloseTo(MAP.maxRadius);
    expect(pointRadius(-1)).toBeCloseTo(MAP.maxRadius);
    expect(pointRadius(0.25)).toBeGreaterThan(pointRadius(0.1));
    expect(project(0, 0)).toEqual([MAP.padding, MAP.height - MAP.padding]); // y up
    expect(project(1, 1)).toEqual([MAP.width - MAP.padding, MAP.padding]);
    expect(labelText("short")).toBe("short");
    const long = labelText("x".repeat(40));
    expect(long).toHaveLength(MAP.maxLabelChars);
    expect(long.endsWith("…")).toBe(true);
  });
});

describe("label placement", () => {
  const at = (index, x, y, text = "label") => ({ index, x, y, r: 5, text });

  it("places every label of well separated points, inside the map", () => {
    const points = [at(0, 60, 60), at(1, 300, 60), at(2, 60, 280), at(3, 300, 280)];
    const placed = placeLabels(points);
    expect(placed.map((p) => p.index)).toEqual([0, 1, 2, 3]);
    for (const p of placed) {
      expect(p.box.x0).toBeGreaterThanOrEqual(0);
      expect(p.box.x1).toBeLessThanOrEqual(MAP.width);
      expect(p.box.y0).toBeGreaterThanOrEqual(0);
      expect(p.box.y1).toBeLessThanOrEqual(MAP.height);
    }
  });

  it("moves a label to the left at the right edge", () => {
    const [p] = placeLabels([at(0, MAP.width - 10, 100, "a long concept name")]);
    expect(p.anchor).toBe("end");
  });

  it("never overlaps two labels and drops those without room", () => {
    const crowd = Array.from({ length: 10 }, (_, i) => at(i, 200, 150, `concept ${i}`));
    const placed = placeLabels(crowd);
    // four spots around one point; they overlap pairwise only at the corners, so fewer fit
    expect(placed.length).toBeGreaterThanOrEqual(2);
    expect(placed.length).toBeLessThanOrEqual(4);
    expect(placed[0].index).toBe(0); // priority order
    for (let i = 0; i < placed.length; i += 1) {
      for (let j = i + 1; j < placed.length; j += 1) {
        const a = placed[i].box;
        const b = placed[j].box;
        const overlap = a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
        expect(overlap).toBe(false);
      }
    }
  });

  it("keeps labels off other labelled points", () => {
    // point 1 sits exactly where point 0's right-hand label would go
    const placed = placeLabels([at(0, 100, 100, "abcdef"), at(1, 125, 100, "x")]);
    const first = placed.find((p) => p.index === 0);
    expect(first.anchor).not.toBe("start");
  });
});

describe("concept map", () => {
  it("draws one point per concept, coloured by sign, sized by |score|, labels on the top ones", () => {
    const { container, view } = setup();
    view.setState(viewModel());
    const root = container.querySelector(".fw-cmap");
    expect(root.dataset.state).toBe("ready");
    expect(root.dataset.generation).toBe("3");
    const points = root.querySelectorAll("circle.fw-cmap-point");
    expect(points).toHaveLength(5);
    const byIndex = (i) => root.querySelector(`circle.fw-cmap-point[data-index="${i}"]`);
    expect(byIndex(0).dataset.sign).toBe("positive");
    expect(byIndex(2).dataset.sign).toBe("negative");
    expect(byIndex(4).dataset.sign).toBe("zero");
    expect(Number(byIndex(0).getAttribute("r"))).toBeGreaterThan(Number(byIndex(3).getAttribute("r")));
    // the biggest point is drawn last among the unselected (on top)
    expect(points[points.length - 1].dataset.index).toBe("0");
    const labels = root.querySelectorAll("text.fw-cmap-label");
    expect(labels).toHaveLength(3); // the three flagged concepts, all with room
    expect(root.querySelector(".fw-cmap-map").dataset.labels).toBe("3");
    expect([...labels].map((l) => l.dataset.index).sort()).toEqual(["0", "1", "2"]);
    expect(root.querySelector(".fw-cmap-explained").textContent).toBe("Explaining 12 test mistakes of star");
    expect(root.querySelector(".fw-cmap-setting").textContent).toContain("δ = 1e+04");
    // bars: ranked, positive and negative, widths follow |score|
    const pos = root.querySelectorAll('section[data-side="positive"] .fw-cmap-bar');
    const neg = root.querySelectorAll('section[data-side="negative"] .fw-cmap-bar');
    expect(pos).toHaveLength(3);
    expect(neg).toHaveLength(1);
    expect(pos[0].querySelector(".fw-cmap-bar-name").textContent).toBe("background=grass");
    expect(pos[0].querySelector(".fw-cmap-bar-fill").style.width).toBe("100%");
    expect(neg[0].querySelector(".fw-cmap-bar-fill").style.width).toBe("80%");
    expect(neg[0].querySelector(".fw-cmap-bar-score").textContent).toBe("-0.80");
  });

  it("label count follows the flags and the room on the map", () => {
    const { container, view } = setup();
    const many = viewModel();
    many.concepts = Array.from({ length: 30 }, (_, i) =>
      concept(i, `concept number ${i}`, 0.5 + 0.001 * i, 0.5, 0.5, { labelled: i < 12 }),
    );
    view.setState(many);
    const count = container.querySelectorAll("text.fw-cmap-label").length;
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThan(12); // a pile of points has room for a few labels only
    view.setState(viewModel({ concepts: viewModel().concepts.map((c) => ({ ...c, labelled: false })) }));
    expect(container.querySelectorAll("text.fw-cmap-label")).toHaveLength(0);
  });

  it("escapes concept names everywhere", () => {
    const { container, view } = setup();
    view.setState(viewModel({ explained_text: EVIL, target_text: EVIL, message: EVIL, note: EVIL }));
    const root = container.querySelector(".fw-cmap");
    expect(root.querySelector("img")).toBeNull();
    const label = root.querySelector('text.fw-cmap-label[data-index="1"]');
    expect(label.textContent).toBe(labelText(EVIL));
    const bar = root.querySelectorAll('section[data-side="positive"] .fw-cmap-bar-name')[1];
    expect(bar.textContent).toBe(EVIL);
    expect(root.querySelector(".fw-cmap-message").textContent).toBe(EVIL);
    expect(root.querySelector(".fw-cmap-note").textContent).toBe(EVIL);
    expect(root.querySelector(".fw-cmap-explained").textContent).toBe(`Explaining ${EVIL}`);
    const point = root.querySelector('circle.fw-cmap-point[data-index="1"]');
    expect(point.getAttribute("aria-label")).toBe(`${EVIL}: score +0.60`);
    point.dispatchEvent(new MouseEvent("mouseover", { bubbles: true, clientX: 50, clientY: 40 }));
    const tip = root.querySelector(".fw-cmap-tooltip");
    expect(tip.hidden).toBe(false);
    expect(tip.querySelector(".fw-cmap-tip-name").textContent).toBe(EVIL);
    expect(root.querySelector("img")).toBeNull();
    // names reach attributes (aria-label, title) as plain values, never as markup
    expect(root.querySelectorAll("[onerror]")).toHaveLength(0);
    expect(root.querySelector("[src]")).toBeNull();
  });

  it("hover shows name, score and validation accuracy; leaving hides it", () => {
    const { container, view } = setup();
    view.setState(viewModel());
    const root = container.querySelector(".fw-cmap");
    const tip = root.querySelector(".fw-cmap-tooltip");
    expect(tip.hidden).toBe(true);
    const point = root.querySelector('circle.fw-cmap-point[data-index="2"]');
    point.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(tip.hidden).toBe(false);
    expect(tip.dataset.index).toBe("2");
    expect(tip.querySelector(".fw-cmap-tip-name").textContent).toBe("texture=dots");
    expect(tip.querySelector(".fw-cmap-tip-score").textContent).toContain("score -0.80");
    expect(tip.querySelector(".fw-cmap-tip-accuracy").textContent).toBe("CAV validation accuracy 92%");
    expect(tip.querySelector(".fw-cmap-tip-rank").textContent).toBe("rank 5 of 5");
    root.querySelector(".fw-cmap-map").dispatchEvent(new MouseEvent("mouseleave"));
    expect(tip.hidden).toBe(true);
  });

  it("clicks on points, bars and the show button call back; the selection is highlighted", () => {
    const { container, view, calls } = setup();
    view.setState(viewModel());
    const root = container.querySelector(".fw-cmap");
    root.querySelector('circle.fw-cmap-point[data-index="2"]').dispatchEvent(
      new MouseEvent("click", { bubbles: true }),
    );
    root.querySelectorAll(".fw-cmap-bar")[1].querySelector(".fw-cmap-bar-name").click();
    root
      .querySelector('circle.fw-cmap-point[data-index="0"]')
      .dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    root.querySelector(".fw-cmap-show").click();
    expect(calls.concepts).toEqual([
      { index: 2, name: "texture=dots" },
      { index: 1, name: EVIL },
      { index: 0, name: "background=grass" },
    ]);
    expect(calls.shows).toBe(1);
    view.setState(viewModel({ selected: 2 }));
    const selected = root.querySelector("circle.fw-cmap-point.selected");
    expect(selected.dataset.index).toBe("2");
    const all = root.querySelectorAll("circle.fw-cmap-point");
    expect(all[all.length - 1]).toBe(selected); // drawn on top
    expect(root.querySelector(".fw-cmap-bar.selected").dataset.index).toBe("2");
  });

  it("shows a busy state, a message without scores, and an empty state", () => {
    const { container, view } = setup();
    const root = container.querySelector(".fw-cmap");
    expect(root.dataset.state).toBe("empty");
    view.setState(viewModel());
    view.setBusy(true);
    expect(root.dataset.busy).toBe("true");
    expect(root.getAttribute("aria-busy")).toBe("true");
    expect(root.querySelector(".fw-cmap-busy").hidden).toBe(false);
    view.setBusy(false);
    expect(root.querySelector(".fw-cmap-busy").hidden).toBe(true);
    const none = viewModel({
      has_scores: false,
      n_explained: 0,
      positive: [],
      negative: [],
      message: "star has no mistakes in the test split",
      concepts: viewModel().concepts.map((c) => ({ ...c, score: null, score_text: "—", labelled: false })),
    });
    view.setState(none);
    expect(root.dataset.state).toBe("no-scores");
    expect(root.querySelector(".fw-cmap-message").hidden).toBe(false);
    expect(root.querySelector(".fw-cmap-show").disabled).toBe(true);
    expect([...root.querySelectorAll("circle.fw-cmap-point")].every((c) => c.dataset.sign === "none")).toBe(true);
    expect(root.querySelector(".fw-cmap-empty").textContent).toBe("No scores yet.");
    view.setState(null);
    expect(root.dataset.state).toBe("empty");
    expect(root.querySelectorAll("circle")).toHaveLength(0);
  });

  it("says why a side has no concept, as text, where its bars would be", () => {
    const { container, view } = setup();
    const root = container.querySelector(".fw-cmap");
    const why = `no concept lowers p(true label) at delta=1e+04: adding any of the 5 concepts raises it ${EVIL}`;
    view.setState(viewModel({ negative: [], empty_reasons: { positive: null, negative: why } }));
    const empties = root.querySelectorAll(".fw-cmap-empty");
    expect(empties).toHaveLength(1);
    expect(empties[0].closest("section").dataset.side).toBe("negative");
    expect(empties[0].textContent).toBe(`None: ${why}.`);
    expect(empties[0].querySelector("img")).toBeNull(); // text, not markup
    expect(root.querySelectorAll("section[data-side='positive'] .fw-cmap-bar")).toHaveLength(3);
    // both sides empty, each with its reason; an older model without reasons says "None."
    view.setState(viewModel({ positive: [], negative: [], empty_reasons: { positive: "A", negative: "B" } }));
    expect([...root.querySelectorAll(".fw-cmap-empty")].map((e) => e.textContent)).toEqual(["None: A.", "None: B."]);
    view.setState(viewModel({ positive: [] }));
    expect(root.querySelector(".fw-cmap-empty").textContent).toBe("None.");
    view.setState(null);
    expect(root.dataset.state).toBe("empty");
    expect(root.querySelectorAll("circle")).toHaveLength(0);
  });
});

describe("cleanup", () => {
  it("destroy removes the DOM and every listener it added", () => {
    const added = [];
    const removed = [];
    const add = vi.spyOn(EventTarget.prototype, "addEventListener");
    const remove = vi.spyOn(EventTarget.prototype, "removeEventListener");
    add.mockImplementation(function (type, fn) {
      added.push([this, type, fn]);
    });
    remove.mockImplementation(function (type, fn) {
      removed.push([this, type, fn]);
    });
    const { container, view } = setup();
    view.setState(viewModel());
    expect(added.length).toBeGreaterThan(0);
    view.destroy();
    add.mockRestore();
    remove.mockRestore();
    expect(removed).toHaveLength(added.length);
    for (const entry of added) {
      expect(removed.some((r) => r[0] === entry[0] && r[1] === entry[1] && r[2] === entry[2])).toBe(true);
    }
    expect(container.querySelector(".fw-cmap")).toBeNull();
    view.setState(viewModel()); // ignored after destroy
    view.setBusy(true);
    view.destroy(); // twice is fine
    expect(container.children).toHaveLength(0);
    expect(document.querySelectorAll("#fw-concept-map-style")).toHaveLength(1);
  });

  it("a destroyed view ignores clicks", () => {
    const { view, calls } = setup();
    view.setState(viewModel());
    const bar = view.root.querySelector(".fw-cmap-bar");
    view.destroy();
    bar.click();
    expect(calls.concepts).toHaveLength(0);
  });
});

describe("anywidget adapter", () => {
  function fakeModel(state) {
    const handlers = new Map();
    return {
      sent: [],
      get: (name) => state[name],
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

  it("syncs the view model and busy flag, sends clicks and unhooks on cleanup", () => {
    const state = { view_model: viewModel(), busy: true };
    const model = fakeModel(state);
    const el = document.createElement("div");
    document.body.appendChild(el);
    const cleanup = widget.render({ model, el });
    const root = el.querySelector(".fw-cmap");
    expect(root.dataset.busy).toBe("true");
    state.busy = false;
    model.emit("change:busy");
    expect(root.dataset.busy).toBe("false");
    state.view_model = viewModel({ explained_text: "3 images selected in the grid", generation: 4 });
    model.emit("change:view_model");
    expect(root.dataset.generation).toBe("4");
    expect(el.querySelector(".fw-cmap-explained").textContent).toBe("Explaining 3 images selected in the grid");
    el.querySelector(".fw-cmap-bar").click();
    el.querySelector(".fw-cmap-show").click();
    expect(model.sent).toEqual([
      { type: "concept", index: 0, name: "background=grass" },
      { type: "show_explained" },
    ]);
    cleanup();
    expect(model.handlers.get("change:view_model")).toHaveLength(0);
    expect(model.handlers.get("change:busy")).toHaveLength(0);
    expect(el.children).toHaveLength(0);
  });
});
