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
