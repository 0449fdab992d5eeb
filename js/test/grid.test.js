import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createGridView, describeItem, pageCount, selectionMode } from "../src/grid.js";
import widget from "../src/grid_widget.js";

// The kernel's selection buffer (widgets/selection.py) in its ranges layout.
function ranges(runs) {
  const view = new DataView(new ArrayBuffer(8 + 8 * runs.length));
  view.setUint8(0, 1);
  view.setUint32(4, runs.reduce((n, [a, b]) => n + b - a, 0), true);
  runs.forEach(([a, b], i) => {
    view.setUint32(8 + 8 * i, a, true);
    view.setUint32(12 + 8 * i, b, true);
  });
  return view;
}

const EVIL = "<img src=x onerror=alert(1)>";
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

function makeItems(page, pageSize, total, { evil = false, scores = true } = {}) {
  const items = [];
  for (let position = page * pageSize; position < Math.min(total, (page + 1) * pageSize); position++) {
    const index = 1000 + position;
    items.push({
      position,
      index,
      label: evil ? EVIL : `class ${position % 3}`,
      prediction: position % 2 ? "dog" : `class ${position % 3}`,
      correct: position % 2 === 0,
      score: scores ? position / 10 : null,
      score_text: scores ? String(position / 10) : null,
      buffer: items.length,
    });
  }
  return items;
}

function pageMessage(request, state, options = {}) {
  const items = makeItems(request.page, state.pageSize, state.total, options);
  return [
    {
      type: "page",
      request_id: request.requestId,
      page: request.page,
      version: state.version ?? 0,
      sort: state.sort ?? "none",
      page_size: state.pageSize,
      thumb_size: state.thumbSize ?? 96,
      mime: "image/jpeg",
      items,
    },
    items.map((_, i) => new Uint8Array([0xff, 0xd8, i])),
  ];
}

function setup(extra = {}) {
  const container = document.createElement("div");
  document.body.appendChild(container);
  let urlCounter = 0;
  const live = new Set();
  const calls = { requests: [], selects: [], changes: [] };
  const view = createGridView(container, {
    onRequestPage: (request) => calls.requests.push(request),
    onSelect: (selection) => calls.selects.push(selection),
    onChange: (patch) => calls.changes.push(patch),
    createObjectURL: () => {
      const url = `blob:test/${++urlCounter}`;
      live.add(url);
      return url;
    },
    revokeObjectURL: (url) => live.delete(url),
    ...extra,
  });
  return { container, view, calls, live };
}

const STATE = { total: 250, page: 0, pageSize: 100, sort: "none", hasScores: true, thumbSize: 96, version: 0, nIncorrect: 125 };

async function loaded(state = STATE, options = {}) {
  const ctx = setup();
  ctx.view.setState(state);
  await tick();
  const request = ctx.calls.requests.at(-1);
  const [message, buffers] = pageMessage(request, state, options);
  expect(ctx.view.receivePage(message, buffers)).toBe(true);
  return ctx;
}

afterEach(() => {
  document.body.replaceChildren();
});

describe("helpers", () => {
  it("counts pages and reads modifier keys", () => {
    expect(pageCount(0, 100)).toBe(1);
    expect(pageCount(250, 100)).toBe(3);
    expect(pageCount(1_000_000, 200)).toBe(5000);
    expect(selectionMode({})).toBe("replace");
    expect(selectionMode({ ctrlKey: true })).toBe("toggle");
    expect(selectionMode({ metaKey: true })).toBe("toggle");
    expect(selectionMode({ shiftKey: true })).toBe("range");
    expect(selectionMode({ shiftKey: true, ctrlKey: true })).toBe("range-add");
  });

  it("describes an item with index, label, prediction and score", () => {
    const text = describeItem({ index: 7, position: 0, label: "cat", prediction: "dog", correct: false, score_text: "0.5" }, 10);
    expect(text).toBe("#7 · item 1 of 10 · label: cat · prediction: dog · ✗ incorrect · score: 0.5");
  });
});

describe("paging", () => {
  it("requests the current page and renders tiles with stable selectors", async () => {
    const { container, calls } = await loaded();
    expect(calls.requests).toHaveLength(1);
    expect(calls.requests[0].page).toBe(0);
    const tiles = container.querySelectorAll(".fw-grid .fw-tiles .fw-thumb[data-index]");
    expect(tiles).toHaveLength(100);
    expect(tiles[0].dataset.index).toBe("1000");
    expect(tiles[0].dataset.position).toBe("0");
    expect(tiles[0].classList.contains("correct")).toBe(true);
    expect(tiles[1].classList.contains("incorrect")).toBe(true);
    expect(tiles[1].querySelector(".fw-badge").textContent).toBe("✗");
    expect(tiles[0].querySelector(".fw-badge").textContent).toBe("✓");
    expect(tiles[1].querySelector(".fw-pred").textContent).toBe("dog");
    expect(tiles[3].querySelector(".fw-score").textContent).toBe("0.3");
    expect(tiles[0].querySelector("img.fw-img").getAttribute("src")).toMatch(/^blob:test\//);
    const root = container.querySelector(".fw-grid");
    expect(root.dataset.state).toBe("ready");
    expect(root.dataset.loadedPage).toBe("0");
    expect(container.querySelector(".fw-page-count").textContent).toBe("of 3");
    expect(container.querySelector(".fw-range").textContent).toBe("1–100 of 250");
    expect(container.querySelector(".fw-prev").disabled).toBe(true);
    expect(container.querySelector(".fw-next").disabled).toBe(false);
    expect(container.querySelector(".fw-status").textContent).toContain("250 items · 125 incorrect · 0 selected");
  });

  it("pager buttons ask the host for another page; the host answers with setState", async () => {
    const { container, view, calls } = await loaded();
    container.querySelector(".fw-next").click();
    expect(calls.changes).toEqual([{ page: 1 }]);
    container.querySelector(".fw-last").click();
    expect(calls.changes.at(-1)).toEqual({ page: 2 });
    view.setState({ page: 2 });
    await tick();
    expect(calls.requests.at(-1).page).toBe(2);
    const [message, buffers] = pageMessage(calls.requests.at(-1), STATE);
    view.receivePage(message, buffers);
    expect(container.querySelectorAll(".fw-thumb")).toHaveLength(50);
    expect(container.querySelector(".fw-range").textContent).toBe("201–250 of 250");
    expect(container.querySelector(".fw-next").disabled).toBe(true);
  });

  it("page size and sort controls report changes, keeping the first item on screen", async () => {
    const { container, view, calls } = await loaded({ ...STATE, page: 2, pageSize: 100 });
    const size = container.querySelector(".fw-page-size");
    size.value = "50";
    size.dispatchEvent(new Event("change", { bubbles: true }));
    expect(calls.changes.at(-1)).toEqual({ pageSize: 50, page: 4 });
    const sort = container.querySelector(".fw-sort");
    expect(sort.disabled).toBe(false);
    sort.value = "desc";
    sort.dispatchEvent(new Event("change", { bubbles: true }));
    expect(calls.changes.at(-1)).toEqual({ sort: "desc", page: 0 });
    view.setState({ hasScores: false });
    expect(sort.disabled).toBe(true);
  });

  it("the last request wins: stale responses are ignored", async () => {
    const { view, calls, container } = setup();
    view.setState(STATE);
    await tick();
    view.setState({ page: 1 });
    await tick();
    view.setState({ page: 2 });
    await tick();
    expect(calls.requests.map((r) => r.page)).toEqual([0, 1, 2]);
    const [r0, r1, r2] = calls.requests;
    expect(new Set([r0.requestId, r1.requestId, r2.requestId]).size).toBe(3);
    expect(view.receivePage(...pageMessage(r1, STATE))).toBe(false);
    expect(view.receivePage(...pageMessage(r0, STATE))).toBe(false);
    expect(container.querySelectorAll(".fw-thumb")).toHaveLength(0);
    expect(view.receivePage(...pageMessage(r2, STATE))).toBe(true);
    expect(container.querySelector(".fw-thumb").dataset.position).toBe("200");
  });

  it("ignores a response computed for another subset version or sort", async () => {
    const { view, calls } = setup();
    view.setState(STATE);
    await tick();
    const [message, buffers] = pageMessage(calls.requests[0], { ...STATE, version: 5 });
    expect(view.receivePage(message, buffers)).toBe(false);
    const [sorted] = pageMessage(calls.requests[0], { ...STATE, sort: "asc" });
    expect(view.receivePage(sorted, buffers)).toBe(false);
  });

  it("coalesces several state changes into one request", async () => {
    const { view, calls } = setup();
    view.setState(STATE);
    view.setState({ page: 1 });
    view.setState({ page: 2, title: "x" });
    await tick();
    expect(calls.requests.map((r) => r.page)).toEqual([2]);
  });

  it("keeps a small LRU of pages and revokes object URLs of evicted pages", async () => {
    const { view, calls, live } = setup({});
    const state = { ...STATE, total: 1000, pageSize: 10 };
    view.setState(state);
    for (let page = 0; page < 6; page++) {
      view.setState({ page });
      await tick();
      view.receivePage(...pageMessage(calls.requests.at(-1), state));
    }
    expect(view.cachedPages).toEqual([3, 4, 5]);
    expect(live.size).toBe(30); // 3 pages x 10 thumbnails, the others revoked
    // Going back to a cached page needs no request.
    const before = calls.requests.length;
    view.setState({ page: 4 });
    await tick();
    expect(calls.requests.length).toBe(before);
    expect(view.cachedPages).toEqual([3, 5, 4]);
    // A new subset version drops every cached page.
    view.setState({ version: 1 });
    await tick();
    expect(live.size).toBe(0);
    expect(calls.requests.length).toBe(before + 1);
  });

  it("shows an empty state without requesting", async () => {
    const { view, calls, container } = setup();
    view.setState({ ...STATE, total: 0 });
    await tick();
    expect(calls.requests).toHaveLength(0);
    expect(container.querySelector(".fw-empty").textContent).toBe("No items to show.");
    expect(container.querySelector(".fw-range").textContent).toBe("0 items");
  });

  it("shows a placeholder when an image failed to load", async () => {
    const { view, calls, container } = setup();
    view.setState({ ...STATE, total: 1 });
    await tick();
    const [message] = pageMessage(calls.requests[0], { ...STATE, total: 1 });
    message.items[0].buffer = -1;
    message.items[0].error = "ValueError: cannot read image file a.png";
    view.receivePage(message, []);
    expect(container.querySelector(".fw-thumb img")).toBeNull();
    expect(container.querySelector(".fw-missing").textContent).toBe("no image");
    expect(container.querySelector(".fw-thumb").getAttribute("title")).toContain("cannot read image file a.png");
  });
});

describe("selection and hover", () => {
  it("click, ctrl-click and shift-click report mode, position and index", async () => {
    const { container, calls } = await loaded();
    const tiles = container.querySelectorAll(".fw-thumb");
    tiles[2].dispatchEvent(new MouseEvent("click", { bubbles: true }));
    tiles[5].querySelector(".fw-img").dispatchEvent(new MouseEvent("click", { bubbles: true, ctrlKey: true }));
    tiles[7].querySelector(".fw-label").dispatchEvent(new MouseEvent("click", { bubbles: true, shiftKey: true }));
    tiles[8].dispatchEvent(new MouseEvent("click", { bubbles: true, shiftKey: true, metaKey: true }));
    expect(calls.selects).toEqual([
      { mode: "replace", position: 2, index: 1002 },
      { mode: "toggle", position: 5, index: 1005 },
      { mode: "range", position: 7, index: 1007 },
      { mode: "range-add", position: 8, index: 1008 },
    ]);
  });

  it("keyboard Enter selects the focused tile", async () => {
    const { container, calls } = await loaded();
    const tile = container.querySelectorAll(".fw-thumb")[4];
    tile.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(calls.selects).toEqual([{ mode: "replace", position: 4, index: 1004 }]);
  });

  it("setSelected marks tiles and enables the clear button", async () => {
    const { container, view, calls } = await loaded();
    const clear = container.querySelector(".fw-clear");
    expect(clear.disabled).toBe(true);
    view.setSelected([1003, 1004, 99999]);
    const selected = [...container.querySelectorAll(".fw-thumb.selected")].map((t) => t.dataset.index);
    expect(selected).toEqual(["1003", "1004"]);
    expect(container.querySelector('.fw-thumb[data-index="1003"]').getAttribute("aria-selected")).toBe("true");
    expect(container.querySelector(".fw-status").textContent).toContain("3 selected");
    expect(clear.disabled).toBe(false);
    clear.click();
    expect(calls.selects.at(-1)).toEqual({ mode: "clear" });
    view.setSelected([]);
    expect(container.querySelectorAll(".fw-thumb.selected")).toHaveLength(0);
  });

  it("hover shows index, label, prediction and score in the status line", async () => {
    const { container } = await loaded();
    const tile = container.querySelectorAll(".fw-thumb")[3];
    tile.querySelector(".fw-frame").dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    const status = container.querySelector(".fw-status").textContent;
    expect(status).toBe("#1003 · item 4 of 250 · label: class 0 · prediction: dog · ✗ incorrect · score: 0.3");
    expect(tile.getAttribute("title")).toBe(status);
    container.querySelector(".fw-tiles").dispatchEvent(new MouseEvent("mouseleave"));
    expect(container.querySelector(".fw-status").textContent).toContain("250 items");
    container.querySelectorAll(".fw-thumb")[0].focus();
    expect(container.querySelector(".fw-status").textContent).toMatch(/^#1000 · item 1 of 250/);
  });
});

describe("escaping", () => {
  it("shows data text literally and never creates elements from it", async () => {
    const { container, view } = await loaded({ ...STATE, total: 4 }, { evil: true });
    view.setState({ title: EVIL });
    const tile = container.querySelector(".fw-thumb");
    expect(tile.querySelector(".fw-label").textContent).toBe(EVIL);
    expect(container.querySelector(".fw-title").textContent).toBe(EVIL);
    expect(tile.getAttribute("title")).toContain(EVIL);
    // The only <img> elements are our thumbnails, with blob: URLs; none with src=x.
    const images = [...container.querySelectorAll("img")];
    expect(images).toHaveLength(4);
    for (const img of images) {
      expect(img.className).toBe("fw-img");
      expect(img.getAttribute("src")).toMatch(/^blob:test\//);
      expect(img.getAttribute("onerror")).toBeNull();
    }
    expect(container.querySelector('img[src="x"]')).toBeNull();
    expect(container.innerHTML).toContain("&lt;img src=x onerror=alert(1)&gt;");
  });
});

describe("cleanup", () => {
  it("destroy removes listeners, the DOM and revokes every object URL", async () => {
    const { container, view, calls, live } = await loaded();
    const tile = container.querySelector(".fw-thumb");
    const next = container.querySelector(".fw-next");
    const grid = container.querySelector(".fw-tiles");
    expect(live.size).toBe(100);
    view.destroy();
    expect(container.querySelector(".fw-grid")).toBeNull();
    expect(live.size).toBe(0);
    tile.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    next.click();
    tile.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    grid.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(calls.selects).toHaveLength(0);
    expect(calls.changes).toHaveLength(0);
    view.setState({ page: 1 });
    await tick();
    expect(calls.requests).toHaveLength(1);
  });

  it("every addEventListener has a matching removeEventListener", () => {
    const added = [];
    const removed = [];
    const add = vi.spyOn(EventTarget.prototype, "addEventListener").mockImplementation(function (type, fn) {
      added.push([this, type, fn]);
    });
    const remove = vi.spyOn(EventTarget.prototype, "removeEventListener").mockImplementation(function (type, fn) {
      removed.push([this, type, fn]);
    });
    try {
      const { view } = setup();
      expect(added.length).toBeGreaterThan(0);
      view.destroy();
      expect(removed).toHaveLength(added.length);
      for (const entry of added) {
        expect(removed.some((r) => r[0] === entry[0] && r[1] === entry[1] && r[2] === entry[2])).toBe(true);
      }
    } finally {
      add.mockRestore();
      remove.mockRestore();
    }
  });
});

// A minimal stand-in for anywidget's model: get/set/on/off/send/save_changes.
function fakeModel(initial) {
  const values = { ...initial };
  const handlers = new Map();
  const sent = [];
  return {
    sent,
    saved: 0,
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
    save_changes() {
      this.saved += 1;
    },
    emit(event, ...args) {
      for (const fn of handlers.get(event) ?? []) fn(...args);
    },
    handlerCount: () => [...handlers.values()].reduce((n, set) => n + set.size, 0),
  };
}

describe("anywidget adapter", () => {
  let urls;
  beforeEach(() => {
    urls = new Set();
    let n = 0;
    URL.createObjectURL = vi.fn(() => {
      const url = `blob:adapter/${++n}`;
      urls.add(url);
      return url;
    });
    URL.revokeObjectURL = vi.fn((url) => urls.delete(url));
  });

  const TRAITS = {
    total: 30, page: 0, page_size: 10, sort: "none", has_scores: false, thumb_size: 64,
    title: "t", _data_version: 3, n_incorrect: 15, _selection: ranges([[1004, 1005]]),
  };

  it("asks for pages by message, renders the answer, maps clicks and controls to the model", async () => {
    const model = fakeModel(TRAITS);
    const el = document.createElement("div");
    document.body.appendChild(el);
    const cleanup = widget.render({ model, el });
    await tick();
    expect(model.sent).toHaveLength(1);
    const request = model.sent[0];
    expect(request.type).toBe("page");
    expect(request.page).toBe(0);
    const [message, buffers] = pageMessage(
      { page: 0, requestId: request.request_id },
      { total: 30, pageSize: 10, version: 3, thumbSize: 64 },
      { scores: false },
    );
    model.emit("msg:custom", message, buffers.map((b) => new DataView(b.buffer)));
    expect(el.querySelectorAll(".fw-thumb")).toHaveLength(10);
    expect(el.querySelector(".fw-thumb.selected").dataset.index).toBe("1004");
    expect(el.querySelector(".fw-score")).toBeNull();

    el.querySelectorAll(".fw-thumb")[2].click();
    expect(model.sent.at(-1)).toEqual({ type: "select", mode: "replace", position: 2, index: 1002 });

    el.querySelector(".fw-next").click();
    expect(model.get("page")).toBe(1);
    expect(model.saved).toBe(1);
    await tick();
    expect(model.sent.at(-1)).toMatchObject({ type: "page", page: 1 });

    model.set("_selection", ranges([[1002, 1003]]));
    // page 1 not answered yet: the page-0 tiles are still shown
    expect(el.querySelector(".fw-thumb.selected").dataset.index).toBe("1002");

    const live = urls.size;
    expect(live).toBe(10);
    cleanup();
    expect(model.handlerCount()).toBe(0);
    expect(urls.size).toBe(0);
    expect(el.children).toHaveLength(0);
  });
});
