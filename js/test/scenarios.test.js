import { afterEach, describe, expect, it, vi } from "vitest";
import { createScenarioView, describeRow, labelHint, verdictText } from "../src/scenarios.js";
import widget from "../src/scenarios_widget.js";

const EVIL = "<img src=x onerror=alert(1)>";
const NAMES = ["circle", "hexagon", EVIL];

function makeRow(id, { isFailure = null, correctLabel = null, majority = 0, predictions = ["hexagon", "hexagon", "circle"] } = {}) {
  const reference = NAMES[correctLabel ?? majority];
  const samples = predictions.map((p, i) => ({ prediction: p, confidence: 0.5 + i / 10, wrong: p !== reference }));
  const top = predictions[0];
  return {
    id,
    weight: 0.3 / (id + 1),
    weight_text: `${(30 / (id + 1)).toFixed(1)}%`,
    weight_share: 1 / (id + 1),
    n_codes: 100 - id,
    n_images: 40 - id,
    majority_label: majority,
    majority_name: NAMES[majority],
    code_prediction: "hexagon",
    reference_name: reference,
    samples,
    top_prediction: top,
    top_count: predictions.filter((p) => p === top).length,
    n_wrong: samples.filter((s) => s.wrong).length,
    predicted_text: `predicted: ${top} ${predictions.filter((p) => p === top).length}/${predictions.length}`,
    is_failure: isFailure,
    correct_label: correctLabel,
  };
}

function makeData(overrides = {}) {
  return {
    rows: [makeRow(0), makeRow(1, { isFailure: true, correctLabel: 2, majority: 2, predictions: [EVIL, "circle", "circle"] }), makeRow(2, { isFailure: false })],
    class_names: NAMES,
    class_name: null,
    tau: 0.1,
    n_samples: 3,
    sample_version: 0,
    image_size: 64,
    n_scenarios: 3,
    n_labelled: 2,
    n_failures: 1,
    labels_path: "defuse_labels.json",
    message: "",
    ...overrides,
  };
}

function setup() {
  const container = document.createElement("div");
  document.body.appendChild(container);
  const calls = { selects: [], labels: [], requests: [], created: [], revoked: [] };
  let counter = 0;
  const view = createScenarioView(container, {
    onSelect: (id) => calls.selects.push(id),
    onLabel: (label) => calls.labels.push(label),
    onRequestStrips: (request) => calls.requests.push(request),
    createObjectURL: (blob) => {
      counter += 1;
      const url = `blob:test/${counter}`;
      calls.created.push({ url, type: blob.type });
      return url;
    },
    revokeObjectURL: (url) => calls.revoked.push(url),
  });
  return { container, view, calls };
}

/** A host answer: one PNG-like buffer per sample of each id. */
function strips(ids, version, n = 3) {
  const buffers = [];
  const message = {
    type: "strips",
    version,
    mime: "image/png",
    strips: ids.map((id) => ({ id, buffers: Array.from({ length: n }, () => buffers.push(new Uint8Array([id])) - 1) })),
  };
  return [message, buffers];
}

afterEach(() => {
  document.body.replaceChildren();
});

describe("helpers", () => {
  it("describe rows and their labels", () => {
    const row = makeRow(4, { isFailure: true, correctLabel: 1 });
    expect(verdictText(true)).toBe("failure");
    expect(verdictText(false)).toBe("not a failure");
    expect(verdictText(null)).toBe("not reviewed");
    const text = describeRow(row);
    expect(text).toContain("scenario 4");
    expect(text).toContain("96 failing codes from 36 images");
    expect(text).toContain("predicted: hexagon 2/3");
    expect(text).toContain("1/3 samples not hexagon");
    expect(labelHint(row, NAMES)).toBe("failure → correct label hexagon");
    expect(labelHint(makeRow(0, { isFailure: true }), NAMES)).toBe("pick the correct label");
    expect(labelHint(makeRow(0), NAMES)).toBe("not reviewed");
  });
});

describe("rendering", () => {
  it("draws one row per scenario with its numbers, strip and labeling controls", () => {
    const { container, view } = setup();
    view.setData(makeData());
    const root = container.querySelector(".fw-scenarios");
    expect(root.dataset.state).toBe("ready");
    expect(root.dataset.rows).toBe("3");
    const rows = container.querySelectorAll(".fw-scn-row");
    expect([...rows].map((r) => r.dataset.id)).toEqual(["0", "1", "2"]);
    const first = rows[0];
    expect(first.querySelector(".fw-scn-id").textContent).toBe("#0");
    expect(first.querySelector(".fw-scn-weight").textContent).toBe("30.0%");
    expect(first.querySelector(".fw-scn-counts").textContent).toBe("100 codes · 40 source images");
    expect(first.querySelector(".fw-scn-majority").textContent).toBe("majority label: circle");
    expect(first.querySelector(".fw-scn-predicted").textContent).toBe("predicted: hexagon 2/3");
    expect(first.dataset.mostlyWrong).toBe("true");
    expect(first.querySelectorAll(".fw-scn-sample")).toHaveLength(3);
    expect(first.querySelectorAll(".fw-scn-sample.wrong")).toHaveLength(2);
    expect([...first.querySelectorAll(".fw-scn-caption")].map((c) => c.textContent)).toEqual(["hexagon", "hexagon", "circle"]);
    // labels: none, failure with a correct label, not a failure
    expect(first.dataset.failure).toBe("");
    expect(first.querySelector(".fw-scn-fail").getAttribute("aria-pressed")).toBe("false");
    expect(rows[1].dataset.failure).toBe("true");
    expect(rows[1].dataset.label).toBe("2");
    expect(rows[1].querySelector(".fw-scn-fail").getAttribute("aria-pressed")).toBe("true");
    expect(rows[1].querySelector(".fw-scn-label").value).toBe("2");
    expect(rows[2].dataset.failure).toBe("false");
    expect(rows[2].querySelector(".fw-scn-ok").getAttribute("aria-pressed")).toBe("true");
    const options = [...first.querySelectorAll(".fw-scn-label option")].map((o) => o.textContent);
    expect(options).toEqual(["—", ...NAMES]);
    expect(container.querySelector(".fw-scn-summary").textContent).toBe(
      "3 scenarios · τ = 0.10 · 3 samples each · 2 labelled, 1 failure",
    );
    expect(container.querySelector(".fw-scn-status").textContent).toContain("defuse_labels.json");
  });

  it("keeps text from data as text", () => {
    const { container, view } = setup();
    view.setData(makeData({ class_name: EVIL, labels_path: `${EVIL}.json` }));
    expect(container.querySelectorAll("img:not(.fw-scn-img)")).toHaveLength(0);
    expect(container.querySelector(".fw-scn-title").textContent).toBe(`Defuse failure scenarios · ${EVIL}`);
    const evilRow = container.querySelector('.fw-scn-row[data-id="1"]');
    expect(evilRow.querySelector(".fw-scn-majority b").textContent).toBe(EVIL);
    expect(evilRow.querySelector(".fw-scn-caption").textContent).toBe(EVIL);
    expect(evilRow.querySelector(".fw-scn-label option[value='2']").textContent).toBe(EVIL);
    expect(evilRow.getAttribute("aria-label")).toContain(EVIL);
  });

  it("shows the host's message when there are no rows", () => {
    const { container, view } = setup();
    view.setData(makeData({ rows: [], message: "No scenario has majority label 'x'." }));
    expect(container.querySelector(".fw-scenarios").dataset.state).toBe("empty");
    expect(container.querySelector(".fw-scn-message").textContent).toBe("No scenario has majority label 'x'.");
    expect(container.querySelectorAll(".fw-scn-row")).toHaveLength(0);
  });

  it("updates rows in place and keeps a focused select where it is", () => {
    const { container, view } = setup();
    view.setData(makeData());
    const select = container.querySelector('.fw-scn-row[data-id="0"] .fw-scn-label');
    select.focus();
    const data = makeData();
    data.rows[0] = makeRow(0, { isFailure: true, correctLabel: 1 });
    view.setData(data);
    const again = container.querySelector('.fw-scn-row[data-id="0"] .fw-scn-label');
    expect(again).toBe(select);
    expect(document.activeElement).toBe(select);
    expect(select.value).toBe("1");
    // filtering removes rows; the selection marker follows the host
    view.setData(makeData({ rows: [makeRow(2)], n_scenarios: 3 }));
    expect(container.querySelectorAll(".fw-scn-row")).toHaveLength(1);
    expect(container.querySelector(".fw-scn-summary").textContent).toContain("1 of 3 scenarios");
    view.setSelected(2);
    expect(container.querySelector(".fw-scn-row.selected").dataset.id).toBe("2");
    view.setSelected(null);
    expect(container.querySelector(".fw-scn-row.selected")).toBeNull();
  });
});

describe("interaction", () => {
  it("verdict buttons and the label select send labels; a row click selects", () => {
    const { container, view, calls } = setup();
    view.setData(makeData());
    const row0 = container.querySelector('.fw-scn-row[data-id="0"]');
    const row1 = container.querySelector('.fw-scn-row[data-id="1"]');
    row0.querySelector(".fw-scn-fail").click();
    row0.querySelector(".fw-scn-ok").click();
    row1.querySelector(".fw-scn-fail").click(); // pressed already: clears the verdict
    const select = row0.querySelector(".fw-scn-label");
    select.value = "2";
    select.dispatchEvent(new Event("change", { bubbles: true }));
    select.value = "";
    select.dispatchEvent(new Event("change", { bubbles: true }));
    expect(calls.labels).toEqual([
      { id: 0, is_failure: true },
      { id: 0, is_failure: false },
      { id: 1, is_failure: null },
      { id: 0, correct_label: 2 },
      { id: 0, correct_label: null },
    ]);
    expect(calls.selects).toEqual([]); // labeling does not select
    // the buttons do not change state by themselves: the host answers with new data
    expect(row0.dataset.failure).toBe("");
    row0.querySelector(".fw-scn-strip").dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(calls.selects).toEqual([0]);
    expect(row0.classList.contains("selected")).toBe(true);
    row1.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(calls.selects).toEqual([0, 1]);
    expect(container.querySelector(".fw-scenarios").dataset.selected).toBe("1");
    row1.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(container.querySelector(".fw-scn-status").textContent).toContain("scenario 1");
  });

  it("a refused label puts the stored one back and shows why", () => {
    const { container, view } = setup();
    view.setData(makeData());
    const select = container.querySelector('.fw-scn-row[data-id="1"] .fw-scn-label');
    select.value = "0";
    select.dispatchEvent(new Event("change", { bubbles: true }));
    view.labelRefused({ id: 1, error: "scenario 1: label not saved (disk full)" });
    expect(select.value).toBe("2");
    expect(container.querySelector(".fw-scn-status").textContent).toBe("scenario 1: label not saved (disk full)");
    expect(container.querySelector(".fw-scenarios").dataset.error).toBe("true");
  });
});

describe("strips", () => {
  it("asks for missing strips, shows them, and drops answers for another version", () => {
    const { container, view, calls } = setup();
    view.setData(makeData());
    expect(calls.requests).toHaveLength(1);
    expect(calls.requests[0]).toMatchObject({ ids: [0, 1, 2], version: 0 });
    view.setData(makeData()); // same version, request pending: not asked twice
    expect(calls.requests).toHaveLength(1);
    expect(view.receiveStrips(...strips([0, 1, 2], 0))).toBe(3);
    const root = container.querySelector(".fw-scenarios");
    expect(root.dataset.loaded).toBe("3");
    const imgs = container.querySelectorAll('.fw-scn-row[data-id="1"] .fw-scn-img');
    expect([...imgs].map((img) => img.getAttribute("src"))).toEqual(["blob:test/4", "blob:test/5", "blob:test/6"]);
    expect(calls.created.every((c) => c.type === "image/png")).toBe(true);
    expect(container.querySelector('.fw-scn-row[data-id="1"]').dataset.stripVersion).toBe("0");

    // tau changed: version 1; the old strips stay (dimmed) until the new ones come
    view.setData(makeData({ sample_version: 1, tau: 0.3 }));
    expect(calls.requests[1]).toMatchObject({ ids: [0, 1, 2], version: 1 });
    expect(root.dataset.loaded).toBe("0");
    expect(container.querySelector('.fw-scn-row[data-id="0"] .fw-scn-strip').getAttribute("aria-busy")).toBe("true");
    // a late answer for version 0 is stale: dropped, nothing created
    const created = calls.created.length;
    expect(view.receiveStrips(...strips([0], 0))).toBe(0);
    expect(calls.created).toHaveLength(created);
    // tau changed again before the answer: the last value wins
    view.setData(makeData({ sample_version: 2, tau: 0.4 }));
    expect(calls.requests[2]).toMatchObject({ ids: [0, 1, 2], version: 2 });
    expect(view.receiveStrips(...strips([0, 1, 2], 1))).toBe(0);
    expect(view.receiveStrips(...strips([0, 1, 2], 2))).toBe(3);
    expect(root.dataset.loaded).toBe("3");
    expect([...view.stripVersions.values()]).toEqual([2, 2, 2]);
    expect(container.querySelector('.fw-scn-row[data-id="0"] .fw-scn-strip').hasAttribute("aria-busy")).toBe(false);
    // the replaced object URLs were revoked
    expect(calls.revoked).toEqual(expect.arrayContaining(["blob:test/1", "blob:test/9"]));
    expect(calls.revoked).toHaveLength(9);
  });

  it("strips of rows filtered away are released at the next version", () => {
    const { view, calls } = setup();
    view.setData(makeData());
    view.receiveStrips(...strips([0, 1, 2], 0));
    view.setData(makeData({ rows: [makeRow(0)] })); // filtered: still version 0, kept
    expect([...view.stripVersions.keys()]).toEqual([0, 1, 2]);
    view.setData(makeData({ rows: [makeRow(0)], sample_version: 1 }));
    expect([...view.stripVersions.keys()]).toEqual([0]);
    expect(calls.revoked).toHaveLength(6);
    expect(calls.requests.at(-1)).toMatchObject({ ids: [0], version: 1 });
  });
});

describe("cleanup", () => {
  it("destroy removes the DOM, every listener and every object URL", () => {
    const { container, view, calls } = setup();
    view.setData(makeData());
    view.receiveStrips(...strips([0, 1, 2], 0));
    const button = container.querySelector(".fw-scn-fail");
    expect(view.listenerCount).toBeGreaterThan(0);
    view.destroy();
    expect(view.listenerCount).toBe(0);
    expect(container.querySelector(".fw-scenarios")).toBeNull();
    expect(calls.revoked).toHaveLength(9);
    button.click();
    expect(calls.labels).toEqual([]);
    view.setData(makeData()); // ignored after destroy
    expect(view.receiveStrips(...strips([0], 0))).toBe(0);
    view.destroy(); // twice is fine
  });

  it("the anywidget adapter syncs traits, sends messages and unhooks on cleanup", () => {
    const handlers = new Map();
    const state = { view_model: makeData(), selected: -1 };
    const model = {
      get: (name) => state[name],
      send: vi.fn(),
      on: (event, handler) => handlers.set(event, handler),
      off: vi.fn((event, handler) => {
        if (handlers.get(event) === handler) handlers.delete(event);
      }),
    };
    const el = document.createElement("div");
    document.body.appendChild(el);
    const cleanup = widget.render({ model, el });
    expect(el.querySelectorAll(".fw-scn-row")).toHaveLength(3);
    expect(model.send).toHaveBeenCalledWith(expect.objectContaining({ type: "strips", ids: [0, 1, 2], version: 0 }));
    el.querySelector('.fw-scn-row[data-id="2"] .fw-scn-fail').click();
    expect(model.send).toHaveBeenCalledWith({ type: "label", id: 2, is_failure: true });
    el.querySelector('.fw-scn-row[data-id="2"] .fw-scn-info').dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(model.send).toHaveBeenCalledWith({ type: "select", id: 2 });
    state.selected = 1;
    handlers.get("change:selected")();
    expect(el.querySelector(".fw-scn-row.selected").dataset.id).toBe("1");
    state.view_model = makeData({ rows: [makeRow(0)] });
    handlers.get("change:view_model")();
    expect(el.querySelectorAll(".fw-scn-row")).toHaveLength(1);
    handlers.get("msg:custom")({ type: "label_refused", id: 0, error: "nope" }, []);
    expect(el.querySelector(".fw-scn-status").textContent).toBe("nope");
    cleanup();
    expect(handlers.size).toBe(0);
    expect(model.off).toHaveBeenCalledTimes(3);
    expect(el.querySelector(".fw-scenarios")).toBeNull();
  });
});
