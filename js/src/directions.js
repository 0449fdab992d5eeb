// DirectionsView panel: one class's failure direction summary with its hard and easy captions.
//
// Framework-free: it knows nothing about Jupyter. The host supplies the view model with
// setState() and hears back through the callbacks. All text from data (class names, captions,
// reasons) goes through textContent or attributes, never innerHTML.
//
// View model:
//   {
//     class_name, class_index, strength_text, n_val, n_errors, class_accuracy_text,
//     split, k, skipped_reason (string or null), captions_note (string or null),
//     pending: bool (the direction is being fitted: captions_note says so, nothing to click),
//     hard: [{caption, score_text}], easy: [{caption, score_text}],
//     checked: {"<caption>": {accuracy_text, n_correct, k}},   // captions clicked so far
//     selected: {side, rank, caption} or null,
//     tail_selected: bool,
//   }

import { buttonCSS, panelCSS } from "./theme.js";
import { make, startView } from "./dom.js";

const STYLE_ID = "fw-directions-style";
export const SIDES = [
  ["hard", "Hard captions", "most negative: the failure direction"],
  ["easy", "Easy captions", "most positive: where the model is right"],
];

export const DIRECTIONS_CSS = `
${panelCSS(".fw-directions", { padding: "8px 10px", more: "min-width: 280px;" })}
.fw-dir-header { align-items: baseline; }
.fw-dir-class { font-weight: 700; font-size: 1.15em; overflow-wrap: anywhere; }
.fw-dir-stat { color: var(--fw-fg-soft); }
.fw-dir-stat b { color: var(--fw-fg); font-weight: 600; }
${buttonCSS(".fw-directions")}
.fw-dir-tail { height: 24px; padding: 0 8px; }
.fw-dir-tail.selected { border-color: var(--fw-accent); box-shadow: 0 0 0 2px var(--fw-accent); }
.fw-dir-skipped {
  padding: 10px; border-radius: var(--fw-radius); color: var(--fw-fg);
  background: color-mix(in srgb, var(--fw-bad) 12%, var(--fw-bg-raised));
  border: 1px solid color-mix(in srgb, var(--fw-bad) 45%, var(--fw-border));
}
.fw-dir-note { color: var(--fw-fg-muted); font-style: italic; margin: 4px 0; }
.fw-dir-lists { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: 8px 14px; }
.fw-dir-list h4 { margin: 2px 0 4px; font-size: 1em; font-weight: 600; }
.fw-dir-list h4 small { font-weight: 400; color: var(--fw-fg-muted); margin-left: 6px; }
.fw-dir-list[data-side="hard"] h4 { color: var(--fw-bad); }
.fw-dir-list[data-side="easy"] h4 { color: var(--fw-good); }
.fw-dir-list ol { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 3px; }
.fw-dir-caption {
  display: grid; grid-template-columns: 1fr auto; grid-template-areas: "text score" "acc acc";
  gap: 0 8px; width: 100%; text-align: left; padding: 3px 6px; background: var(--fw-bg-raised);
  border-color: var(--fw-border);
}
.fw-dir-caption.selected {
  border-color: var(--fw-accent); box-shadow: 0 0 0 2px var(--fw-accent);
  background: color-mix(in srgb, var(--fw-accent) 14%, var(--fw-bg-raised));
}
.fw-dir-text { grid-area: text; overflow-wrap: anywhere; }
.fw-dir-score { grid-area: score; font-family: var(--fw-mono); font-size: var(--fw-font-size-small); color: var(--fw-fg-muted); align-self: center; }
.fw-dir-acc { grid-area: acc; font-size: var(--fw-font-size-small); color: var(--fw-fg-soft); }
.fw-dir-acc[hidden] { display: none; }
.fw-dir-acc b { color: var(--fw-fg); }
.fw-dir-empty { color: var(--fw-fg-muted); padding: 4px 0; }
.fw-dir-hint { margin-top: 6px; color: var(--fw-fg-muted); font-size: var(--fw-font-size-small); }
`;

function stat(doc, label, value, className) {
  const span = make(doc, "span", `fw-dir-stat ${className}`);
  const bold = make(doc, "b");
  bold.textContent = value;
  span.append(`${label} `, bold);
  return span;
}

/** Text shown next to a checked caption: "40% correct on its 20 nearest test images". */
export function accuracyText(check, split = "test") {
  if (!check) return "";
  const images = check.k === 1 ? "image" : "images";
  return `${check.accuracy_text} correct on its ${check.k} nearest ${split} ${images}`;
}

/**
 * Create the directions panel inside `container`.
 *
 * @param {HTMLElement} container
 * @param {object} options
 * @param {(c: {side: string, rank: number, caption: string}) => void} options.onCaption
 *   A caption was clicked: the host shows its nearest images and reports their accuracy.
 * @param {() => void} options.onShowTail  "Show the K hardest" was clicked.
 */
export function createDirectionsView(container, options = {}) {
  const { onCaption = () => {}, onShowTail = () => {} } = options;
  const { doc, listeners, listen } = startView(container, STYLE_ID, DIRECTIONS_CSS);
  let destroyed = false;
  let model = null;

  const root = make(doc, "div", "fw-directions", { "data-state": "empty" });
  container.appendChild(root);

  function captionItem(side, rank, entry) {
    const li = make(doc, "li");
    const selected = model.selected && model.selected.side === side && model.selected.rank === rank;
    const button = make(doc, "button", `fw-dir-caption${selected ? " selected" : ""}`, {
      type: "button",
      "data-side": side,
      "data-rank": rank,
      "aria-pressed": selected ? "true" : "false",
    });
    const text = make(doc, "span", "fw-dir-text");
    text.textContent = entry.caption;
    const score = make(doc, "span", "fw-dir-score", { title: "decision value of the caption" });
    score.textContent = entry.score_text;
    const acc = make(doc, "span", "fw-dir-acc");
    const check = (model.checked || {})[entry.caption];
    if (check) {
      acc.textContent = accuracyText(check, model.split);
      acc.title = `${check.n_correct} of ${check.k} correct`;
    } else {
      acc.hidden = true;
    }
    button.title = `Show the ${model.k} ${model.split} images nearest to this caption`;
    button.append(text, score, acc);
    li.appendChild(button);
    return li;
  }

  function render() {
    if (!model) {
      root.replaceChildren();
      root.setAttribute("data-state", "empty");
      return;
    }
    const skipped = model.skipped_reason != null && model.skipped_reason !== "";
    const pending = !skipped && model.pending === true;
    root.setAttribute("data-state", skipped ? "skipped" : pending ? "pending" : "ready");
    root.setAttribute("data-class-index", String(model.class_index));

    const header = make(doc, "div", "fw-dir-header fw-toolbar");
    const name = make(doc, "span", "fw-dir-class");
    name.textContent = model.class_name;
    header.appendChild(name);
    if (!skipped && !pending) {
      header.appendChild(stat(doc, "failure strength", model.strength_text, "fw-dir-strength"));
    }
    header.appendChild(
      stat(doc, `${model.split} accuracy`, model.class_accuracy_text, "fw-dir-accuracy"),
    );
    header.appendChild(stat(doc, "val errors", `${model.n_errors} of ${model.n_val}`, "fw-dir-errors"));
    const parts = [header];
    if (skipped) {
      const reason = make(doc, "div", "fw-dir-skipped", { role: "status" });
      reason.textContent = `No failure direction for this class: ${model.skipped_reason}.`;
      parts.push(reason);
    } else if (pending) {
      const note = make(doc, "div", "fw-dir-note fw-dir-pending", { role: "status" });
      note.textContent = model.captions_note || "Fitting the failure direction…";
      parts.push(note);
    } else {
      header.appendChild(make(doc, "span", "fw-dir-spacer fw-spacer"));
      const tail = make(doc, "button", `fw-dir-tail${model.tail_selected ? " selected" : ""}`, {
        type: "button",
        "data-action": "tail",
        "aria-pressed": model.tail_selected ? "true" : "false",
      });
      tail.textContent = `Show the ${model.k} hardest in the grid`;
      header.appendChild(tail);
      if (model.captions_note) {
        const note = make(doc, "div", "fw-dir-note");
        note.textContent = model.captions_note;
        parts.push(note);
      }
      const lists = make(doc, "div", "fw-dir-lists");
      for (const [side, heading, hint] of SIDES) {
        const section = make(doc, "section", "fw-dir-list", { "data-side": side });
        const h = make(doc, "h4");
        const small = make(doc, "small");
        small.textContent = hint;
        h.append(heading, small);
        const entries = model[side] || [];
        const ol = make(doc, "ol", null, { "aria-label": heading });
        entries.forEach((entry, rank) => ol.appendChild(captionItem(side, rank, entry)));
        section.append(h, ol);
        if (!entries.length && !model.captions_note) {
          const empty = make(doc, "div", "fw-dir-empty");
          empty.textContent = "No captions.";
          section.appendChild(empty);
        }
        lists.appendChild(section);
      }
      parts.push(lists);
      const hint = make(doc, "div", "fw-dir-hint");
      hint.textContent = "Click a caption to see its nearest images and the model's accuracy on them.";
      parts.push(hint);
    }
    root.replaceChildren(...parts);
  }

  listen(root, "click", (event) => {
    const target = event.target;
    const button = target && target.closest ? target.closest("button") : null;
    if (!button || !root.contains(button) || button.disabled || !model) return;
    if (button.dataset.action === "tail") {
      onShowTail();
      return;
    }
    const side = button.dataset.side;
    const rank = Number(button.dataset.rank);
    const entry = (model[side] || [])[rank];
    if (entry) onCaption({ side, rank, caption: entry.caption });
  });

  function setState(next) {
    if (destroyed) return;
    model = next && typeof next === "object" && "class_name" in next ? next : null;
    render();
  }

  function destroy() {
    if (destroyed) return;
    destroyed = true;
    listeners.removeAll();
    root.remove();
  }

  return { root, setState, destroy };
}
