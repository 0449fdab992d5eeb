// The "dataurl" image transport (failwidgets/widgets/transport.py): every view reads images
// from message.data_urls when a front end drops binary buffers, and from buffers otherwise;
// the grid's selection may arrive as base64 text; and the grid badges likely label errors.
import { afterEach, describe, expect, it, vi } from "vitest";
import { bytesOf, imageURL, isDataURL, releaseURL } from "../src/images.js";
import { createGridView, describeItem, describeLabelIssue } from "../src/grid.js";
import gridWidget from "../src/grid_widget.js";
import { createScenarioView } from "../src/scenarios.js";
import { createTreeView } from "../src/tree.js";

const PNG = "data:image/png;base64,iVBORw0KGgo=";
const JPEG = (i) => `data:image/jpeg;base64,/9j/${"A".repeat(i + 1)}==`;
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

afterEach(() => {
  document.body.replaceChildren();
});

function urlFactory() {
  const created = [];
  const revoked = [];
  return {
    created,
    revoked,
    createObjectURL: (blob) => {
      const url = `blob:test/${created.length}`;
      created.push({ url, type: blob.type });
      return url;
    },
    revokeObjectURL: (url) => revoked.push(url),
  };
}

describe("images.js", () => {
  it("reads data URLs at the buffer indices and makes object URLs from buffers", () => {
    const urls = urlFactory();
    const message = { mime: "image/jpeg", data_urls: [PNG, JPEG(1)] };
    expect(imageURL(message, [], 1, urls.createObjectURL)).toBe(JPEG(1));
    expect(imageURL(message, [], 2, urls.createObjectURL)).toBeNull(); // missing
    expect(imageURL(message, [], -1, urls.createObjectURL)).toBeNull();
    expect(urls.created).toHaveLength(0); // nothing to allocate for data URLs
    const buffers = [new Uint8Array([1]), new Uint8Array([2])];
    expect(imageURL({ mime: "image/webp" }, buffers, 1, urls.createObjectURL)).toBe("blob:test/0");
    expect(urls.created[0].type).toBe("image/webp");
    expect(imageURL({}, buffers, 0, urls.createObjectURL, "image/png")).toBe("blob:test/1");
    expect(urls.created[1].type).toBe("image/png");
    expect(imageURL({}, buffers, 5, urls.createObjectURL)).toBeNull();
  });

  it("accepts only base64 image data URLs from the message", () => {
    const create = vi.fn();
    const bad = ["javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=", 'data:image/png;base64,AA" onerror="x', 7, null];
    for (const url of bad) expect(imageURL({ data_urls: [url] }, [], 0, create)).toBeNull();
    expect(create).not.toHaveBeenCalled();
  });

  it("releases object URLs only", () => {
    const revoke = vi.fn();
    releaseURL(PNG, revoke);
    releaseURL(null, revoke);
    expect(revoke).not.toHaveBeenCalled();
    releaseURL("blob:x/1", revoke);
    expect(revoke).toHaveBeenCalledWith("blob:x/1");
    expect(isDataURL(PNG)).toBe(true);
    expect(isDataURL("blob:x/1")).toBe(false);
  });

  it("decodes base64 text to bytes and passes binary values through", () => {
    const view = bytesOf(btoa(String.fromCharCode(1, 0, 0, 0, 2, 0, 0, 0)));
    expect(view).toBeInstanceOf(DataView);
    expect([...new Uint8Array(view.buffer)]).toEqual([1, 0, 0, 0, 2, 0, 0, 0]);
    const binary = new DataView(new ArrayBuffer(8));
    expect(bytesOf(binary)).toBe(binary);
    expect(bytesOf(undefined)).toBeNull();
    expect(bytesOf("not base64 !!")).toBeNull();
  });
});

// ---------------------------------------------------------------------- the grid
function gridItems(n, flagged = new Set()) {
  return Array.from({ length: n }, (_, i) => ({
    position: i,
    index: 100 + i,
    label: "cat",
    prediction: i % 2 ? "dog" : "cat",
    correct: i % 2 === 0,
    score: null,
    score_text: null,
    label_issue: flagged.has(i) ? { suggested: "dog", quality: 0.034 } : null,
    buffer: i,
  }));
}

function fakeModel(initial) {
  const values = { ...initial };
  const handlers = new Map();
  const sent = [];
  return {
    sent,
    get: (name) => values[name],
    set(name, value) {
      values[name] = value;
      for (const fn of handlers.get(`change:${name}`) ?? []) fn();
    },
    on(event, fn) {
      if (!handlers.has(event)) handlers.set(event, new Set());
      handlers.get(event).add(fn);
    },
    off(event, fn) {
      handlers.get(event)?.delete(fn);
    },
    send(message) {
      sent.push(message);
    },
    save_changes() {},
    emit(event, ...args) {
      for (const fn of handlers.get(event) ?? []) fn(...args);
    },
  };
}

/** The selection header + ranges payload (widgets/selection.py) as base64 text. */
function selectionText(start, stop) {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, 1);
  view.setUint32(4, stop - start, true);
  view.setUint32(8, start, true);
  view.setUint32(12, stop, true);
  return btoa(String.fromCharCode(...bytes));
}

describe("ImageGrid over the data-URL transport", () => {
  it("shows thumbnails from data URLs, with no object URL made or revoked", async () => {
    const container = document.createElement("div");
    document.body.appendChild(container);
    const urls = urlFactory();
    const requests = [];
    const view = createGridView(container, {
      onRequestPage: (request) => requests.push(request),
      createObjectURL: urls.createObjectURL,
      revokeObjectURL: urls.revokeObjectURL,
      maxCachedPages: 1,
    });
    view.setState({ total: 8, page: 0, pageSize: 4, version: 0 });
    await tick();
    const message = (request) => ({
      type: "page",
      request_id: request.requestId,
      page: request.page,
      version: 0,
      sort: "none",
      page_size: 4,
      thumb_size: 96,
      mime: "image/jpeg",
      items: gridItems(4).map((item) => ({ ...item, position: item.position + 4 * request.page })),
      data_urls: [0, 1, 2, 3].map(JPEG),
    });
    expect(view.receivePage(message(requests[0]), [])).toBe(true);
    const srcs = [...container.querySelectorAll(".fw-thumb img")].map((img) => img.getAttribute("src"));
    expect(srcs).toEqual([0, 1, 2, 3].map(JPEG));
    view.setState({ page: 1 });
    await tick();
    expect(view.receivePage(message(requests[1]), [])).toBe(true); // page 0 leaves the cache
    expect(urls.created).toHaveLength(0);
    expect(urls.revoked).toHaveLength(0);
  });

  it("badges likely label errors with a tooltip and counts them in the status", async () => {
    const container = document.createElement("div");
    document.body.appendChild(container);
    const requests = [];
    const view = createGridView(container, {
      onRequestPage: (request) => requests.push(request),
      createObjectURL: () => "blob:x",
      revokeObjectURL: () => {},
    });
    view.setState({ total: 4, page: 0, pageSize: 4, version: 0, nLabelIssues: 2 });
    await tick();
    const items = gridItems(4, new Set([1, 3]));
    items[3].label_issue = { suggested: null, quality: null };
    view.receivePage(
      { type: "page", request_id: requests[0].requestId, page: 0, version: 0, sort: "none", page_size: 4, thumb_size: 96, items },
      items.map(() => new Uint8Array([1])),
    );
    const flags = container.querySelectorAll(".fw-thumb.label-issue .fw-label-issue");
    expect([...flags].map((f) => f.closest(".fw-thumb").dataset.index)).toEqual(["101", "103"]);
    expect(flags[0].textContent).toBe("label?");
    expect(flags[0].getAttribute("title")).toBe("label?: likely label error, suggested: dog, label quality 0.03");
    expect(flags[1].getAttribute("title")).toBe("label?: likely label error");
    expect(container.querySelectorAll(".fw-label-issue")).toHaveLength(2);
    expect(describeItem(items[1], 4)).toContain("label?: likely label error");
    expect(describeLabelIssue({ label_issue: { suggested: "<b>x</b>", quality: 1 } })).toContain("<b>x</b>");
    expect(container.querySelector(".fw-status").textContent).toContain("2 label?");
  });

  it("the adapter decodes a base64 selection and shows data-URL pages", async () => {
    const model = fakeModel({
      total: 4, page: 0, page_size: 4, sort: "none", has_scores: false, thumb_size: 64,
      title: "", _data_version: 0, n_incorrect: 2, n_label_issues: 1, _selection: selectionText(101, 103),
    });
    const el = document.createElement("div");
    document.body.appendChild(el);
    const cleanup = gridWidget.render({ model, el });
    await tick();
    const request = model.sent[0];
    model.emit(
      "msg:custom",
      {
        type: "page", request_id: request.request_id, page: 0, version: 0, sort: "none",
        page_size: 4, thumb_size: 64, mime: "image/jpeg", items: gridItems(4, new Set([2])),
        data_urls: [0, 1, 2, 3].map(JPEG),
      },
      [],
    );
    expect(el.querySelectorAll(".fw-thumb img")).toHaveLength(4);
    expect([...el.querySelectorAll(".fw-thumb.selected")].map((t) => t.dataset.index)).toEqual(["101", "102"]);
    expect(el.querySelector(".fw-thumb.label-issue").dataset.index).toBe("102");
    model.set("_selection", selectionText(100, 101));
    expect([...el.querySelectorAll(".fw-thumb.selected")].map((t) => t.dataset.index)).toEqual(["100"]);
    cleanup();
  });
});

// ---------------------------------------------------------------------- scenarios and tree
describe("ScenarioView strips and the tree's feature panel over data URLs", () => {
  it("scenario strips come from data_urls", () => {
    const container = document.createElement("div");
    document.body.appendChild(container);
    const urls = urlFactory();
    const view = createScenarioView(container, { ...urls, onRequestStrips: () => {} });
    const row = {
      id: 0, weight: 0.3, weight_text: "30%", weight_share: 1, n_codes: 10, n_images: 5,
      majority_label: 0, majority_name: "a", code_prediction: "b", reference_name: "a",
      samples: [{ prediction: "b", confidence: 0.9, wrong: true }, { prediction: "a", confidence: 0.6, wrong: false }],
      top_prediction: "b", top_count: 1, n_wrong: 1, predicted_text: "predicted: b 1/2",
      is_failure: null, correct_label: null,
    };
    view.setData({
      rows: [row], class_names: ["a", "b"], class_name: null, tau: 0.1, n_samples: 2, sample_version: 0,
      image_size: 64, n_scenarios: 1, n_labelled: 0, n_failures: 0, labels_path: "l.json", message: "",
    });
    const message = { type: "strips", version: 0, mime: "image/png", strips: [{ id: 0, buffers: [0, 1] }], data_urls: [PNG, PNG] };
    expect(view.receiveStrips(message, [])).toBe(1);
    const srcs = [...container.querySelectorAll(".fw-scn-img")].map((img) => img.getAttribute("src"));
    expect(srcs).toEqual([PNG, PNG]);
    expect(urls.created).toHaveLength(0);
    view.destroy();
    expect(urls.revoked).toHaveLength(0);
  });

  it("the tree's panel images come from data_urls", () => {
    const container = document.createElement("div");
    document.body.appendChild(container);
    const urls = urlFactory();
    const view = createTreeView(container, urls);
    const items = [0, 1].map((i) => ({
      index: 10 + i, activation: 1, label: "a", prediction: "b", correct: i === 0, image: i, overlay: 2 + i, attack: -1,
    }));
    const message = {
      type: "visual", token: 1, state: "ready", feature: 3, node: 1, rule_features: [3], mime: "image/png",
      items, heatmaps: "ready", attack: "off", attack_info: null, message: "", data_urls: [PNG, PNG, PNG, PNG],
    };
    expect(view.setVisual(message, [])).toBe(true);
    const panel = container.querySelector(".fw-tree-visual");
    expect(panel.querySelectorAll('[data-row="image"] img')).toHaveLength(2);
    expect(panel.querySelectorAll('[data-row="overlay"] img')).toHaveLength(2);
    expect([...panel.querySelectorAll("img")].every((img) => img.getAttribute("src") === PNG)).toBe(true);
    view.setVisual({ ...message, token: 2 }, []);
    expect(urls.created).toHaveLength(0);
    expect(urls.revoked).toHaveLength(0);
  });
});

describe("styles inside a shadow root (marimo)", () => {
  it("each view's style goes into the shadow root that holds it, once", () => {
    const host = document.createElement("div");
    document.body.appendChild(host);
    const shadow = host.attachShadow({ mode: "open" });
    const a = document.createElement("div");
    const b = document.createElement("div");
    shadow.append(a, b);
    const first = createGridView(a, {});
    createGridView(b, {});
    expect(shadow.querySelectorAll("style#fw-grid-style")).toHaveLength(1);
    expect(shadow.querySelector("style#fw-grid-style").textContent).toContain(".fw-thumb");
    first.destroy();
    // a container outside any shadow root styles the document
    const plain = document.createElement("div");
    document.body.appendChild(plain);
    createGridView(plain, {});
    expect(document.head.querySelectorAll("style#fw-grid-style")).toHaveLength(1);
  });
});
