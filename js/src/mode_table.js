// Failure-mode table of the Explorer: one row per failure mode (any method), sortable by any
// column, a click selects a row; below it the cross-method agreement (Jaccard) of the
// selected class's modes.
//
// Framework-free: it knows nothing about Jupyter. The host supplies the state with setState()
// and hears back through the callbacks. All text from data (class names, descriptions) goes
// through textContent or attributes, never innerHTML.
//
// State:
//   {
//     rows: [{id, method, class_name, description, size, accuracy, drop, heldout_drop}],
//     sortBy: column key, ascending: bool,
//     selectedId: row id or -1,
//     className: the Explorer's class (its rows are marked),
//     caption: text above the table,
//     busy: bool (an update is under way; the rows shown may be replaced soon),
//     agreement: {class_name, modes: [{method, description, size}], values: [[number]]} or null,
//   }

import { THEME_VARS, ensureStyle } from "./theme.js";
import { make } from "./dom.js";

const STYLE_ID = "fw-mode-table-style";

export const COLUMNS = [
  { key: "method", label: "method", kind: "text" },
  { key: "class_name", label: "class", kind: "text" },
  { key: "description", label: "description", kind: "text" },
  { key: "size", label: "size", kind: "int", title: "images in the failure mode" },
  { key: "accuracy", label: "accuracy", kind: "percent", title: "the model's accuracy on them" },
  { key: "drop", label: "drop", kind: "points", title: "class accuracy minus the mode's accuracy" },
  {
    key: "heldout_drop",
    label: "held-out drop",
    kind: "points",
    title: "the same drop when the mode's rule is re-applied to held-out data",
  },
];

export const METHOD_COLOURS = {
  barlow: "#8e24aa",
  prime: "#1e88e5",
  ces: "#f4511e",
  directions: "#43a047",
  defuse: "#fb8c00",
};

export const MODE_TABLE_CSS = `
.fw-mode-table {
  ${THEME_VARS}
  font-family: var(--fw-font);
  font-size: var(--fw-font-size);
  color: var(--fw-fg);
  background: var(--fw-bg);
  box-sizing: border-box;
  max-width: 100%;
  position: relative;
}
.fw-mode-table * { box-sizing: border-box; }
.fw-mt-caption { margin: 2px 0 6px; color: var(--fw-fg-soft); }
.fw-mt-busy { margin-left: 8px; color: var(--fw-accent); font-style: italic; }
.fw-mt-busy[hidden] { display: none; }
.fw-mt-scroll { max-height: 360px; overflow: auto; border: 1px solid var(--fw-border); border-radius: var(--fw-radius); }
.fw-mode-table table { border-collapse: collapse; width: 100%; }
.fw-mode-table th, .fw-mode-table td { padding: 3px 8px; text-align: left; border-bottom: 1px solid var(--fw-border); }
.fw-mode-table th { position: sticky; top: 0; background: var(--fw-bg-raised); z-index: 1; white-space: nowrap; }
.fw-mode-table th button {
  font: inherit; font-weight: 600; color: var(--fw-fg); background: none; border: 0; padding: 0;
  cursor: pointer;
}
.fw-mode-table th button:hover { color: var(--fw-accent); }
.fw-mode-table th[aria-sort="ascending"] button::after { content: " ▲"; font-size: 0.8em; }
.fw-mode-table th[aria-sort="descending"] button::after { content: " ▼"; font-size: 0.8em; }
.fw-mode-table td.fw-num { text-align: right; font-family: var(--fw-mono); font-size: var(--fw-font-size-small); white-space: nowrap; }
.fw-mode-table th.fw-num { text-align: right; }
.fw-mt-row { cursor: pointer; }
.fw-mt-row:hover { background: var(--fw-bg-hover); }
.fw-mt-row.fw-other-class { color: var(--fw-fg-muted); }
.fw-mt-row.selected { background: color-mix(in srgb, var(--fw-accent) 18%, var(--fw-bg)); }
.fw-mt-row.selected td:first-child { box-shadow: inset 3px 0 0 var(--fw-accent); }
.fw-mt-desc { overflow-wrap: anywhere; max-width: 520px; }
.fw-mt-method {
  display: inline-block; padding: 0 6px; border-radius: 8px; font-size: var(--fw-font-size-small);
  color: var(--fw-fg); border: 1px solid var(--fw-method, var(--fw-border-strong));
  background: color-mix(in srgb, var(--fw-method, var(--fw-border)) 22%, var(--fw-bg));
}
.fw-mt-empty { padding: 10px; color: var(--fw-fg-muted); }
.fw-mt-agreement { margin-top: 12px; }
.fw-mt-agreement h4 { margin: 0 0 4px; font-size: 1em; font-weight: 600; }
.fw-mt-agreement h4 small { font-weight: 400; color: var(--fw-fg-muted); margin-left: 6px; }
.fw-mt-agreement table { width: auto; }
.fw-mt-agreement th.fw-mt-corner { background: none; }
.fw-mt-agreement th.fw-mt-col { max-width: 130px; overflow: hidden; text-overflow: ellipsis; font-weight: 400; }
.fw-mt-agreement th.fw-mt-rowhead { font-weight: 400; max-width: 300px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; position: static; }
.fw-mt-cell { text-align: center; font-family: var(--fw-mono); font-size: var(--fw-font-size-small); min-width: 44px; }
.fw-mt-cell.fw-same { color: var(--fw-fg-muted); background: none !important; }
.fw-mt-cell.fw-diag { color: var(--fw-fg-muted); }
`;

function missing(value) {
  return value === null || value === undefined || (typeof value === "number" && Number.isNaN(value));
}

/** "45%" for 0.45, "—" for a missing value. */
export function formatPercent(value) {
  return missing(value) ? "—" : `${(100 * value).toFixed(1)}%`;
}

/** "+32.0 pt" for a drop of 0.32 (accuracy points), "—" for a missing value. */
export function formatPoints(value) {
  if (missing(value)) return "—";
  const points = 100 * value;
  const sign = points > 0 ? "+" : points < 0 ? "−" : "";
  return `${sign}${Math.abs(points).toFixed(1)} pt`;
}

/** Text of one cell. */
export function cellText(row, column) {
  const value = row[column.key];
  if (column.kind === "percent") return formatPercent(value);
  if (column.kind === "points") return formatPoints(value);
  if (column.kind === "int") return missing(value) ? "—" : String(value);
  return missing(value) ? "" : String(value);
}

/**
 * Rows sorted by `key` (stable; missing values last in both directions; text compared
 * case-insensitively). The Python side sorts its DataFrame the same way.
 */
export function sortRows(rows, key, ascending = true) {
  const column = COLUMNS.find((c) => c.key === key);
  if (!column) return rows.slice();
  const numeric = column.kind !== "text";
  const sign = ascending ? 1 : -1;
  return rows
    .map((row, position) => ({ row, position }))
    .sort((a, b) => {
      const x = a.row[key];
      const y = b.row[key];
      const mx = missing(x);
      const my = missing(y);
      if (mx || my) return mx === my ? a.position - b.position : mx ? 1 : -1;
      let order;
      if (numeric) order = x < y ? -1 : x > y ? 1 : 0;
      else {
        const sx = String(x).toLowerCase();
        const sy = String(y).toLowerCase();
        order = sx < sy ? -1 : sx > sy ? 1 : 0;
      }
      return order !== 0 ? sign * order : a.position - b.position;
    })
    .map((entry) => entry.row);
}

/** Background of an agreement cell: the accent colour mixed in proportion to the overlap. */
export function agreementShade(value) {
  if (missing(value)) return "";
  const share = Math.round(Math.min(1, Math.max(0, value)) * 70);
  return `color-mix(in srgb, var(--fw-accent) ${share}%, var(--fw-bg))`;
}

function modeLabel(mode) {
  return `${mode.method}: ${mode.description}`;
}

/**
 * Create the failure-mode table inside `container`.
 *
 * @param {HTMLElement} container
 * @param {object} options
 * @param {(id: number) => void} options.onSelect  a row was clicked
 * @param {(sortBy: string, ascending: boolean) => void} options.onSort  a header was clicked
 */
export function createModeTableView(container, options = {}) {
  const { onSelect = () => {}, onSort = () => {} } = options;
  const doc = container.ownerDocument;
  ensureStyle(container, STYLE_ID, MODE_TABLE_CSS);
  let destroyed = false;
  let state = {
    rows: [],
    sortBy: "drop",
    ascending: false,
    selectedId: -1,
    className: "",
    caption: "",
    busy: false,
    agreement: null,
  };

  const root = make(doc, "div", "fw-mode-table", { "data-state": "empty" });
  container.appendChild(root);

  // one delegated listener each: rows and headers are rebuilt on every render
  const onClick = (event) => {
    if (destroyed) return;
    const header = event.target.closest("th[data-key] button");
    if (header && root.contains(header)) {
      const key = header.parentElement.dataset.key;
      const ascending = key === state.sortBy ? !state.ascending : COLUMNS.find((c) => c.key === key).kind === "text";
      onSort(key, ascending);
      return;
    }
    const row = event.target.closest("tr.fw-mt-row");
    if (row && root.contains(row)) onSelect(Number(row.dataset.id));
  };
  const onKey = (event) => {
    if (destroyed || (event.key !== "Enter" && event.key !== " ")) return;
    const row = event.target.closest("tr.fw-mt-row");
    if (row && root.contains(row)) {
      event.preventDefault();
      onSelect(Number(row.dataset.id));
    }
  };
  root.addEventListener("click", onClick);
  root.addEventListener("keydown", onKey);

  function renderTable() {
    const table = make(doc, "table", "fw-mt-modes");
    const head = make(doc, "tr");
    for (const column of COLUMNS) {
      const numeric = column.kind !== "text";
      const sorted = column.key === state.sortBy;
      const th = make(doc, "th", numeric ? "fw-num" : "", {
        "data-key": column.key,
        "aria-sort": sorted ? (state.ascending ? "ascending" : "descending") : "none",
      });
      const button = make(doc, "button", "", { type: "button" });
      button.textContent = column.label;
      if (column.title) button.title = column.title;
      th.appendChild(button);
      head.appendChild(th);
    }
    const thead = make(doc, "thead");
    thead.appendChild(head);
    const body = make(doc, "tbody");
    for (const row of sortRows(state.rows, state.sortBy, state.ascending)) {
      const classes = ["fw-mt-row"];
      if (row.id === state.selectedId) classes.push("selected");
      if (state.className && row.class_name !== state.className) classes.push("fw-other-class");
      const tr = make(doc, "tr", classes.join(" "), {
        "data-id": row.id,
        "data-method": row.method,
        tabindex: 0,
        "aria-selected": row.id === state.selectedId ? "true" : "false",
      });
      for (const column of COLUMNS) {
        const numeric = column.kind !== "text";
        const td = make(doc, "td", numeric ? "fw-num" : column.key === "description" ? "fw-mt-desc" : "");
        if (column.key === "method") {
          const badge = make(doc, "span", "fw-mt-method");
          const colour = METHOD_COLOURS[row.method];
          if (colour) badge.style.setProperty("--fw-method", colour);
          badge.textContent = cellText(row, column);
          td.appendChild(badge);
        } else {
          td.textContent = cellText(row, column);
        }
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    table.append(thead, body);
    return table;
  }

  function renderAgreement() {
    const agreement = state.agreement;
    const section = make(doc, "section", "fw-mt-agreement");
    const heading = make(doc, "h4");
    heading.textContent = "Agreement between methods";
    const small = make(doc, "small");
    section.appendChild(heading);
    const modes = (agreement && agreement.modes) || [];
    const methods = new Set(modes.map((m) => m.method));
    if (!agreement || modes.length < 2 || methods.size < 2) {
      small.textContent = agreement ? `class ${agreement.class_name}` : "";
      heading.appendChild(small);
      const empty = make(doc, "div", "fw-mt-empty fw-mt-agreement-empty");
      empty.textContent =
        "Needs failure modes of this class from at least two methods to compare their member sets.";
      section.appendChild(empty);
      return section;
    }
    small.textContent = `Jaccard overlap of the member sets, class ${agreement.class_name}`;
    heading.appendChild(small);
    const table = make(doc, "table", "fw-mt-matrix");
    const head = make(doc, "tr");
    head.appendChild(make(doc, "th", "fw-mt-corner"));
    modes.forEach((mode, j) => {
      const th = make(doc, "th", "fw-mt-col", { title: modeLabel(mode), "data-col": j });
      const badge = make(doc, "span", "fw-mt-method");
      const colour = METHOD_COLOURS[mode.method];
      if (colour) badge.style.setProperty("--fw-method", colour);
      badge.textContent = `${j + 1}`;
      th.appendChild(badge);
      head.appendChild(th);
    });
    table.appendChild(head);
    modes.forEach((mode, i) => {
      const tr = make(doc, "tr");
      const th = make(doc, "th", "fw-mt-rowhead", { title: `${modeLabel(mode)} (${mode.size} images)` });
      const badge = make(doc, "span", "fw-mt-method");
      const colour = METHOD_COLOURS[mode.method];
      if (colour) badge.style.setProperty("--fw-method", colour);
      badge.textContent = `${i + 1} ${mode.method}`;
      th.append(badge, ` ${mode.description}`);
      tr.appendChild(th);
      modes.forEach((other, j) => {
        const value = agreement.values[i][j];
        const same = mode.method === other.method;
        const classes = ["fw-mt-cell"];
        if (i === j) classes.push("fw-diag");
        else if (same) classes.push("fw-same");
        const td = make(doc, "td", classes.join(" "), {
          "data-row": i,
          "data-col": j,
          title: `${modeLabel(mode)} vs ${modeLabel(other)}`,
        });
        td.textContent = i === j ? "·" : missing(value) ? "—" : value.toFixed(2);
        if (i !== j && !same) td.style.background = agreementShade(value);
        tr.appendChild(td);
      });
      table.appendChild(tr);
    });
    section.appendChild(table);
    return section;
  }

  function render() {
    if (destroyed) return;
    root.setAttribute("data-state", state.rows.length ? "ready" : "empty");
    root.setAttribute("data-busy", state.busy ? "true" : "false");
    const caption = make(doc, "div", "fw-mt-caption");
    caption.textContent = state.caption || "";
    const busy = make(doc, "span", "fw-mt-busy", { role: "status" });
    busy.textContent = "updating…";
    busy.hidden = !state.busy;
    caption.appendChild(busy);
    const scroll = make(doc, "div", "fw-mt-scroll");
    if (state.rows.length) {
      scroll.appendChild(renderTable());
    } else {
      const empty = make(doc, "div", "fw-mt-empty");
      empty.textContent = "No failure modes at the current thresholds.";
      scroll.appendChild(empty);
    }
    root.replaceChildren(caption, scroll, renderAgreement());
  }

  return {
    setState(patch) {
      if (destroyed) return;
      state = { ...state, ...patch };
      render();
    },
    getState() {
      return state;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      root.removeEventListener("click", onClick);
      root.removeEventListener("keydown", onKey);
      root.remove();
    },
    root,
  };
}
