// ImageGrid view: a paged grid of thumbnails with label/prediction, correct/incorrect marking,
// optional score, selection (click, shift-click range, ctrl/cmd-click toggle), sort and page size.
//
// Framework-free: it knows nothing about Jupyter. The host supplies state with setState(),
// the selection with setSelected(), page data with receivePage(), and hears back through the
// callbacks. All text from data goes through textContent or attributes, never innerHTML.

import { panelCSS } from "./theme.js";
import { closestIn, make, startView } from "./dom.js";
import { wireHover } from "./events.js";
import { selectionOf } from "./selection.js";
import { imageURL, releaseURL } from "./images.js";

export const PAGE_SIZES = [25, 50, 100, 200, 500, 1000];
export const SORT_OPTIONS = [
  ["none", "As given"],
  ["desc", "Score: high → low"],
  ["asc", "Score: low → high"],
];
const STYLE_ID = "fw-grid-style";
const numberFormat = new Intl.NumberFormat("en-US");

export const GRID_CSS = `
${panelCSS(".fw-grid", { vars: "--fw-thumb-size: 96px;" })}
.fw-footer { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 12px; margin-top: 6px; }
.fw-control { display: inline-flex; align-items: center; gap: 4px; color: var(--fw-fg-muted); }
.fw-grid select, .fw-grid input, .fw-grid button {
  font: inherit; color: var(--fw-fg); background: var(--fw-input-bg);
  border: 1px solid var(--fw-input-border); border-radius: 3px;
  height: 24px; padding: 0 6px; margin: 0;
}
.fw-grid button { min-width: 26px; }
.fw-grid button:not(:disabled):hover { background: var(--fw-bg-hover); cursor: pointer; }
.fw-grid button:disabled, .fw-grid select:disabled { opacity: 0.45; }
.fw-tiles {
  display: grid;
  grid-template-columns: repeat(auto-fill, minmax(calc(var(--fw-thumb-size) + 10px), 1fr));
  gap: 6px; padding: 4px; max-height: min(72vh, 640px); overflow-y: auto; align-content: start;
}
.fw-tiles[aria-busy="true"] { opacity: 0.55; transition: opacity 0.15s 0.1s; }
.fw-thumb {
  position: relative; display: flex; flex-direction: column; gap: 2px; min-width: 0;
  padding: 4px; background: var(--fw-bg-raised); border: 1px solid var(--fw-border);
  border-radius: var(--fw-radius); cursor: pointer; user-select: none; -webkit-user-select: none;
}
.fw-thumb:hover { background: var(--fw-bg-hover); }
.fw-thumb.incorrect { border: 2px solid var(--fw-bad); padding: 3px; }
.fw-thumb.selected {
  box-shadow: 0 0 0 3px var(--fw-accent);
  background: color-mix(in srgb, var(--fw-accent) 14%, var(--fw-bg-raised));
}
.fw-frame {
  position: relative; height: var(--fw-thumb-size); display: flex;
  align-items: center; justify-content: center; overflow: hidden; border-radius: 2px;
}
.fw-img { display: block; width: 100%; height: 100%; object-fit: contain; }
.fw-missing { color: var(--fw-fg-muted); font-size: var(--fw-font-size-small); text-align: center; }
.fw-badge {
  position: absolute; top: 2px; left: 2px; min-width: 17px; height: 17px; padding: 0 3px;
  border-radius: 9px; font-size: 11px; line-height: 17px; font-weight: 700; text-align: center;
  color: var(--fw-on-badge); background: var(--fw-good); box-shadow: 0 0 0 1px rgba(0, 0, 0, 0.25);
}
.fw-thumb.incorrect .fw-badge { background: var(--fw-bad); }
.fw-label-issue {
  position: absolute; top: 2px; right: 2px; height: 17px; padding: 0 4px; border-radius: 9px;
  font-size: 10px; line-height: 17px; font-weight: 700; cursor: help;
  color: #1a1a1a; background: #f5c542; box-shadow: 0 0 0 1px rgba(0, 0, 0, 0.3);
}
.fw-caption {
  display: flex; gap: 3px; min-width: 0; white-space: nowrap; overflow: hidden;
  font-size: var(--fw-font-size-small); line-height: 1.3;
}
.fw-label, .fw-pred { min-width: 0; overflow: hidden; text-overflow: ellipsis; }
.fw-label { flex: 0 0 auto; max-width: 100%; }
.fw-thumb.incorrect .fw-label { max-width: 50%; }
.fw-pred { flex: 0 1 auto; }
.fw-arrow { color: var(--fw-fg-muted); flex: none; }
.fw-thumb.correct .fw-arrow, .fw-thumb.correct .fw-pred { display: none; }
.fw-thumb.incorrect .fw-pred { color: var(--fw-bad); font-weight: 600; }
.fw-meta {
  display: flex; justify-content: space-between; gap: 4px; min-width: 0;
  font-family: var(--fw-mono); font-size: 10px; line-height: 1.3; color: var(--fw-fg-muted);
}
.fw-score { color: var(--fw-fg-soft); overflow: hidden; text-overflow: ellipsis; }
.fw-empty { grid-column: 1 / -1; padding: 16px; text-align: center; color: var(--fw-fg-muted); }
.fw-status {
  flex: 1 1 260px; min-width: 0; min-height: 1.4em; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; color: var(--fw-fg-soft); font-size: var(--fw-font-size-small);
}
.fw-pager { display: inline-flex; align-items: center; gap: 4px; flex-wrap: wrap; }
.fw-page-label { display: inline-flex; align-items: center; gap: 4px; color: var(--fw-fg-muted); }
.fw-page-input { width: 6em; }
.fw-range { color: var(--fw-fg-muted); font-size: var(--fw-font-size-small); min-width: 9em; text-align: right; }
`;

export function formatCount(n) {
  return numberFormat.format(n);
}

export function pageCount(total, pageSize) {
  return Math.max(1, Math.ceil(total / Math.max(1, pageSize)));
}

/** Selection mode from a pointer or keyboard event's modifier keys. */
export function selectionMode(event) {
  const toggle = Boolean(event.ctrlKey || event.metaKey);
  if (event.shiftKey) return toggle ? "range-add" : "range";
  return toggle ? "toggle" : "replace";
}

/** One-line description of an item, for the tooltip and the status line. */
export function describeItem(item, total) {
  const parts = [`#${item.index}`];
  if (typeof total === "number") parts.push(`item ${formatCount(item.position + 1)} of ${formatCount(total)}`);
  parts.push(`label: ${item.label}`, `prediction: ${item.prediction}`);
  parts.push(item.correct ? "✓ correct" : "✗ incorrect");
  if (item.score_text != null && item.score_text !== "") parts.push(`score: ${item.score_text}`);
  if (item.label_issue) parts.push(describeLabelIssue(item));
  if (item.error) parts.push(`image error: ${item.error}`);
  return parts.join(" · ");
}

/** Tooltip of the "label?" badge: the sample's label may be wrong. */
export function describeLabelIssue(item) {
  const issue = item.label_issue || {};
  const parts = ["label?: likely label error"];
  if (issue.suggested != null) parts.push(`suggested: ${issue.suggested}`);
  if (typeof issue.quality === "number") parts.push(`label quality ${issue.quality.toFixed(2)}`);
  return parts.join(", ");
}

/**
 * Create the grid view inside `container`.
 *
 * @param {HTMLElement} container
 * @param {object} options
 * @param {(req: {page: number, requestId: string}) => void} options.onRequestPage
 *   Ask the host for one page; answer with view.receivePage(message, buffers).
 * @param {(sel: {mode: string, position?: number, index?: number}) => void} options.onSelect
 *   A click: mode is "replace", "toggle", "range", "range-add" or "clear".
 * @param {(patch: {page?: number, pageSize?: number, sort?: string}) => void} options.onChange
 *   The user asks for another page, page size or sort order; the host answers with setState().
 * @param {number} [options.maxCachedPages=3] pages kept (with their object URLs) for quick return.
 * @param {(blob: Blob) => string} [options.createObjectURL]
 * @param {(url: string) => void} [options.revokeObjectURL]
 */
export function createGridView(container, options = {}) {
  const {
    onRequestPage = () => {},
    onSelect = () => {},
    onChange = () => {},
    maxCachedPages = 3,
    pageSizes = PAGE_SIZES,
    createObjectURL = (blob) => URL.createObjectURL(blob),
    revokeObjectURL = (url) => URL.revokeObjectURL(url),
  } = options;
  const { doc, listeners, listen } = startView(container, STYLE_ID, GRID_CSS);

  const viewId = Math.random().toString(36).slice(2, 10);
  const state = {
    total: 0,
    page: 0,
    pageSize: 100,
    sort: "none",
    hasScores: false,
    thumbSize: 96,
    title: "",
    version: 0,
    nIncorrect: 0,
    nLabelIssues: 0,
  };
  let selected = selectionOf([]); // {size, has(index)}
  const cache = new Map(); // page -> {items, urls}; insertion order = least recently used first
  let cacheKey = null;
  let pending = null; // {requestId, key, page}
  let shown = null; // {key, page, entry}
  let tiles = [];
  let hovered = null;
  let requestCounter = 0;
  let loadScheduled = false;
  let destroyed = false;

  // ------------------------------------------------------------------ DOM skeleton
  const root = make(doc, "div", "fw-grid", { "data-state": "empty" });
  const toolbar = make(doc, "div", "fw-toolbar");
  const title = make(doc, "span", "fw-title");
  const spacer = make(doc, "span", "fw-spacer");
  const sortLabel = make(doc, "label", "fw-control");
  sortLabel.append("Sort ");
  const sortSelect = make(doc, "select", "fw-sort", { "aria-label": "Sort by score" });
  for (const [value, text] of SORT_OPTIONS) {
    const option = make(doc, "option", null, { value });
    option.textContent = text;
    sortSelect.appendChild(option);
  }
  sortLabel.appendChild(sortSelect);
  const sizeLabel = make(doc, "label", "fw-control");
  sizeLabel.append("Per page ");
  const sizeSelect = make(doc, "select", "fw-page-size", { "aria-label": "Items per page" });
  sizeLabel.appendChild(sizeSelect);
  const clearButton = make(doc, "button", "fw-clear", { type: "button", "data-action": "clear" });
  clearButton.textContent = "Clear selection";
  toolbar.append(title, spacer, sortLabel, sizeLabel, clearButton);

  const grid = make(doc, "div", "fw-tiles", {
    role: "listbox",
    "aria-multiselectable": "true",
    "aria-label": "Images",
  });

  const footer = make(doc, "div", "fw-footer");
  const status = make(doc, "div", "fw-status", { "aria-live": "polite" });
  const pager = make(doc, "div", "fw-pager");
  const button = (cls, text, label) => {
    const b = make(doc, "button", cls, { type: "button", "data-action": cls.slice(3), title: label, "aria-label": label });
    b.textContent = text;
    return b;
  };
  const firstButton = button("fw-first", "«", "First page");
  const prevButton = button("fw-prev", "‹", "Previous page");
  const nextButton = button("fw-next", "›", "Next page");
  const lastButton = button("fw-last", "»", "Last page");
  const pageLabel = make(doc, "span", "fw-page-label");
  const pageInput = make(doc, "input", "fw-page-input", {
    type: "number",
    min: 1,
    step: 1,
    "aria-label": "Page number",
  });
  const pageOf = make(doc, "span", "fw-page-count");
  pageLabel.append("Page", pageInput, pageOf);
  const range = make(doc, "span", "fw-range");
  pager.append(firstButton, prevButton, pageLabel, nextButton, lastButton, range);
  footer.append(status, pager);
  root.append(toolbar, grid, footer);
  container.appendChild(root);

  // ------------------------------------------------------------------ helpers
  const nPages = () => pageCount(state.total, state.pageSize);
  const clampPage = (page) => Math.min(Math.max(0, Math.floor(page) || 0), nPages() - 1);
  const stateKey = () => `${state.version}|${state.sort}|${state.pageSize}|${state.thumbSize}`;

  function revoke(entry) {
    for (const url of entry.urls) releaseURL(url, revokeObjectURL);
    entry.urls = [];
  }

  function clearCache() {
    for (const entry of cache.values()) revoke(entry);
    cache.clear();
    shown = null;
  }

  function defaultStatus() {
    if (state.total === 0) return "No items.";
    const parts = [
      `${formatCount(state.total)} items`,
      `${formatCount(state.nIncorrect)} incorrect`,
      `${formatCount(selected.size)} selected`,
    ];
    if (state.nLabelIssues > 0) parts.push(`${formatCount(state.nLabelIssues)} label?`);
    return `${parts.join(" · ")} — click to select, shift-click for a range, ctrl/⌘-click to toggle`;
  }

  function renderStatus() {
    const text = hovered ? describeItem(hovered, state.total) : defaultStatus();
    status.textContent = text;
    status.title = text; // the line may be cut off in narrow outputs
  }

  function renderControls() {
    const pages = nPages();
    const page = clampPage(state.page);
    root.setAttribute("data-page", String(page));
    root.setAttribute("data-pages", String(pages));
    root.setAttribute("data-total", String(state.total));
    root.style.setProperty("--fw-thumb-size", `${state.thumbSize}px`);
    title.textContent = state.title;
    title.hidden = !state.title;
    grid.setAttribute("aria-label", state.title || "Images");

    sortSelect.value = state.sort;
    sortSelect.disabled = !state.hasScores;
    sortSelect.title = state.hasScores ? "Sort by score" : "No scores to sort by";

    const sizes = [...new Set([...pageSizes, state.pageSize])].sort((a, b) => a - b);
    const current = [...sizeSelect.options].map((o) => Number(o.value));
    if (current.join() !== sizes.join()) {
      sizeSelect.replaceChildren(
        ...sizes.map((size) => {
          const option = make(doc, "option", null, { value: size });
          option.textContent = String(size);
          return option;
        }),
      );
    }
    sizeSelect.value = String(state.pageSize);

    firstButton.disabled = prevButton.disabled = page <= 0;
    nextButton.disabled = lastButton.disabled = page >= pages - 1;
    pageInput.max = String(pages);
    if (doc.activeElement !== pageInput) pageInput.value = String(page + 1);
    pageOf.textContent = `of ${formatCount(pages)}`;
    if (state.total === 0) {
      range.textContent = "0 items";
    } else {
      const start = page * state.pageSize;
      const stop = Math.min(start + state.pageSize, state.total);
      range.textContent = `${formatCount(start + 1)}–${formatCount(stop)} of ${formatCount(state.total)}`;
    }
    clearButton.disabled = selected.size === 0;
    renderStatus();
  }

  function applySelection(tile) {
    const on = selected.has(Number(tile.dataset.index));
    tile.classList.toggle("selected", on);
    tile.setAttribute("aria-selected", on ? "true" : "false");
  }

  function buildTile(item, url) {
    const tile = make(doc, "div", `fw-thumb ${item.correct ? "correct" : "incorrect"}`, {
      role: "option",
      tabindex: 0,
      "data-index": item.index,
      "data-position": item.position,
    });
    const description = describeItem(item, state.total);
    tile.setAttribute("title", description);
    tile.setAttribute("aria-label", description);

    const frame = make(doc, "div", "fw-frame");
    if (url) {
      const img = make(doc, "img", "fw-img", { alt: "", draggable: "false", decoding: "async" });
      img.src = url;
      frame.appendChild(img);
    } else {
      const missing = make(doc, "span", "fw-missing");
      missing.textContent = "no image";
      frame.appendChild(missing);
    }
    const badge = make(doc, "span", "fw-badge", { "aria-hidden": "true" });
    badge.textContent = item.correct ? "✓" : "✗";
    frame.appendChild(badge);
    if (item.label_issue) {
      tile.classList.add("label-issue");
      const flag = make(doc, "span", "fw-label-issue", { title: describeLabelIssue(item) });
      flag.textContent = "label?";
      frame.appendChild(flag);
    }

    const caption = make(doc, "div", "fw-caption");
    const label = make(doc, "span", "fw-label");
    label.textContent = item.label;
    const arrow = make(doc, "span", "fw-arrow", { "aria-hidden": "true" });
    arrow.textContent = "→";
    const prediction = make(doc, "span", "fw-pred");
    prediction.textContent = item.prediction;
    caption.append(label, arrow, prediction);

    const meta = make(doc, "div", "fw-meta");
    const index = make(doc, "span", "fw-idx");
    index.textContent = `#${item.index}`;
    meta.appendChild(index);
    if (state.hasScores) {
      const score = make(doc, "span", "fw-score");
      score.textContent = item.score_text ?? "—";
      meta.appendChild(score);
    }
    tile.append(frame, caption, meta);
    tile._fwItem = item;
    applySelection(tile);
    return tile;
  }

  function renderPage(key, page, entry) {
    if (shown && shown.key === key && shown.page === page && shown.entry === entry) return;
    shown = { key, page, entry };
    hovered = null;
    tiles = entry.items.map((item, i) => buildTile(item, entry.urls[i]));
    grid.replaceChildren(...tiles);
    grid.scrollTop = 0;
    root.setAttribute("data-state", "ready");
    root.setAttribute("data-loaded-page", String(page));
    grid.removeAttribute("aria-busy");
    renderStatus();
  }

  function renderEmpty() {
    shown = null;
    tiles = [];
    hovered = null;
    const empty = make(doc, "div", "fw-empty");
    empty.textContent = "No items to show.";
    grid.replaceChildren(empty);
    grid.removeAttribute("aria-busy");
    root.setAttribute("data-state", "empty");
    root.removeAttribute("data-loaded-page");
    renderStatus();
  }

  // ------------------------------------------------------------------ loading
  function scheduleLoad() {
    if (loadScheduled || destroyed) return;
    loadScheduled = true;
    queueMicrotask(load);
  }

  function load() {
    loadScheduled = false;
    if (destroyed) return;
    const key = stateKey();
    if (key !== cacheKey) {
      clearCache();
      cacheKey = key;
    }
    if (state.total === 0) {
      pending = null;
      renderEmpty();
      return;
    }
    const page = clampPage(state.page);
    const entry = cache.get(page);
    if (entry) {
      cache.delete(page); // mark as most recently used
      cache.set(page, entry);
      pending = null;
      renderPage(key, page, entry);
      return;
    }
    if (pending && pending.key === key && pending.page === page) return; // already asked
    requestCounter += 1;
    pending = { requestId: `${viewId}:${requestCounter}`, key, page };
    grid.setAttribute("aria-busy", "true");
    root.setAttribute("data-state", "loading");
    onRequestPage({ page, requestId: pending.requestId });
  }

  /**
   * Page data from the host: message {request_id, page, version, sort, page_size, thumb_size,
   * mime, items: [{position, index, label, prediction, correct, score_text, label_issue,
   * buffer, error?}]} and one binary buffer per thumbnail (item.buffer indexes them; -1 for
   * none), or no buffers and message.data_urls at the same indices (the "dataurl" transport).
   * Returns true when shown, false when ignored as stale (only the latest request counts).
   */
  function receivePage(message, buffers = []) {
    if (destroyed || !pending || !message || message.request_id !== pending.requestId) return false;
    const key = `${message.version}|${message.sort}|${message.page_size}|${message.thumb_size}`;
    const request = pending;
    pending = null;
    if (key !== request.key || key !== stateKey() || message.page !== request.page) {
      // The host's state moved on; the state change that follows triggers a fresh request.
      return false;
    }
    const urls = (message.items || []).map((item) =>
      imageURL(message, buffers, item.buffer, createObjectURL, "image/jpeg"),
    );
    const entry = { items: message.items || [], urls };
    cache.set(request.page, entry);
    while (cache.size > Math.max(1, maxCachedPages)) {
      const [oldest, old] = cache.entries().next().value;
      cache.delete(oldest);
      revoke(old);
    }
    renderPage(key, request.page, entry);
    return true;
  }

  // ------------------------------------------------------------------ events

  function tileOf(target) {
    return closestIn(target, ".fw-thumb", grid);
  }

  function selectTile(tile, event) {
    onSelect({
      mode: selectionMode(event),
      position: Number(tile.dataset.position),
      index: Number(tile.dataset.index),
    });
  }

  function goTo(page) {
    const target = clampPage(page);
    if (target !== clampPage(state.page)) onChange({ page: target });
  }

  const actions = {
    first: () => goTo(0),
    prev: () => goTo(clampPage(state.page) - 1),
    next: () => goTo(clampPage(state.page) + 1),
    last: () => goTo(nPages() - 1),
    clear: () => {
      if (selected.size) onSelect({ mode: "clear" });
    },
  };

  listen(root, "click", (event) => {
    const target = event.target;
    const control = target && target.closest ? target.closest("[data-action]") : null;
    if (control && root.contains(control)) {
      if (!control.disabled) actions[control.dataset.action]?.();
      return;
    }
    const tile = tileOf(target);
    if (tile) selectTile(tile, event);
  });

  listen(grid, "keydown", (event) => {
    const tile = tileOf(event.target);
    if (!tile) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      selectTile(tile, event);
    } else if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      const next = tiles[tiles.indexOf(tile) + (event.key === "ArrowRight" ? 1 : -1)];
      if (next) {
        event.preventDefault();
        next.focus();
      }
    }
  });

  wireHover(listen, grid, grid, tileOf, (tile) => {
    const item = tile ? tile._fwItem : null;
    if (item !== hovered) {
      hovered = item;
      renderStatus();
    }
  });

  listen(sortSelect, "change", () => {
    if (sortSelect.value !== state.sort) onChange({ sort: sortSelect.value, page: 0 });
  });

  listen(sizeSelect, "change", () => {
    const pageSize = Number(sizeSelect.value);
    if (!(pageSize > 0) || pageSize === state.pageSize) return;
    // Keep the first item of the current page on screen.
    const first = clampPage(state.page) * state.pageSize;
    onChange({ pageSize, page: Math.floor(first / pageSize) });
  });

  listen(pageInput, "change", () => {
    const value = Number(pageInput.value);
    if (Number.isFinite(value)) goTo(value - 1);
    pageInput.value = String(clampPage(state.page) + 1);
  });

  // ------------------------------------------------------------------ public API
  function setState(patch) {
    if (destroyed) return;
    for (const name of Object.keys(state)) {
      if (patch[name] !== undefined) state[name] = patch[name];
    }
    renderControls();
    scheduleLoad();
  }

  /** The selection: {size, has(index)} (see selection.js) or a list of sample indices. */
  function setSelected(selection) {
    if (destroyed) return;
    selected =
      selection && typeof selection.has === "function" && typeof selection.size === "number"
        ? selection
        : selectionOf(selection);
    for (const tile of tiles) applySelection(tile);
    clearButton.disabled = selected.size === 0;
    renderStatus();
  }

  function destroy() {
    if (destroyed) return;
    destroyed = true;
    listeners.removeAll();
    clearCache();
    pending = null;
    tiles = [];
    root.remove();
  }

  renderControls();
  scheduleLoad();

  return {
    root,
    setState,
    setSelected,
    receivePage,
    destroy,
    /** Number of pages whose object URLs are alive (for tests and diagnostics). */
    get cachedPages() {
      return [...cache.keys()];
    },
  };
}
