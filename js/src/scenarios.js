// ScenarioView rows: Defuse's failure scenarios, one row each, with a strip of decoded samples
// and the annotator's controls (failure / not a failure, correct label).
//
// Framework-free: the host supplies the view model with setData(), the selected scenario with
// setSelected(), the decoded samples with receiveStrips(), and hears back through onSelect,
// onLabel and onRequestStrips. Strips carry the sample version they were drawn for; an answer
// for another version than the one shown is dropped, so the last resampling always wins.
// All text from data goes through textContent or attributes, never innerHTML.

import { panelCSS } from "./theme.js";
import { closestIn, make, markSelected, startView, viewFrame } from "./dom.js";
import { wireHover } from "./events.js";
import { imageURL, releaseURL } from "./images.js";

const STYLE_ID = "fw-scenarios-style";
const numberFormat = new Intl.NumberFormat("en-US");

export const SCENARIOS_CSS = `
${panelCSS(".fw-scenarios", { vars: "--fw-scn-thumb: 64px;" })}
.fw-scn-toolbar { align-items: baseline; }
.fw-scn-summary { color: var(--fw-fg-muted); font-size: var(--fw-font-size-small); }
.fw-scn-message { padding: 8px; color: var(--fw-fg-muted); }
.fw-scn-list {
  display: flex; flex-direction: column; gap: 6px; max-height: min(75vh, 760px);
  overflow-y: auto; padding: 2px;
}
.fw-scn-row {
  display: grid; grid-template-columns: minmax(160px, 210px) minmax(0, 1fr) minmax(180px, 220px);
  gap: 6px 14px; align-items: center; padding: 6px 8px 6px 10px; cursor: pointer;
  background: var(--fw-bg-raised); border: 1px solid var(--fw-border);
  border-left: 4px solid var(--fw-border-strong); border-radius: var(--fw-radius);
}
.fw-scn-row:hover { background: var(--fw-bg-hover); }
.fw-scn-row[data-failure="true"] { border-left-color: var(--fw-bad); }
.fw-scn-row[data-failure="false"] { border-left-color: var(--fw-good); }
.fw-scn-row.selected {
  box-shadow: 0 0 0 2px var(--fw-accent);
  background: color-mix(in srgb, var(--fw-accent) 10%, var(--fw-bg-raised));
}
@media (max-width: 760px) { .fw-scn-row { grid-template-columns: minmax(0, 1fr); } }
.fw-scn-info { display: flex; flex-direction: column; gap: 2px; min-width: 0; }
.fw-scn-head { display: flex; align-items: baseline; gap: 6px; }
.fw-scn-id { font-weight: 700; }
.fw-scn-weight { font-family: var(--fw-mono); color: var(--fw-fg-soft); }
.fw-scn-bar { height: 4px; border-radius: 2px; background: var(--fw-border); overflow: hidden; }
.fw-scn-bar-fill { height: 100%; background: var(--fw-accent); }
.fw-scn-line {
  min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  color: var(--fw-fg-soft); font-size: var(--fw-font-size-small);
}
.fw-scn-line b { color: var(--fw-fg); font-weight: 600; }
.fw-scn-predicted { font-weight: 600; color: var(--fw-fg); }
.fw-scn-row[data-mostly-wrong="true"] .fw-scn-predicted { color: var(--fw-bad); }
.fw-scn-strip {
  display: grid; grid-template-columns: repeat(var(--fw-scn-n, 8), minmax(36px, var(--fw-scn-thumb)));
  gap: 4px; overflow-x: auto; min-width: 0; padding-bottom: 2px;
}
.fw-scn-strip[aria-busy="true"] .fw-scn-frame { opacity: 0.5; }
.fw-scn-sample { display: flex; flex-direction: column; gap: 1px; min-width: 0; }
.fw-scn-frame {
  width: 100%; aspect-ratio: 1 / 1; display: flex; align-items: center;
  justify-content: center; overflow: hidden; border: 1px solid var(--fw-border); border-radius: 2px;
  background: var(--fw-bg);
}
.fw-scn-sample.wrong .fw-scn-frame { border: 2px solid var(--fw-bad); }
.fw-scn-img { display: block; width: 100%; height: 100%; object-fit: contain; }
.fw-scenarios[data-pixelated="true"] .fw-scn-img { image-rendering: pixelated; }
.fw-scn-caption {
  font-size: 10px; line-height: 1.25; text-align: center; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; color: var(--fw-fg-muted);
}
.fw-scn-sample.wrong .fw-scn-caption { color: var(--fw-bad); font-weight: 600; }
.fw-scn-labeling { display: flex; flex-direction: column; gap: 4px; cursor: default; }
.fw-scn-verdict { display: flex; gap: 4px; }
.fw-scenarios button, .fw-scenarios select {
  font: inherit; color: var(--fw-fg); background: var(--fw-input-bg);
  border: 1px solid var(--fw-input-border); border-radius: 3px; height: 26px; padding: 0 8px; margin: 0;
}
.fw-scenarios button { cursor: pointer; flex: 1 1 auto; white-space: nowrap; }
.fw-scenarios button:hover { background: var(--fw-bg-hover); }
.fw-scn-fail[aria-pressed="true"] { background: var(--fw-bad); border-color: var(--fw-bad); color: var(--fw-on-badge); }
.fw-scn-ok[aria-pressed="true"] { background: var(--fw-good); border-color: var(--fw-good); color: var(--fw-on-badge); }
.fw-scn-label-control {
  display: flex; align-items: center; gap: 6px; white-space: nowrap;
  color: var(--fw-fg-muted); font-size: var(--fw-font-size-small);
}
.fw-scn-label { flex: 1 1 auto; min-width: 0; }
.fw-scn-hint { min-height: 1.2em; font-size: var(--fw-font-size-small); color: var(--fw-fg-muted); }
.fw-scn-row[data-needs-label="true"] .fw-scn-hint { color: var(--fw-bad); }
`;

export function formatCount(n) {
  return numberFormat.format(n);
}

/** "failure" / "not a failure" / "not reviewed" for a label's is_failure. */
export function verdictText(isFailure) {
  if (isFailure === true) return "failure";
  if (isFailure === false) return "not a failure";
  return "not reviewed";
}

/** One-line description of a row, for its tooltip and the status line. */
export function describeRow(row) {
  const parts = [
    `scenario ${row.id}`,
    `weight ${row.weight_text}`,
    `${formatCount(row.n_codes)} failing codes from ${formatCount(row.n_images)} images`,
    `majority label ${row.majority_name}`,
  ];
  if (row.code_prediction != null) parts.push(`codes predicted ${row.code_prediction}`);
  parts.push(row.predicted_text);
  if (row.reference_name != null) parts.push(`${row.n_wrong}/${row.samples.length} samples not ${row.reference_name}`);
  parts.push(verdictText(row.is_failure));
  return parts.join(" · ");
}

/** The hint under the labeling controls. */
export function labelHint(row, classNames) {
  if (row.is_failure === true && row.correct_label == null) return "pick the correct label";
  if (row.is_failure === true) return `failure → correct label ${classNames[row.correct_label] ?? row.correct_label}`;
  if (row.is_failure === false) return "reviewed: not a failure";
  return "not reviewed";
}

/**
 * Create the scenario view inside `container`.
 *
 * @param {HTMLElement} container
 * @param {object} options
 * @param {(id: number) => void} options.onSelect  a row was clicked (or chosen by keyboard).
 * @param {(label: {id: number, is_failure?: boolean|null, correct_label?: number|null}) => void} options.onLabel
 * @param {(req: {ids: number[], version: number, requestId: string}) => void} options.onRequestStrips
 *   Ask the host for the decoded samples of `ids`; answer with view.receiveStrips(message, buffers).
 * @param {(blob: Blob) => string} [options.createObjectURL]
 * @param {(url: string) => void} [options.revokeObjectURL]
 */
export function createScenarioView(container, options = {}) {
  const {
    onSelect = () => {},
    onLabel = () => {},
    onRequestStrips = () => {},
    createObjectURL = (blob) => URL.createObjectURL(blob),
    revokeObjectURL = (url) => URL.revokeObjectURL(url),
  } = options;
  const { doc, listeners, listen } = startView(container, STYLE_ID, SCENARIOS_CSS);

  const viewId = Math.random().toString(36).slice(2, 10);
  let data = { rows: [], class_names: [], sample_version: 0 };
  let selectedId = -1;
  let hovered = null;
  let destroyed = false;
  let requestCounter = 0;
  let pending = null; // {requestId, version, ids: Set}
  const strips = new Map(); // id -> {version, urls}
  const rowElements = new Map(); // id -> row element

  // ------------------------------------------------------------------ DOM skeleton
  const { root, toolbar, title } = viewFrame(doc, "fw-scn", "fw-scenarios");
  const summary = make(doc, "span", "fw-scn-summary");
  toolbar.append(title, summary);
  const message = make(doc, "div", "fw-scn-message fw-message", { "aria-live": "polite" });
  const list = make(doc, "div", "fw-scn-list", { role: "list", "aria-label": "Failure scenarios" });
  const status = make(doc, "div", "fw-scn-status fw-statusline", { "aria-live": "polite" });
  root.append(toolbar, message, list, status);
  container.appendChild(root);

  // ------------------------------------------------------------------ rendering
  const rows = () => (Array.isArray(data.rows) ? data.rows : []);
  const classNames = () => (Array.isArray(data.class_names) ? data.class_names : []);

  function defaultStatus() {
    if (!rows().length) return "";
    const where = data.labels_path ? ` (saved at once to ${data.labels_path})` : "";
    return `click a scenario to see its source images; mark failures and their correct label${where}`;
  }

  function renderStatus() {
    root.removeAttribute("data-error");
    const text = hovered ? describeRow(hovered) : defaultStatus();
    status.textContent = text;
    status.title = text;
  }

  function renderHeader() {
    const n = rows().length;
    const total = data.n_scenarios ?? n;
    title.textContent = data.class_name ? `Defuse failure scenarios · ${data.class_name}` : "Defuse failure scenarios";
    const parts = [n === total ? `${formatCount(total)} scenarios` : `${formatCount(n)} of ${formatCount(total)} scenarios`];
    if (data.tau != null) parts.push(`τ = ${Number(data.tau).toFixed(2)}`);
    if (data.n_samples != null) parts.push(`${data.n_samples} samples each`);
    const failures = data.n_failures ?? 0;
    parts.push(`${formatCount(data.n_labelled ?? 0)} labelled, ${formatCount(failures)} ${failures === 1 ? "failure" : "failures"}`);
    summary.textContent = parts.join(" · ");
    message.textContent = data.message || "";
    root.setAttribute("data-rows", String(n));
    root.setAttribute("data-version", String(data.sample_version ?? 0));
    root.setAttribute("data-class", data.class_name ?? "");
    root.setAttribute("data-state", n ? "ready" : "empty");
    const pixelated = Number(data.image_size) > 0 && Number(data.image_size) * 2 <= 64;
    root.setAttribute("data-pixelated", pixelated ? "true" : "false");
  }

  function buildRow(row) {
    const el = make(doc, "div", "fw-scn-row", { role: "listitem", tabindex: 0, "data-id": row.id });
    const info = make(doc, "div", "fw-scn-info");
    const head = make(doc, "div", "fw-scn-head");
    const id = make(doc, "span", "fw-scn-id");
    const weight = make(doc, "span", "fw-scn-weight", { title: "mixture weight" });
    head.append(id, weight);
    const bar = make(doc, "div", "fw-scn-bar", { "aria-hidden": "true" });
    const fill = make(doc, "div", "fw-scn-bar-fill");
    bar.appendChild(fill);
    const counts = make(doc, "div", "fw-scn-line fw-scn-counts");
    const majority = make(doc, "div", "fw-scn-line fw-scn-majority");
    const predicted = make(doc, "div", "fw-scn-line fw-scn-predicted");
    info.append(head, bar, counts, majority, predicted);

    const strip = make(doc, "div", "fw-scn-strip", { role: "group" });

    const labeling = make(doc, "div", "fw-scn-labeling", { role: "group" });
    const verdict = make(doc, "div", "fw-scn-verdict");
    const fail = make(doc, "button", "fw-scn-fail", { type: "button", "data-action": "fail" });
    fail.textContent = "✗ failure";
    const ok = make(doc, "button", "fw-scn-ok", { type: "button", "data-action": "ok" });
    ok.textContent = "✓ not a failure";
    verdict.append(fail, ok);
    const control = make(doc, "label", "fw-scn-label-control");
    control.append("correct label");
    const select = make(doc, "select", "fw-scn-label");
    control.appendChild(select);
    const hint = make(doc, "div", "fw-scn-hint");
    labeling.append(verdict, control, hint);

    el.append(info, strip, labeling);
    el._fw = { id, weight, fill, counts, majority, predicted, strip, labeling, fail, ok, select, hint, optionsKey: null, samples: [] };
    return el;
  }

  function updateOptions(el) {
    const parts = el._fw;
    const names = classNames();
    const key = JSON.stringify(names);
    if (parts.optionsKey === key) return;
    parts.optionsKey = key;
    const none = make(doc, "option", null, { value: "" });
    none.textContent = "—";
    parts.select.replaceChildren(
      none,
      ...names.map((name, i) => {
        const option = make(doc, "option", null, { value: i });
        option.textContent = name;
        return option;
      }),
    );
  }

  function buildSample() {
    const sample = make(doc, "div", "fw-scn-sample");
    const frame = make(doc, "div", "fw-scn-frame");
    const img = make(doc, "img", "fw-scn-img", { alt: "", draggable: "false", decoding: "async" });
    img.hidden = true;
    frame.appendChild(img);
    const caption = make(doc, "div", "fw-scn-caption");
    sample.append(frame, caption);
    sample._fw = { img, caption };
    return sample;
  }

  function applyStrip(el, row) {
    const parts = el._fw;
    const strip = strips.get(row.id);
    const current = strip && strip.version === data.sample_version;
    parts.samples.forEach((sample, i) => {
      const url = strip ? strip.urls[i] : null;
      const img = sample._fw.img;
      if (url) {
        if (img.getAttribute("src") !== url) img.src = url;
        img.hidden = false;
      } else {
        img.removeAttribute("src");
        img.hidden = true;
      }
    });
    if (current) parts.strip.removeAttribute("aria-busy");
    else parts.strip.setAttribute("aria-busy", "true");
    el.setAttribute("data-strip-version", current ? String(strip.version) : "");
  }

  function updateRow(el, row) {
    const parts = el._fw;
    el._fwRow = row;
    const description = describeRow(row);
    el.setAttribute("aria-label", description);
    el.title = description;
    parts.id.textContent = `#${row.id}`;
    parts.weight.textContent = row.weight_text;
    parts.fill.style.width = `${Math.max(2, Math.round(100 * (row.weight_share ?? 0)))}%`;
    parts.counts.textContent = `${formatCount(row.n_codes)} codes · ${formatCount(row.n_images)} source images`;
    parts.majority.replaceChildren("majority label: ", Object.assign(make(doc, "b"), { textContent: row.majority_name }));
    parts.predicted.textContent = row.predicted_text;
    const samples = Array.isArray(row.samples) ? row.samples : [];
    el.setAttribute("data-mostly-wrong", samples.length && row.n_wrong * 2 > samples.length ? "true" : "false");
    el.setAttribute("data-failure", row.is_failure === true ? "true" : row.is_failure === false ? "false" : "");
    el.setAttribute("data-label", row.correct_label == null ? "" : String(row.correct_label));
    el.setAttribute("data-needs-label", row.is_failure === true && row.correct_label == null ? "true" : "false");
    parts.strip.setAttribute("aria-label", `${samples.length} decoded samples of scenario ${row.id}`);
    parts.strip.style.setProperty("--fw-scn-n", String(Math.max(1, samples.length)));
    parts.labeling.setAttribute("aria-label", `Label scenario ${row.id}`);

    while (parts.samples.length < samples.length) {
      const sample = buildSample();
      parts.samples.push(sample);
      parts.strip.appendChild(sample);
    }
    while (parts.samples.length > samples.length) parts.samples.pop().remove();
    samples.forEach((s, i) => {
      const sample = parts.samples[i];
      sample.classList.toggle("wrong", Boolean(s.wrong));
      sample._fw.caption.textContent = s.prediction;
      const confidence = Number.isFinite(s.confidence) ? ` (${Math.round(100 * s.confidence)}%)` : "";
      sample.title = `sample ${i + 1}: predicted ${s.prediction}${confidence}${s.wrong ? ` — not ${row.reference_name}` : ""}`;
      sample._fw.img.alt = `decoded sample ${i + 1}, predicted ${s.prediction}`;
    });
    applyStrip(el, row);

    parts.fail.setAttribute("aria-pressed", row.is_failure === true ? "true" : "false");
    parts.ok.setAttribute("aria-pressed", row.is_failure === false ? "true" : "false");
    parts.fail.title = row.is_failure === true ? "marked a failure (click again to clear)" : "mark as a failure";
    parts.ok.title = row.is_failure === false ? "marked not a failure (click again to clear)" : "mark as not a failure";
    updateOptions(el);
    parts.select.value = row.correct_label == null ? "" : String(row.correct_label);
    parts.select.setAttribute("aria-label", `correct label of scenario ${row.id}`);
    parts.hint.textContent = labelHint(row, classNames());
  }

  function applySelection() {
    markSelected(rowElements, selectedId, "aria-current");
    root.setAttribute("data-selected", String(selectedId));
  }

  function render() {
    renderHeader();
    hovered = null;
    const seen = new Set();
    const ordered = rows().map((row) => {
      let el = rowElements.get(row.id);
      if (!el) {
        el = buildRow(row);
        rowElements.set(row.id, el);
      }
      seen.add(row.id);
      updateRow(el, row);
      return el;
    });
    for (const [id, el] of rowElements) {
      if (!seen.has(id)) {
        el.remove();
        rowElements.delete(id);
      }
    }
    // move elements only when the order changed (moving a focused <select> would blur it)
    const same = list.children.length === ordered.length && ordered.every((el, i) => list.children[i] === el);
    if (!same) list.replaceChildren(...ordered);
    applySelection();
    renderStatus();
    updateLoaded();
    requestMissing();
  }

  // ------------------------------------------------------------------ strips
  function updateLoaded() {
    // rows whose strip is of the version shown: the browser tests wait on this
    const loaded = rows().filter((row) => strips.get(row.id)?.version === data.sample_version).length;
    root.setAttribute("data-loaded", String(loaded));
  }

  function dropStaleStrips() {
    // strips of an older version that are not on screen are not worth keeping
    for (const [id, strip] of strips) {
      if (strip.version !== data.sample_version && !rowElements.has(id)) {
        for (const url of strip.urls) releaseURL(url, revokeObjectURL);
        strips.delete(id);
      }
    }
  }

  function requestMissing() {
    if (destroyed) return;
    dropStaleStrips();
    const version = data.sample_version;
    if (pending && pending.version !== version) pending = null; // its answer will be dropped
    const missing = rows()
      .map((row) => row.id)
      .filter((id) => {
        const strip = strips.get(id);
        return !(strip && strip.version === version) && !(pending && pending.ids.has(id));
      });
    if (!missing.length) return;
    requestCounter += 1;
    const requestId = `${viewId}:${requestCounter}`;
    const ids = new Set(missing);
    if (pending) for (const id of pending.ids) ids.add(id);
    pending = { requestId, version, ids };
    onRequestStrips({ ids: missing, version, requestId });
  }

  /**
   * Decoded samples from the host: message {version, mime, strips: [{id, buffers: [i, ...]}]}
   * with the PNG buffers (or, with no buffers, msg.data_urls at the same indices: the "dataurl"
   * transport). Returns the number of strips shown (0 when stale: another version).
   */
  function receiveStrips(msg, buffers = []) {
    if (destroyed || !msg || msg.version !== data.sample_version) return 0;
    let shown = 0;
    for (const strip of msg.strips || []) {
      const urls = (strip.buffers || []).map((b) => imageURL(msg, buffers, b, createObjectURL));
      const old = strips.get(strip.id);
      if (old) for (const url of old.urls) releaseURL(url, revokeObjectURL);
      strips.set(strip.id, { version: msg.version, urls });
      if (pending) pending.ids.delete(strip.id);
      const el = rowElements.get(strip.id);
      if (el && el._fwRow) {
        applyStrip(el, el._fwRow);
        shown += 1;
      }
    }
    if (pending && pending.ids.size === 0) pending = null;
    updateLoaded();
    return shown;
  }

  // ------------------------------------------------------------------ events

  function rowOf(target) {
    return closestIn(target, ".fw-scn-row", list);
  }

  listen(list, "click", (event) => {
    const el = rowOf(event.target);
    if (!el || !el._fwRow) return;
    const row = el._fwRow;
    const action = event.target.closest("[data-action]");
    if (action && el.contains(action)) {
      const want = action.dataset.action === "fail";
      // clicking the pressed verdict again clears it (back to "not reviewed")
      onLabel({ id: row.id, is_failure: row.is_failure === want ? null : want });
      return;
    }
    if (event.target.closest(".fw-scn-labeling")) return; // the select and its label
    selectedId = row.id;
    applySelection();
    onSelect(row.id);
  });
  listen(list, "change", (event) => {
    const select = event.target;
    if (!select.classList || !select.classList.contains("fw-scn-label")) return;
    const el = rowOf(select);
    if (!el || !el._fwRow) return;
    onLabel({ id: el._fwRow.id, correct_label: select.value === "" ? null : Number(select.value) });
  });
  listen(list, "keydown", (event) => {
    const el = rowOf(event.target);
    if (!el || event.target !== el || !(event.key === "Enter" || event.key === " ")) return;
    event.preventDefault();
    selectedId = el._fwRow.id;
    applySelection();
    onSelect(selectedId);
  });
  wireHover(listen, list, list, rowOf, (el) => {
    const row = el ? el._fwRow : null;
    if (row !== hovered) {
      hovered = row;
      renderStatus();
    }
  });

  // ------------------------------------------------------------------ public API
  function setData(next) {
    if (destroyed) return;
    data = next && typeof next === "object" ? { rows: [], class_names: [], sample_version: 0, ...next } : { rows: [], class_names: [], sample_version: 0 };
    render();
  }

  function setSelected(id) {
    if (destroyed) return;
    selectedId = Number.isInteger(id) ? id : -1;
    applySelection();
  }

  /** The host could not store a label: show the stored one again and say why. */
  function labelRefused(msg) {
    if (destroyed || !msg) return;
    const el = rowElements.get(msg.id);
    if (el && el._fwRow) updateRow(el, el._fwRow);
    hovered = null;
    status.textContent = msg.error || "label not saved";
    status.title = status.textContent;
    root.setAttribute("data-error", "true");
  }

  function destroy() {
    if (destroyed) return;
    destroyed = true;
    listeners.removeAll();
    for (const strip of strips.values()) for (const url of strip.urls) releaseURL(url, revokeObjectURL);
    strips.clear();
    rowElements.clear();
    pending = null;
    root.remove();
  }

  render();

  return {
    root,
    setData,
    setSelected,
    receiveStrips,
    labelRefused,
    destroy,
    /** Listeners currently attached (for tests). */
    get listenerCount() {
      return listeners.size;
    },
    /** Ids whose strips (object URLs) are alive, with their versions (for tests). */
    get stripVersions() {
      return new Map([...strips].map(([id, strip]) => [id, strip.version]));
    },
  };
}
