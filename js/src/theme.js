// Shared theming for failwidgets views: CSS variables mapped onto JupyterLab's --jp-* variables
// (so light and dark themes both work) with fallbacks for pages outside JupyterLab.

export const THEME_VARS = `
  --fw-bg: var(--jp-layout-color0, #ffffff);
  --fw-bg-raised: var(--jp-layout-color1, #ffffff);
  --fw-bg-hover: var(--jp-layout-color2, #eeeeee);
  --fw-fg: var(--jp-ui-font-color0, rgba(0, 0, 0, 0.87));
  --fw-fg-soft: var(--jp-ui-font-color1, rgba(0, 0, 0, 0.7));
  --fw-fg-muted: var(--jp-ui-font-color2, rgba(0, 0, 0, 0.54));
  --fw-border: var(--jp-border-color2, #e0e0e0);
  --fw-border-strong: var(--jp-border-color1, #bdbdbd);
  --fw-accent: var(--jp-brand-color1, #1976d2);
  --fw-bad: var(--jp-error-color1, #d32f2f);
  --fw-good: var(--jp-success-color1, #388e3c);
  --fw-on-badge: #ffffff;
  --fw-input-bg: var(--jp-input-background, var(--jp-layout-color1, #ffffff));
  --fw-input-border: var(--jp-input-border-color, var(--jp-border-color1, #bdbdbd));
  --fw-font: var(--jp-ui-font-family, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
  --fw-font-size: var(--jp-ui-font-size1, 13px);
  --fw-font-size-small: var(--jp-ui-font-size0, 11px);
  --fw-mono: var(--jp-code-font-family, ui-monospace, SFMono-Regular, Menlo, monospace);
  --fw-radius: 4px;
`;

// The look every view's outer panel shares (font, colours, border); padding stays per view.
export const PANEL_STYLE = `
  font-family: var(--fw-font);
  font-size: var(--fw-font-size);
  color: var(--fw-fg);
  background: var(--fw-bg);
  border: 1px solid var(--fw-border);
  border-radius: 6px;
`;

/**
 * The rules of a view's outer panel `selector` (e.g. ".fw-tree"): the theme variables and the
 * view's own `vars`, the shared panel look, `padding`, border-box sizing inside, at most the
 * container's width (`more`: further declarations), and the keyboard focus ring.
 */
export function panelCSS(selector, { vars = "", padding = "6px 8px", more = "" } = {}) {
  return `
${selector} {
  ${THEME_VARS}
  ${vars}
  ${PANEL_STYLE}
  padding: ${padding};
  box-sizing: border-box;
  max-width: 100%;
  ${more}
}
${selector} * { box-sizing: border-box; }
${selector} :focus-visible { outline: 2px solid var(--fw-accent); outline-offset: 1px; }
`;
}

/** Buttons inside `selector` drawn like the theme's inputs, lit on hover while enabled. */
export function buttonCSS(selector) {
  return `
${selector} button {
  font: inherit; color: var(--fw-fg); background: var(--fw-input-bg);
  border: 1px solid var(--fw-input-border); border-radius: 3px; margin: 0;
}
${selector} button:not(:disabled):hover { background: var(--fw-bg-hover); cursor: pointer; }
`;
}

// The shared vocabulary: classes a view gives its elements beside its own class names (which
// stay the hooks of tests and of the view's own rules). The sheet goes in before the view's, so
// a view's rules override these where its look differs. `--fw-mark` is the colour a view marks
// failure modes with.
export const SHARED_CSS = `
.fw-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 12px; margin-bottom: 6px; }
.fw-title { font-weight: 600; }
.fw-spacer { flex: 1 1 auto; }
.fw-legend {
  display: inline-flex; align-items: center; gap: 6px;
  color: var(--fw-fg-muted); font-size: var(--fw-font-size-small);
}
.fw-ramp { height: 10px; border-radius: 2px; border: 1px solid var(--fw-border-strong); }
.fw-key { display: inline-flex; align-items: center; gap: 4px; }
.fw-key-ring { width: 12px; height: 12px; border-radius: 50%; border: 3px solid var(--fw-mark); }
.fw-scroll { overflow: auto; border-radius: var(--fw-radius); }
.fw-drawing { display: block; margin: 0 auto; }
.fw-message { text-align: center; }
.fw-message:empty { display: none; }
.fw-statusline {
  min-height: 1.4em; margin-top: 4px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  color: var(--fw-fg-soft); font-size: var(--fw-font-size-small);
}
`;

/** {@link ensureStyle} for a view: the shared vocabulary first (once), then the view's `css`. */
export function ensureViewStyle(target, id, css) {
  ensureStyle(target, "fw-shared-style", SHARED_CSS);
  ensureStyle(target, id, css);
}

/**
 * Insert a <style> element with `css` once (keyed by `id`); later calls are no-ops.
 * `target` is a document, or the view's container: inside a shadow root (marimo renders
 * anywidgets in one) the style goes into that root, which the page's styles do not reach;
 * otherwise into the document's head. Styles are static strings written by us, never data, so
 * textContent is safe.
 */
export function ensureStyle(target, id, css) {
  if (!target) return;
  const root = typeof target.getRootNode === "function" ? target.getRootNode() : target;
  const inShadow = typeof ShadowRoot !== "undefined" && root instanceof ShadowRoot;
  const doc = inShadow ? root.ownerDocument : target.ownerDocument || target;
  const scope = inShadow ? root : doc;
  if (!doc || scope.getElementById(id)) return;
  const style = doc.createElement("style");
  style.id = id;
  style.textContent = css;
  (inShadow ? root : doc.head || doc.documentElement).appendChild(style);
}
