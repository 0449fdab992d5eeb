import { afterEach, describe, expect, it, vi } from "vitest";
import { accuracyText, createDirectionsView } from "../src/directions.js";
import widget from "../src/directions_widget.js";

const EVIL = "<img src=x onerror=alert(1)>";

function viewModel(extra = {}) {
  return {
    class_name: "bird",
    class_index: 0,
    strength: 0.83,
    strength_text: "0.830",
    n_val: 160,
    n_errors: 40,
    class_accuracy_text: "81%",
    split: "test",
    k: 20,
    skipped_reason: null,
    captions_note: null,
    hard: [
      { caption: "a photo of a red bird on the grass", score: -1.5, score_text: "-1.5" },
      { caption: "a photo of a bird on the grass", score: -1.2, score_text: "-1.2" },
    ],
    easy: [{ caption: "a photo of a bird in the water", score: 1.1, score_text: "1.1" }],
    checked: {},
    selected: null,
    tail_selected: false,
    ...extra,
  };
}

function setup() {
  const container = document.createElement("div");
  document.body.appendChild(container);
  const calls = { captions: [], tails: 0 };
  const view = createDirectionsView(container, {
    onCaption: (c) => calls.captions.push(c),
    onShowTail: () => (calls.tails += 1),
  });
  return { container, view, calls };
}

afterEach(() => {
  document.body.replaceChildren();
});

describe("directions panel", () => {
  it("renders the class, its statistics and both caption lists with stable hooks", () => {
    const { container, view } = setup();
    view.setState(viewModel());
    const root = container.querySelector(".fw-directions");
    expect(root.dataset.state).toBe("ready");
    expect(root.dataset.classIndex).toBe("0");
    expect(root.querySelector(".fw-dir-class").textContent).toBe("bird");
    expect(root.querySelector(".fw-dir-strength b").textContent).toBe("0.830");
    expect(root.querySelector(".fw-dir-errors b").textContent).toBe("40 of 160");
    const hard = root.querySelectorAll('.fw-dir-list[data-side="hard"] .fw-dir-caption');
    expect(hard).toHaveLength(2);
    expect(hard[1].dataset.rank).toBe("1");
    expect(hard[0].querySelector(".fw-dir-text").textContent).toBe("a photo of a red bird on the grass");
    expect(hard[0].querySelector(".fw-dir-score").textContent).toBe("-1.5");
    expect(hard[0].querySelector(".fw-dir-acc").hidden).toBe(true);
    const easy = root.querySelectorAll('.fw-dir-list[data-side="easy"] .fw-dir-caption');
    expect(easy).toHaveLength(1);
    expect(root.querySelector('[data-action="tail"]').textContent).toBe("Show the 20 hardest in the grid");
  });

  it("escapes class names, captions and reasons (text only, no elements)", () => {
    const { container, view } = setup();
    view.setState(
      viewModel({
        class_name: EVIL,
        hard: [{ caption: EVIL, score: -1, score_text: "-1" }],
        checked: { [EVIL]: { accuracy: 0.25, accuracy_text: "25%", n_correct: 5, k: 20 } },
      }),
    );
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector(".fw-dir-class").textContent).toBe(EVIL);
    expect(container.querySelector(".fw-dir-text").textContent).toBe(EVIL);
    view.setState(viewModel({ class_name: EVIL, skipped_reason: EVIL }));
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector(".fw-dir-skipped").textContent).toContain(EVIL);
  });

  it("reports caption clicks with side, rank and text, and the tail button", () => {
    const { container, view, calls } = setup();
    view.setState(viewModel());
    container.querySelectorAll('.fw-dir-list[data-side="hard"] .fw-dir-caption')[1].click();
    container.querySelector('.fw-dir-list[data-side="easy"] .fw-dir-caption .fw-dir-text').click();
    expect(calls.captions).toEqual([
      { side: "hard", rank: 1, caption: "a photo of a bird on the grass" },
      { side: "easy", rank: 0, caption: "a photo of a bird in the water" },
    ]);
    container.querySelector('[data-action="tail"]').click();
    expect(calls.tails).toBe(1);
    container.querySelector(".fw-dir-class").click(); // not a button: nothing
    expect(calls.captions).toHaveLength(2);
  });

  it("shows the accuracy next to checked captions and marks the selected one", () => {
    const { container, view } = setup();
    const caption = "a photo of a bird on the grass";
    view.setState(
      viewModel({
        checked: { [caption]: { accuracy: 0.25, accuracy_text: "25%", n_correct: 5, k: 20 } },
        selected: { side: "hard", rank: 1, caption },
      }),
    );
    const buttons = container.querySelectorAll(".fw-dir-caption");
    expect(buttons[1].classList.contains("selected")).toBe(true);
    expect(buttons[1].getAttribute("aria-pressed")).toBe("true");
    expect(buttons[0].classList.contains("selected")).toBe(false);
    const acc = buttons[1].querySelector(".fw-dir-acc");
    expect(acc.hidden).toBe(false);
    expect(acc.textContent).toBe("25% correct on its 20 nearest test images");
    expect(acc.title).toBe("5 of 20 correct");
    expect(accuracyText({ accuracy_text: "100%", k: 1 }, "val")).toBe("100% correct on its 1 nearest val image");
  });

  it("shows a skipped class's reason instead of captions", () => {
    const { container, view } = setup();
    view.setState(viewModel({ skipped_reason: "0 errors in the validation split (at least 4 needed)", hard: [], easy: [] }));
    const root = container.querySelector(".fw-directions");
    expect(root.dataset.state).toBe("skipped");
    expect(root.querySelector(".fw-dir-skipped").textContent).toBe(
      "No failure direction for this class: 0 errors in the validation split (at least 4 needed).",
    );
    expect(root.querySelector(".fw-dir-caption")).toBeNull();
    expect(root.querySelector('[data-action="tail"]')).toBeNull();
    expect(root.querySelector(".fw-dir-strength")).toBeNull();
  });

  it("shows a class being fitted as pending, with nothing to click", () => {
    const { container, view, calls } = setup();
    const note = `Fitting the failure direction of ${EVIL}…`;
    view.setState(viewModel({ pending: true, hard: [], easy: [], strength: null, captions_note: note }));
    const root = container.querySelector(".fw-directions");
    expect(root.dataset.state).toBe("pending");
    const status = root.querySelector(".fw-dir-pending");
    expect(status.getAttribute("role")).toBe("status");
    expect(status.textContent).toBe(note);
    expect(root.querySelector("img")).toBeNull();
    expect(root.querySelector(".fw-dir-caption")).toBeNull();
    expect(root.querySelector('[data-action="tail"]')).toBeNull();
    expect(root.querySelector(".fw-dir-strength")).toBeNull();
    expect(root.querySelector(".fw-dir-errors b").textContent).toBe("40 of 160");
    root.click();
    expect(calls.tails).toBe(0);
    view.setState(viewModel());
    expect(root.dataset.state).toBe("ready");
    expect(root.querySelector(".fw-dir-pending")).toBeNull();
    expect(root.querySelectorAll(".fw-dir-caption")).toHaveLength(3);
  });

  it("shows the note when captions are unavailable, and an empty state", () => {
    const { container, view } = setup();
    view.setState(viewModel({ hard: [], easy: [], captions_note: "No text encoder: captions are unavailable." }));
    expect(container.querySelector(".fw-dir-note").textContent).toContain("No text encoder");
    expect(container.querySelector(".fw-dir-empty")).toBeNull();
    view.setState({});
    expect(container.querySelector(".fw-directions").dataset.state).toBe("empty");
    expect(container.querySelector(".fw-directions").children).toHaveLength(0);
  });

  it("re-renders on a new class and cleans up its listeners on destroy", () => {
    const { container, view, calls } = setup();
    view.setState(viewModel());
    view.setState(viewModel({ class_name: "cat", class_index: 1 }));
    expect(container.querySelector(".fw-dir-class").textContent).toBe("cat");
    const root = view.root;
    const button = root.querySelector(".fw-dir-caption");
    view.destroy();
    expect(container.querySelector(".fw-directions")).toBeNull();
    button.click(); // detached and its listener removed
    expect(calls.captions).toHaveLength(0);
    view.setState(viewModel()); // no-op after destroy
    expect(container.children).toHaveLength(0);
    expect(document.querySelectorAll("#fw-directions-style")).toHaveLength(1);
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

  it("syncs the view model, sends clicks and removes its listeners", () => {
    const state = { view_model: viewModel() };
    const model = fakeModel(state);
    const el = document.createElement("div");
    document.body.appendChild(el);
    const cleanup = widget.render({ model, el });
    expect(el.querySelector(".fw-dir-class").textContent).toBe("bird");
    state.view_model = viewModel({ class_name: "cat" });
    model.emit("change:view_model");
    expect(el.querySelector(".fw-dir-class").textContent).toBe("cat");
    el.querySelector(".fw-dir-caption").click();
    el.querySelector('[data-action="tail"]').click();
    expect(model.sent).toEqual([
      { type: "caption", side: "hard", rank: 0, caption: "a photo of a red bird on the grass" },
      { type: "tail" },
    ]);
    const off = vi.spyOn(model, "off");
    cleanup();
    expect(off).toHaveBeenCalledWith("change:view_model", expect.any(Function));
    expect(model.handlers.get("change:view_model")).toHaveLength(0);
    expect(el.children).toHaveLength(0);
  });
});
